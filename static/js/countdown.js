// Countdowns to a server deadline: [data-countdown] holds unix seconds, shown as mm:ss (hh:mm:ss and
// days further off: a sale that opens later).
// The server's clock at render (data-server-now) is the reference, so a phone's wrong clock
// does not matter. The server decides what happens at zero: the page reloads once to show it.
(() => {
  const clocks = Array.from(document.querySelectorAll("[data-countdown]"));
  if (!clocks.length) return;
  const loadedAt = Date.now();
  const pad = (n) => String(n).padStart(2, "0");
  const tick = () => {
    clocks.forEach((clock) => {
      const serverNow = Number(clock.dataset.serverNow) * 1000 || loadedAt;
      const now = serverNow + (Date.now() - loadedAt);
      const left = Math.max(0, Math.floor((Number(clock.dataset.countdown) * 1000 - now) / 1000));
      if (left > 0) {
        // An hour or more (a sale that opens later): [N days] hh:mm:ss, data-days the unit ("d", "天").
        const days = Math.floor(left / 86400), hours = Math.floor((left % 86400) / 3600);
        const minsSecs = `${pad(Math.floor((left % 3600) / 60))}:${pad(left % 60)}`;
        const time = days || hours ? `${pad(hours)}:${minsSecs}` : minsSecs;
        clock.textContent = days ? `${days}${clock.dataset.days || "d"} ${time}` : time;
        return;
      }
      if (clock.dataset.done) return;
      clock.dataset.done = "1";
      clock.textContent = clock.dataset.expiredText || "00:00";
      clock.classList.replace("text-bg-warning", "text-bg-secondary");
      setTimeout(() => window.location.reload(), 1500);
    });
  };
  tick();
  setInterval(tick, 1000);
})();
