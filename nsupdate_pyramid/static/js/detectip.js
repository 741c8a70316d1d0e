/* The browser's IPv4 and IPv6 address, asked from the detect-IP endpoint on the IPv4-only and
   the IPv6-only host name (data-ipv4-url / data-ipv6-url; the same URL twice when the service
   has no separate names). Used by the overview (#addresses) and by updater.js. */
(function () {
  "use strict";

  var TIMEOUT_MS = 8000;

  function fetchJSON(url) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    return fetch(url, { cache: "no-store", credentials: "omit", signal: controller.signal })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .finally(function () { clearTimeout(timer); });
  }

  /* Resolves to {ipv4: "...", ipv6: "..."}; "" where nothing was found. Never rejects. */
  function detect(urls) {
    var wanted = [urls.ipv4, urls.ipv6].filter(function (url, index, all) {
      return url && all.indexOf(url) === index;
    });
    return Promise.all(wanted.map(function (url) {
      return fetchJSON(url).catch(function () { return null; });
    })).then(function (answers) {
      var found = { ipv4: "", ipv6: "" };
      answers.forEach(function (answer) {
        if (answer && (answer.version === 4 || answer.version === 6) && answer.ip) {
          found["ipv" + answer.version] = answer.ip;
        }
      });
      return found;
    });
  }

  function urlsOf(element) {
    return { ipv4: element.dataset.ipv4Url, ipv6: element.dataset.ipv6Url };
  }

  window.nsuDetect = { detect: detect, urlsOf: urlsOf };

  var box = document.getElementById("addresses");
  if (!box) { return; }
  var outputs = { ipv4: document.getElementById("ipv4-address"),
                  ipv6: document.getElementById("ipv6-address") };
  var seen = {};
  Object.keys(outputs).forEach(function (family) {
    seen[family] = outputs[family].textContent.trim() === "–" ? "" : outputs[family].textContent.trim();
    if (!seen[family]) { outputs[family].textContent = box.dataset.msgDetecting; }
  });
  box.dataset.state = "detecting";
  detect(urlsOf(box)).then(function (found) {
    Object.keys(outputs).forEach(function (family) {
      outputs[family].textContent = found[family] || seen[family] || box.dataset.msgNone;
    });
    box.dataset.state = "done";
  });
}());
