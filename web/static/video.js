// The video review page: a track's time plays the video from there (without JavaScript the
// link opens the video at that time); a redaction being made shows its progress as it goes.
(function () {
  "use strict";

  // <span data-redaction="status.json URL"> holds a <progress> and a [data-progress-text]; when
  // the redaction is finished the line says how it ended, with the download link.
  function follow(holder) {
    const bar = holder.querySelector("progress");
    const text = holder.querySelector("[data-progress-text]");
    function finished(body) {
      const line = document.createElement("span");
      if (body.status === "ready") {
        const verdict = document.createElement("strong");
        verdict.textContent = body.verified ? "verified" : "not verified";
        if (!body.verified) verdict.className = "bad";
        const link = document.createElement("a");
        link.href = body.download;
        link.setAttribute("download", "");
        link.textContent = "Download redacted copy";
        line.append(verdict, ", " + body.tracks + " track(s) and " + body.badges + " badge(s) covered — ", link);
      } else {
        const verdict = document.createElement("strong");
        verdict.className = "bad";
        verdict.textContent = "could not be made";
        line.append(verdict, (body.failure ? " (" + body.failure + ")" : "") + ": make it again.");
      }
      line.setAttribute("role", "status");
      holder.replaceWith(line);
    }
    function poll() {
      fetch(holder.dataset.redaction, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then((r) => { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
        .then((body) => {
          if (body.status === "ready" || body.status === "failed") return finished(body);
          const percent = Math.round(body.progress * 100);
          bar.value = percent;
          bar.textContent = percent + "%";
          text.textContent = body.status === "pending" ? "waiting for a worker" : percent + "% done";
          setTimeout(poll, 1500);
        })
        .catch(() => setTimeout(poll, 5000));
    }
    setTimeout(poll, 1000);
  }
  document.querySelectorAll("[data-redaction]").forEach(follow);

  const player = document.getElementById("player");
  if (!player) return;
  document.querySelectorAll("[data-seek]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      player.currentTime = parseFloat(link.dataset.seek) || 0;
      player.scrollIntoView({ block: "nearest" });
      player.play().catch(function () {});
    });
  });
})();
