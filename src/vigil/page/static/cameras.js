// Vigil's page, the Cameras view (issue 22): each live camera's latest frame with its tracks, zones, lines and masks,
// its events, and zones, lines and masks drawn by clicking points, checked by the server and given back as a
// [cameras.<name>] TOML snippet. app.js, views.js and live.js come first.
"use strict";

const SHAPE_COLORS = { zones: "#2a9d8f", lines: "#e9c46a", masks: "#6c757d" };
const cams = { list: [], picked: null, draft: null, points: [], image: null, imageKey: "" };

function cameraRow(c) {
  const tracks = c.tracks.length ? c.tracks.map((t) => `#${t.id} ${t.label}`).join(", ") : "no tracks now";
  const zones = Object.entries(c.counts.zones).map(([z, r]) =>
    `${z}: ${Object.entries(r.now).map(([l, n]) => `${n} ${l}`).join(", ") || "empty"}`);
  const lines = Object.entries(c.counts.lines).map(([l, n]) => `${l}: ${n.in} in, ${n.out} out`);
  const state = c.error ? `failed: ${c.error}` : c.online ? "online" : c.ended ? "ended" : "offline";
  return el("li", { class: `camera-row${c.name === cams.picked ? " picked" : ""}`,
                    dataset: { camera: c.name, online: String(c.online) }, onclick: () => pickCamera(c.name) },
    el("strong", { textContent: c.name }),
    el("span", { class: "state", textContent: ` ${c.kind} · ${state} · ` +
      (c.last_frame_time ? `frame ${c.frame} ${ago(c.last_frame_time)}` : "no frame yet") }),
    el("small", { class: "tracks", textContent: ` · ${tracks}` }),
    el("small", { class: "counts", textContent: [...zones, ...lines].length ? ` · ${[...zones, ...lines].join(" · ")}` : "" }));
}

async function refreshCameras() {
  const answer = await api("v2/cameras");
  cams.list = answer.cameras;
  if (!cams.picked && cams.list.length) cams.picked = cams.list[0].name;
  $("camera-list").replaceChildren(...cams.list.map(cameraRow));
  if (!cams.list.length) $("camera-list").append(el("li", { class: "status", textContent: "No live cameras here." }));
  const c = current();
  if (!c) return;
  if (cams.draft === null) cams.draft = { zones: c.zones, lines: c.lines, masks: c.masks };
  const key = `${c.name}@${c.last_frame_time}`;
  if (c.frame_url && key !== cams.imageKey) {
    const img = new Image();
    img.onload = () => { cams.image = img; cams.imageKey = key; drawCamera(); };
    img.src = `${c.frame_url}?t=${c.last_frame_time}`;
  } else drawCamera();
}

function current() {
  return cams.list.find((c) => c.name === cams.picked) || null;
}

function pickCamera(name) {
  if (name === cams.picked) return;
  Object.assign(cams, { picked: name, draft: null, points: [], image: null, imageKey: "" });
  $("camera-toml").textContent = "";
  $("camera-error").textContent = "";
  refreshCameras();
  loadCameraEvents();
}

function drawPolygon(ctx, points, color, fill, closed) {
  if (!points.length) return;
  ctx.beginPath();
  points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
  if (closed) ctx.closePath();
  if (fill) { ctx.fillStyle = fill; ctx.fill(); }
  ctx.strokeStyle = color;
  ctx.stroke();
  for (const [x, y] of points) ctx.fillRect(x - 3, y - 3, 6, 6);
}

function drawLine(ctx, [[x1, y1], [x2, y2]], color, name, scale) {
  drawPolygon(ctx, [[x1, y1], [x2, y2]], color, null, false);
  const mx = (x1 + x2) / 2, my = (y1 + y2) / 2, len = Math.hypot(x2 - x1, y2 - y1) || 1;
  const nx = -(y2 - y1) / len, ny = (x2 - x1) / len;  // image y down: the "in" side, right of first → second
  const arrow = 24 * scale;
  drawPolygon(ctx, [[mx, my], [mx + nx * arrow, my + ny * arrow]], color, null, false);
  ctx.fillText(`${name} → in`, mx + nx * arrow + 4, my + ny * arrow);
}

function drawCamera() {
  const c = current();
  const canvas = $("camera-canvas");
  if (!c || !c.width) { canvas.hidden = true; return; }
  canvas.width = c.width;
  canvas.height = c.height;
  const ctx = canvas.getContext("2d");
  const scale = Math.max(1, c.width / 640);
  ctx.lineWidth = 2 * scale;
  ctx.font = `${Math.round(13 * scale)}px system-ui, sans-serif`;
  if (cams.image) ctx.drawImage(cams.image, 0, 0, c.width, c.height);
  else { ctx.fillStyle = "#333"; ctx.fillRect(0, 0, c.width, c.height); }
  const d = cams.draft || { zones: {}, lines: {}, masks: {} };
  for (const [name, m] of Object.entries(d.masks)) drawPolygon(ctx, m, SHAPE_COLORS.masks, "#0008", true);
  for (const [name, z] of Object.entries(d.zones)) {
    drawPolygon(ctx, z.points, SHAPE_COLORS.zones, "#2a9d8f33", true);
    ctx.fillStyle = SHAPE_COLORS.zones;
    ctx.fillText(name, z.points[0][0] + 4, z.points[0][1] + 14 * scale);
  }
  for (const [name, l] of Object.entries(d.lines)) { ctx.fillStyle = SHAPE_COLORS.lines; drawLine(ctx, l.points, SHAPE_COLORS.lines, name, scale); }
  ctx.fillStyle = "#fff";
  drawPolygon(ctx, cams.points, "#fff", null, false);
  const boxes = c.tracks.map((t) => ({ box: t.box, color: colorFor(t.label), text: `#${t.id} ${t.label}` }));
  for (const b of boxes) {
    const [x0, y0, x1, y1] = b.box;
    ctx.strokeStyle = ctx.fillStyle = b.color;
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.fillText(b.text, x0 + 2, Math.max(12 * scale, y0 - 4));
  }
  canvas.dataset.tracks = JSON.stringify(c.tracks.map((t) => t.id));
  canvas.dataset.shapes = JSON.stringify({ zones: Object.keys(d.zones), lines: Object.keys(d.lines),
                                           masks: Object.keys(d.masks) });
  canvas.hidden = false;
}

function clickPoint(e) {
  const canvas = $("camera-canvas");
  const c = current();
  if (!c) return;
  const rect = canvas.getBoundingClientRect();
  const x = Math.round(((e.clientX - rect.left) * c.width) / rect.width);
  const y = Math.round(((e.clientY - rect.top) * c.height) / rect.height);
  cams.points.push([Math.min(Math.max(x, 0), c.width), Math.min(Math.max(y, 0), c.height)]);
  $("shape-points").textContent = `${cams.points.length} point${cams.points.length === 1 ? "" : "s"}: ` +
    cams.points.map(([px, py]) => `${px},${py}`).join(" ");
  drawCamera();
}

function addShape() {
  const kind = $("shape-kind").value, name = $("shape-name").value.trim();
  $("camera-error").textContent = "";
  if (!name) { $("camera-error").textContent = "Give the shape a name."; return; }
  const points = cams.points;
  if (kind === "zones") cams.draft.zones[name] = Object.assign({}, cams.draft.zones[name] || {}, { points });
  else if (kind === "lines") cams.draft.lines[name] = { points: points.slice(-2) };
  else cams.draft.masks[name] = points;
  cams.points = [];
  $("shape-points").textContent = "";
  drawCamera();
}

function removeShape() {
  const kind = $("shape-kind").value, name = $("shape-name").value.trim();
  delete cams.draft[kind][name];
  drawCamera();
}

async function saveShapes() {
  $("camera-error").textContent = "";
  $("camera-toml").textContent = "";
  $("camera-saved").textContent = "";
  try {
    const answer = await api(`v2/cameras/${encodeURIComponent(cams.picked)}/shapes`,
                             { method: "POST", json: cams.draft });
    $("camera-toml").textContent = answer.toml;
    $("camera-saved").textContent = answer.applied ? "Checked, and the running camera uses them now. " +
      "Paste this into the config file to keep them:" : "Checked (the camera is not running). Paste this into the config file:";
  } catch (err) {
    $("camera-error").textContent = err.message;
  }
}

async function loadCameraEvents() {
  if (!cams.picked || !features.events) return;
  const items = await api(`v2/events?${new URLSearchParams({ camera: cams.picked, limit: "20" })}`);
  $("camera-events").replaceChildren(...items.map((item) => el("li", { class: "event", dataset: { track: String(item.track_id) } },
    el("span", { textContent: `${new Date(item.start_time * 1000).toLocaleTimeString()} · ${item.label}` +
      (item.track_id !== undefined ? ` #${item.track_id}` : "") + ` · ${item.frames} frames` +
      (item.end_time ? "" : " · open") }))));
  if (!items.length) $("camera-events").append(el("li", { class: "status", textContent: "No events yet." }));
}

function startCameras() {
  const ok = features.session.admin;
  for (const p of $("view-cameras").querySelectorAll(".need-admin")) p.hidden = ok;
  if (!ok || !features.cameras) return;
  const tick = () => refreshCameras().then(loadCameraEvents)
    .catch((err) => { $("camera-error").textContent = "Could not read the cameras: " + err.message; });
  tick();
  timers.cameras = setInterval(tick, 2000);
}

$("tab-cameras").hidden = !features.cameras;
$("camera-canvas").addEventListener("click", clickPoint);
$("shape-add").addEventListener("click", addShape);
$("shape-remove").addEventListener("click", removeShape);
$("shape-undo").addEventListener("click", () => { cams.points.pop(); drawCamera(); });
$("shapes-save").addEventListener("click", saveShapes);
views.cameras = startCameras;
if (location.hash === "#cameras") show();
