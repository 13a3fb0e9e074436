// The user's clock (13:00 or 1:00 pm): until they have one, post the browser locale's hour cycle once; the pages
// after this one use it (this one is not drawn again under the user's hands).
(function () {
  "use strict";

  function hourCycle() {
    try {
      var options = new Intl.DateTimeFormat(undefined, { hour: "numeric" }).resolvedOptions();
      return options.hourCycle || (options.hour12 ? "h12" : "h23");
    } catch (error) {
      return null;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-clock-guess]");
    var cycle = hourCycle();
    if (!form || !cycle) return;
    form.elements.hour_cycle.value = cycle;
    form.remove();
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" });
  });
})();
