// Almanac's only hand-written script: toasts from HX-Trigger and small conveniences. No inline handlers anywhere.
(function () {
  "use strict";

  // `undo`: a token for /calendar/undo; the toast then offers Undo for 10 s (undo.js sends it).
  function showToast(message, level, undo) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var item = document.createElement("p");
    item.className = "toast toast-" + (level || "success");
    item.setAttribute("role", "status");
    var text = document.createElement("span");
    text.textContent = message;  // textContent: a toast never interprets markup
    item.appendChild(text);
    if (undo) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "toast-undo";
      button.textContent = "Undo";
      button.setAttribute("data-undo", undo);
      item.appendChild(button);
    }
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, undo ? 10000 : 4000);
  }

  document.body.addEventListener("toast", function (event) {
    var detail = event.detail || {};
    showToast(detail.message || "Done.", detail.level, detail.undo);
  });

  document.body.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    if (event.detail.xhr.getResponseHeader("HX-Trigger")) {
      return;  // the server said why, in its own toast
    }
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
      // A link stands for its first path segment: Settings (/settings/profile) for every page under /settings/.
      var href = link.getAttribute("href");
      var section = "/" + href.split("/")[1] + "/";
      var current = href === "/" ? (path === "/" || path.indexOf("/calendar") === 0)
                                 : (path === href || path.indexOf(section) === 0);
      if (current) { link.setAttribute("aria-current", "page"); } else { link.removeAttribute("aria-current"); }
    });
  }
  document.body.addEventListener("htmx:pushedIntoHistory", markCurrentNav);
  window.addEventListener("popstate", markCurrentNav);

  // Which sidebar this page shows (webapp.calendar.views KEPT_HEADER): a navigation then sends back only what
  // changed beside the calendar itself.
  document.body.addEventListener("htmx:configRequest", function (event) {
    var calendar = document.getElementById("calendar");
    if (calendar && calendar.dataset.kept) event.detail.headers["X-Calendar-Kept"] = calendar.dataset.kept;
  });

  // The phone header's menu button opens the navigation (and, on calendar pages, the sidebar under it).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-menu-button]");
    if (!button) return;
    var open = document.documentElement.classList.toggle("menu-open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
  // Closed by a navigation only: the phone's own switch from week to three days, or a calendar shown or hidden
  // from the sidebar, must not close a menu the person has just opened.
  document.body.addEventListener("htmx:pushedIntoHistory", function () {
    document.documentElement.classList.remove("menu-open");
    var button = document.querySelector("[data-menu-button]");
    if (button) button.setAttribute("aria-expanded", "false");
  });

  // Feedback while a request is on its way: the top bar, and the form's submit buttons disabled (with
  // "Saving…" where the button asks for it) so a second click cannot send it twice.
  var progress = document.getElementById("progress");

  function setBusy(form, busy) {
    if (!form || form.tagName !== "FORM") return;
    form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (button) {
      button.disabled = busy;
      if (busy) { button.setAttribute("aria-busy", "true"); } else { button.removeAttribute("aria-busy"); }
      var label = button.getAttribute("data-busy-label");
      if (!label) return;
      if (busy) {
        button.setAttribute("data-idle-label", button.textContent);
        button.textContent = label;
      } else if (button.hasAttribute("data-idle-label")) {
        button.textContent = button.getAttribute("data-idle-label");
        button.removeAttribute("data-idle-label");
      }
    });
  }

  document.body.addEventListener("htmx:beforeRequest", function (event) { setBusy(event.detail.elt, true); });
  document.body.addEventListener("htmx:afterRequest", function (event) { setBusy(event.detail.elt, false); });

  // Plain form posts and page loads (no htmx) get the same bar; the page that arrives starts without it.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || form.hasAttribute("hx-post") || form.hasAttribute("hx-get")) return;
    if (progress) progress.classList.add("is-busy");
    // After this turn, so the clicked button's name and value still go with the form.
    setTimeout(function () { setBusy(form, true); }, 0);
  });
  window.addEventListener("pageshow", function () {
    if (progress) progress.classList.remove("is-busy");
    document.querySelectorAll("form button[aria-busy]").forEach(function (button) {
      setBusy(button.form, false);
    });
  });

  // A table too wide for a phone scrolls inside itself; keyboard users must be able to scroll it too.
  function focusableScrollers(root) {
    (root.querySelectorAll ? root : document).querySelectorAll(".table").forEach(function (table) {
      if (table.scrollWidth > table.clientWidth + 1) {
        table.setAttribute("tabindex", "0");
      } else {
        table.removeAttribute("tabindex");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { focusableScrollers(document); });
  document.body.addEventListener("htmx:load", function (event) { focusableScrollers(event.target); });

  // "Copy" beside a link shown only once (an invitation): select it, and put it on the clipboard where allowed.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) return;
    field.select();
    if (navigator.clipboard) {
      navigator.clipboard.writeText(field.value).then(function () { showToast("Copied."); }, function () {});
    }
  });

  window.Almanac = { showToast: showToast };
})();
