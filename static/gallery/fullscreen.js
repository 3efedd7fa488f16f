/*
 * Full-screen view of the photo page's picture: a <dialog> with the largest rendition, on a dark
 * backdrop. Escape, the close button or leaving the browser's full screen closes it (focus goes
 * back to the button); ← → open the previous or next photo in full screen (its page, with
 * #fullscreen); on a touch screen a swipe left or right does the same, a swipe down or a tap
 * closes it. The browser's own full screen is asked for when it is available. No framework, no
 * inline script (CSP).
 */
(function () {
  "use strict";

  var button = document.querySelector("[data-fullscreen-open]");
  var dialog = document.getElementById("fullscreen");
  if (!button || !dialog || typeof dialog.showModal !== "function") {
    return;
  }
  var image = dialog.querySelector("img");
  var SWIPE_PX = 50;
  var HASH = "#fullscreen";
  button.parentElement.hidden = false; // shown only where the script runs

  function link(rel) {
    return document.querySelector("main a[rel~='" + rel + "'][href]");
  }

  function open() {
    if (!image.getAttribute("src")) {
      image.setAttribute("srcset", image.dataset.srcset || "");
      image.setAttribute("src", image.dataset.src);
    }
    dialog.showModal();
    // The page, not the dialog: browsers refuse full screen to a <dialog> element (the spec's
    // ready check); the modal dialog stays on top of the page in full screen.
    var root = document.documentElement;
    if (root.requestFullscreen) {
      root.requestFullscreen().catch(function () {}); // refused without a user gesture: fine
    }
  }

  function close() {
    if (dialog.open) {
      dialog.close();
    }
  }

  function go(rel) {
    var target = link(rel);
    if (target) {
      window.location.assign(target.href.split("#")[0] + HASH);
    }
  }

  dialog.addEventListener("close", function () {
    if (document.fullscreenElement && document.exitFullscreen) {
      document.exitFullscreen().catch(function () {});
    }
    if (window.location.hash === HASH) {
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    button.focus();
  });

  // In the browser's own full screen, Escape is the browser's: it leaves full screen and the
  // page never sees the key. Leaving full screen, however it happens, closes the view too, so
  // one Escape is enough.
  document.addEventListener("fullscreenchange", function () {
    if (!document.fullscreenElement) {
      close();
    }
  });

  dialog.addEventListener("keydown", function (event) {
    var rel = { ArrowLeft: "prev", ArrowRight: "next" }[event.key];
    if (rel && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault(); // keyboard-nav.js leaves a handled key alone
      go(rel);
    }
  });

  dialog.addEventListener("click", function (event) {
    if (event.target === dialog) {
      close(); // a tap anywhere but on the close button (the picture lets taps through)
    }
  });
  dialog.querySelector("[data-fullscreen-close]").addEventListener("click", close);

  var start = null;
  dialog.addEventListener(
    "touchstart",
    function (event) {
      var touch = event.changedTouches[0];
      start = { x: touch.clientX, y: touch.clientY };
    },
    { passive: true }
  );
  dialog.addEventListener("touchend", function (event) {
    if (!start) {
      return;
    }
    var touch = event.changedTouches[0];
    var dx = touch.clientX - start.x;
    var dy = touch.clientY - start.y;
    start = null;
    if (Math.abs(dx) > SWIPE_PX && Math.abs(dx) > Math.abs(dy)) {
      go(dx < 0 ? "next" : "prev");
    } else if (dy > SWIPE_PX * 2) {
      close(); // a swipe down
    }
  });

  button.addEventListener("click", open);
  if (window.location.hash === HASH) {
    open();
  }
})();
