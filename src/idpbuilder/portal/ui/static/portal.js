// The portal's only script: progressive enhancements; every page works without it.
(function () {
  "use strict";

  // Catalog filters apply as soon as a select changes.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // A running task's page follows the task's event stream (the session cookie authenticates it).
  var task = document.getElementById("task");
  if (!task || task.dataset.finished === "true" || !window.EventSource) {
    return;
  }
  var log = document.getElementById("task-log");
  var phase = document.getElementById("task-status");
  var after = parseInt(task.dataset.after, 10);
  var retries = 0;

  function setStatus(element, value) {
    element.textContent = value;
    element.className = "status s-" + value;
  }

  function onLog(event) {
    var data;
    try {
      data = JSON.parse(event.data);
    } catch (err) {
      return;  // not an event of ours
    }
    after = Math.max(after, data.id);
    var body = data.body || {};
    if (typeof body.message === "string") {
      log.appendChild(document.createTextNode(body.message + "\n"));
      log.scrollTop = log.scrollHeight;
    }
    if (body.stepId && body.status) {
      task.querySelectorAll("li[data-step]").forEach(function (item) {
        if (item.dataset.step === body.stepId) {
          setStatus(item.querySelector("[data-step-status]"), body.status);
        }
      });
    }
    if (phase.textContent === "open") {
      setStatus(phase, "processing");
    }
  }

  function connect() {
    var url = task.dataset.events + (after >= 0 ? "?after=" + after : "");
    var source = new EventSource(url);
    source.addEventListener("log", function (event) { retries = 0; onLog(event); });
    source.addEventListener("completion", function () {
      source.close();
      window.location.reload();  // the server renders the outcome and the output links
    });
    source.onerror = function () {
      // Reconnect ourselves from the last event seen, so no line is shown twice; give up after a while.
      source.close();
      retries += 1;
      if (retries <= 10) {
        window.setTimeout(connect, Math.min(500 * retries, 5000));
      }
    };
  }

  connect();
})();
