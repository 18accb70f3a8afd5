/* Cairn's only script: progressive enhancements, no inline handlers (the CSP forbids them).
 * Every page works without it; it adds in-place reordering, timers, confirmations, copy and print. */
(function () {
  "use strict";

  function announce(text) {
    var region = document.getElementById("cairn-announcer");
    if (!region) { return; }
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  /* Reorderable lists: <ol data-reorder> of <li data-reorder-item> with
   * <button data-move="up|down"> and a hidden input per item carrying its id in order.
   * Without script the buttons submit the form (the server moves the item); with it the
   * item moves in place, keeps focus, and "Save order" sends the whole order. */
  function itemLabel(li) {
    return li.getAttribute("data-label") || li.textContent.trim().split("\n")[0];
  }

  function moveItem(button) {
    var li = button.closest("[data-reorder-item]");
    var list = li && li.parentElement;
    if (!list) { return; }
    var direction = button.getAttribute("data-move");
    var sibling = direction === "up" ? li.previousElementSibling : li.nextElementSibling;
    if (!sibling) {
      announce(itemLabel(li) + " is already " + (direction === "up" ? "first" : "last") + ".");
      return;
    }
    if (direction === "up") { list.insertBefore(li, sibling); } else { list.insertBefore(sibling, li); }
    var items = Array.prototype.slice.call(list.querySelectorAll(":scope > [data-reorder-item]"));
    var position = items.indexOf(li) + 1;
    button.focus();
    var form = list.closest("form");
    if (form) { form.setAttribute("data-dirty", "true"); }
    var status = list.getAttribute("data-status-target");
    var target = status && document.getElementById(status);
    if (target) { target.textContent = "Order changed: save it to keep it."; }
    announce(itemLabel(li) + " moved to position " + position + " of " + items.length + ".");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-reorder] [data-move]");
    if (button) {
      event.preventDefault();
      moveItem(button);
      return;
    }
    var copy = event.target.closest && event.target.closest("[data-copy]");
    if (copy) {
      var source = document.getElementById(copy.getAttribute("data-copy"));
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.value || source.textContent.trim()).then(function () {
          announce("Copied to the clipboard.");
        });
      }
      return;
    }
    if (event.target.closest && event.target.closest("[data-print]")) {
      window.print();
      return;
    }
    if (event.target.closest && event.target.closest("a[data-launch]")) { rememberLaunch(); }
  });

  // Content opens in its own tab; coming back here should show the progress it made.
  function rememberLaunch() {
    try { window.sessionStorage.setItem("cairn-launched", window.location.pathname); } catch (e) { /* private mode */ }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible") { return; }
    var launched = null;
    try { launched = window.sessionStorage.getItem("cairn-launched"); } catch (e) { return; }
    if (launched === window.location.pathname && document.querySelector("[data-refresh-on-return]")) {
      window.sessionStorage.removeItem("cairn-launched");
      window.location.reload();
    }
  });

  /* Forms that need a second thought: <form data-confirm="Revoke this credential?">. */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      return;
    }
    if (form.hasAttribute && form.hasAttribute("data-launch")) { rememberLaunch(); }
  });

  /* Timed assessments: <span data-deadline="ISO-8601" data-form="form-id">. The server enforces
   * the limit; the countdown tells the learner, warns at one minute, and submits at zero. */
  function startTimer(el) {
    var deadline = Date.parse(el.getAttribute("data-deadline"));
    var form = document.getElementById(el.getAttribute("data-form"));
    var warned = false;
    function tick() {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      var minutes = Math.floor(left / 60);
      var seconds = left % 60;
      el.textContent = minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
      if (left <= 60 && !warned) {
        warned = true;
        el.classList.add("low");
        announce("One minute left.");
      }
      if (left === 0) {
        window.clearInterval(timer);
        announce("Time is up: your answers are being submitted.");
        if (form) {
          var flag = document.createElement("input");
          flag.type = "hidden"; flag.name = "timed_out"; flag.value = "1";
          form.appendChild(flag);
          if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
        }
      }
    }
    var timer = window.setInterval(tick, 1000);
    tick();
  }

  /* Forms whose fields depend on a kind: <select data-kind-select> shows only the
   * <fieldset data-kinds="a b"> that list the chosen kind (all stay submitted and labelled). */
  function showKindFields(select) {
    var form = select.form;
    Array.prototype.forEach.call(form.querySelectorAll("[data-kinds]"), function (set) {
      set.hidden = set.getAttribute("data-kinds").split(" ").indexOf(select.value) === -1;
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-kind-select]")) { showKindFields(event.target); }
  });

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-kind-select]"), showKindFields);
    Array.prototype.forEach.call(document.querySelectorAll("[data-deadline]"), startTimer);
    // Reorder buttons become plain buttons once script handles them (no accidental submit).
    Array.prototype.forEach.call(document.querySelectorAll("[data-reorder] [data-move]"), function (b) {
      b.setAttribute("type", "button");
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (b) {
      b.hidden = false;
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
