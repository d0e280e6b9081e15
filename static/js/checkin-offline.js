// Check-in without a network (the PWA's half of the door page; static/js/checkin.js is the other).
// - Registers the service worker (templates/orders/checkin_sw.js), which keeps the pages and assets.
// - "Download for offline" keeps a session's ticket list, the event's public key and its revocation list in
//   IndexedDB (database "checkin": stores "sessions", "scans", "meta").
// - Offline, a code is checked here: the Ed25519 signature (WebCrypto), the event, the session and its door
//   window, the revocation list, and "once on this device"; short codes through the downloaded list. Every
//   such scan is queued (nonce, device, gate, time, code, answer) and sent to the sync API when the network
//   is back (on the `online` event, every 30 s and on the button); the server answers each nonce once.
// checkin.js calls window.CheckinOffline.check(code, nonce) and .remember(code) (an online admission).
(() => {
  const me = document.currentScript;
  // The page itself, kept for a reload offline (the worker keeps each door page it serves after this one).
  const keepPage = () => (window.caches
    ? caches.open("checkin-pages").then((cache) => cache.add(location.href.split("#")[0])).catch(() => {})
    : Promise.resolve());
  if ("serviceWorker" in navigator && me && me.dataset.sw) {
    const first = !navigator.serviceWorker.controller;  // this page did not come through the worker
    navigator.serviceWorker.register(me.dataset.sw, {scope: me.dataset.scope})
      .then(() => navigator.serviceWorker.ready).then(() => (first ? keepPage() : null)).catch(() => {});
  }
  const root = document.getElementById("checkin");
  const card = document.getElementById("offline-card");
  if (!root || !card || !window.indexedDB) return;
  const strings = JSON.parse(document.getElementById("checkin-strings").textContent);
  const urls = JSON.parse(document.getElementById("checkin-urls").textContent);
  const eventId = Number(root.dataset.event);
  const $ = (id) => document.getElementById(id);
  const sessionSelect = $("door-session");
  const gateInput = $("gate-name");
  const note = $("offline-note");
  const fill = (text, values) => text.replace(/%\((\w+)\)s/g, (all, name) => (name in values ? values[name] : all));
  const when = (iso) => (iso ? new Date(iso).toLocaleString([], {dateStyle: "short", timeStyle: "medium"}) : strings.never);

  // --- IndexedDB ---------------------------------------------------------------------------
  const dbReady = new Promise((resolve, reject) => {
    const request = indexedDB.open("checkin", 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore("sessions", {keyPath: "session"});
      const scans = db.createObjectStore("scans", {keyPath: "nonce"});
      scans.createIndex("event", "event");
      db.createObjectStore("meta", {keyPath: "key"});
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const store = async (name, mode, work) => {
    const db = await dbReady;
    return new Promise((resolve, reject) => {
      const tx = db.transaction(name, mode);
      const request = work(tx.objectStore(name));
      tx.oncomplete = () => resolve(request ? request.result : undefined);
      tx.onerror = () => reject(tx.error);
    });
  };
  const get = (name, key) => store(name, "readonly", (s) => s.get(key));
  const put = (name, value) => store(name, "readwrite", (s) => s.put(value));
  const eventScans = () => store("scans", "readonly", (s) => s.index("event").getAll(eventId));

  // --- this device and its gate ------------------------------------------------------------
  const remembered = (key, make) => {
    let value = localStorage.getItem(key);
    if (!value && make) { value = make(); localStorage.setItem(key, value); }
    return value || "";
  };
  const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const deviceId = remembered("checkin.device", () => "D-" + Array.from(crypto.getRandomValues(new Uint8Array(6)),
    (b) => ALPHABET[b % 32]).join(""));
  $("device-id").textContent = deviceId;
  gateInput.value = remembered(`checkin.gate`);
  gateInput.addEventListener("change", () => localStorage.setItem("checkin.gate", gateInput.value.trim()));
  const gate = () => gateInput.value.trim().slice(0, 64);

  // --- codes ---------------------------------------------------------------------------------
  const PREFIX = "TK1.";
  const fromBase64 = (text) => {
    try {
      const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
      return Uint8Array.from(bin, (c) => c.charCodeAt(0));
    } catch (error) {
      return null;
    }
  };
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  // orders.codes.short_code: upper case, no spaces or dashes, O read as 0 and I/L as 1.
  const shortCode = (text) => {
    const code = text.trim().toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
    return code.length === 10 && [...code].every((c) => ALPHABET.includes(c)) ? code : "";
  };
  // version (1) | event id (4) | session id (4) | serial (8) | signature (64), as orders.codes makes them.
  const parse = (code) => {
    if (!code.startsWith(PREFIX) || code.length > 200) return null;
    const raw = fromBase64(code.slice(PREFIX.length));
    if (!raw || raw.length !== 81) return null;
    const view = new DataView(raw.buffer);
    return {version: raw[0], event: view.getUint32(1), session: view.getUint32(5), serial: hex(raw.slice(9, 17)),
            payload: raw.slice(0, 17), signature: raw.slice(17)};
  };
  const keys = new Map();
  const publicKey = async (b64) => {
    if (!keys.has(b64)) {
      keys.set(b64, crypto.subtle.importKey("raw", fromBase64(b64), {name: "Ed25519"}, false, ["verify"]));
    }
    return keys.get(b64);
  };
  const genuine = async (parsed, data) => {
    try {
      const key = await publicKey(data.public_key);
      return parsed.version === 1 && await crypto.subtle.verify({name: "Ed25519"}, key, parsed.signature, parsed.payload);
    } catch (error) {
      throw new Error(strings.no_crypto);
    }
  };

  // --- what this device knows --------------------------------------------------------------
  const chosenSession = () => Number(sessionSelect.value);
  const sessionData = () => get("sessions", chosenSession());
  let admittedHere = new Map();  // "session:serial" → when this device admitted it
  const loadAdmitted = async () => {
    admittedHere = new Map();
    for (const scan of await eventScans()) {
      if (scan.serial && (scan.local_result === "ok" || scan.server_result === "ok")) {
        admittedHere.set(`${scan.session}:${scan.serial}`, scan.scanned_at);
      }
    }
  };

  const showDownloaded = async () => {
    const data = await sessionData();
    const shown = $("downloaded-at");
    shown.textContent = data
      ? fill(strings.downloaded, {when: when(data.downloaded_at), count: Object.keys(data.tickets).length})
      : strings.not_downloaded;
    shown.dataset.count = data ? Object.keys(data.tickets).length : "";
  };

  const getJSON = async (url) => {
    const response = await fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}});
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.detail || response.statusText || String(response.status));
    return body;
  };

  const download = async () => {
    const session = chosenSession();
    $("downloaded-at").textContent = strings.downloading;
    try {
      const [list, revocations] = await Promise.all([
        getJSON(urls.tickets.replace("{session}", session)), getJSON(urls.revocations)]);
      const tickets = {};
      const shorts = {};
      for (const t of list.tickets) {
        tickets[t.serial] = t;
        shorts[t.short_code] = t.serial;
      }
      const revoked = {};
      const revokedShort = {};
      for (const r of revocations.revoked) {
        revoked[r.serial] = r.reason;
        if (r.short_code) revokedShort[r.short_code] = r.reason;
      }
      await put("sessions", {session, event: eventId, info: list.session, sessions: list.sessions,
                             real_name: list.real_name, tickets, shorts, revoked, revoked_short: revokedShort,
                             public_key: revocations.public_key, generated_at: list.generated_at,
                             downloaded_at: new Date().toISOString()});
      await keepPage();
      await showDownloaded();
    } catch (error) {
      $("downloaded-at").textContent = fill(strings.download_failed, {reason: error.message});
    }
  };

  // --- the local answer ----------------------------------------------------------------------
  const doorWindow = (session, now) => {
    if (now < new Date(session.admits_from)) return "wrong_day";
    if (now >= new Date(session.end_time)) return "session_over";
    return "ok";
  };

  // {result, message, ticket, serial, session} for a code, by the rules of orders.services.checkin_scan.
  const judge = async (typed, data) => {
    const code = typed.trim();
    const now = new Date();
    const refuse = (result, message, extra = {}) => ({result, message, ...extra});
    const label = (r) => strings.labels[r] || r;
    let serial;
    let session = data.session;
    if (code.toUpperCase().startsWith(PREFIX)) {
      const parsed = parse(code);
      if (!parsed || !(await genuine(parsed, data))) return refuse("forged", fill(strings.local_refused, {reason: label("forged")}));
      if (parsed.event !== eventId) return refuse("other_event", fill(strings.local_refused, {reason: label("other_event")}));
      ({serial, session} = parsed);
    } else {
      const short = shortCode(code);
      if (short && data.revoked_short[short]) {
        const reason = data.revoked_short[short];
        return refuse(reason, fill(strings.local_refused, {reason: label(reason)}));
      }
      serial = short && data.shorts[short];
      if (!serial) return refuse("forged", strings.local_unknown_short);
    }
    const info = data.sessions.find((s) => s.id === session);
    const whenLabel = info ? info.label : "";
    if (data.revoked[serial]) {
      const reason = data.revoked[serial];
      return refuse(reason, fill(strings.local_refused, {reason: label(reason)}), {serial, session});
    }
    if (!info) return refuse("forged", fill(strings.local_refused, {reason: label("forged")}));
    const door = doorWindow(info, now);
    if (door !== "ok") {
      return refuse(door, fill(strings[`local_${door}`], {when: whenLabel}), {serial, session});
    }
    if (session !== data.session) {
      return refuse("other_session", fill(strings.local_other_session, {when: whenLabel, here: data.info.label}),
                    {serial, session});
    }
    const ticket = data.tickets[serial] || null;
    const here = admittedHere.get(`${session}:${serial}`);
    if (here) return refuse("already_used", fill(strings.local_used, {when: when(here)}), {serial, session, ticket});
    if (ticket && ticket.checked_in_at) {
      return refuse("already_used", fill(strings.local_used_server, {when: when(ticket.checked_in_at)}),
                    {serial, session, ticket});
    }
    return {result: "ok", message: ticket ? strings.local_ok : strings.local_unlisted, serial, session, ticket};
  };

  // --- the queue -----------------------------------------------------------------------------
  const showQueue = async () => {
    const scans = await eventScans();
    $("queue-count").textContent = scans.filter((s) => !s.synced).length;
    const meta = await get("meta", `sync:${eventId}`);
    $("last-sync").textContent = meta ? when(meta.at) : strings.never;
    $("last-sync").dataset.at = meta ? meta.at : "";
  };

  const check = async (code, nonce) => {
    const data = await sessionData();
    if (!data) return null;
    const answer = await judge(code, data);
    const scan = {nonce, event: eventId, session: answer.session || data.session, serial: answer.serial || "",
                  code: code.trim().slice(0, 255), scanned_at: new Date().toISOString(), local_result: answer.result,
                  gate: gate(), device: deviceId, synced: 0};
    await put("scans", scan);
    if (answer.result === "ok") admittedHere.set(`${scan.session}:${scan.serial}`, scan.scanned_at);
    showQueue();
    const t = answer.ticket;
    return {result: answer.result, message: answer.message, local: true,
            ticket: t ? {type: t.type, seat: t.seat, session: answer.session, attendee_name: t.attendee_name,
                         attendee_id_masked: t.attendee_id_masked} : null};
  };

  // An admission the server made for this device online: refused here if scanned again offline.
  const remember = async (code) => {
    const data = await sessionData();
    const parsed = parse(code.trim());
    const serial = parsed ? parsed.serial : data && data.shorts[shortCode(code)];
    const session = parsed ? parsed.session : data && data.session;
    if (serial) admittedHere.set(`${session}:${serial}`, new Date().toISOString());
    if (serial && data && data.tickets[serial]) {
      data.tickets[serial].checked_in_at = new Date().toISOString();
      await put("sessions", data);
    }
  };

  const csrf = () => {
    const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
    return cookie ? decodeURIComponent(cookie.split("=")[1]) : root.dataset.csrf;
  };

  let syncing = false;
  const sync = async () => {
    if (syncing) return;
    const queued = (await eventScans()).filter((s) => !s.synced);
    if (!queued.length) { showQueue(); return; }
    syncing = true;
    note.textContent = strings.syncing;
    let sent = 0;
    let conflicts = 0;
    try {
      for (let i = 0; i < queued.length; i += 200) {
        const batch = queued.slice(i, i + 200);
        const response = await fetch(urls.sync, {
          method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf()},
          body: JSON.stringify({event: eventId, scans: batch.map((s) => ({
            nonce: s.nonce, code: s.code, scanned_at: s.scanned_at, local_result: s.local_result, gate: s.gate,
            device: s.device}))}),
        });
        const body = await response.json().catch(() => ({}));
        if (!response.ok) throw new Error(body.detail || response.statusText || String(response.status));
        const answers = new Map(body.scans.map((a) => [a.nonce, a]));
        for (const scan of batch) {
          const answer = answers.get(scan.nonce);
          if (!answer) continue;
          Object.assign(scan, {synced: 1, server_result: answer.result, server_message: answer.message});
          await put("scans", scan);
          sent += 1;
          if (answer.conflict) conflicts += 1;
        }
      }
      await put("meta", {key: `sync:${eventId}`, at: new Date().toISOString()});
      note.textContent = fill(strings.synced, {count: sent}) +
        (conflicts ? " " + fill(strings.conflicts_found, {count: conflicts}) : "");
      Object.assign(note.dataset, {sent, conflicts});
      if (conflicts) {
        const badge = $("conflict-count");
        badge.textContent = Number(badge.textContent || 0) + conflicts;
      }
      document.body.dispatchEvent(new Event("scanned"));  // the counts refresh now
    } catch (error) {
      note.textContent = fill(strings.sync_failed, {reason: error.message});
    } finally {
      syncing = false;
      showQueue();
    }
  };

  // --- online / offline ----------------------------------------------------------------------
  const state = $("net-state");
  const showState = () => {
    const online = navigator.onLine;
    state.textContent = online ? strings.online : strings.offline_state;
    state.dataset.state = online ? "online" : "offline";
    state.className = `badge ${online ? "text-bg-success" : "text-bg-danger"}`;
  };
  window.addEventListener("online", () => { showState(); sync(); });
  window.addEventListener("offline", showState);
  // The counts poll the server: not while there is none (it would only fail).
  document.body.addEventListener("htmx:beforeRequest", (event) => { if (!navigator.onLine) event.preventDefault(); });
  setInterval(() => { if (navigator.onLine) sync(); }, 30000);

  sessionSelect.addEventListener("change", () => {
    localStorage.setItem(`checkin.session.${eventId}`, sessionSelect.value);
    showDownloaded();
  });
  const kept = localStorage.getItem(`checkin.session.${eventId}`);
  if (kept && sessionSelect.querySelector(`option[value="${kept}"]`)) sessionSelect.value = kept;
  $("download-session").addEventListener("click", download);
  $("sync-now").addEventListener("click", sync);

  card.hidden = false;
  showState();
  const ready = Promise.all([loadAdmitted(), showDownloaded(), showQueue()]).then(() => { if (navigator.onLine) sync(); });
  window.CheckinOffline = {ready, check, remember, sync, device: deviceId, gate};
})();
