// Concert tickets: small progressive enhancements. Every page works without this script;
// it adds the waiting room's polling, the seat map's keys and totals, and live countdowns.
(function () {
  "use strict";

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  }

  function clock(seconds) {
    var s = Math.max(0, seconds);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  // The waiting room: poll our JSON endpoint at the pace the server asks for (slower far back in
  // line), and move on by ourselves once admitted.
  function waitingRoom(root) {
    var delay = Number(root.dataset.pollAfterMs) || 3000;
    var failures = 0;
    function field(name) { return root.querySelector('[data-field="' + name + '"]'); }
    function show(selector, visible) { root.querySelector(selector).hidden = !visible; }

    function poll() {
      fetch(root.dataset.statusUrl, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          failures = 0;
          show("[data-offline]", false);
          if (data.status === "ACTIVE") {
            show("[data-waiting]", false);
            show("[data-admitted]", true);
            window.location.assign(root.dataset.nextUrl);
            return;
          }
          if (data.status !== "WAITING") {
            show("[data-waiting]", false);
            field("message").textContent = data.message;
            show("[data-ended]", true);
            return;
          }
          field("position").textContent = data.position;
          // While staff pause admission there is no estimate, only the notice; the polls go on,
          // so the page moves on by itself once admission resumes.
          show("[data-when-paused]", data.paused);
          show("[data-when-running]", !data.paused);
          field("wait_text").textContent = data.wait_text;
          field("progress").value = data.progress;
          field("progress").textContent = data.progress + "%";
          delay = data.poll_after_ms;
          setTimeout(poll, delay);
        })
        .catch(function () {
          // Server busy or network gone: keep trying, a little slower each time.
          failures += 1;
          show("[data-offline]", true);
          setTimeout(poll, Math.min(delay * Math.pow(2, failures), 30000));
        });
    }
    setTimeout(poll, delay);
  }

  // The seat map: arrow keys move through the 10-wide grid, the price shows for the seat in
  // focus, and a running summary with the total; no more picks than the hold limit.
  function seatMap(form) {
    var limit = Number(form.dataset.pickLimit);
    var seats = Array.prototype.slice.call(form.querySelectorAll(".seat"));
    var summary = form.querySelector("[data-summary]");
    var focusInfo = form.querySelector("[data-focus-info]");
    var holdButton = form.querySelector("[data-hold-button]");
    var columns = 10;

    function won(amount) { return format(summary.dataset.wonText, { amount: amount.toLocaleString("en-US") }); }

    function update(overLimit) {
      var picked = seats.filter(function (seat) { return seat.querySelector("input").checked; });
      seats.forEach(function (seat) { seat.classList.toggle("picked", seat.querySelector("input").checked); });
      if (overLimit) {
        summary.textContent = summary.dataset.limitText;
      } else if (picked.length === 0) {
        summary.textContent = summary.dataset.emptyText;
      } else {
        var total = picked.reduce(function (sum, seat) { return sum + Number(seat.dataset.price); }, 0);
        summary.textContent = format(summary.dataset.pickedText, {
          seats: picked.map(function (seat) { return seat.dataset.seat; }).join(", "),
          total: won(total),
        });
      }
      if (holdButton) { holdButton.disabled = picked.length === 0; }
    }

    form.addEventListener("change", function (event) {
      var input = event.target;
      var count = form.querySelectorAll('input[name="seat"]:checked').length;
      if (input.checked && count > limit) {
        input.checked = false;
        update(true);
        return;
      }
      update(false);
    });

    form.addEventListener("focusin", function (event) {
      var seat = event.target.closest(".seat");
      if (seat) { focusInfo.textContent = seat.title; }
    });
    seats.forEach(function (seat) {
      seat.addEventListener("mouseenter", function () { focusInfo.textContent = seat.title; });
    });

    var steps = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns };
    form.querySelector(".seat-grid").addEventListener("keydown", function (event) {
      var step = steps[event.key];
      var from = seats.indexOf(event.target.closest(".seat"));
      if (!step || from < 0) { return; }
      event.preventDefault();
      // The nearest seat that can be picked in that direction; taken seats are skipped.
      for (var index = from + step; index >= 0 && index < seats.length; index += step) {
        var input = seats[index].querySelector("input");
        if (!input.disabled) { input.focus(); return; }
      }
    });

    form.addEventListener("submit", function () { if (holdButton) { holdButton.disabled = true; } });
    update(false);
  }

  // A countdown from the time left the server counted (no trust in the device's clock); it starts
  // once the page is here, so it never reaches zero before the server's deadline. At zero it
  // swaps the box's [data-running] parts for its [data-at-zero] ones and disables what must not
  // be used any more.
  function countdown(box) {
    var time = box.querySelector("[data-countdown-ms]");
    var endsAt = performance.now() + Number(time.dataset.countdownMs);
    function tick() {
      var left = Math.ceil((endsAt - performance.now()) / 1000);
      time.textContent = clock(left);
      time.closest(".timer") && time.closest(".timer").classList.toggle("urgent", left <= 60);
      if (left > 0) {
        setTimeout(tick, 250);
        return;
      }
      box.querySelectorAll("[data-running]").forEach(function (element) { element.hidden = true; });
      box.querySelectorAll("[data-at-zero]").forEach(function (element) { element.hidden = false; });
      document.querySelectorAll("[data-disable-at-zero]").forEach(function (element) { element.disabled = true; });
    }
    tick();
  }

  // Pay, cancel: one click sends the form once.
  function submitOnce(form) {
    form.addEventListener("submit", function () { form.querySelector("button").disabled = true; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-waiting-room]").forEach(waitingRoom);
    document.querySelectorAll("[data-seat-form]").forEach(seatMap);
    document.querySelectorAll("[data-countdown-box]").forEach(countdown);
    document.querySelectorAll("[data-pay-form], [data-once-form]").forEach(submitOnce);
  });
})();
