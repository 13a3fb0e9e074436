// The toast's Undo (a move, a resize, a deletion): posts its token with the page the calendar shows, and the answer
// is the calendar region again. `z` undoes the newest one while its toast shows.
(function () {
  "use strict";

  function pageAnchor() {
    var match = window.location.pathname.match(/(\d{4}-\d{2}-\d{2})$/) ||
      window.location.search.match(/start=(\d{4}-\d{2}-\d{2})/);
    return match ? match[1] : "";
  }

  function send(button) {
    if (!window.htmx || button.disabled) return;
    button.disabled = true;
    var calendar = document.getElementById("calendar");
    var toast = button.closest(".toast");
    window.htmx.ajax("POST", "/calendar/undo", {
      source: button, target: "#calendar", swap: "outerHTML",
      values: { token: button.getAttribute("data-undo"), view: calendar ? calendar.dataset.view : "week",
                anchor: pageAnchor() }
    }).then(function () { if (toast) toast.remove(); });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-undo]");
    if (button) send(button);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "z" || event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName)) return;
    var buttons = document.querySelectorAll("#toasts button[data-undo]:not(:disabled)");
    if (!buttons.length) return;
    event.preventDefault();
    send(buttons[buttons.length - 1]);
  });
})();
