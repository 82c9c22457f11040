// Review by person: the keyboard moves between groups and decides (buttons and checkboxes work
// without it; large targets for a tablet).
(function () {
  "use strict";
  const groups = Array.from(document.querySelectorAll("[data-group]"));
  if (!groups.length) return;
  let current = 0;
  // What the keyboard could not do, said where the person reads and to screen readers.
  const status = document.getElementById("keys-status");
  function say(text) { if (status) status.textContent = text; }
  function focusGroup(i) {
    current = Math.max(0, Math.min(groups.length - 1, i));
    groups.forEach((g, n) => g.classList.toggle("current", n === current));
    groups[current].focus({ preventScroll: true });
    groups[current].scrollIntoView({ block: "start", behavior: "smooth" });
  }
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) && target.type !== "checkbox") return;
    const group = groups[current];
    if (event.key === "j") { focusGroup(current + 1); event.preventDefault(); }
    else if (event.key === "k") { focusGroup(current - 1); event.preventDefault(); }
    else if (event.key === "y" || event.key === "n") {
      const button = group.querySelector(`button[data-key="${event.key}"]`);
      if (button) { event.preventDefault(); button.click(); }
    } else if (event.key === "x") {
      event.preventDefault();
      if (target && target.type === "checkbox") {
        target.checked = !target.checked;
        say("");
      } else {
        say("x takes a face out of the group: first move to a face with Tab, then press x.");
      }
    }
  });
  groups.forEach((g, n) => g.addEventListener("focusin", () => {
    current = n;
    groups.forEach((other, m) => other.classList.toggle("current", m === n));
  }));
  const anchored = location.hash && document.querySelector(location.hash);
  focusGroup(anchored ? groups.indexOf(anchored.closest("[data-group]")) : 0);
})();
