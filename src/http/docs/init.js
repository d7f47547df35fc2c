// Swagger UI over this server's own document; "Try it out" sends requests here.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger",
  deepLinking: true,
  tryItOutEnabled: false,
  displayRequestDuration: true,
  defaultModelsExpandDepth: 1,
  defaultModelExpandDepth: 3,
  showExtensions: true,
  filter: true,
});
