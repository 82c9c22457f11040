// The video review page: a track's time plays the video from there (without JavaScript the
// link opens the video at that time). A redaction's progress: redactions.js.
(function () {
  "use strict";

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
