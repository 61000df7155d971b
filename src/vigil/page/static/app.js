// Vigil's page: plain JavaScript over the JSON API, relative URLs only. Everything shown is set with textContent.
"use strict";

const features = JSON.parse(document.getElementById("features").textContent);
const $ = (id) => document.getElementById(id);
const COLORS = ["#e63946", "#2a9d8f", "#e9c46a", "#457b9d", "#f4a261", "#8338ec", "#06d6a0", "#ff006e"];
const STATE_COLORS = { known: "#1e9e3e", unknown: "#e63946", uncertain: "#f0a500" };
const timers = {};

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.includes("-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c);
  return node;
}

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)vigil_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

// One call to the API; the session cookie goes along by itself, changes also carry the CSRF token.
async function api(path, options = {}) {
  const method = options.method || "GET";
  const headers = Object.assign({}, options.headers || {});
  if (method !== "GET" && csrf()) headers["X-CSRF-Token"] = csrf();
  let body = options.body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  const reply = await fetch(path, { method, headers, body, credentials: "same-origin" });
  const type = reply.headers.get("content-type") || "";
  const data = type.includes("json") ? await reply.json() : await reply.text();
  if (!reply.ok) {
    const message = (data && (data.error || data.detail)) || reply.statusText;
    const err = new Error(typeof message === "string" ? message : JSON.stringify(message));
    err.status = reply.status;  // what the caller may act on (409: the face matches someone: confirm, then force)
    err.data = data;
    throw err;
  }
  return data;
}

function formWith(file, fields = {}) {
  const form = new FormData();
  form.append("image", file, file.name || "image.jpg");
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return form;
}

// ---- keys ------------------------------------------------------------------------------------------------
function askKey() {
  $("login-error").textContent = "";
  $("login").showModal();
}

async function signIn(event) {
  event.preventDefault();
  try {
    await api("v2/ui/session", { method: "POST", json: { key: $("login-key").value } });
    location.reload();
  } catch (err) {
    $("login-error").textContent = "Refused: " + err.message;
  }
}

async function signOut() {
  await api("v2/ui/session", { method: "DELETE" });
  location.reload();
}

// ---- try an image --------------------------------------------------------------------------------------
function colorFor(label) {
  let h = 0;
  for (const ch of label) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return COLORS[h % COLORS.length];
}

function drawBoxes(canvas, bitmap, boxes) {
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 0, 0);
  const line = Math.max(2, Math.round(bitmap.width / 250));
  ctx.font = `${Math.max(12, line * 6)}px system-ui, sans-serif`;
  for (const b of boxes) {
    const [x0, y0, x1, y1] = b.box;
    ctx.lineWidth = line;
    ctx.strokeStyle = b.color;
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    const text = b.text;
    const w = ctx.measureText(text).width + 8, h = line * 6 + 6;
    const ty = y0 - h < 0 ? y0 : y0 - h;
    const tx = Math.max(0, Math.min(x0 - line / 2, canvas.width - w));  // the label stays inside the picture
    ctx.fillStyle = b.color;
    ctx.fillRect(tx, ty, w, h);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, tx + 4, ty + h - 5);
  }
  canvas.dataset.boxes = JSON.stringify(boxes);
  canvas.hidden = false;
}

function objectRows(result) {
  return (result.labels || []).map((l) => ({
    kind: "object", label: l.name, score: l.score, color: colorFor(l.name),
    box: [l.box.xmin, l.box.ymin, l.box.xmax, l.box.ymax], text: `${l.name} ${l.score.toFixed(2)}`,
  }));
}

function faceRows(faces) {
  return faces.map((f) => {
    const sim = f.similarity === null ? "" : ` ${f.similarity.toFixed(2)}`;
    const who = f.state === "known" ? f.name : f.state;
    return { kind: "face", label: who, state: f.state, score: f.similarity, color: STATE_COLORS[f.state],
             box: f.box, text: `${who}${sim}`, quality: f.quality };
  });
}

function listRows(rows) {
  const list = $("try-list");
  list.replaceChildren();
  if (!rows.length) list.append(el("li", { textContent: "nothing found" }));
  for (const r of rows) {
    const text = r.kind === "face"
      ? `face: ${r.label} (${r.state}${r.score === null ? "" : ", similarity " + r.score.toFixed(2)}` +
        `${r.quality !== "ok" ? ", " + r.quality : ""})`
      : `${r.label} ${r.score.toFixed(2)}`;
    list.append(el("li", { class: `det ${r.kind} ${r.state || ""}`, textContent: text,
                           dataset: { kind: r.kind, label: r.label, score: String(r.score) } }));
  }
}

function showExtra(key, settled) {
  const panel = $(`${key}-result`);
  if (!panel || !settled) return;
  panel.hidden = false;
  const answer = panel.querySelector(".answer");
  if (settled.status === "rejected") {
    answer.textContent = "failed: " + settled.reason.message;
    return;
  }
  const v = settled.value;
  panel.querySelector("pre").textContent = JSON.stringify(v, null, 2);
  if (v.count !== undefined) answer.textContent = `about ${Number(v.count).toFixed(1)} people`;
  else if (v.person !== undefined) answer.textContent = v.person ? `someone is there (${Number(v.score).toFixed(2)})` : "nobody";
  else answer.textContent = "";
  const heat = panel.querySelector("canvas");
  if (typeof v.heatmap === "string" && v.heatmap.startsWith("data:image/")) {
    const img = new Image();
    img.onload = () => { heat.width = img.width; heat.height = img.height; heat.getContext("2d").drawImage(img, 0, 0); heat.hidden = false; };
    img.src = v.heatmap;
  }
}

async function tryImage(file) {
  if (!file) return;
  $("try-status").textContent = `Running on ${file.name}…`;
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (err) {
    $("try-status").textContent = `${file.name}: not an image this browser can show`;
    return;
  }
  const post = (path) => api(path, { method: "POST", body: formWith(file) });
  const calls = [post("v2/detect"), features.faces ? post("v2/ui/faces") : null,
                 ...features.tasks.map((t) => post(t.path))];
  const [det, faces, ...others] = await Promise.allSettled(calls.map((c) => c || Promise.resolve(null)));
  if (det.status === "rejected") {
    $("try-status").textContent = "Refused: " + det.reason.message;
    return;
  }
  const faceList = faces.status === "fulfilled" && faces.value ? faces.value : [];
  const rows = [...objectRows(det.value), ...faceRows(faceList)];
  drawBoxes($("try-canvas"), bitmap, rows);
  listRows(rows);
  features.tasks.forEach((t, i) => showExtra(t.name, others[i]));
  const raw = { detect: det.value };
  if (features.faces) raw.faces = faces.status === "fulfilled" ? faces.value : { error: faces.reason.message };
  features.tasks.forEach((t, i) => { if (others[i].status === "fulfilled") raw[t.name] = others[i].value; });
  $("try-json").textContent = JSON.stringify(raw, null, 2);
  $("try-results").hidden = false;
  $("try-status").textContent = `${file.name}: ${det.value.labels.length} objects, ${faceList.length} faces`;
}

function dropZone(zone, input, handle) {
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    handle([...e.dataTransfer.files]);
  });
  input.addEventListener("change", () => { handle([...input.files]); input.value = ""; });
}
