// The door page: camera scanning (getUserMedia frames → canvas → jsQR) and the manual code field
// both send one scan to the check-in API. Every scan carries a fresh nonce; after a network error
// the same scan is re-sent with the same nonce, so the server answers it once (never "already used"
// for the ticket it has just admitted). Without JavaScript the manual form posts to the page itself.
// With no network (or none answering), a session downloaded for offline use is checked on the device
// instead, and the scan queued with its nonce (static/js/checkin-offline.js, window.CheckinOffline).
(() => {
  const root = document.getElementById("checkin");
  if (!root || !window.fetch) return;
  const strings = JSON.parse(document.getElementById("checkin-strings").textContent);
  const form = document.getElementById("scan-form");
  const codeInput = form.querySelector("[name=code]");
  const nonceInput = form.querySelector("[name=nonce]");
  const resultBox = document.getElementById("scan-result-box");
  const toggle = document.getElementById("camera-toggle");
  const frame = document.getElementById("camera-frame");
  const video = document.getElementById("camera-video");
  const note = document.getElementById("camera-note");

  const newNonce = () => {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();  // secure contexts only
    if (window.crypto && crypto.getRandomValues) {
      return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
    }
    return `${Date.now().toString(16)}-${Math.random().toString(16).slice(2)}${Math.random().toString(16).slice(2)}`;
  };

  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  };

  // Same look as templates/orders/partials/scan_result.html.
  const showResult = (data, scan) => {
    const ok = data.result === "ok";
    const box = el("div", `scan-result rounded-3 p-3 p-sm-4 text-white ${ok ? "bg-success" : "bg-danger"}`);
    box.dataset.testid = "scan-result";
    box.dataset.result = data.result;
    box.dataset.local = data.local ? "1" : "";
    box.append(el("div", "fs-1 fw-bold lh-sm", `${ok ? "✓" : "✕"} ${strings.labels[data.result] || data.result}`));
    const t = data.ticket;
    if (t) {
      if (t.attendee_name) {
        const name = el("div", "fs-2 fw-semibold mt-1", `${t.attendee_name} `);
        name.dataset.testid = "scan-attendee";
        name.append(el("span", "fs-6 fw-normal", t.attendee_id_masked || ""));
        box.append(name);
      }
      const what = [t.seat, t.type, strings.sessions[t.session]].filter(Boolean).join(" · ");
      if (what) box.append(el("div", "fs-5 mt-1", what));
    }
    if ((!ok || data.override_of || data.local) && data.message) {
      const message = el("div", "mt-2", data.message);
      message.dataset.testid = "scan-message";
      box.append(message);
    }
    if (data.overridable && scan) {
      // An admin's "admit anyway" is a new scan of the same code: a fresh nonce, the override flag.
      const button = el("button", "btn btn-light btn-lg w-100 fw-semibold mt-3", strings.override);
      button.type = "button";
      button.dataset.testid = "override-submit";
      button.addEventListener("click", () => { if (!busy) send({code: scan.code, nonce: newNonce(), override: true}); });
      box.append(button);
    }
    resultBox.replaceChildren(box);
    if (navigator.vibrate) navigator.vibrate(ok ? 80 : [60, 60, 60]);
  };

  const showNotice = (text, kind, retry) => {
    const box = el("div", `scan-result rounded-3 p-3 border ${kind === "error" ? "border-danger text-danger" : "text-body-secondary"}`, text);
    box.dataset.testid = "scan-result";
    box.dataset.result = "";
    if (retry) {
      const button = el("button", "btn btn-outline-danger btn-sm ms-2", strings.retry);
      button.type = "button";
      button.addEventListener("click", retry);
      box.append(button);
    }
    resultBox.replaceChildren(box);
  };

  let busy = false;
  let pending = null;  // {code, nonce} of a scan the server may not have answered: re-sent as it was

  const post = (scan) => fetch(root.dataset.api, {
    method: "POST",
    credentials: "same-origin",
    headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": root.dataset.csrf},
    body: JSON.stringify({event: Number(root.dataset.event), code: scan.code, nonce: scan.nonce,
                         override: Boolean(scan.override), gate: offline ? offline.gate() : "",
                         device: offline ? offline.device : ""}),
  });

  const offline = window.CheckinOffline || null;
  // Checked on this device (true), or not possible here (false: nothing downloaded for this session).
  const checkLocally = async (scan) => {
    if (!offline || scan.override) return false;
    let data;
    try {
      data = await offline.check(scan.code, scan.nonce);
    } catch (error) {
      busy = false;
      showNotice(error.message, "error");
      return true;
    }
    if (!data) return false;
    busy = false;
    pending = null;
    showResult(data, null);
    return true;
  };

  const send = async (scan, attempt = 0) => {
    busy = true;
    showNotice(attempt ? strings.retrying : strings.checking);
    if (!navigator.onLine && await checkLocally(scan)) return;
    let response;
    try {
      response = await post(scan);
    } catch (error) {  // no answer: the scan may or may not have counted, so the same nonce goes again
      // (offline, into the queue: the sync sends that nonce, and the server answers it once)
      if (await checkLocally(scan)) return;
      if (attempt < 3) {
        setTimeout(() => send(scan, attempt + 1), 1000 * 2 ** attempt);
        return;
      }
      busy = false;
      showNotice(strings.offline, "error", () => { if (!busy) send(scan); });
      return;
    }
    busy = false;
    if (!(response.headers.get("content-type") || "").includes("json")) {
      // No check-in API answering here: the page's own form does the same scan.
      codeInput.value = scan.code;
      nonceInput.value = scan.nonce;
      form.querySelector("[name=override]").value = scan.override ? "1" : "";
      form.submit();
      return;
    }
    pending = null;
    const data = await response.json().catch(() => ({}));
    if (response.ok && data.result) {
      showResult(data, scan);
      if (data.result === "ok" && offline) offline.remember(scan.code);
      document.body.dispatchEvent(new Event("scanned"));  // the counts refresh now
    } else {
      showNotice(data.detail || strings.failed, "error");
    }
  };

  const scan = (code) => {
    code = (code || "").trim();
    if (!code || busy) return;
    if (!pending || pending.code !== code) pending = {code, nonce: newNonce()};
    send(pending);
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    scan(codeInput.value);
    codeInput.value = "";
    codeInput.focus();
  });

  // --- camera ----------------------------------------------------------------------------
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", {willReadFrequently: true});
  let stream = null;
  let timer = null;
  let lastCode = null;
  let lastSeen = 0;

  const frameTick = () => {
    if (!stream) return;
    if (video.readyState >= 2 && window.jsQR) {
      const scale = Math.min(1, 640 / Math.max(video.videoWidth, video.videoHeight));
      const width = Math.round(video.videoWidth * scale);
      const height = Math.round(video.videoHeight * scale);
      canvas.width = width;
      canvas.height = height;
      context.drawImage(video, 0, 0, width, height);
      const found = window.jsQR(context.getImageData(0, 0, width, height).data, width, height,
                                {inversionAttempts: "dontInvert"});
      const now = Date.now();
      if (found && found.data) {
        // The same ticket held in front of the camera is one scan, not an "already used" a moment later.
        const fresh = found.data !== lastCode || now - lastSeen > 2500;
        lastCode = found.data;
        lastSeen = now;
        if (fresh && !busy) scan(found.data);
      }
    }
    timer = setTimeout(frameTick, 150);
  };

  const stop = () => {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    clearTimeout(timer);
    video.srcObject = null;
    frame.classList.add("d-none");
    toggle.textContent = strings.start;
    toggle.classList.replace("btn-outline-danger", "btn-primary");
  };

  const start = async () => {
    try {
      stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}, audio: false});
    } catch (error) {
      stream = null;
      note.textContent = strings.camera_denied.replace("%(reason)s", error.message || error.name);
      return;
    }
    video.srcObject = stream;
    frame.classList.remove("d-none");
    toggle.textContent = strings.stop;
    toggle.classList.replace("btn-primary", "btn-outline-danger");
    note.textContent = "";
    await video.play().catch(() => {});
    frameTick();
  };

  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    toggle.disabled = false;
    toggle.addEventListener("click", () => (stream ? stop() : start()));
    document.addEventListener("visibilitychange", () => { if (document.hidden && stream) stop(); });
  } else {
    note.textContent = strings.no_camera;
  }
})();
