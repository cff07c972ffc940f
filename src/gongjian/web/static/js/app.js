// gongjian's pages: the only script every page loads besides htmx.
// htmx sends the session's CSRF token (from <meta name="csrf-token">) with every request,
// so htmx writes pass the server's CSRF check.
"use strict";

(function () {
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) {
      event.detail.headers["X-CSRF-Token"] = token;
    }
  });
})();
