/*
 * "Find photos like yours": a little help while a photo uploads. The form works without this
 * script (the server checks everything again); with it, a file over the size limit is refused
 * before it is sent, and the button says what is happening and cannot be pressed twice.
 * No inline scripts anywhere (a strict Content-Security-Policy is planned).
 */
(function () {
  "use strict";

  var form = document.querySelector("form[data-find-similar]");
  if (!form) {
    return;
  }
  var input = form.querySelector("input[type='file']");
  var button = form.querySelector("[data-submit]");
  var status = form.querySelector("[data-status]");
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 0;
  var idleLabel = button ? button.textContent : "";

  function tooLarge(file) {
    return maxBytes > 0 && file && file.size > maxBytes;
  }

  // Megabytes of 10^6 bytes, worded like the server's messages.
  function megabytes(bytes, digits) {
    return (bytes / 1e6).toFixed(digits) + " MB";
  }

  function setBusy(busy) {
    if (button) {
      button.disabled = busy;
      button.textContent = busy ? "Analysing your photo\u2026" : idleLabel;
    }
    form.setAttribute("aria-busy", busy ? "true" : "false");
    if (status) {
      status.textContent = busy ? "Uploading and analysing your photo\u2026" : "";
    }
  }

  if (input) {
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      var message = "";
      if (tooLarge(file)) {
        message = "The file is " + megabytes(file.size, 1);
        message += "; the limit is " + megabytes(maxBytes, 0) + ".";
      }
      input.setCustomValidity(message);
      input.reportValidity();
    });
  }

  form.addEventListener("submit", function (event) {
    if (!form.checkValidity()) {
      event.preventDefault();
      form.reportValidity();
      return;
    }
    // Disable after the browser has collected the form data, so the submission goes ahead.
    window.setTimeout(function () {
      setBusy(true);
    }, 0);
  });

  // Coming back with the Back button restores the page from the cache, button and all.
  window.addEventListener("pageshow", function () {
    setBusy(false);
  });
})();
