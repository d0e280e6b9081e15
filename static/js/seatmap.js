// One session's live inventory (templates/tickets/session.html).
// - Seated: draws the seats as SVG from the state JSON (#seatmap-state), zooms and
//   pans by rewriting the viewBox, and holds / lets go of a seat per click through
//   PUT / DELETE /api/tickets/lock/<seat>. On a phone (or any touch screen) it opens
//   zoomed in far enough for a finger, on the section where a seat is easiest to find.
// - Both kinds: a socket (/ws/seatmap/<session>/) sends a snapshot on connect and
//   then every change; held seats free themselves when their time is up; the
//   hold panel (htmx) is refreshed when the buyer's own seats change, and its
//   countdowns tick here, in the panel and in the phone's bottom bar (#hold-bar).
// - General admission: the bottom bar counts and prices the quantities being chosen.
// The page works without this file for general admission (the form posts normally).
(() => {
  "use strict";
  const root = document.getElementById("session-live");
  if (!root) return;

  const SVG_NS = "http://www.w3.org/2000/svg";
  const SEAT = 18; // px, as tickets/seatmaps.py draws them
  const PITCH = 24; // between seat centres: each seat's hit area is a whole pitch, so taps between seats still count
  const MARGIN = 24;
  const STAGE_HEIGHT = 32;
  const MAX_ZOOM = 8;
  const MAX_SCALE = 3; // screen px per map px: always room to zoom until a seat is 54 px
  const TAP_PX = 28; // a seat's hit area on a phone at first sight (24 px is the least a finger can aim at)
  const COMPACT_HEIGHT = 0.6; // of the viewport: the phone's map leaves room above and below to scroll the page
  const DRAG_PX = 6;
  const compactQuery = window.matchMedia("(max-width: 575.98px), (pointer: coarse)");

  const readJSON = (id) => JSON.parse(document.getElementById(id).textContent);
  const t = readJSON("seatmap-strings");
  let state = readJSON("seatmap-state");
  const sessionId = Number(root.dataset.session);
  const fmt = (template, values) => template.replace(/%\((\w+)\)s/g, (_m, key) => String(values[key] ?? ""));
  const clamp = (n, lo, hi) => Math.min(Math.max(n, lo), hi);

  // Held seats carry the server's epoch of their expiry: compare with the server's clock.
  let clockOffset = 0;
  const syncClock = (el) => {
    const serverNow = Number(el && el.dataset.serverNow);
    if (serverNow) clockOffset = serverNow - Date.now() / 1000;
  };
  const now = () => Date.now() / 1000 + clockOffset;
  syncClock(root);

  // --- messages ---------------------------------------------------------------------
  const toasts = document.getElementById("seatmap-toasts");
  function toast(message, link) {
    const div = document.createElement("div");
    div.className = "alert alert-warning alert-dismissible shadow-sm seatmap-toast mb-2";
    div.setAttribute("role", "alert");
    div.dataset.testid = "toast";
    div.append(message);
    if (link) {
      const a = document.createElement("a");
      a.href = link.href;
      a.className = "alert-link ms-1";
      a.textContent = link.text;
      div.append(" ", a);
    }
    const close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("aria-label", t.close);
    close.addEventListener("click", () => div.remove());
    div.append(close);
    while (toasts.children.length >= 3) toasts.firstElementChild.remove();
    toasts.append(div);
    setTimeout(() => div.remove(), 7000);
  }

  // --- the buyer's hold panel ------------------------------------------------------------
  let holdTimer = null;
  function holdChanged() {
    if (!state.me || !window.htmx) return;
    clearTimeout(holdTimer);
    holdTimer = setTimeout(() => window.htmx.trigger(document.body, "hold-changed"), 250);
  }

  function countdowns() {
    const at = now();
    document.querySelectorAll(".hold-countdown[data-expires]").forEach((el) => {
      const left = Math.floor(Number(el.dataset.expires) - at);
      if (left <= 0) {
        el.textContent = t.expired;
        el.classList.replace("text-bg-warning", "text-bg-secondary");
        el.classList.add("expired");
      } else {
        el.textContent = `${String(Math.floor(left / 60)).padStart(2, "0")}:${String(left % 60).padStart(2, "0")}`;
      }
    });
  }

  document.body.addEventListener("htmx:afterSettle", (event) => {
    const panel = document.getElementById("hold-panel");
    if (panel && event.target === panel) syncClock(panel);
    countdowns();
    showPick(); // the bottom bar came back with the panel (out of band)
  });
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.target.id === "messages") event.target.scrollIntoView({ behavior: "smooth", block: "nearest" });
  });
  const gaForm = document.getElementById("ga-form");
  if (gaForm) {
    gaForm.addEventListener("htmx:afterRequest", (event) => {
      if (event.detail.successful && event.detail.xhr.status < 300 && event.detail.target.id === "hold-panel") {
        gaForm.reset();
        showPick();
        resync(); // our own counters at once, whatever the broadcast does
      }
    });
    gaForm.addEventListener("change", (event) => {
      showPick();
      const select = event.target;
      if (select.classList && select.classList.contains("ga-qty") && Number(select.value) > 0) {
        chosen(Number(select.name.replace("qty-", "")), { quantity: Number(select.value) });
      }
    });
  }

  // The behaviour log (static/js/track.js): a ticket type chosen, once per type and page.
  const reported = new Set();
  function chosen(ticketType, details = {}) {
    if (!ticketType || reported.has(ticketType) || !window.tkTrack) return;
    reported.add(ticketType);
    window.tkTrack("ticket_type_chosen", root.dataset.event, {
      session: sessionId, details: { ticket_type: ticketType, seated: Boolean(state.seated), ...details } });
  }

  // General admission, nothing held yet: the bottom bar counts and prices what is chosen.
  function showPick() {
    const count = document.querySelector("[data-bar-pick]");
    if (!count || !gaForm) return;
    let n = 0;
    let cents = 0;
    gaForm.querySelectorAll(".ga-qty").forEach((select) => {
      const qty = Number(select.value) || 0;
      const tt = types.get(Number(select.name.replace("qty-", "")));
      n += qty;
      cents += qty * Math.round(Number(tt ? tt.price : 0) * 100);
    });
    count.textContent = count.dataset.template.replace("__N__", n);
    const total = document.querySelector("[data-bar-pick-total]");
    if (total) total.textContent = `¥${(cents / 100).toFixed(2)}`;
  }

  // --- stock and prices ---------------------------------------------------------------
  const types = new Map();
  const seats = new Map(); // seat id → {id, section, row, number, x, y, type, status, owner, until, el}
  const heldSeats = new Set(); // ids of seats held by anyone, to free them when their time is up
  const pending = new Set(); // seats with a request in flight

  function readTypes() {
    types.clear();
    state.ticket_types.forEach((tt) => types.set(tt.id, { ...tt }));
  }

  function showStock() {
    if (state.seated) {
      const free = new Map();
      seats.forEach((s) => {
        if (s.status === "free") free.set(s.type, (free.get(s.type) || 0) + 1);
      });
      types.forEach((tt, id) => { tt.available = free.get(id) || 0; });
    }
    document.querySelectorAll("[data-stock-for]").forEach((el) => {
      const tt = types.get(Number(el.dataset.stockFor));
      if (!tt) return;
      el.textContent = tt.available > 0 ? el.dataset.template.replace("__N__", tt.available) : el.dataset.soldOut;
      el.classList.toggle("text-danger", tt.available <= 0);
      el.classList.toggle("text-body-secondary", tt.available > 0);
    });
    document.querySelectorAll("[data-price-for]").forEach((el) => {
      const tt = types.get(Number(el.dataset.priceFor));
      if (tt) el.textContent = tt.price;
    });
    showPick();
  }

  let stockFrame = 0;
  const showStockSoon = () => {
    if (!stockFrame) stockFrame = requestAnimationFrame(() => { stockFrame = 0; showStock(); });
  };

  // --- seats --------------------------------------------------------------------------
  const seatState = (s) => (s.status === "held" && state.me && s.owner === state.me ? "mine" : s.status);

  function seatLabel(s) {
    const tt = types.get(s.type) || { name: "", price: "" };
    const seat = fmt(t.seat, { section: s.section, row: s.row, number: s.number });
    return fmt(t.seat_aria, { seat, type: tt.name, price: tt.price, state: t.states[seatState(s)] });
  }

  function paint(s) {
    if (!s.el) return;
    const shown = seatState(s);
    s.el.setAttribute("class", `seat ${shown}${pending.has(s.id) ? " pending" : ""}`);
    s.el.setAttribute("aria-label", seatLabel(s));
    s.el.setAttribute("aria-pressed", shown === "mine" ? "true" : "false");
    s.el.setAttribute("aria-disabled", shown === "free" || shown === "mine" ? "false" : "true");
  }

  // Returns whether the seat was or is now the buyer's own.
  function setSeat(id, status, owner, until) {
    const s = seats.get(id);
    if (!s) return false;
    const wasMine = seatState(s) === "mine";
    s.status = status;
    s.owner = owner || null;
    s.until = until || null;
    if (s.status === "held" && s.until && s.until <= now()) {
      s.status = "free";
      s.owner = null;
      s.until = null;
    }
    if (s.status === "held") heldSeats.add(id);
    else heldSeats.delete(id);
    paint(s);
    return wasMine || seatState(s) === "mine";
  }

  function readSeats() {
    seats.clear();
    heldSeats.clear();
    state.seats.forEach(([id, section, row, number, x, y, type, status, owner, until]) => {
      seats.set(id, { id, section, row, number, x, y, type, status: "free", owner: null, until: null, el: null });
      setSeat(id, status, owner, until);
    });
  }

  // --- drawing and the view box -------------------------------------------------------------
  // The view box always has the shape of the SVG on screen, so `box.w / view.w` is the
  // scale (screen px per map px) in both directions.
  const canvas = document.getElementById("seatmap");
  let svg = null;
  let full = { w: 1, h: 1 };
  let box = { w: 1, h: 1 };
  let view = null;

  function make(tag, attrs, parent) {
    const el = document.createElementNS(SVG_NS, tag);
    Object.entries(attrs || {}).forEach(([k, v]) => el.setAttribute(k, v));
    if (parent) parent.append(el);
    return el;
  }

  function draw() {
    full = { w: Math.max(state.width, 1), h: Math.max(state.height, 1) };
    svg = make("svg", { viewBox: `0 0 ${full.w} ${full.h}`, class: "seatmap-svg", role: "group",
                        "aria-label": t.map, "data-testid": "seatmap-svg" });
    svg.style.maxWidth = `${Math.round(full.w * 2.2)}px`;
    make("rect", { x: MARGIN, y: MARGIN, width: full.w - 2 * MARGIN, height: STAGE_HEIGHT, rx: 6, class: "seatmap-stage" }, svg);
    make("text", { x: full.w / 2, y: MARGIN + 21, "text-anchor": "middle", class: "seatmap-stage-label" }, svg)
      .textContent = state.stage || t.stage;
    state.sections.forEach(([name, x, y]) => {
      make("text", { x, y, "text-anchor": "middle", class: "seatmap-section-label" }, svg).textContent = name;
    });
    const layer = make("g", { class: "seatmap-seats" }, svg);
    const half = SEAT / 2;
    const pad = (PITCH - SEAT) / 2;
    seats.forEach((s) => {
      const g = make("g", { transform: `translate(${s.x - half} ${s.y - half})`, tabindex: "0", role: "button",
                            "data-seat": s.id }, layer);
      const tt = types.get(s.type);
      g.style.setProperty("--seat-colour", tt ? tt.colour : "#6c757d");
      make("rect", { x: -pad, y: -pad, width: PITCH, height: PITCH, class: "seat-hit" }, g);
      make("rect", { width: SEAT, height: SEAT, rx: 4, class: "seat-box" }, g);
      make("path", { d: "M5 5L13 13M13 5L5 13", class: "seat-cross" }, g);
      make("path", { d: "M4.5 9.5L7.8 12.6L13.5 5.8", class: "seat-tick" }, g);
      s.el = g;
      paint(s);
    });
    canvas.replaceChildren(svg);
    bindView();
    layOut(true);
  }

  // A phone's map is as tall as the map at a finger's scale, up to 60% of the screen;
  // elsewhere it keeps the map's own shape.
  function sizeSvg() {
    const compact = compactQuery.matches;
    canvas.classList.toggle("is-compact", compact);
    if (compact) {
      const scale = Math.max((canvas.clientWidth || full.w) / full.w, TAP_PX / PITCH);
      svg.style.aspectRatio = "auto";
      svg.style.height = `${Math.round(Math.min(full.h * scale, window.innerHeight * COMPACT_HEIGHT))}px`;
    } else {
      svg.style.height = "";
      svg.style.aspectRatio = `${full.w} / ${full.h}`;
    }
    const r = svg.getBoundingClientRect();
    box = r.width > 0 && r.height > 0 ? { w: r.width, h: r.height } : { ...full };
    const mapShaped = (box.w * full.h) / full.w;
    if (Math.abs(box.h - mapShaped) < 1) box.h = mapShaped; // the map's shape, less sub-pixel rounding
  }

  const aspect = () => box.h / box.w;
  const fitWidth = () => Math.max(full.w, full.h / aspect());
  const minWidth = () => Math.min(fitWidth() / MAX_ZOOM, box.w / MAX_SCALE);
  function fitView() {
    const w = fitWidth();
    return { x: (full.w - w) / 2, y: (full.h - w * aspect()) / 2, w };
  }

  // Where a phone opens: the section with the most free seats, where a buyer is likeliest to
  // find seats together without panning; a tie goes to the cheaper section, then to the one
  // nearer the stage. Centred on that section's free seats, its front rows first if it is tall.
  function bestSectionView(w) {
    const sections = new Map();
    seats.forEach((s) => {
      if (s.status !== "free") return;
      const price = Number((types.get(s.type) || {}).price) || 0;
      const a = sections.get(s.section) || { free: 0, price, x0: s.x, x1: s.x, y0: s.y, y1: s.y };
      a.free += 1;
      a.price = Math.min(a.price, price);
      a.x0 = Math.min(a.x0, s.x); a.x1 = Math.max(a.x1, s.x);
      a.y0 = Math.min(a.y0, s.y); a.y1 = Math.max(a.y1, s.y);
      sections.set(s.section, a);
    });
    const best = [...sections.values()].sort((a, b) => b.free - a.free || a.price - b.price || a.y0 - b.y0)[0];
    if (!best) return null;
    const h = w * aspect();
    const top = best.y0 - PITCH * 1.5; // the section's label shows above its first row
    const y = best.y1 + PITCH - top <= h ? (best.y0 + best.y1) / 2 - h / 2 : top;
    return { x: (best.x0 + best.x1) / 2 - w / 2, y, w };
  }

  function initialView() {
    const fit = fitView();
    const w = box.w / (TAP_PX / PITCH);
    if (!compactQuery.matches || w >= fit.w) return fit;
    return bestSectionView(w) || fit;
  }

  // Sizes the map for the screen; the first time it opens on the initial view, later (a turned
  // phone, a resized window) it keeps its centre and scale, or the whole map if that was shown.
  function layOut(initial) {
    const before = view && { ...box };
    const whole = view && view.w >= fitWidth() - 0.001;
    sizeSvg();
    if (initial || !view) {
      setView(initialView());
    } else if (whole) {
      setView(fitView());
    } else {
      const w = view.w * (box.w / before.w);
      const cx = view.x + view.w / 2;
      const cy = view.y + view.h / 2;
      setView({ x: cx - w / 2, y: cy - (w * aspect()) / 2, w });
    }
  }

  const round = (n) => Math.round(n * 100) / 100;
  function setView(next) {
    const fw = fitWidth();
    const w = clamp(next.w, minWidth(), fw);
    const h = w * aspect();
    const x = clamp(next.x, Math.min(0, full.w - w), Math.max(0, full.w - w));
    const y = clamp(next.y, Math.min(0, full.h - h), Math.max(0, full.h - h));
    view = { x, y, w, h };
    svg.setAttribute("viewBox", `${round(x)} ${round(y)} ${round(w)} ${round(h)}`);
    root.querySelectorAll("[data-zoom=out], [data-zoom=reset]").forEach((b) => { b.disabled = w >= fw - 0.001; });
    root.querySelectorAll("[data-zoom=in]").forEach((b) => { b.disabled = w <= minWidth() + 0.001; });
  }

  function zoomAt(factor, cx, cy, from = view) {
    const w = clamp(from.w / factor, minWidth(), fitWidth());
    const k = w / from.w;
    setView({ x: cx - (cx - from.x) * k, y: cy - (cy - from.y) * k, w });
  }

  function toMap(clientX, clientY) {
    const m = svg.getScreenCTM();
    if (!m) return { x: view.x + view.w / 2, y: view.y + view.h / 2 };
    const p = new DOMPoint(clientX, clientY).matrixTransform(m.inverse());
    return { x: p.x, y: p.y };
  }

  let viewBound = false;
  function bindView() {
    if (viewBound) return;
    viewBound = true;
    root.querySelectorAll("[data-zoom]").forEach((button) => {
      button.addEventListener("click", () => {
        const cx = view.x + view.w / 2;
        const cy = view.y + view.h / 2;
        if (button.dataset.zoom === "in") zoomAt(1.6, cx, cy);
        else if (button.dataset.zoom === "out") zoomAt(1 / 1.6, cx, cy);
        else setView(fitView());
      });
    });

    let lastWidth = canvas.clientWidth;
    new ResizeObserver(() => {
      if (!svg || Math.abs(canvas.clientWidth - lastWidth) < 1) return;
      lastWidth = canvas.clientWidth;
      layOut(false);
    }).observe(canvas);
    compactQuery.addEventListener("change", () => layOut(true));

    canvas.addEventListener("wheel", (event) => {
      if (!svg) return;
      event.preventDefault();
      const p = toMap(event.clientX, event.clientY);
      const delta = event.deltaY * (event.deltaMode === 1 ? 16 : 1);
      zoomAt(Math.exp(-clamp(delta, -100, 100) * 0.004), p.x, p.y);
    }, { passive: false });

    // One pointer drags the map, two pinch it; a drag is not a click.
    const pointers = new Map();
    let gesture = null;
    let dragged = false;
    const startGesture = () => {
      const pts = [...pointers.values()];
      const m = svg.getScreenCTM();
      if (pts.length === 1) {
        gesture = { kind: "pan", x: pts[0].x, y: pts[0].y, from: { ...view }, scale: m ? m.a : 1 };
      } else if (pts.length === 2) {
        const mid = { x: (pts[0].x + pts[1].x) / 2, y: (pts[0].y + pts[1].y) / 2 };
        gesture = { kind: "pinch", dist: Math.hypot(pts[0].x - pts[1].x, pts[0].y - pts[1].y) || 1,
                    at: toMap(mid.x, mid.y), from: { ...view } };
      } else {
        gesture = null;
      }
    };
    canvas.addEventListener("pointerdown", (event) => {
      if (!svg || (event.pointerType === "mouse" && event.button !== 0)) return;
      if (pointers.size === 0) dragged = false;
      pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
      startGesture();
    });
    window.addEventListener("pointermove", (event) => {
      if (!pointers.has(event.pointerId) || !gesture) return;
      pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
      const pts = [...pointers.values()];
      if (gesture.kind === "pan") {
        const dx = pts[0].x - gesture.x;
        const dy = pts[0].y - gesture.y;
        if (!dragged && Math.hypot(dx, dy) < DRAG_PX) return;
        dragged = true;
        setView({ x: gesture.from.x - dx / gesture.scale, y: gesture.from.y - dy / gesture.scale, w: gesture.from.w });
      } else if (gesture.kind === "pinch" && pts.length === 2) {
        dragged = true;
        const dist = Math.hypot(pts[0].x - pts[1].x, pts[0].y - pts[1].y);
        zoomAt(dist / gesture.dist, gesture.at.x, gesture.at.y, gesture.from);
      }
    });
    const end = (event) => {
      if (!pointers.delete(event.pointerId)) return;
      startGesture();
    };
    window.addEventListener("pointerup", end);
    window.addEventListener("pointercancel", end);
    canvas.addEventListener("click", (event) => {
      if (dragged) {
        event.stopPropagation();
        event.preventDefault();
        dragged = false;
        return;
      }
      const g = event.target.closest("[data-seat]");
      if (g) toggle(seats.get(Number(g.dataset.seat)));
    }, true);
    canvas.addEventListener("keydown", (event) => {
      const g = event.target.closest && event.target.closest("[data-seat]");
      if (!g) return;
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        toggle(seats.get(Number(g.dataset.seat)));
      }
    });
    // A seat reached by keyboard outside the zoomed view is brought into it.
    canvas.addEventListener("focusin", (event) => {
      const g = event.target.closest && event.target.closest("[data-seat]");
      const s = g && seats.get(Number(g.dataset.seat));
      if (!s || (s.x > view.x && s.x < view.x + view.w && s.y > view.y && s.y < view.y + view.h)) return;
      setView({ x: s.x - view.w / 2, y: s.y - view.h / 2, w: view.w });
    });
  }

  // --- holding and letting go of a seat -----------------------------------------------------
  const lockUrl = (id) => root.dataset.lockUrl.replace(/0$/, String(id));

  async function toggle(s) {
    if (!s) return;
    const shown = seatState(s);
    if (!state.me) {
      toast(t.login, { href: root.dataset.loginUrl, text: t.login_link });
      return;
    }
    if (!state.on_sale) {
      toast(t.not_on_sale);
      return;
    }
    if (shown !== "free" && shown !== "mine") {
      toast(fmt(t.unavailable, { seat: fmt(t.seat, { section: s.section, row: s.row, number: s.number }) }));
      return;
    }
    if (pending.has(s.id)) return;
    pending.add(s.id);
    paint(s);
    try {
      const response = await fetch(lockUrl(s.id), {
        method: shown === "mine" ? "DELETE" : "PUT",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": root.dataset.csrf },
        body: JSON.stringify({ session: sessionId }),
      });
      if (response.ok) {
        if (shown === "mine") {
          setSeat(s.id, "free");
        } else {
          const hold = await response.json();
          setSeat(s.id, "held", state.me, Date.parse(hold.expires_at) / 1000);
          chosen(s.type);
        }
        holdChanged();
      } else {
        let body = {};
        try { body = await response.json(); } catch { /* not JSON */ }
        toast(body.detail || t.failed);
        if (body.code === "waiting_room_required" && body.room) setTimeout(() => { location.href = body.room; }, 1500);
        if (response.status === 404 || response.status === 409) resync(); // our picture was out of date
      }
    } catch {
      toast(t.failed);
    } finally {
      pending.delete(s.id);
      paint(s);
      showStockSoon();
    }
  }

  // --- the live socket -------------------------------------------------------------------
  const liveBadge = document.getElementById("live-status");
  function showLive(up) {
    if (!liveBadge) return;
    liveBadge.textContent = up ? t.live : t.reconnecting;
    liveBadge.classList.toggle("text-bg-success", up);
    liveBadge.classList.toggle("text-bg-warning", !up);
    liveBadge.classList.remove("d-none");
  }

  function applySnapshot(next) {
    const redraw = state.seated && (!svg || next.seats.length !== seats.size || next.width !== state.width
                                    || next.height !== state.height || next.seats.some((r) => !seats.has(r[0])));
    const before = new Set([...seats.values()].filter((s) => seatState(s) === "mine").map((s) => s.id));
    state = next;
    readTypes();
    if (!state.seated) {
      showStock();
      return;
    }
    if (redraw) {
      readSeats();
      draw();
    } else {
      state.seats.forEach(([id, , , , , , , status, owner, until]) => setSeat(id, status, owner, until));
    }
    const after = [...seats.values()].filter((s) => seatState(s) === "mine").map((s) => s.id);
    if (after.length !== before.size || after.some((id) => !before.has(id))) holdChanged();
    showStock();
  }

  function applyChanges(message) {
    let mine = false;
    (message.seats || []).forEach(([id, status, owner, until]) => {
      if (setSeat(id, status, owner, until)) mine = true;
    });
    Object.entries(message.stock || {}).forEach(([id, available]) => {
      const tt = types.get(Number(id));
      if (tt) tt.available = available;
    });
    showStockSoon();
    if (mine) holdChanged();
  }

  let socket = null;
  let delay = 1000;
  function resync() {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ action: "resync" }));
  }
  function connect() {
    if (!("WebSocket" in window)) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${root.dataset.socket}`);
    socket.addEventListener("open", () => {
      delay = 1000;
      showLive(true);
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "snapshot") applySnapshot(message);
      else if (message.type === "changes") applyChanges(message);
    });
    socket.addEventListener("close", (event) => {
      showLive(false);
      if (event.code === 4404) return; // the session is gone or hidden
      if (event.code === 4403 && root.dataset.roomUrl) { // a hot sale's admission lapsed: back to its waiting room
        location.href = root.dataset.roomUrl;
        return;
      }
      // The server sends a fresh snapshot on every connect, so nothing missed meanwhile is lost.
      setTimeout(connect, delay + Math.random() * 500);
      delay = Math.min(delay * 2, 30000);
    });
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") resync();
  });

  // Held seats whose time is up are free again, broadcast or not; countdowns tick.
  setInterval(() => {
    const at = now();
    let freed = false;
    heldSeats.forEach((id) => {
      const s = seats.get(id);
      if (s.until && s.until <= at) {
        setSeat(id, "free");
        freed = true;
      }
    });
    if (freed) showStockSoon();
    countdowns();
  }, 1000);

  readTypes();
  if (state.seated && canvas) {
    readSeats();
    draw();
  }
  showStock();
  countdowns();
  connect();
})();
