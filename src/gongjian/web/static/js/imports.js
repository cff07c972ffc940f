// The import page: a busy indicator while a file uploads or is written, and focus on
// the dry run's result when the page comes back with one.
"use strict";

(function () {
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-busy")) {
      return;
    }
    var status = form.querySelector("[data-busy-status]");
    if (status) {
      status.hidden = false;
    }
    form.setAttribute("aria-busy", "true");
    // Disabled after the submission starts, so a second click sends nothing more.
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        button.disabled = true;
      });
    }, 0);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var heading = document.querySelector("[data-focus-on-load]");
    if (heading) {
      heading.focus();
    }
  });

  // Coming back with the browser's back button: the page is live again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) {
      return;
    }
    document.querySelectorAll("[data-busy-status]").forEach(function (status) {
      status.hidden = true;
    });
    document.querySelectorAll("form[data-busy] button[type=submit]").forEach(function (button) {
      button.disabled = false;
    });
  });
})();
