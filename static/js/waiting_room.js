// A hot sale's waiting room: keeps the visitor's place by asking the room's API every few seconds (when the
// server says, jittered), shows the place, the people waiting and the estimated wait, and goes on to the
// tickets when it is the visitor's turn. The server's clock is the reference for the countdown.
(() => {
  const root = document.getElementById("room");
  if (!root) return;
  const t = JSON.parse(document.getElementById("room-strings").textContent);
  const $ = (id) => document.getElementById(id);
  const lang = document.documentElement.lang || undefined;
  const number = new Intl.NumberFormat(lang);
  const fmt = (text, values) => text.replace(/%\((\w+)\)s/g, (_m, key) => String(values[key] ?? ""));
  const loadedAt = Date.now();
  const serverNow = () => Number(root.dataset.serverNow) * 1000 + (Date.now() - loadedAt);
  let salesStart = Number(root.dataset.salesStart) * 1000 || 0;
  let failures = 0;
  let timer = null;

  const show = (id, on) => $(id).classList.toggle("hidden", !on);
  const pad = (n) => String(n).padStart(2, "0");

  function wait(seconds) {
    if (seconds == null) return "";
    if (seconds < 60) return fmt(t.seconds, { n: Math.max(seconds, 1) });
    return fmt(t.minutes, { n: number.format(Math.ceil(seconds / 60)) });
  }

  function tickClock() {
    const left = Math.max(0, Math.floor((salesStart - serverNow()) / 1000));
    const hours = Math.floor(left / 3600);
    const clock = `${pad(Math.floor((left % 3600) / 60))}:${pad(left % 60)}`;
    $("room-clock").textContent = hours ? `${pad(hours)}:${clock}` : clock;
    if (left === 0 && !$("room-countdown").classList.contains("hidden")) $("room-status").textContent = t.drawing;
  }
  setInterval(tickClock, 1000);

  function alert(text, ok) {
    $("room-alert").textContent = text || "";
    $("room-alert").classList.toggle("ok", Boolean(ok));
    show("room-alert", Boolean(text));
  }

  function render(body) {
    if (body.sales_start) salesStart = Date.parse(body.sales_start);
    const before = serverNow() < salesStart;
    show("room-countdown", body.state === "waiting" && before);
    show("room-place", body.state === "waiting" && !before && body.position != null);
    show("room-go", body.state === "admitted" || body.state === "open");
    $("room-bar").classList.toggle("busy", body.state === "waiting" && (before || body.position == null));
    alert(body.rejoined ? t.rejoined : "");
    $("room-detail").textContent = "";
    if (body.state === "waiting") {
      tickClock();
      if (before) {
        $("room-status").textContent = body.message;
        $("room-detail").textContent = fmt(body.waiting === 1 ? t.waiting_one : t.waiting, { count: number.format(body.waiting) });
      } else {
        $("room-position").textContent = number.format(body.position);
        $("room-status").textContent = fmt(t.eta, { time: wait(body.eta_seconds) });
        $("room-detail").textContent = fmt(body.waiting === 1 ? t.waiting_one : t.waiting, { count: number.format(body.waiting) });
        // How far along: from where this visitor stood when first seen, towards the door.
        const first = Number(root.dataset.firstPosition || body.position);
        root.dataset.firstPosition = String(first);
        const done = first > 1 ? (first - body.position) / (first - 1) : 0.9;
        $("room-bar").firstElementChild.style.width = `${Math.max(5, Math.round(done * 100))}%`;
      }
    } else if (body.state === "admitted") {
      $("room-status").textContent = t.admitted;
      $("room-detail").textContent = body.message;
      $("room-bar").firstElementChild.style.width = "100%";
      setTimeout(() => window.location.assign(body.session_url), 1200);
    } else if (body.state === "login_required") {
      $("room-status").textContent = t.login;
      $("room-go").href = body.login_url;
      $("room-go").textContent = t.login_link;
      show("room-go", true);
    } else if (body.state === "open") {
      $("room-status").textContent = t.open;
      setTimeout(() => window.location.assign(body.session_url), 800);
    } else {
      $("room-status").textContent = body.message;
    }
  }

  async function ask() {
    timer = null;
    let next = 5000;
    try {
      const response = await fetch(root.dataset.poll, {
        method: "POST", credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
      });
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        failures = 0;
        render(body);
        if (body.state === "admitted" || body.state === "open" || body.state === "closed"
            || body.state === "login_required") return;
        next = body.next_poll_ms || 3000;
      } else {
        failures += 1;
        $("room-status").textContent = body.detail || t.unavailable;
        next = Math.min(5000 * failures, 30000);
      }
    } catch {
      failures += 1;
      $("room-status").textContent = t.offline;
      next = Math.min(3000 * failures, 30000);
    }
    timer = setTimeout(ask, next + Math.random() * 1000);
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && timer) {
      clearTimeout(timer);
      ask();
    }
  });
  // The first ask spread over a second: a page reloaded by thousands at once does not arrive at once.
  timer = setTimeout(ask, root.dataset.unavailable ? 5000 : Math.random() * 600);
})();
