// The top bar's search dropdown (htmx fills #search-dropdown while typing): Down moves into the results, Up and
// Down through them, Esc closes it and gives the focus back to the page; a click elsewhere closes it. On the full
// results page, Esc returns to the page before it.
(function () {
  "use strict";

  function box() { return document.querySelector("[data-search-dropdown]"); }

  function dropdown() { return document.getElementById("search-dropdown"); }

  function links() {
    var list = dropdown();
    return list ? Array.prototype.slice.call(list.querySelectorAll("a")) : [];
  }

  function isOpen() {
    var list = dropdown();
    return Boolean(list && list.classList.contains("is-open"));
  }

  function close(returnFocus) {
    var list = dropdown();
    if (list) {
      list.classList.remove("is-open");
      list.replaceChildren();
    }
    var input = box();
    if (input) input.setAttribute("aria-expanded", "false");
    if (returnFocus) {
      var calendar = document.getElementById("calendar");
      if (input) input.blur();
      if (calendar) calendar.focus({ preventScroll: true });
    }
  }

  // The dropdown is swapped in whole (outerHTML): htmx announces the new one with htmx:load.
  document.addEventListener("htmx:load", function (event) {
    if (event.target && event.target.id === "search-dropdown") {
      var input = box();
      if (input) input.setAttribute("aria-expanded", isOpen() ? "true" : "false");
    }
  });

  document.addEventListener("keydown", function (event) {
    var input = box();
    var inDropdown = event.target.closest && event.target.closest("#search-dropdown");
    if (event.key === "Escape") {
      if (event.target === input || inDropdown) {
        event.preventDefault();
        event.stopPropagation();
        if (input) input.value = "";
        close(true);
        return;
      }
      // The full list: Esc returns to the page the search began on (in its box, Esc first empties it).
      var page = document.getElementById("search");
      var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName) && event.target.value;
      if (page && !event.defaultPrevented && !typing && document.referrer.indexOf(window.location.origin + "/") === 0) {
        event.preventDefault();
        window.history.back();
      }
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    if (!isOpen() || !(event.target === input || inDropdown)) return;
    var all = links();
    if (!all.length) return;
    event.preventDefault();
    var index = all.indexOf(event.target);
    var next = event.key === "ArrowDown" ? index + 1 : index - 1;
    if (next < 0) { input.focus(); return; }
    all[Math.min(next, all.length - 1)].focus();
  }, true);

  document.addEventListener("click", function (event) {
    if (!isOpen()) return;
    if (event.target.closest && event.target.closest(".topbar-search")) return;
    close(false);
  });
})();
