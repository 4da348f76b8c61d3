// The API docs page (/docs): hands the OpenAPI document embedded in the page to
// RapiDoc. A file of its own, because the page's Content-Security-Policy runs no
// inline script.
const data = document.getElementById('openapi');
const docs = document.getElementById('docs');
if (data && docs && typeof docs.loadSpec === 'function') {
  docs.loadSpec(JSON.parse(data.textContent));
}
