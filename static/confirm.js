// In-page confirmations (the confirm_action macro, a <details>): opening one moves the focus to its real button;
// "Keep" and Esc close it and give the focus back to the button that opened it.
(function () {
  "use strict";

  function closeBox(details) {
    details.open = false;
    var summary = details.querySelector("summary");
    if (summary) summary.focus();
  }

  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!details.classList || !details.classList.contains("confirm-inline") || !details.open) return;
    var yes = details.querySelector(".confirm-yes");
    if (yes) yes.focus();
  }, true);

  document.addEventListener("click", function (event) {
    var keep = event.target.closest("[data-keep]");
    if (keep) closeBox(keep.closest("details"));
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var details = event.target.closest && event.target.closest("details.confirm-inline[open]");
    if (!details) return;
    event.preventDefault();
    event.stopPropagation();
    closeBox(details);
  }, true);
})();
