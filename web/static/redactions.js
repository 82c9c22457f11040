// Redacted copies being made in the background: a batch's progress (the photos and People
// pages) and one copy's progress (a photo's or video's page). Without JavaScript the pages say
// to reload.
(function () {
  "use strict";

  function poll(url, each, done) {
    function again(delay) { setTimeout(run, delay); }
    function run() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then((r) => { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
        .then((body) => { if (each(body)) done(body); else again(1500); })
        .catch(() => again(5000));
    }
    again(1000);
  }

  // <div data-batch="status.json URL" data-publish="Ready to publish URL"> holds a <progress>
  // and a [data-batch-text]; each media's [data-copy-of="id"] tag follows its copy; when every
  // copy is made the block says how the batch ended.
  function followBatch(holder) {
    const bar = holder.querySelector("progress");
    const text = holder.querySelector("[data-batch-text]");
    function each(body) {
      const percent = Math.round(body.progress * 100);
      bar.value = percent;
      bar.textContent = percent + "%";
      text.textContent = (body.ready + body.failed) + " of " + body.total + " done";
      for (const item of body.items) {
        document.querySelectorAll('[data-copy-of="' + item.media_id + '"]').forEach((tag) => {
          tag.textContent = item.label;
          tag.className = "status-tag copy-" + item.state;
        });
      }
      return body.finished;
    }
    function done(body) {
      const line = document.createElement("p");
      line.className = "small";
      line.setAttribute("role", "status");
      line.dataset.batchDone = "";
      let said = "Finished: " + body.ready + " of " + body.total + " made";
      said += body.verified === body.total ? ", all verified" : ", " + body.verified + " verified";
      line.append(said);
      if (body.failed) {
        const bad = document.createElement("strong");
        bad.className = "bad";
        bad.textContent = body.failed + " could not be made";
        line.append("; ", bad);
      }
      const unverified = body.ready - body.verified;
      if (unverified) {
        const bad = document.createElement("strong");
        bad.className = "bad";
        bad.textContent = unverified + " NOT verified: do not publish them";
        line.append("; ", bad);
      }
      line.append(". ");
      const link = document.createElement("a");
      link.href = holder.dataset.publish;
      link.textContent = "Ready to publish";
      line.append(link);
      takePlace(holder, line);
    }
    poll(holder.dataset.batch, each, done);
  }
  // The finished line replaces the progress, and the message that said the work had started
  // ("Redaction started.") no longer holds: it goes, and the line takes the focus it had.
  function takePlace(holder, line) {
    const section = holder.closest("section");
    const started = section ? section.querySelector(".flash-success[data-place]") : null;
    holder.replaceWith(line);
    if (started) {
      const focused = document.activeElement === started;
      started.remove();
      if (focused) {
        line.tabIndex = -1;
        line.focus({ preventScroll: true });
      }
    }
  }
  document.querySelectorAll("[data-batch]").forEach(followBatch);

  // <span data-redaction="status.json URL" data-part="track|face"> holds a <progress> and a
  // [data-progress-text]; when the copy is finished the line says how it ended, with its link.
  function followOne(holder) {
    const bar = holder.querySelector("progress");
    const text = holder.querySelector("[data-progress-text]");
    const part = holder.dataset.part || "track";
    function each(body) {
      if (body.status === "ready" || body.status === "failed") return true;
      const percent = Math.round(body.progress * 100);
      bar.value = percent;
      bar.textContent = percent + "%";
      // A photo's copy is made in one step: no share of it to show.
      const doing = part === "face" ? "being made and checked" : percent + "% done";
      text.textContent = body.status === "pending" ? "waiting for a worker" : doing;
      return false;
    }
    function done(body) {
      const line = document.createElement("span");
      const verdict = document.createElement("strong");
      if (body.status === "ready") {
        verdict.textContent = body.verified ? "verified" : "not verified";
        if (!body.verified) verdict.className = "bad";
        const link = document.createElement("a");
        link.href = body.download;
        link.setAttribute("download", "");
        link.textContent = "Download redacted copy";
        const count = (n, word) => n + " " + word + (n === 1 ? "" : "s");
        line.append(verdict, ", " + count(body.tracks, part) + " and " + count(body.badges, "badge") + " covered — ", link);
      } else {
        verdict.className = "bad";
        verdict.textContent = "could not be made";
        line.append(verdict, (body.failure ? " (" + body.failure + ")" : "") + ": make it again.");
      }
      line.setAttribute("role", "status");
      takePlace(holder, line);
    }
    poll(holder.dataset.redaction, each, done);
  }
  document.querySelectorAll("[data-redaction]").forEach(followOne);
})();
