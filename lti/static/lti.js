/* LTI client-side postMessage storage (1EdTech "LTI Client Side postMessages"), Deep Linking
   auto-submit and the Dynamic Registration close message. No inline scripts: CSP forbids them. */
(function () {
  "use strict";

  function storageFrame(target) {
    var host = window.opener || window.parent;
    if (!target || target === "_parent") { return host; }
    try { return host.frames[target] || null; } catch (e) { return null; }
  }

  function ask(el, message, onAnswer, onTimeout) {
    var frame = storageFrame(el.dataset.target);
    var origin = el.dataset.origin;
    var messageId = "cairn-" + Math.random().toString(36).slice(2) + Date.now().toString(36);
    var done = false;
    window.addEventListener("message", function (event) {
      var data = event.data || {};
      if (done || event.origin !== origin || data.message_id !== messageId) { return; }
      done = true;
      onAnswer(data);
    });
    message.message_id = messageId;
    if (frame) { frame.postMessage(message, origin); }
    window.setTimeout(function () { if (!done) { done = true; onTimeout(); } }, frame ? 2000 : 0);
  }

  var storage = document.getElementById("lti-storage");
  if (storage && storage.dataset.mode === "put") {
    var go = function () { window.location.assign(storage.dataset.next); };
    // Whatever the platform answers, go on: the state cookie is the fallback.
    ask(storage, {subject: "lti.put_data", key: storage.dataset.key, value: storage.dataset.value}, go, go);
  }
  if (storage && storage.dataset.mode === "get") {
    var form = document.getElementById("lti-storage-form");
    var fail = function () { document.getElementById("lti-storage-failed").hidden = false; };
    ask(storage, {subject: "lti.get_data", key: storage.dataset.key}, function (data) {
      if (data.subject === "lti.get_data.response" && typeof data.value === "string" && data.value) {
        form.elements.lti_storage_state.value = data.value;
        form.submit();
      } else { fail(); }
    }, fail);
  }

  var autosubmit = document.getElementById("lti-autosubmit");
  if (autosubmit) { autosubmit.submit(); }

  var registered = document.getElementById("lti-registered");
  if (registered) {
    (window.opener || window.parent).postMessage({subject: registered.dataset.close}, "*");
  }
})();
