// The prompt form's live segment counter: an estimate while typing; the
// count the server shows after Preview is the one that holds.
(function () {
  "use strict";
  var text = document.getElementById("text");
  var out = document.getElementById("live-count");
  if (!text || !out) { return; }
  var basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var ext = "^{}\\[~]|€";
  function count(s) {
    var septets = 0, gsm = true, units = 0;
    for (var i = 0; i < s.length; i++) {
      var c = s.charAt(i);
      units++;
      if (basic.indexOf(c) >= 0) { septets++; } else if (ext.indexOf(c) >= 0) { septets += 2; } else { gsm = false; }
    }
    if (gsm) { return septets <= 160 ? 1 : Math.ceil(septets / 153); }
    return units <= 70 ? 1 : Math.ceil(units / 67);
  }
  function update() {
    var full = (text.getAttribute("data-prefix") || "") + text.value.replace(/\s+/g, " ").trim() + (text.getAttribute("data-suffix") || "");
    var n = count(full);
    var tpl = n === 1 ? out.getAttribute("data-single") : out.getAttribute("data-plural");
    out.textContent = (tpl || "").replace("%d", String(n)).replace("%c", String(full.length));
  }
  text.addEventListener("input", update);
  update();
})();
