// The portal works without this file. Where the browser can, it shows two more buttons by the
// referral link: "share" (the phone's own share sheet: Zalo, Messenger, …) and "copy".
(function () {
  "use strict";
  var link = document.getElementById("referral-link");
  if (!link) return;
  var share = document.getElementById("referral-share");
  if (share && navigator.share) {
    share.hidden = false;
    share.addEventListener("click", function () {
      navigator.share({ text: share.getAttribute("data-text"), url: link.value }).catch(function () {});
    });
  }
  var copy = document.getElementById("referral-copy");
  if (copy && navigator.clipboard) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      navigator.clipboard.writeText(link.value).then(function () {
        copy.textContent = copy.getAttribute("data-done");
      });
    });
  }
  link.addEventListener("focus", function () { link.select(); });
})();
