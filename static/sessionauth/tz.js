// Tells the server the browser's time zone, so dates on the account pages read in
// local time. Progressive enhancement: without it the pages show UTC. The server
// accepts only names zoneinfo knows; anything else is ignored.
(function () {
  var script = document.currentScript;
  var name = (script && script.dataset.cookie) || "sa_tz";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  // IANA names are cookie-safe as they are (letters, digits, "/", "_", "+", "-").
  if (!zone || !/^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) return;
  var value = zone;
  if (document.cookie.split("; ").indexOf(name + "=" + value) !== -1) return;
  var secure = location.protocol === "https:" ? "; secure" : "";
  document.cookie = name + "=" + value + "; path=/; max-age=31536000; samesite=lax" + secure;
})();
