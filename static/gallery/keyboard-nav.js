/*
 * Keyboard navigation for the gallery and the photo page: ← follows the page's rel="prev" link,
 * → its rel="next" link. The links are ordinary <a> elements, so everything also works without
 * this script. No inline scripts anywhere (a strict Content-Security-Policy is planned).
 */
(function () {
  "use strict";

  var KEYS = { ArrowLeft: "prev", ArrowRight: "next" };

  function isTyping(target) {
    if (!target || !target.closest) {
      return false;
    }
    return Boolean(
      target.isContentEditable ||
        target.closest("input, textarea, select, [contenteditable], [role='textbox']")
    );
  }

  function linkFor(rel) {
    return document.querySelector("main a[rel~='" + rel + "'][href]");
  }

  document.addEventListener("keydown", function (event) {
    var rel = KEYS[event.key];
    if (!rel || event.defaultPrevented || event.repeat) {
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || isTyping(event.target)) {
      return;
    }
    var link = linkFor(rel);
    if (!link) {
      return;
    }
    event.preventDefault();
    window.location.assign(link.href);
  });

  // Tell people with a keyboard that the arrow keys work (only when this script runs).
  var hints = document.querySelectorAll("[data-keyboard-hint]");
  for (var i = 0; i < hints.length; i += 1) {
    hints[i].hidden = false;
  }
})();
