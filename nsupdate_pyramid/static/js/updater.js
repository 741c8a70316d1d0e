/* The browser-based updater (hosts/browser_updater.jinja2): every few seconds it detects the
   browser's addresses (detectip.js) and, when one differs from what was last published, sends
   it to /nic/update_authorized with the session's CSRF token. Only changes are sent: repeated
   updates without a change count as client faults. It stops on answers that trying again will
   not fix, and after MAX_FAILURES temporary failures in a row. Texts come from data-msg-*. */
(function () {
  "use strict";

  var MAX_FAILURES = 3;
  var MAX_LOG = 50;
  var root = document.getElementById("updater");
  if (!root || !window.nsuDetect) { return; }
  var data = root.dataset;
  var toggle = document.getElementById("updater-toggle");
  var intervalInput = document.getElementById("updater-interval");
  var statusLine = document.getElementById("updater-status");
  var logList = document.getElementById("updater-log");
  var finalAnswers = data.finalAnswers.split(" ");
  var last = { ipv4: data.publishedIpv4 || "", ipv6: data.publishedIpv6 || "" };
  var failures = 0;
  var timer = null;
  var running = false;

  function message(name, values) {
    var text = data["msg" + name] || name;
    Object.keys(values || {}).forEach(function (key) {
      text = text.split("{" + key + "}").join(values[key]);
    });
    return text;
  }

  function log(kind, text) {
    var now = new Date();
    var item = document.createElement("li");
    item.className = "log-" + kind;
    var stamp = document.createElement("time");
    stamp.dateTime = now.toISOString();
    stamp.textContent = now.toLocaleTimeString();
    item.appendChild(stamp);
    item.appendChild(document.createTextNode(" " + text));
    logList.insertBefore(item, logList.firstChild);
    while (logList.children.length > MAX_LOG) { logList.removeChild(logList.lastChild); }
  }

  function setState(state, text) {
    root.dataset.state = state;
    statusLine.textContent = text;
    toggle.textContent = state === "running" ? data.msgStop : data.msgStart;
  }

  function interval() {
    var low = Number(intervalInput.min), high = Number(intervalInput.max);
    var value = Number(intervalInput.value);
    if (!isFinite(value) || value < low) { value = low; }
    if (value > high) { value = high; }
    intervalInput.value = value;
    return value * 1000;
  }

  function stop(kind, text) {
    running = false;
    clearTimeout(timer);
    timer = null;
    if (text) { log(kind, text); }
    setState(kind === "error" ? "stopped" : "idle", kind === "error" ? message("Stopped") : message("Idle"));
  }

  function schedule() {
    if (running) { timer = setTimeout(tick, interval()); }
  }

  function temporary(text) {
    failures += 1;
    log("warning", text);
    if (failures >= MAX_FAILURES) {
      stop("error", message("TooManyFailures", { count: failures }));
    } else {
      schedule();
    }
  }

  function handleAnswer(body, sent) {
    var words = body.trim().split("\n").map(function (line) { return line.split(" ")[0]; });
    if (words.every(function (word) { return word === "good" || word === "nochg"; })) {
      failures = 0;
      Object.keys(sent).forEach(function (family) { last[family] = sent[family]; });
      log("success", message("Answer", { answer: body.trim() }));
      schedule();
    } else if (words.some(function (word) { return finalAnswers.indexOf(word) >= 0; })) {
      stop("error", message("Final", { answer: body.trim() }));
    } else {
      temporary(message("Answer", { answer: body.trim() }));
    }
  }

  function send(sent) {
    var myip = [sent.ipv4, sent.ipv6].filter(Boolean).join(",");
    log("info", message("Sending", { address: myip }));
    var body = new URLSearchParams({ hostname: data.hostname, myip: myip });
    return fetch(data.updateUrl, {
      method: "POST", body: body, credentials: "same-origin", redirect: "manual",
      cache: "no-store", headers: { "X-CSRF-Token": data.csrfToken }
    }).then(function (response) {
      if (response.type === "opaqueredirect" || response.status === 403) {
        stop("error", message("LoggedOut"));
      } else if (!response.ok) {
        temporary(message("HttpError", { status: response.status }));
      } else {
        return response.text().then(function (text) { handleAnswer(text, sent); });
      }
    }, function () {
      temporary(message("NetworkError"));
    });
  }

  function tick() {
    timer = null;
    if (!running) { return; }
    window.nsuDetect.detect(window.nsuDetect.urlsOf(root)).then(function (found) {
      if (!running) { return; }
      if (!found.ipv4 && !found.ipv6) {
        temporary(message("NoAddress"));
        return;
      }
      var changed = {};
      ["ipv4", "ipv6"].forEach(function (family) {
        if (found[family] && found[family] !== last[family]) { changed[family] = found[family]; }
      });
      if (Object.keys(changed).length) {
        send(changed);
      } else {
        failures = 0;
        log("info", message("Unchanged", { address: [found.ipv4, found.ipv6].filter(Boolean).join(", ") }));
        schedule();
      }
    });
  }

  function start() {
    running = true;
    failures = 0;
    setState("running", message("Running"));
    tick();
  }

  toggle.hidden = false;
  toggle.addEventListener("click", function () {
    if (running) { stop("info", message("StoppedByYou")); } else { start(); }
  });
  intervalInput.addEventListener("change", function () {
    interval();
    if (running && timer !== null) { clearTimeout(timer); schedule(); }
  });
  if (data.enabled === "true") { start(); } else { setState("idle", message("Idle")); }
}());
