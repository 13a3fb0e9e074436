// Feedback while moving around: the title and the mini-month's highlighted days change the moment a date link is
// followed (the region follows when it arrives), the neighbouring pages are fetched ahead (on hover, and when the
// browser is idle) so previous/next swap at once, ? opens the shortcuts, and the mini-month is one Tab stop whose
// days the arrow keys move through.
(function () {
  "use strict";

  var FRESH_MS = 30000;  // a page fetched ahead is used for this long, and never after a change was saved
  var ahead = {};  // url -> {html, at}

  // ---------------------------------------------------------------------------------------------- at once

  function sayWhereWeGo(link) {
    var calendar = document.getElementById("calendar");
    if (!calendar || !link.dataset.title) return;
    var title = calendar.querySelector(".period-title");
    if (title) title.textContent = link.dataset.title;
    calendar.setAttribute("aria-busy", "true");
    calendar.querySelectorAll("#mini-month td").forEach(function (cell) {
      var time = cell.querySelector("time");
      var day = time ? time.getAttribute("datetime") : "";
      cell.classList.toggle("is-shown", day >= link.dataset.first && day <= link.dataset.last);
    });
  }

  // ---------------------------------------------------------------------------------------------- ahead

  function fetchAhead(url) {
    if (!url || (ahead[url] && Date.now() - ahead[url].at < FRESH_MS)) return;
    ahead[url] = { html: null, at: Date.now() };
    var calendar = document.getElementById("calendar");
    var headers = { "HX-Request": "true" };
    if (calendar && calendar.dataset.kept) headers["X-Calendar-Kept"] = calendar.dataset.kept;
    fetch(url, { headers: headers, credentials: "same-origin" }).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (html && ahead[url]) ahead[url].html = html; else delete ahead[url];
    }).catch(function () { delete ahead[url]; });
  }

  function neighbours() {
    ["next", "previous"].forEach(function (name) {
      var link = document.querySelector('#calendar [data-nav="' + name + '"]');
      if (link) fetchAhead(link.getAttribute("href"));
    });
  }

  function whenIdle(callback) {
    if (window.requestIdleCallback) window.requestIdleCallback(callback, { timeout: 2000 });
    else setTimeout(callback, 500);
  }

  document.addEventListener("mouseover", function (event) {
    var link = event.target.closest && event.target.closest("#calendar a[data-nav]");
    if (link) fetchAhead(link.getAttribute("href"));
  });

  // A saved change makes every page fetched ahead stale.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var verb = (event.detail.requestConfig && event.detail.requestConfig.verb) || "get";
    if (verb.toLowerCase() !== "get") ahead = {};
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("#calendar a[data-nav]");
    if (!link || event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    sayWhereWeGo(link);
    var url = link.getAttribute("href");
    var kept = ahead[url];
    if (!kept || !kept.html || Date.now() - kept.at >= FRESH_MS || !window.htmx || !window.htmx.swap) return;
    event.preventDefault();
    event.stopImmediatePropagation();  // htmx would ask the server again
    delete ahead[url];
    var calendar = document.getElementById("calendar");
    document.dispatchEvent(new CustomEvent("htmx:beforeSwap", { detail: { target: calendar } }));
    // The page we leave must be one htmx restores on Back, as when htmx itself pushes the address.
    if (!window.history.state || !window.history.state.htmx) {
      window.history.replaceState({ htmx: true }, "", window.location.href);
    }
    window.htmx.swap(calendar, kept.html, { swapStyle: "outerHTML" });
    window.history.pushState({ htmx: true }, "", url);
    document.body.dispatchEvent(new Event("htmx:pushedIntoHistory"));
  }, true);

  document.addEventListener("htmx:load", function (event) {
    if (event.target.id === "calendar") whenIdle(neighbours);
  });
  document.addEventListener("DOMContentLoaded", function () { whenIdle(neighbours); });

  // ---------------------------------------------------------------------------------------------- ? and Tab

  document.addEventListener("keydown", function (event) {
    if (event.key !== "?" || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName) || event.target.isContentEditable) return;
    var sheet = document.getElementById("shortcuts");
    if (!sheet || !sheet.showModal) return;
    event.preventDefault();
    if (!sheet.open) sheet.showModal();
  });

  function dayLinks(grid) { return Array.prototype.slice.call(grid.querySelectorAll("td a")); }

  function moveTo(links, index) {
    var target = links[Math.max(0, Math.min(links.length - 1, index))];
    links.forEach(function (link) { link.setAttribute("tabindex", link === target ? "0" : "-1"); });
    target.focus();
  }

  var refocusMini = false;
  document.addEventListener("keydown", function (event) {
    var grid = event.target.closest && event.target.closest("[data-roving-grid]");
    if (!grid || event.altKey || event.ctrlKey || event.metaKey) return;
    var links = dayLinks(grid);
    var index = links.indexOf(event.target);
    if (index < 0) return;
    var steps = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7 };
    if (event.key in steps) {
      moveTo(links, index + steps[event.key]);
    } else if (event.key === "Home") {
      moveTo(links, index - index % 7);
    } else if (event.key === "End") {
      moveTo(links, index - index % 7 + 6);
    } else if (event.key === "PageUp" || event.key === "PageDown") {
      var step = document.querySelector('#mini-month .mini-step[aria-label="' +
        (event.key === "PageUp" ? "Previous month" : "Next month") + '"]');
      if (!step) return;
      refocusMini = true;
      step.click();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  }, true);

  document.addEventListener("htmx:load", function (event) {
    if (!refocusMini || event.target.id !== "mini-month") return;
    refocusMini = false;
    var link = event.target.querySelector('td a[tabindex="0"]') || event.target.querySelector("td a");
    if (link) link.focus();
  });
})();
