/*
 * Analytics for the A/B experiment (DESIGN.md §5), posted as JSON to POST /api/events/:
 *   impression  a list carrying data-impression was at least half visible (once per token);
 *   click       a recommendation link (data-photo, data-position) inside that list was followed;
 *   dwell       the time this page view has been visible, sent when the page is hidden or left
 *               (and when a recommendation is followed); the server keeps the longest report.
 * Without this script the site works the same and nothing is logged (bots and clients without
 * JavaScript do not count). It never throws, never delays a navigation (sendBeacon, or fetch
 * with keepalive) and has no inline parts (a strict Content-Security-Policy is planned).
 */
(function () {
  "use strict";

  try {
    var script = document.currentScript;
    var ENDPOINT = (script && script.getAttribute("data-endpoint")) || "/api/events/";
    var LIST = "[data-impression]";
    var LINK = "a[data-photo][data-position]";

    // --- Sending -------------------------------------------------------------------------------

    var post = function (event, beacon) {
      try {
        var body = JSON.stringify(event);
        if (beacon && navigator.sendBeacon) {
          var blob = new Blob([body], { type: "application/json" });
          if (navigator.sendBeacon(ENDPOINT, blob)) {
            return;
          }
        }
        if (window.fetch) {
          window
            .fetch(ENDPOINT, {
              method: "POST",
              headers: { "Content-Type": "application/json" },
              body: body,
              keepalive: true,
              credentials: "same-origin",
            })
            .catch(function () {});
        }
      } catch (error) {
        // Analytics must never break the page.
      }
    };

    // --- Time on page --------------------------------------------------------------------------

    var now = function () {
      return window.performance && performance.now ? performance.now() : Date.now();
    };

    // One per page load, issued and signed by the server: time on page must carry it.
    var pageView = (script && script.getAttribute("data-page-view")) || "";
    var path = (window.location.pathname || "/").slice(0, 300);
    var visibleMs = 0; // visible time before `visibleSince`
    var visibleSince = document.visibilityState === "hidden" ? null : now();
    var lastSent = 0;

    // Report the visible time so far; `hiding` stops the clock until the page is shown again.
    var reportTime = function (hiding) {
      try {
        if (hiding && visibleSince !== null) {
          visibleMs += Math.max(0, now() - visibleSince);
          visibleSince = null;
        }
        var running = visibleSince === null ? 0 : Math.max(0, now() - visibleSince);
        var seconds = Math.round(visibleMs + running) / 1000;
        if (pageView && seconds > lastSent) {
          lastSent = seconds;
          post({ type: "dwell", page_view: pageView, path: path, seconds: seconds }, true);
        }
      } catch (error) {
        // never in the way
      }
    };

    var resume = function () {
      if (visibleSince === null && document.visibilityState !== "hidden") {
        visibleSince = now();
      }
    };

    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") {
        reportTime(true);
      } else {
        resume();
      }
    });
    window.addEventListener("pagehide", function () {
      reportTime(true);
    });
    // Back from the back/forward cache: the same page view goes on counting.
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) {
        resume();
      }
    });

    // --- Impressions ---------------------------------------------------------------------------

    var reported = {}; // impression tokens already posted from this page

    var impression = function (list) {
      var token = list.getAttribute("data-impression");
      if (token && !reported[token]) {
        reported[token] = true;
        post({ type: "impression", token: token });
      }
    };

    var lists = Array.prototype.slice.call(document.querySelectorAll(LIST));
    if (lists.length && "IntersectionObserver" in window) {
      var thresholds = [];
      for (var step = 0; step <= 10; step += 1) {
        thresholds.push(step / 10);
      }
      var owners = new Map(); // observed element -> its list with the token
      var observer = new IntersectionObserver(
        function (entries) {
          entries.forEach(function (entry) {
            var screen = entry.rootBounds ? entry.rootBounds.height : window.innerHeight;
            // Half of the list, or half of the screen for a list taller than two screens.
            var seen =
              entry.isIntersecting &&
              (entry.intersectionRatio >= 0.5 || entry.intersectionRect.height >= screen / 2);
            if (seen) {
              observer.unobserve(entry.target);
              impression(owners.get(entry.target) || entry.target);
            }
          });
        },
        { threshold: thresholds }
      );
      lists.forEach(function (list) {
        // Watch the thumbnails themselves, not the heading and links around them.
        var target = list.querySelector(".rec-grid") || list;
        owners.set(target, list);
        observer.observe(target);
      });
    } else if (lists.length) {
      var showAll = function () {
        lists.forEach(impression);
      };
      if (document.readyState === "complete") {
        showAll();
      } else {
        window.addEventListener("load", showAll);
      }
    }

    // --- Clicks --------------------------------------------------------------------------------

    var onClick = function (event) {
      try {
        if (event.type === "auxclick" && event.button !== 1) {
          return; // of the other buttons only the middle one opens a link
        }
        var link = event.target && event.target.closest ? event.target.closest(LINK) : null;
        var list = link && link.closest(LIST);
        if (!list) {
          return;
        }
        var photo = parseInt(link.getAttribute("data-photo"), 10);
        var position = parseInt(link.getAttribute("data-position"), 10);
        if (photo > 0 && position > 0) {
          var token = list.getAttribute("data-impression");
          post({ type: "click", token: token, photo: photo, position: position }, true);
          // The visitor is probably leaving: report the time so far now as well, in case the
          // beacon on pagehide is lost (for a link opened in a new tab the clock keeps running).
          reportTime(false);
        }
      } catch (error) {
        // never in the way of the navigation
      }
    };
    document.addEventListener("click", onClick, true);
    document.addEventListener("auxclick", onClick, true);
  } catch (error) {
    // Analytics must never break the page.
  }
})();
