/* Copy buttons: <button data-copy-target="ID" data-msg-copied=".." data-msg-failed=".." hidden>.
   Without JavaScript the buttons stay hidden and the text is simply selectable. */
(function () {
  "use strict";

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function legacyCopy(element) {
    selectText(element);
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
    var target = document.getElementById(button.dataset.copyTarget);
    var status = document.getElementById(button.dataset.copyTarget + "-copy-status");
    if (!target) { return; }
    button.hidden = false;

    function report(copied) {
      button.dataset.copied = copied ? "yes" : "no";
      if (!copied) { selectText(target); }  // selected: Ctrl+C / long press still works
      if (status) { status.textContent = copied ? button.dataset.msgCopied : button.dataset.msgFailed; }
    }

    button.addEventListener("click", function () {
      var text = target.textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { report(true); },
                                                 function () { report(legacyCopy(target)); });
      } else {
        report(legacyCopy(target));
      }
    });
  });
}());
