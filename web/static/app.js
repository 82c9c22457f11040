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

  function ready() {
    localTimes();
    copyButtons();
    focusMessage();
    // The browser may still scroll to the URL's #fragment when the page finishes loading; if
    // that moved the focus away, put it back on the message.
    window.addEventListener("load", () => setTimeout(() => {
      if (document.activeElement === document.body) focusMessage();
    }, 0), { once: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
