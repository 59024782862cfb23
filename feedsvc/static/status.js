// The newsroom status page follows the folder: every second it asks for itself again with the
// ETag it has, and swaps in the new list only when something changed (a 304 costs nothing).
(function () {
  let etag = null;
  async function poll() {
    try {
      const headers = etag ? { "If-None-Match": etag } : {};
      const response = await fetch(location.href, { headers, cache: "no-store", credentials: "same-origin" });
      if (response.status === 200) {
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
        if (etag !== null) {
          for (const id of ["files", "counts"]) {
            const now = document.getElementById(id), next = fresh.getElementById(id);
            if (now && next) now.replaceWith(next);
          }
        }
        etag = response.headers.get("ETag");
      }
    } catch (error) {
      // the service restarting: try again next second
    }
    setTimeout(poll, 1000);
  }
  poll();
})();
