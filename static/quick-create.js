// Quick create: a click or drag on empty time (calendar.js announces it as "almanac:new-event") opens a small popover
// beside the placeholder, which stays on screen: one line of text (read on the server, with a preview), the
// calendar; Enter saves, Esc or Cancel closes, "More options" opens the full form with what was typed. On a phone
// the popover is a sheet at the bottom. Without this file the full form opens instead.
(function () {
  "use strict";

  var current = null;  // {ghost, made}: the placeholder, and whether we drew it (a click) or the drag did

  function pop() {
    var box = document.getElementById("quick-pop");
    if (!box) {
      box = document.createElement("div");
      box.id = "quick-pop";
      box.className = "quick-pop";
      document.body.appendChild(box);
    }
    return box;
  }

  function close(refocus) {
    var box = document.getElementById("quick-pop");
    if (box) {
      box.replaceChildren();
      box.classList.remove("is-open");
    }
    if (current && current.ghost) current.ghost.remove();
    current = null;
    var calendar = document.getElementById("calendar");
    if (refocus && calendar) calendar.focus({ preventScroll: true });
  }

  function placeholder(detail) {
    if (detail.ghost) return detail.ghost;
    var ghost = document.createElement("div");
    ghost.className = "create-ghost";
    var from = minutesOf(detail.start), to = minutesOf(detail.end);
    ghost.style.top = (from / 1440 * 100) + "%";
    ghost.style.height = ((to - from) / 1440 * 100) + "%";
    ghost.textContent = detail.label;
    detail.column.appendChild(ghost);
    return ghost;
  }

  function minutesOf(local) {  // "YYYY-MM-DDTHH:MM" -> minutes after midnight
    var time = local.split("T")[1].split(":");
    return Number(time[0]) * 60 + Number(time[1]);
  }

  function place(box, ghost) {
    if (window.matchMedia("(max-width: 640px)").matches) {
      box.style.left = box.style.top = "";
      return;  // a sheet at the bottom (calendar.css)
    }
    var slot = ghost.getBoundingClientRect();
    var width = box.offsetWidth, height = box.offsetHeight, gap = 8;
    var left = slot.right + gap + width <= window.innerWidth ? slot.right + gap : slot.left - gap - width;
    var top = Math.min(Math.max(slot.top, gap), window.innerHeight - height - gap);
    box.style.left = Math.max(gap, left) + "px";
    box.style.top = Math.max(gap, top) + "px";
  }

  document.addEventListener("almanac:new-event", function (event) {
    var detail = event.detail;
    var grid = detail.column.closest(".time-grid");
    if (!grid || !window.htmx) return;
    event.preventDefault();
    close(false);
    current = { ghost: placeholder(detail) };
    current.ghost.classList.add("is-placeholder");
    var calendar = document.getElementById("calendar");
    var url = "/calendar/events/quick?view=" + encodeURIComponent(calendar ? calendar.dataset.view : "week") +
      "&start=" + encodeURIComponent(detail.start) + "&end=" + encodeURIComponent(detail.end);
    var box = pop();
    var ghost = current.ghost;
    window.htmx.ajax("GET", url, { target: "#quick-pop", swap: "innerHTML" }).then(function () {
      if (!current || current.ghost !== ghost) return;
      box.classList.add("is-open");
      place(box, ghost);
      var title = box.querySelector("#quick-title") || box.querySelector("button");
      if (title) title.focus();
    });
  });

  // Esc closes the popover before anything else hears the key (calendar.js would close the panel).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !current) return;
    event.preventDefault();
    event.stopPropagation();
    close(true);
  }, true);

  document.addEventListener("click", function (event) {
    if (!current || event.defaultPrevented) return;  // the click that ends a drag is not an outside click
    if (event.target.closest("[data-quick-cancel]")) {
      close(true);
      return;
    }
    var more = event.target.closest("[data-quick-more]");
    if (more) {
      event.preventDefault();
      var form = more.closest("form");
      var url = more.getAttribute("href") + "&title=" + encodeURIComponent(form.elements.title.value) +
        "&calendar_id=" + encodeURIComponent(form.elements.calendar_id.value);
      close(false);
      window.htmx.ajax("GET", url, { target: "#event-panel", swap: "outerHTML" });
      return;
    }
    var inside = event.target.closest("#quick-pop") || (current.ghost && current.ghost.contains(event.target));
    if (!inside) close(false);
  }, true);

  // Saved: the calendar region comes back (with the event); the placeholder and the popover go.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (current && event.detail.target && event.detail.target.id === "calendar") close(false);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var box = document.getElementById("quick-pop");
    if (box && event.detail.target === box && current) {
      box.classList.add("is-open");
      place(box, current.ghost);
      var title = box.querySelector("#quick-title");
      if (title) title.focus();
    }
  });
})();
