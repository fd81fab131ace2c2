// Behaviour every page may use, bound from data attributes (the Content-Security-Policy
// allows no inline script or handler):
//   <form data-confirm="Sure?">   asks before submitting
//   <button data-confirm="Sure?"> asks before its form is submitted by it
//   <button data-print>           prints the page
document.addEventListener("submit", function (event) {
  var form = event.target;
  var button = event.submitter;
  var question = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
document.addEventListener("click", function (event) {
  var target = event.target.closest ? event.target.closest("[data-print]") : null;
  if (target) {
    event.preventDefault();
    window.print();
  }
});
// The menu's "More" list (a <details>, which works without this): closed by a tap
// elsewhere or Escape.
//   <details data-menu>
document.addEventListener("click", function (event) {
  document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
    if (!menu.contains(event.target)) { menu.open = false; }
  });
});
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") { return; }
  document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
    menu.open = false;
    var summary = menu.querySelector("summary");
    if (summary) { summary.focus(); }
  });
});
// Logging out: the pages the phone kept for offline use belong to the person leaving.
//   <form data-forget-offline>
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (event.defaultPrevented || !form.hasAttribute("data-forget-offline") || !window.caches) { return; }
  event.preventDefault();
  caches.delete("vg-pages").catch(function () { return null; }).then(function () { form.submit(); });
});
