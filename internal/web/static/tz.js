// Pre-selects the browser's time zone on the signup form. Without JavaScript
// the plain select still works.
(function () {
  var select = document.getElementById("tz");
  if (!select || select.getAttribute("data-detect") !== "yes") return;
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === zone) { select.selectedIndex = i; return; }
    }
  } catch (e) { /* keep the server's default */ }
})();
