// duckbert review: buttons and keys record a verdict, then the page moves to the next session.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]').content;
  var detail = document.getElementById("detail");
  var note = document.getElementById("note");
  var result = document.getElementById("result");
  var busy = false;
  var KEY = "duckbert-review-last";

  // the answer to the last verdict, carried across the move to the next session
  var last = sessionStorage.getItem(KEY);
  sessionStorage.removeItem(KEY);
  window.duckbertLast = last ? JSON.parse(last) : null;
  var shown = document.getElementById("last");
  if (shown && window.duckbertLast) {
    shown.textContent = "last: " + window.duckbertLast.message;
    shown.className = window.duckbertLast.status;
  }

  var waiting = document.getElementById("waiting");
  if (waiting) {
    setTimeout(function () { location.reload(); }, 1000 * Number(waiting.dataset.reload || 5));
    return;
  }
  if (!detail) { return; }

  function say(text, cls) {
    result.textContent = text;
    result.className = cls || "";
  }

  function record(verdict) {
    if (busy) { return; }
    busy = true;
    say("saving…");
    fetch("/api/label" + location.search, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body: JSON.stringify({session_id: detail.dataset.session, verdict: verdict,
                            note: note.value || null})
    }).then(function (response) {
      return response.json().then(function (body) { return {ok: response.ok, body: body}; });
    }).then(function (r) {
      if (!r.ok) { busy = false; say(r.body.error || "refused", "error"); return; }
      say(r.body.message, r.body.status);
      sessionStorage.setItem(KEY, JSON.stringify(r.body));
      location.assign(r.body.next || "/");
    }).catch(function (err) { busy = false; say("not saved: " + err, "error"); });
  }

  document.querySelectorAll("button.verdict").forEach(function (button) {
    button.addEventListener("click", function () { record(button.dataset.verdict); });
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var typing = event.target === note || event.target.tagName === "INPUT" ||
      event.target.tagName === "SELECT";
    if (typing) {
      if (event.key === "Escape") { event.target.blur(); }
      return;
    }
    var keys = {a: "anomaly", n: "normal", s: "skip"};
    if (keys[event.key]) { event.preventDefault(); record(keys[event.key]); }
    else if ((event.key === "j" || event.key === "ArrowDown") && detail.dataset.next) {
      event.preventDefault(); location.assign(detail.dataset.next);
    } else if ((event.key === "k" || event.key === "ArrowUp") && detail.dataset.prev) {
      event.preventDefault(); location.assign(detail.dataset.prev);
    } else if (event.key === "/") { event.preventDefault(); note.focus(); }
  });
})();
