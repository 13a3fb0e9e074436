// Almanac's only hand-written script: toasts from HX-Trigger and small conveniences. No inline handlers anywhere.
(function () {
  "use strict";

  function showToast(message, level) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var item = document.createElement("p");
    item.className = "toast toast-" + (level || "success");
    item.setAttribute("role", "status");
    item.textContent = message;  // textContent: a toast never interprets markup
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 4000);
  }

  document.body.addEventListener("toast", function (event) {
    var detail = event.detail || {};
    showToast(detail.message || "Done.", detail.level);
  });

  document.body.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    showToast(status === 429 ? "Too many attempts, try again later." :
              status === 403 ? "You do not have access to that." :
              status === 404 ? "That item no longer exists." :
              status === 503 ? "Almanac is briefly unavailable. Please try again in a moment." :
              "Something went wrong (" + status + "). Please try again.", "error");
  });

  document.body.addEventListener("htmx:sendError", function () {
    showToast("Could not reach Almanac. Check your connection.", "error");
  });

  // The top navigation sits outside the swapped region, so mark the current section after each htmx navigation.
  function markCurrentNav() {
    var path = window.location.pathname;
    document.querySelectorAll(".nav a[href]").forEach(function (link) {
      var href = link.getAttribute("href");
      var current = href === "/" ? (path === "/" || path.indexOf("/calendar") === 0)
                                 : (path === href || path.indexOf(href + "/") === 0);
      if (current) { link.setAttribute("aria-current", "page"); } else { link.removeAttribute("aria-current"); }
    });
  }
  document.body.addEventListener("htmx:pushedIntoHistory", markCurrentNav);
  window.addEventListener("popstate", markCurrentNav);

  window.Almanac = { showToast: showToast };
})();
