// Starts the vendored Swagger UI on /docs (a file, not an inline script, so the page keeps a strict CSP).
"use strict";

window.ui = window.SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.url,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,  // never call the public validator: the docs work on a closed network
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
