// Pre-selects the browser's time zone on the signup form. Without JavaScript
// the plain select still works.
(function () {
  var select = document.getElementById("tz");
  if (!select || select.getAttribute("data-detect") !== "yes") return;
  // Browsers may report an old name for a zone (ICU keeps them); the form
  // lists today's names.
  var renamed = {
    "Asia/Calcutta": "Asia/Kolkata", "Asia/Katmandu": "Asia/Kathmandu", "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "Asia/Rangoon": "Asia/Yangon", "Asia/Dacca": "Asia/Dhaka", "Asia/Thimbu": "Asia/Thimphu",
    "Asia/Ulan_Bator": "Asia/Ulaanbaatar", "Asia/Chongqing": "Asia/Shanghai", "Asia/Macao": "Asia/Macau",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires", "America/Catamarca": "America/Argentina/Catamarca",
    "America/Cordoba": "America/Argentina/Cordoba", "America/Jujuy": "America/Argentina/Jujuy",
    "America/Mendoza": "America/Argentina/Mendoza", "America/Indianapolis": "America/Indiana/Indianapolis",
    "America/Louisville": "America/Kentucky/Louisville", "America/Godthab": "America/Nuuk",
    "Atlantic/Faeroe": "Atlantic/Faroe", "Europe/Kiev": "Europe/Kyiv", "Pacific/Truk": "Pacific/Chuuk",
    "Pacific/Ponape": "Pacific/Pohnpei", "Pacific/Enderbury": "Pacific/Kanton", "Africa/Asmera": "Africa/Asmara",
    "Etc/UTC": "UTC", "Etc/GMT": "UTC", "GMT": "UTC", "Etc/Universal": "UTC"
  };
  function choose(zone) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === zone) { select.selectedIndex = i; return true; }
    }
    return false;
  }
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!choose(zone) && renamed[zone]) choose(renamed[zone]);
  } catch (e) { /* keep the server's default */ }
})();
