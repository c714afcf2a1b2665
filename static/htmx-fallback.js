// If htmx did not arrive from the CDN (offline classroom, blocked CDN), load the copies this
// server vendors. document.write keeps them in order and before htmx scans the page.
if (!window.htmx) {
  document.write('<script src="/static/vendor/htmx-2.0.11.min.js"><\/script>' +
                 '<script src="/static/vendor/htmx-ext-ws-2.0.4.min.js"><\/script>');
}
