// A file being made: poll its JSON every two seconds, show the percent, and load the
// page again (with its download link) once the file is ready or has failed.
(function () {
  "use strict";
  var box = document.querySelector(".file-job[data-poll]");
  if (!box) return;
  var url = box.getAttribute("data-poll");
  var shown = box.querySelector(".file-percent");
  var bar = box.querySelector("progress");
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (!job) return setTimeout(poll, 5000);
        if (job.state !== "queued" && job.state !== "making") return window.location.reload();
        if (shown) shown.textContent = job.percent;
        if (bar) bar.value = job.percent;
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
