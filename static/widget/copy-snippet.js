/*
 * The /widget/ page: a "Copy" button for the generated snippet. Without it (or without the
 * Clipboard API) the button stays hidden and the snippet is selected and copied by hand.
 */
(function () {
  "use strict";

  try {
    var button = document.querySelector("[data-copy]");
    var status = document.querySelector("[data-copy-status]");
    var source = button && document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard || !window.isSecureContext) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent).then(
        function () {
          status.textContent = "Copied.";
        },
        function () {
          status.textContent = "Copying was refused: select the snippet and copy it.";
        }
      );
    });
  } catch (error) {
    // the snippet can still be copied by hand
  }
})();
