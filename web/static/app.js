// Small progressive enhancements for every page (no inline scripts: the pages work without it).
(function () {
  "use strict";

  // Put the person where the message about what they just did is, and let screen readers say it.
  // A message shown next to a form wins; a message at the top is focused only when the page was
  // not opened at a fragment (that fragment is where the person is).
  function focusMessage() {
    const placed = document.querySelector("[data-focus][data-place]");
    const target = placed || (location.hash ? null : document.querySelector("[data-focus]"));
    if (!target) return;
    target.focus({ preventScroll: true });
    target.scrollIntoView({ block: placed ? "center" : "nearest" });
  }

  // Staff see times in their own time zone; the exact UTC time stays in the tooltip.
  // <time datetime="ISO" data-local="datetime|date|time"> is rewritten; public pages show event
  // times in the event's own zone and do not use this.
  function localTimes() {
    if (!window.Intl || !Intl.DateTimeFormat) return;
    const formats = {
      datetime: { day: "2-digit", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" },
      seconds: { day: "2-digit", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" },
      date: { day: "2-digit", month: "short", year: "numeric" },
    };
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    document.querySelectorAll("time[data-local]").forEach((el) => {
      const when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      const options = Object.assign({ timeZoneName: el.dataset.local === "date" ? undefined : "short" },
        formats[el.dataset.local] || formats.datetime);
      const utc = when.toISOString().replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC");
      el.textContent = new Intl.DateTimeFormat(undefined, options).format(when);
      el.title = utc + (zone ? " (shown in " + zone + ")" : "");
    });
  }

  // <button data-copy="#id" hidden> copies the value or text of #id; shown only with JavaScript.
  function copyButtons() {
    document.querySelectorAll("button[data-copy]").forEach((button) => {
      const source = document.querySelector(button.dataset.copy);
      if (!source || !navigator.clipboard) return;
      const label = button.textContent;
      const status = button.parentElement.querySelector("[data-copy-status]");
      button.hidden = false;
      button.addEventListener("click", () => {
        const text = "value" in source ? source.value : source.textContent;
        navigator.clipboard.writeText(text.trim()).then(
          () => {
            button.textContent = "Copied";
            if (status) status.textContent = "The link is copied.";
            setTimeout(() => { button.textContent = label; }, 2500);
          },
          () => { if (status) status.textContent = "Copying failed: select the link and copy it."; }
        );
      });
    });
  }

  // The publish form's caption is checked by the gate as it is typed (the same rules as when
  // the publication is recorded): what it finds, and where, is listed under the field.
  function captionCheck() {
    const field = document.querySelector("textarea[data-caption-check]");
    if (!field) return;
    const form = field.form;
    const out = document.getElementById("caption-findings");
    let timer = null;
    let asked = 0;
    function show(body) {
      out.replaceChildren();
      if (!field.value.trim()) { field.removeAttribute("aria-invalid"); return; }
      if (!body.findings.length) {
        const ok = document.createElement("p");
        ok.className = "good small";
        ok.textContent = "The text names no one it may not and gives no identifier.";
        out.append(ok);
        field.removeAttribute("aria-invalid");
        return;
      }
      const intro = document.createElement("p");
      intro.className = "bad small";
      intro.textContent = "This text cannot be published with it:";
      const list = document.createElement("ul");
      list.className = "small";
      for (const finding of body.findings) {
        const item = document.createElement("li");
        item.textContent = finding;
        list.append(item);
      }
      out.append(intro, list);
      field.setAttribute("aria-invalid", "true");
    }
    function check() {
      const mine = ++asked;
      fetch(field.dataset.captionCheck, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      })
        .then((r) => { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
        .then((body) => { if (mine === asked) show(body); })
        .catch(() => {
          if (mine !== asked) return;
          out.textContent = "The text could not be checked now; it is checked when you record the publication.";
        });
    }
    function soon() { clearTimeout(timer); timer = setTimeout(check, 350); }
    field.addEventListener("input", soon);
    const target = form.querySelector("[name=target]");
    if (target) target.addEventListener("change", soon);
    if (field.value.trim()) check();
  }

  // <div class="select-all" data-select-all-for="#form" data-name="pick"> holds a hidden
  // <label> with a checkbox that ticks or unticks every box of that name in the form (mixed
  // when some are ticked), a [data-without-js] link it replaces (the page again, every box
  // ticked) and a [data-picked-count] that says how many are picked.
  function selectAll() {
    document.querySelectorAll("[data-select-all-for]").forEach((holder) => {
      const form = document.querySelector(holder.dataset.selectAllFor);
      const label = holder.querySelector("label[hidden]");
      if (!form || !label) return;
      const all = label.querySelector("input[type=checkbox]");
      const count = holder.querySelector("[data-picked-count]");
      const boxes = Array.from(form.querySelectorAll("input[type=checkbox]"))
        .filter((box) => box.name === holder.dataset.name);
      function show() {
        const picked = boxes.filter((box) => box.checked).length;
        all.checked = picked === boxes.length;
        all.indeterminate = picked > 0 && picked < boxes.length;
        if (count) count.textContent = picked + " of " + boxes.length + " picked";
      }
      label.hidden = false;
      holder.querySelectorAll("[data-without-js]").forEach((el) => { el.hidden = true; });
      all.addEventListener("change", () => {
        boxes.forEach((box) => { box.checked = all.checked; });
        show();
      });
      boxes.forEach((box) => box.addEventListener("change", show));
      show();
    });
  }

  // <img data-fails="words">: a picture that fails to load says so, in those words, where it
  // would have been (a face crop, a photo of the People page).
  function failedPictures() {
    function failed(img) {
      const note = document.createElement("span");
      note.className = "small bad crop-failed";
      note.setAttribute("role", "status");
      note.textContent = img.dataset.fails;
      img.replaceWith(note);
    }
    document.querySelectorAll("img[data-fails]").forEach((img) => {
      if (img.complete && img.naturalWidth === 0) failed(img);
      else img.addEventListener("error", () => failed(img), { once: true });
    });
  }

  function ready() {
    failedPictures();
    selectAll();
    captionCheck();
    localTimes();
    copyButtons();
    focusMessage();
    // The browser may still scroll to the URL's #fragment when the page finishes loading; if
    // that moved the focus away, put it back on the message. Never once the person has started
    // on the page (a click, a key, a scroll of theirs): nothing moves under what they aim at.
    let acted = false;
    const act = () => { acted = true; };
    for (const kind of ["pointerdown", "keydown", "wheel", "touchstart"]) {
      window.addEventListener(kind, act, { capture: true, once: true, passive: true });
    }
    window.addEventListener("load", () => setTimeout(() => {
      if (!acted && document.activeElement === document.body) focusMessage();
    }, 0), { once: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
