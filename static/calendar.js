// Calendar views: keyboard shortcuts and grid navigation, dragging events (move, resize, create), the time grid's
// scroll position and edge markers, the current-time line, the event panel, the phone's three-day week and swipes,
// taking the browser's time zone on a first visit, and redrawing the page when its calendars change elsewhere. No inline handlers anywhere; every change goes through the
// same server endpoints as the forms, so without this file everything still works by links and forms.
(function () {
  "use strict";

  // Keys and the data-nav link each one follows (links keep working with htmx: a click is a click).
  var SHORTCUTS = {
    t: "today", j: "next", k: "previous", ArrowRight: "next", ArrowLeft: "previous",
    d: "day", x: "3day", w: "week", m: "month", a: "agenda"
  };
  var MINUTES_PER_DAY = 1440;
  var SNAP = 15;  // minutes: drags and keyboard moves land on quarter hours
  var DRAG_THRESHOLD = 4;  // pixels before a press becomes a drag rather than a click
  var NARROW = window.matchMedia("(max-width: 640px)");
  var zoneGuessSent = false;
  var suppressClick = false;
  var keptScroll = null;  // {kind, top}: the grid's position across swaps of the calendar region
  var refocusEventId = null;

  function isTyping(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function announce(text) {
    var announcer = document.getElementById("calendar-announcer");
    if (announcer) announcer.textContent = text;
  }

  function followNav(name) {
    var calendar = document.getElementById("calendar");
    var link = calendar && calendar.querySelector('[data-nav="' + name + '"]');
    if (!link) return false;
    // A region swapped in a moment ago is bound by htmx only after it settles; bind this link now.
    if (window.htmx) window.htmx.process(link);
    link.click();
    return true;
  }

  // ---------------------------------------------------------------------------------------------- the panel

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

  function focusPanel(root) {
    if (root.id !== "event-panel" || !root.classList.contains("is-open")) return;
    var target = root.querySelector("input[name=title]") || root.querySelector("h2");
    if (!target) return;
    if (target.tagName === "H2") target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
  }

  document.addEventListener("click", function (event) {
    var close = event.target.closest("[data-close-panel]");
    if (close && closePanel()) event.preventDefault();
  });

  // ---------------------------------------------------------------------------------------------- time arithmetic

  function parseLocal(text) {  // "YYYY-MM-DDTHH:MM" on the viewer's clock, as UTC milliseconds for arithmetic
    var p = text.split(/[-T:]/).map(Number);
    return Date.UTC(p[0], p[1] - 1, p[2], p[3] || 0, p[4] || 0);
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function formatLocal(ms) {
    var d = new Date(ms);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + "T" +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  }

  function clockOf(minutes) {  // on the user's clock (<html data-clock>): "13:05" or "1:05 pm"
    minutes = ((minutes % MINUTES_PER_DAY) + MINUTES_PER_DAY) % MINUTES_PER_DAY;
    var hour = Math.floor(minutes / 60);
    if (document.documentElement.getAttribute("data-clock") === "12") {
      return ((hour + 11) % 12 + 1) + ":" + pad(minutes % 60) + (hour < 12 ? " am" : " pm");
    }
    return pad(hour) + ":" + pad(minutes % 60);
  }

  function dayPlus(day, minutes) {  // "YYYY-MM-DD" + minutes after its midnight -> local ISO
    return formatLocal(parseLocal(day + "T00:00") + minutes * 60000);
  }

  function snap(minutes) { return Math.round(minutes / SNAP) * SNAP; }

  function clamp(value, low, high) { return Math.max(low, Math.min(high, value)); }

  function dayWords(day) {
    var date = new Date(parseLocal(day + "T00:00"));
    return date.toLocaleDateString("en-GB", { weekday: "long", day: "numeric", month: "long", timeZone: "UTC" });
  }

  // ---------------------------------------------------------------------------------------------- moving events

  function gridOf(element) { return element.closest(".time-grid"); }

  function columnsOf(grid) { return Array.prototype.slice.call(grid.querySelectorAll(".day-column")); }

  function columnAt(grid, x) {
    var columns = columnsOf(grid);
    for (var i = 0; i < columns.length; i++) {
      var rect = columns[i].getBoundingClientRect();
      if (x >= rect.left && x < rect.right) return columns[i];
    }
    return x < columns[0].getBoundingClientRect().left ? columns[0] : columns[columns.length - 1];
  }

  function minuteAt(column, y) {
    var rect = column.getBoundingClientRect();
    return clamp((y - rect.top) / rect.height * MINUTES_PER_DAY, 0, MINUTES_PER_DAY);
  }

  // Where a card is now (column day, start minute, length), read from its data attributes.
  function cardTimes(card) {
    var start = parseLocal(card.dataset.start);
    var length = Math.round((parseLocal(card.dataset.end) - start) / 60000);
    var day = card.dataset.start.slice(0, 10);
    return { day: day, start: Math.round((start - parseLocal(day + "T00:00")) / 60000), length: length };
  }

  // Draw a card at a new place before the server answers (the answer redraws the whole page region).
  function placeCard(card, column, start, length) {
    if (card.parentElement !== column) column.appendChild(card);
    card.style.top = (start / MINUTES_PER_DAY * 100).toFixed(3) + "%";
    card.style.height = (Math.max(length, 20) / MINUTES_PER_DAY * 100).toFixed(3) + "%";
    card.style.left = "0%";
    card.style.width = "100%";
    var time = card.querySelector(".event-time");
    if (time) {
      time.textContent = card.classList.contains("is-one-line") ? clockOf(start)
        : clockOf(start) + " – " + clockOf(start + length);
    }
  }

  function saveMove(card, day, start, length) {
    var grid = gridOf(card);
    var calendar = document.getElementById("calendar");
    if (!grid || !grid.dataset.moveUrl || !window.htmx) return;
    card.classList.add("is-pending");
    card.dataset.saving = "true";  // the page is not redrawn under it until the answer arrives
    if (!card.querySelector(".sync-mark")) {
      var mark = document.createElement("span");
      mark.className = "sync-mark";
      mark.textContent = "Saving…";
      mark.setAttribute("aria-hidden", "true");
      card.insertBefore(mark, card.querySelector(".resize-handle"));
    }
    var title = card.querySelector(".event-title");
    announce((title ? title.textContent : "Event") + " moves to " + dayWords(day) + ", " + clockOf(start) +
             " to " + clockOf(start + length) + ". Saving.");
    refocusEventId = document.activeElement === card ? card.dataset.eventId : null;
    var values = {
      start: dayPlus(day, start), end: dayPlus(day, start + length),
      view: calendar.dataset.view, anchor: grid.dataset.anchor
    };
    if (card.dataset.at) values.at = card.dataset.at;
    window.htmx.ajax("POST", grid.dataset.moveUrl.replace("00000000-0000-0000-0000-000000000000", card.dataset.eventId),
                     { source: card, target: "#calendar", swap: "outerHTML", values: values });
  }

  var drag = null;

  function startPress(event) {
    if (event.button !== 0 || event.pointerType === "touch") return;
    var card = event.target.closest(".event.timed[data-start]");
    var column = event.target.closest(".day-column");
    var grid = column && gridOf(column);
    if (!grid || !grid.dataset.moveUrl) return;
    if (card) {
      var times = cardTimes(card);
      drag = { kind: event.target.closest(".resize-handle") ? "resize" : "move", card: card, grid: grid,
               x: event.clientX, y: event.clientY, origin: column, times: times, offset: minuteAt(column, event.clientY) - times.start };
    } else if (event.target === column) {
      var at = Math.floor(minuteAt(column, event.clientY) / SNAP) * SNAP;
      drag = { kind: "create", column: column, grid: grid, x: event.clientX, y: event.clientY, from: at };
    } else {
      return;
    }
    event.preventDefault();  // no text selection or native link dragging; the click still follows
  }

  function movePress(event) {
    if (!drag) return;
    if (!drag.active) {
      if (Math.abs(event.clientX - drag.x) < DRAG_THRESHOLD && Math.abs(event.clientY - drag.y) < DRAG_THRESHOLD) return;
      drag.active = true;
      if (drag.card) drag.card.classList.add("is-dragging");
    }
    if (drag.kind === "move") {
      var column = columnAt(drag.grid, event.clientX);
      var start = clamp(snap(minuteAt(column, event.clientY) - drag.offset), 0, MINUTES_PER_DAY - drag.times.length);
      drag.to = { column: column, start: start, length: drag.times.length };
      placeCard(drag.card, column, start, drag.times.length);
    } else if (drag.kind === "resize") {
      var end = clamp(snap(minuteAt(drag.origin, event.clientY)), drag.times.start + SNAP, MINUTES_PER_DAY);
      drag.to = { column: drag.origin, start: drag.times.start, length: end - drag.times.start };
      placeCard(drag.card, drag.origin, drag.times.start, end - drag.times.start);
    } else {
      var here = minuteAt(drag.column, event.clientY);
      var from = Math.min(drag.from, Math.floor(here / SNAP) * SNAP);
      var to = Math.max(drag.from + SNAP, Math.ceil(here / SNAP) * SNAP);
      if (!drag.ghost) {
        drag.ghost = document.createElement("div");
        drag.ghost.className = "create-ghost";
        drag.column.appendChild(drag.ghost);
      }
      drag.ghost.style.top = (from / MINUTES_PER_DAY * 100) + "%";
      drag.ghost.style.height = ((to - from) / MINUTES_PER_DAY * 100) + "%";
      drag.ghost.textContent = clockOf(from) + " – " + clockOf(to);
      drag.range = { from: from, to: to };
    }
  }

  function endPress() {
    var done = drag;
    drag = null;
    if (!done || !done.active) return;
    suppressClick = true;  // the click that ends a drag must not also open the event or the slot
    setTimeout(function () { suppressClick = false; }, 0);
    if (done.card) done.card.classList.remove("is-dragging");
    if (done.kind === "create") {
      if (!done.range) return;
      newEventAt(done.column, done.range.from, done.range.to, done.ghost);
      return;
    }
    var to = done.to;
    if (!to || (to.column === done.origin && to.start === done.times.start && to.length === done.times.length)) return;
    saveMove(done.card, to.column.dataset.day, to.start, to.length);
  }

  function cancelPress() {
    if (!drag) return;
    var cancelled = drag;
    drag = null;
    if (cancelled.ghost) cancelled.ghost.remove();
    if (cancelled.card) {
      cancelled.card.classList.remove("is-dragging");
      placeCard(cancelled.card, cancelled.origin, cancelled.times.start, cancelled.times.length);
    }
  }

  document.addEventListener("pointerdown", startPress);
  document.addEventListener("pointermove", movePress);
  document.addEventListener("pointerup", endPress);
  document.addEventListener("pointercancel", cancelPress);
  document.addEventListener("dragstart", function (event) {
    if (event.target.closest && event.target.closest(".time-grid")) event.preventDefault();
  });
  document.addEventListener("click", function (event) {
    if (!suppressClick) return;
    event.preventDefault();
    event.stopPropagation();
  }, true);

  // A new event for a clicked or dragged slot: quick-create.js opens its popover beside the placeholder (it calls
  // event.preventDefault()); without it, the full form opens in the panel.
  function newEventAt(column, from, to, ghost) {
    var day = column.dataset.day;
    var detail = { column: column, day: day, start: dayPlus(day, from), end: dayPlus(day, to), ghost: ghost,
                   label: clockOf(from) + " – " + clockOf(to) };
    if (!document.dispatchEvent(new CustomEvent("almanac:new-event", { detail: detail, cancelable: true }))) return;
    var url = gridOf(column).dataset.newUrl + "&start=" + encodeURIComponent(detail.start) +
      "&end=" + encodeURIComponent(detail.end);
    window.htmx.ajax("GET", url, { target: "#event-panel", swap: "outerHTML" }).then(function () {
      if (ghost) ghost.remove();
    });
  }

  // A click on empty time: a new event at the hour clicked (one URL on the grid, no link per hour).
  document.addEventListener("click", function (event) {
    var column = event.target.closest && event.target.closest(".day-column.can-create");
    if (!column || event.target !== column || event.defaultPrevented || event.button !== 0) return;
    var hour = Math.floor(minuteAt(column, event.clientY) / 60);
    newEventAt(column, hour * 60, hour * 60 + 60, null);
  });

  // A click on an empty all-day row: a new all-day event on that day, in the panel.
  document.addEventListener("click", function (event) {
    var lanes = event.target.closest && event.target.closest(".all-day-lanes");
    var grid = lanes && gridOf(lanes);
    if (!grid || event.target !== lanes || !grid.dataset.moveUrl || event.defaultPrevented || event.button !== 0 ||
        NARROW.matches || !window.htmx) return;
    var day = columnAt(grid, event.clientX).dataset.day;
    window.htmx.ajax("GET", grid.dataset.newUrl + "&start=" + encodeURIComponent(day),
                     { target: "#event-panel", swap: "outerHTML" });
  });

  // Keyboard: Shift+arrows move the focused event by a quarter hour or a day, Alt+Shift+Up/Down shorten or
  // lengthen it; the change is saved once the keys rest. Plain arrows go from event to event.
  var keyMove = null;

  function keyboardMove(card, event) {
    var grid = gridOf(card);
    var columns = columnsOf(grid);
    if (!keyMove || keyMove.card !== card) {
      var times = cardTimes(card);
      keyMove = { card: card, column: card.closest(".day-column"), start: times.start, length: times.length };
    }
    var index = columns.indexOf(keyMove.column);
    if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      keyMove.length = clamp(keyMove.length + (event.key === "ArrowDown" ? SNAP : -SNAP), SNAP,
                             MINUTES_PER_DAY - keyMove.start);
    } else if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      keyMove.start = clamp(keyMove.start + (event.key === "ArrowDown" ? SNAP : -SNAP), 0,
                            MINUTES_PER_DAY - keyMove.length);
    } else {
      var next = index + (event.key === "ArrowRight" ? 1 : -1);
      if (next < 0 || next >= columns.length) {
        announce("That day is not shown: move to it first.");
        return;
      }
      keyMove.column = columns[next];
    }
    placeCard(card, keyMove.column, keyMove.start, keyMove.length);
    card.focus({ preventScroll: true });
    var day = keyMove.column.dataset.day;
    announce(dayWords(day) + ", " + clockOf(keyMove.start) + " to " + clockOf(keyMove.start + keyMove.length));
    clearTimeout(keyMove.timer);
    var pending = keyMove;
    keyMove.timer = setTimeout(function () {
      keyMove = null;
      saveMove(pending.card, pending.column.dataset.day, pending.start, pending.length);
    }, 700);
  }

  function eventsInColumn(column) {
    return Array.prototype.slice.call(column.querySelectorAll(".event.timed")).sort(function (a, b) {
      return a.offsetTop - b.offsetTop || a.offsetLeft - b.offsetLeft;
    });
  }

  function focusNeighbour(card, key) {
    var column = card.closest(".day-column");
    if (!column) return false;
    var target = null;
    if (key === "ArrowUp" || key === "ArrowDown") {
      var list = eventsInColumn(column);
      target = list[list.indexOf(card) + (key === "ArrowDown" ? 1 : -1)];
    } else {
      var columns = columnsOf(gridOf(card));
      var step = key === "ArrowRight" ? 1 : -1;
      for (var i = columns.indexOf(column) + step; i >= 0 && i < columns.length && !target; i += step) {
        var candidates = eventsInColumn(columns[i]);
        var best = null;
        candidates.forEach(function (other) {
          if (!best || Math.abs(other.offsetTop - card.offsetTop) < Math.abs(best.offsetTop - card.offsetTop)) best = other;
        });
        target = best;
      }
    }
    if (target) target.focus();
    return true;  // at an edge the arrow stays put rather than paging the calendar
  }

  function focusGoToDate() {
    var input = document.getElementById("go-to-date");
    if (!input) return false;
    if (NARROW.matches && !document.documentElement.classList.contains("menu-open")) {
      var menu = document.querySelector("[data-menu-button]");
      if (menu) menu.click();
    }
    input.focus();
    if (input.showPicker) {
      try { input.showPicker(); } catch (error) { /* needs a user gesture in some browsers: focus is enough */ }
    }
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey) return;
    if (event.key === "Escape") {
      if (drag) { cancelPress(); event.preventDefault(); return; }
      if (closePanel()) event.preventDefault();
      return;
    }
    var card = event.target.closest && event.target.closest(".time-grid .event.timed");
    var isArrow = /^Arrow(Up|Down|Left|Right)$/.test(event.key);
    if (card && isArrow) {
      if (event.shiftKey && card.dataset.start) {
        event.preventDefault();
        keyboardMove(card, event);
      } else if (!event.shiftKey && !event.altKey && focusNeighbour(card, event.key)) {
        event.preventDefault();
      }
      return;
    }
    if (event.altKey || isTyping(event.target) || event.shiftKey) return;
    if (event.key === "g" && focusGoToDate()) {
      event.preventDefault();
      return;
    }
    if ((event.key === "c" || event.key === "n") && document.querySelector("[data-new-event]")) {
      event.preventDefault();
      document.querySelector("[data-new-event]").click();
      return;
    }
    var name = SHORTCUTS[event.key];
    if (name && followNav(name)) event.preventDefault();
  });

  // ---------------------------------------------------------------------------------------------- the time grid

  function scrollerTop(card) {
    var column = card.closest(".day-column");
    return column.offsetTop + card.offsetTop;
  }

  // Markers at the top and bottom edge of each day for events scrolled out of view; a click scrolls to them.
  function updateEdgeMarkers(scroller) {
    var grid = gridOf(scroller);
    var top = scroller.querySelector(".edge-markers.is-top");
    var bottom = scroller.querySelector(".edge-markers.is-bottom");
    if (!top) {
      top = document.createElement("div");
      top.className = "edge-markers is-top";
      bottom = document.createElement("div");
      bottom.className = "edge-markers is-bottom";
      scroller.insertBefore(top, scroller.firstChild);
      scroller.appendChild(bottom);
    }
    var seenTop = scroller.scrollTop;
    var seenBottom = seenTop + scroller.clientHeight;
    top.replaceChildren();
    bottom.replaceChildren();
    columnsOf(grid).forEach(function (column, index) {
      var above = [];
      var below = [];
      column.querySelectorAll(".event.timed").forEach(function (card) {
        var cardTop = scrollerTop(card);
        if (cardTop + card.offsetHeight <= seenTop + 2) above.push(cardTop);
        else if (cardTop >= seenBottom - 2) below.push(cardTop);
      });
      [[above, top, "▲", "earlier", Math.max], [below, bottom, "▼", "later", Math.min]].forEach(function (side) {
        var tops = side[0];
        if (!tops.length) return;
        var marker = document.createElement("button");
        marker.type = "button";
        marker.className = "edge-marker";
        marker.style.gridColumn = String(index + 2);
        marker.textContent = side[2] + " " + tops.length;
        marker.setAttribute("aria-label", tops.length + (tops.length === 1 ? " event " : " events ") + side[3] +
                            " on " + dayWords(column.dataset.day) + ": show");
        var target = side[4].apply(null, tops);
        marker.addEventListener("click", function () {
          scroller.scrollTo({ top: side[3] === "earlier" ? target - 8 : target - scroller.clientHeight / 3 });
        });
        side[1].appendChild(marker);
      });
    });
  }

  function setUpGrid(root) {
    var scrollers = root.querySelectorAll ? root.querySelectorAll(".time-grid-scroll") : [];
    var calendar = document.getElementById("calendar");
    scrollers.forEach(function (scroller) {
      var body = scroller.querySelector(".time-grid-body");
      if (keptScroll && calendar && keptScroll.kind === calendar.dataset.view) {
        scroller.scrollTop = keptScroll.top;
      } else {
        var minute = Number(scroller.getAttribute("data-scroll-to-minute") || 480);
        scroller.scrollTop = body.offsetHeight * minute / MINUTES_PER_DAY;
      }
      updateEdgeMarkers(scroller);
      var queued = false;
      scroller.addEventListener("scroll", function () {
        if (queued) return;
        queued = true;
        requestAnimationFrame(function () { queued = false; updateEdgeMarkers(scroller); });
      }, { passive: true });
    });
    keptScroll = null;
    if (refocusEventId && calendar) {
      var again = calendar.querySelector('.event[data-event-id="' + refocusEventId + '"]');
      if (again) again.focus({ preventScroll: true });
      refocusEventId = null;
    }
  }

  // Keep the grid where it was when the calendar region is swapped for the same kind of view.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "calendar") return;
    var scroller = target.querySelector(".time-grid-scroll");
    keptScroll = scroller ? { kind: target.dataset.view, top: scroller.scrollTop } : null;
  });

  // The server places the line when it renders the page; from then on it moves with the clock. A page the
  // browser kept (a 304) was drawn a while ago: the line moves from when it was drawn (the page's stamp).
  function moveNowLines() {
    var calendar = document.getElementById("calendar");
    var drawnAt = calendar && Number(calendar.dataset.liveStamp);
    document.querySelectorAll("[data-now-line]").forEach(function (line) {
      if (!line.dataset.renderedTop) {
        line.dataset.renderedTop = String(parseFloat(line.style.top));
        line.dataset.renderedAt = String(drawnAt ? Math.min(drawnAt, Date.now()) : Date.now());
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

  // ---------------------------------------------------------------------------------------------- mini-month

  // The sidebar's month marks the days the calendar shows, and makes the first of them its one Tab stop. A
  // navigation keeps the sidebar it had (hx-preserve) and a month fetched by its arrows knows nothing of the
  // calendar, so the marks are set here from the calendar's own first and last day.
  function markShownDays() {
    var calendar = document.getElementById("calendar");
    var grid = document.querySelector("#mini-month .mini-grid");
    if (!calendar || !grid) return;
    var first = calendar.dataset.first, last = calendar.dataset.last, stop = null;
    grid.querySelectorAll("td").forEach(function (cell) {
      var time = cell.querySelector("time");
      var day = time ? time.getAttribute("datetime") : "";
      var shown = !!first && day >= first && day <= last;
      cell.classList.toggle("is-shown", shown);
      if (shown && !stop) stop = cell;
    });
    stop = stop || grid.querySelector("td.is-today") || grid.querySelector("td:not(.is-other-month)");
    grid.querySelectorAll("td a").forEach(function (link) { link.tabIndex = link.parentNode === stop ? 0 : -1; });
  }
  document.addEventListener("DOMContentLoaded", markShownDays);
  document.addEventListener("htmx:load", markShownDays);

  // ---------------------------------------------------------------------------------------------- phones

  // On a phone the week is three days: swap the week for the three-day view of the same days.
  function narrowWeek(root) {
    var calendar = root.id === "calendar" ? root : root.querySelector && root.querySelector("#calendar");
    if (!calendar || !NARROW.matches || calendar.dataset.view !== "week" || !window.htmx) return;
    var url = calendar.getAttribute("data-narrow-url");
    if (!url) return;
    window.htmx.ajax("GET", url, { target: "#calendar", swap: "outerHTML" }).then(function () {
      window.history.replaceState({ htmx: true }, "", url);
    });
  }

  var touch = null;
  document.addEventListener("touchstart", function (event) {
    var main = event.target.closest && event.target.closest(".calendar-main");
    touch = main && event.touches.length === 1 ? { x: event.touches[0].clientX, y: event.touches[0].clientY } : null;
  }, { passive: true });
  document.addEventListener("touchend", function (event) {
    if (!touch) return;
    var dx = event.changedTouches[0].clientX - touch.x;
    var dy = event.changedTouches[0].clientY - touch.y;
    touch = null;
    if (Math.abs(dx) > 60 && Math.abs(dx) > 2 * Math.abs(dy)) followNav(dx < 0 ? "next" : "previous");
  }, { passive: true });

  // ---------------------------------------------------------------------------------------------- time zone

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

  // ---------------------------------------------------------------------------------------------- live updates

  // The page asks the server every few seconds (while visible) whether the user's change stamp moved: a sync
  // stored something, or another tab changed something. Then it fetches its own range again and, if what it shows
  // changed, swaps in the grid (or month, or agenda) and the calendar list only: the open panel, a form being
  // typed into, the scroll position and focus stay. A hidden tab asks nothing; when it comes back it asks at once,
  // and tells the server so (calendars over a minute old are synced).
  var live = { timer: null, asking: false, stopped: false, generation: 0, viewedAt: 0, noteTimer: null };
  var VIEWED_EVERY = 60000;

  function liveRoot() {
    var calendar = document.getElementById("calendar");
    return calendar && calendar.dataset.livePollUrl ? calendar : null;
  }

  function nextPoll(delay) {
    clearTimeout(live.timer);
    var root = liveRoot();
    if (!root || live.stopped || document.visibilityState !== "visible") return;
    live.timer = setTimeout(askForChanges, delay === undefined ? Number(root.dataset.livePollMs || 2000) : delay);
  }

  function askForChanges() {
    var root = liveRoot();
    if (!root || live.asking) return;
    live.asking = true;
    var url = root.dataset.livePollUrl + "?since=" + encodeURIComponent(root.dataset.liveStamp);
    var failed = true;
    fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (response) {
      if (response.status === 401) { live.stopped = true; return null; }  // signed out: nothing more to ask
      failed = !(response.status === 200 || response.status === 204);
      return response.status === 200 ? response.text().then(function (stamp) { return redraw(root, stamp); }) : null;
    }).catch(function () { /* offline for a moment: ask again later */ }).then(function () {
      live.asking = false;
      // Trouble on the server (503 while Redis is away) or the network: ask less and less often, up to once a
      // minute, so open tabs never pile onto a server that is struggling.
      live.failures = failed ? Math.min((live.failures || 0) + 1, 5) : 0;
      nextPoll(live.failures ? Math.min(Number(root.dataset.livePollMs || 2000) * Math.pow(2, live.failures), 60000)
                             : undefined);
    });
  }

  // Something of the user's own is under way on this page: redraw later (the next answer says "changed" again).
  function isBusy(root) {
    if (drag || keyMove) return true;
    var main = root.querySelector(".calendar-main");
    return !!(main && (main.querySelector(".event[data-saving], .more-events[open]") ||
                       (window.getSelection && String(window.getSelection()) &&
                        main.contains(window.getSelection().anchorNode))));
  }

  function redraw(root, stamp) {
    if (isBusy(root)) return null;
    var generation = live.generation;
    return fetch(root.dataset.liveUrl, {
      credentials: "same-origin", cache: "no-store", headers: { "HX-Request": "true", "HX-Target": "calendar" }
    }).then(function (response) { return response.ok ? response.text() : null; }).then(function (html) {
      if (!html || generation !== live.generation || liveRoot() !== root || isBusy(root)) return;
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("calendar");
      if (!fresh) return;
      var changed = fresh.dataset.liveDigest !== root.dataset.liveDigest;
      if (changed) swapRegions(root, fresh);
      root.dataset.liveStamp = fresh.dataset.liveStamp || stamp;
      root.dataset.liveDigest = fresh.dataset.liveDigest || "";
      if (changed) showUpdated(root);
    });
  }

  function swapRegions(root, fresh) {
    var active = document.activeElement;
    var focusedEvent = active && active.closest && active.closest(".calendar-main .event[data-event-id]");
    var focusedCalendar = active && active.closest && active.closest(".calendars [data-calendar-id]");
    var scroller = root.querySelector(".time-grid-scroll");
    keptScroll = scroller ? { kind: root.dataset.view, top: scroller.scrollTop } : null;
    refocusEventId = focusedEvent ? focusedEvent.dataset.eventId : null;
    var pageTop = window.scrollY;
    [".calendar-main", ".calendars"].forEach(function (selector) {
      var old = root.querySelector(selector);
      var replacement = fresh.querySelector(selector);
      if (!old || !replacement) return;
      replacement = document.importNode(replacement, true);
      old.replaceWith(replacement);
      if (window.htmx) window.htmx.process(replacement);
    });
    setUpGrid(root.querySelector(".calendar-main") || root);
    if (focusedCalendar) {
      var again = root.querySelector('.calendars [data-calendar-id="' + focusedCalendar.dataset.calendarId + '"] button');
      if (again) again.focus({ preventScroll: true });
    }
    window.scrollTo({ top: pageTop });
  }

  function showUpdated(root) {
    var note = root.querySelector("[data-live-note]");
    if (!note) return;
    var now = new Date();
    note.textContent = "Updated " + pad(now.getHours()) + ":" + pad(now.getMinutes());
    note.hidden = false;
    clearTimeout(live.noteTimer);
    live.noteTimer = setTimeout(function () { note.hidden = true; }, 10000);
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  // Someone is looking (the page opened, or came back to the front): the server syncs the shown calendars that
  // are over a minute old. At most once a minute from this tab (the server keeps to once a minute per calendar).
  function looking(root) {
    if (Date.now() - live.viewedAt < VIEWED_EVERY) return;
    live.viewedAt = Date.now();
    fetch(root.dataset.liveViewedUrl, { method: "POST", credentials: "same-origin",
                                        headers: { "X-CSRFToken": csrfToken() } }).catch(function () {});
  }

  // Back in front: ask at once.
  function cameBack() {
    var root = liveRoot();
    if (!root || document.visibilityState !== "visible") return;
    looking(root);
    nextPoll(0);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") cameBack(); else clearTimeout(live.timer);
  });
  window.addEventListener("focus", cameBack);
  // A navigation swaps the whole calendar: an answer for the old page must not land in the new one.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "calendar") live.generation += 1;
  });

  function startLive(root) {
    var calendar = root.id === "calendar" ? root : root.querySelector && root.querySelector("#calendar");
    if (!calendar || !calendar.dataset.livePollUrl) return;
    if (document.visibilityState === "visible") looking(calendar);
    nextPoll();
  }

  function setUp(root) {
    setUpGrid(root);
    adoptBrowserZone(root);
    focusPanel(root);
    narrowWeek(root);
    startLive(root);
  }

  document.addEventListener("DOMContentLoaded", function () { setUp(document.body); });
  document.addEventListener("htmx:load", function (event) {
    if (event.target !== document.body) setUp(event.target);
  });
  setInterval(moveNowLines, 60000);
})();
