// authgate: starts Swagger UI on the document named by the page, from our
// own origin only (the page's CSP allows no inline script).
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // Never send the document to a remote validator service.
    validatorUrl: null,
    // Requests from "Try it out" carry the browser's cookies (same origin).
    withCredentials: true,
    persistAuthorization: false
  });
});
