// Progressive enhancement only: every form also works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Selects inside [data-autosubmit] forms (the language switcher) submit on change.
  document.querySelectorAll("form[data-autosubmit] select").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
});

// A failed htmx request shows a message instead of failing silently.
document.addEventListener("htmx:responseError", (event) => {
  const box = document.getElementById("messages");
  if (!box) return;
  const div = document.createElement("div");
  div.className = "alert alert-danger";
  div.setAttribute("role", "alert");
  div.textContent = document.documentElement.lang.startsWith("zh")
    ? "请求失败，请稍后再试。"
    : "The request failed; please try again.";
  box.replaceChildren(div);
});

// Idle logout warning: the server ends a session after IDLE_TIMEOUT seconds
// without a request; warn shortly before, and reload when it is over so the
// server can say why.
(() => {
  const box = document.getElementById("idle-warning");
  if (!box) return;
  const idle = Number(box.dataset.idleSeconds) * 1000;
  const warn = Number(box.dataset.warnSeconds) * 1000;
  let warnTimer, endTimer;
  const arm = () => {
    clearTimeout(warnTimer);
    clearTimeout(endTimer);
    box.classList.add("d-none");
    warnTimer = setTimeout(() => box.classList.remove("d-none"), Math.max(idle - warn, 0));
    endTimer = setTimeout(() => window.location.reload(), idle + 1000);
  };
  document.addEventListener("htmx:afterRequest", arm);
  arm();
})();

// The bell: a websocket pushes new notifications and the unread count; it
// reconnects (with back-off) and the server resends the count on connect.
(() => {
  const bell = document.getElementById("bell");
  if (!bell || !("WebSocket" in window)) return;
  const count = document.getElementById("bell-count");
  let delay = 1000;
  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${bell.dataset.socket}`);
    socket.addEventListener("open", () => { delay = 1000; });
    socket.addEventListener("message", (event) => {
      const data = JSON.parse(event.data);
      if (typeof data.unread === "number") {
        count.textContent = data.unread;
        count.classList.toggle("d-none", data.unread === 0);
      }
      if (data.notification) {
        bell.classList.add("bell-ring");
        bell.title = data.notification.title;
      }
    });
    socket.addEventListener("close", (event) => {
      if (event.code === 4401) return;  // logged out
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  };
  connect();
})();

// Forms that undo something ask first: <form data-confirm="question">. Read-only fields meant to be
// copied select themselves: <input data-select-on-focus>.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
document.addEventListener("focusin", (event) => {
  if (event.target.matches && event.target.matches("[data-select-on-focus]")) event.target.select();
});
