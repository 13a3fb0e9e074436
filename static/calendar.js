// Calendar views: keyboard shortcuts, the current-time line, scrolling to the working day, closing the event
// panel, and taking the browser's time zone on a first visit. No inline handlers anywhere.
(function () {
  "use strict";

  // Keys and the data-nav link each one follows (links keep working with htmx: a click is a click).
  var SHORTCUTS = {
    t: "today", j: "next", k: "previous", ArrowRight: "next", ArrowLeft: "previous",
    d: "day", w: "week", m: "month", a: "agenda"
  };
  var MINUTES_PER_DAY = 1440;
  var zoneGuessSent = false;

  function isTyping(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function closePanel() {
    var panel = document.getElementById("event-panel");
    // On its own page the panel is the page: its close link navigates back to the calendar instead.
    if (!panel || !panel.classList.contains("is-open") || panel.classList.contains("standalone")) return false;
    panel.replaceChildren();
    panel.className = "event-panel";
    var calendar = document.getElementById("calendar");
    if (calendar) calendar.focus({ preventScroll: true });
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "Escape") {
      if (closePanel()) event.preventDefault();
      return;
    }
    if (isTyping(event.target) || event.shiftKey) return;
    var calendar = document.getElementById("calendar");
    var name = SHORTCUTS[event.key];
    if (!calendar || !name) return;
    var link = calendar.querySelector('[data-nav="' + name + '"]');
    if (link) {
      event.preventDefault();
      // A region swapped in a moment ago is bound by htmx only after it settles; bind this link now.
      if (window.htmx) window.htmx.process(link);
      link.click();
    }
  });

  document.addEventListener("click", function (event) {
    var close = event.target.closest("[data-close-panel]");
    if (close && closePanel()) event.preventDefault();
  });

  function scrollToWorkingDay(root) {
    root.querySelectorAll("[data-scroll-to-hour]").forEach(function (scroller) {
      var hour = Number(scroller.getAttribute("data-scroll-to-hour"));
      scroller.scrollTop = scroller.scrollHeight * hour / 24;
    });
  }

  // The server places the line when it renders the page; from then on it moves with the clock.
  function moveNowLines() {
    document.querySelectorAll("[data-now-line]").forEach(function (line) {
      if (!line.dataset.renderedTop) {
        line.dataset.renderedTop = String(parseFloat(line.style.top));
        line.dataset.renderedAt = String(Date.now());
      }
      var minutes = (Date.now() - Number(line.dataset.renderedAt)) / 60000;
      var top = Number(line.dataset.renderedTop) + minutes / MINUTES_PER_DAY * 100;
      if (top >= 100) {
        line.remove();
      } else {
        line.style.top = top.toFixed(3) + "%";
      }
    });
  }

  function browserZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
    } catch (error) {
      return null;
    }
  }

  function adoptBrowserZone(root) {
    var zone = browserZone();
    if (!zone) return;
    root.querySelectorAll("select[data-guess-time-zone]").forEach(function (select) {
      var known = Array.prototype.some.call(select.options, function (option) { return option.value === zone; });
      if (known) select.value = zone;
    });
    var form = root.querySelector("form[data-time-zone-guess]");
    if (!form || zoneGuessSent) return;
    zoneGuessSent = true;
    form.elements.time_zone.value = zone;
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        // The page was drawn in UTC; draw it again in the zone just saved.
        if (response.ok && zone !== form.getAttribute("data-rendered-zone")) window.location.reload();
      });
  }

  function focusPanel(root) {
    if (root.id !== "event-panel" || !root.classList.contains("is-open")) return;
    var target = root.querySelector("input[name=title]") || root.querySelector("h2");
    if (!target) return;
    if (target.tagName === "H2") target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
  }

  function setUp(root) {
    scrollToWorkingDay(root);
    adoptBrowserZone(root);
    focusPanel(root);
  }

  document.addEventListener("DOMContentLoaded", function () { setUp(document.body); });
  document.addEventListener("htmx:load", function (event) {
    if (event.target !== document.body) setUp(event.target);
  });
  setInterval(moveNowLines, 60000);
})();
