// Tells the console the browser's time zone, so times render in the admin user's zone
// (backendai_site/console/middleware.py reads the cookie).
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("console_tz=" + encodeURIComponent(zone)) === -1) {
      document.cookie = "console_tz=" + encodeURIComponent(zone) +
        "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) {
    // no Intl support: times stay in the site's zone
  }
})();
