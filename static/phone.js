// Phones: the time grid's scroll box ends above the floating + button (whatever the header above it measures), so
// the button never covers an event; and a long press on an event starts dragging it (touch has no hover to tell a
// drag from a scroll), by the same moves as the mouse in calendar.js.
(function () {
  "use strict";

  var NARROW = window.matchMedia("(max-width: 640px)");
  var PLUS_ROOM = 88;  // the + button (56 px), its 16 px inset and a little air
  var HOLD_MS = 450;

  function fitGrid() {
    var scroller = document.querySelector(".time-grid-scroll");
    if (!scroller) return;
    if (!NARROW.matches) {
      scroller.style.height = "";
      return;
    }
    var top = scroller.getBoundingClientRect().top + window.scrollY;
    scroller.style.height = Math.max(256, window.innerHeight - top - PLUS_ROOM) + "px";
  }

  document.addEventListener("DOMContentLoaded", fitGrid);
  document.addEventListener("htmx:load", fitGrid);
  window.addEventListener("resize", fitGrid);

  // Long press: after HOLD_MS without moving, the finger drags the event (pointer events with pointerType
  // "touch" are ignored by calendar.js, which leaves them to scrolling).
  var hold = null;

  function pointFrom(touch) { return { clientX: touch.clientX, clientY: touch.clientY, button: 0, pointerType: "pen" }; }

  document.addEventListener("touchstart", function (event) {
    var card = event.target.closest && event.target.closest(".event.timed[data-start]");
    if (!card || event.touches.length !== 1) return;
    var touch = event.touches[0];
    hold = { card: card, x: touch.clientX, y: touch.clientY, active: false };
    hold.timer = setTimeout(function () {
      if (!hold) return;
      hold.active = true;
      if (navigator.vibrate) navigator.vibrate(10);
      card.dispatchEvent(new PointerEvent("pointerdown", Object.assign(pointFrom(touch), { bubbles: true })));
      document.dispatchEvent(new PointerEvent("pointermove", Object.assign(pointFrom(
        { clientX: touch.clientX, clientY: touch.clientY + 6 }), { bubbles: true })));
    }, HOLD_MS);
  }, { passive: true });

  document.addEventListener("touchmove", function (event) {
    if (!hold) return;
    var touch = event.touches[0];
    if (!hold.active) {
      if (Math.abs(touch.clientX - hold.x) > 8 || Math.abs(touch.clientY - hold.y) > 8) {
        clearTimeout(hold.timer);  // a scroll, not a press
        hold = null;
      }
      return;
    }
    event.preventDefault();  // the page does not scroll while an event is dragged
    document.dispatchEvent(new PointerEvent("pointermove", Object.assign(pointFrom(touch), { bubbles: true })));
  }, { passive: false });

  function release(event) {
    if (!hold) return;
    clearTimeout(hold.timer);
    var wasActive = hold.active;
    hold = null;
    if (!wasActive) return;
    event.preventDefault();
    document.dispatchEvent(new PointerEvent("pointerup", { bubbles: true, pointerType: "pen" }));
  }

  document.addEventListener("touchend", release, { passive: false });
  document.addEventListener("touchcancel", function () {
    if (!hold) return;
    clearTimeout(hold.timer);
    if (hold.active) document.dispatchEvent(new PointerEvent("pointercancel", { bubbles: true, pointerType: "pen" }));
    hold = null;
  });
})();
