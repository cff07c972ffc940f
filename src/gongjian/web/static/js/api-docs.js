// The API documentation page: Swagger UI from our own static files (never a CDN).
"use strict";

window.addEventListener("DOMContentLoaded", function () {
  var holder = document.getElementById("swagger-ui");
  if (!holder || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.SwaggerUIBundle({
    url: holder.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
  });
});
