// The click beacon (analytics.beacon, POST /api/track), loaded by templates/base.html on every page.
// Any element with data-track="<action>" reports a click on it:
//   data-track="rec_click" data-track-event="42" data-track-session="7"
//   data-track-details='{"list": "home", "position": 3}'
// Actions the server accepts: seatmap_open, ticket_type_chosen, rec_click (which needs list and position).
// Other scripts report what is no click with window.tkTrack(action, event, {session, details});
// seatmap.js does so for a ticket type chosen. keepalive: a click that leaves the page is still sent.
// Never in the way: no answer is awaited, a failure is dropped.
(() => {
  "use strict";
  const script = document.currentScript;
  const url = script && script.dataset.url;
  if (!url || !window.fetch) return;
  const csrf = script.dataset.csrf || "";

  function send(action, event, { session = null, details = {} } = {}) {
    const eventId = Number(event);
    if (!action || !Number.isInteger(eventId) || eventId < 1) return;
    const body = { action, event: eventId, details };
    const sessionId = Number(session);
    if (session && Number.isInteger(sessionId) && sessionId > 0) body.session = sessionId;
    try {
      fetch(url, {
        method: "POST",
        keepalive: true,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify(body),
      }).catch(() => {});
    } catch {
      /* keepalive's quota, an old browser: a lost click line, nothing more */
    }
  }

  function detailsOf(el) {
    if (!el.dataset.trackDetails) return {};
    try {
      const details = JSON.parse(el.dataset.trackDetails);
      return details && typeof details === "object" && !Array.isArray(details) ? details : {};
    } catch {
      return {};
    }
  }

  // Capture: an element whose own handler stops the click (or navigates at once) is still reported.
  document.addEventListener("click", (e) => {
    const el = e.target instanceof Element ? e.target.closest("[data-track]") : null;
    if (!el) return;
    send(el.dataset.track, el.dataset.trackEvent, { session: el.dataset.trackSession, details: detailsOf(el) });
  }, true);

  window.tkTrack = send;
})();
