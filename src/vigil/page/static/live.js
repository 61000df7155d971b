// Vigil's page, the live views (the event log, models and status), the tabs and the start; app.js and views.js
// come first.
"use strict";

// ---- events: the event log, live over Server-Sent Events ---------------------------------------------------------
const EVENTS_KEPT = 200;
const events = new Map();  // id → event JSON, newest shown first
let stream = null;

function filters() {
  return { camera: $("filter-camera").value, label: $("filter-label").value, name: $("filter-name").value };
}

function matches(item, f) {
  return (!f.camera || item.camera === f.camera) && (!f.label || item.label === f.label) &&
         (!f.name || item.name === f.name);
}

function whoOrWhat(item) {
  if (item.label !== "face") return item.count > 1 || item.max_count > 1 ? `${item.label} ×${item.max_count}` : item.label;
  return item.name === "unknown" ? `stranger #${item.cluster_id ?? "?"}` : item.name || "face";
}

function eventRow(item) {
  const when = new Date(item.start_time * 1000);
  const state = item.end_time ? `ended ${new Date(item.end_time * 1000).toLocaleTimeString()}` : "open";
  const summary = el("summary", {},
    el("span", { class: "camera", textContent: item.camera }),
    el("span", { class: "what", textContent: whoOrWhat(item) }),
    el("time", { dateTime: when.toISOString(), textContent: when.toLocaleString() }),
    el("small", { textContent: `${item.frames} frame${item.frames === 1 ? "" : "s"}, ${state}` }));
  if (item.snapshot) {  // the server's own snapshot, by a relative URL (public_url may name another host)
    summary.prepend(el("img", { src: `v2/events/${item.id}/snapshot.jpg`, alt: `snapshot of event ${item.id}`,
                                class: "snapshot" }));
  }
  const row = el("details", { class: "event", dataset: { id: item.id, camera: item.camera, label: item.label,
                                                         name: item.name || "" } }, summary);
  row.addEventListener("toggle", () => row.open && openFrames(row, item));
  return el("li", {}, row);
}

// An event opened: its frames, each the watched file as the camera wrote it (while the recorder keeps it).
const frameBoxes = new Map();  // event id → its loaded frames, kept across re-renders (live updates)

async function openFrames(row, item) {
  if (row.querySelector(".frames")) return;
  if (frameBoxes.has(item.id)) {
    row.append(frameBoxes.get(item.id));
    return;
  }
  const box = el("div", { class: "frames", textContent: "loading frames…" });
  frameBoxes.set(item.id, box);
  row.append(box);
  try {
    const detail = await api(`v2/events/${item.id}`);
    box.replaceChildren(...detail.frame_list.map((f) => el("figure", {},
      el("img", { src: `v2/events/${item.id}/frames/${f.number}`, alt: `frame ${f.number}`, loading: "lazy",
                  onerror: (e) => { e.target.replaceWith(el("p", { class: "status", textContent: "file gone" })); } }),
      el("figcaption", { textContent: `${new Date(f.time * 1000).toLocaleTimeString()} · ${f.count} · ` +
                                      f.file.split("/").pop() }))));
    if (!detail.frame_list.length) box.textContent = "No frames listed for this event (logged before frames were kept).";
  } catch (err) {
    box.textContent = "Could not load the frames: " + err.message;
    frameBoxes.delete(item.id);
  }
}

function fillChoices(select, values) {
  const chosen = select.value;
  const have = new Set([...select.options].map((o) => o.value));
  for (const v of [...values].sort()) if (v && !have.has(v)) select.append(el("option", { value: v, textContent: v }));
  select.value = chosen;
}

function renderEvents() {
  const f = filters();
  const shown = [...events.values()].filter((e) => matches(e, f))
    .sort((a, b) => b.start_time - a.start_time || b.id - a.id).slice(0, EVENTS_KEPT);
  const open = new Set([...document.querySelectorAll("#events details[open]")].map((d) => d.dataset.id));
  const rows = shown.map(eventRow);
  $("events").replaceChildren(...rows);
  for (const r of rows) if (open.has(r.firstChild.dataset.id)) r.firstChild.open = true;
  if (!rows.length) $("events").append(el("li", { class: "status", textContent: "No events match." }));
  fillChoices($("filter-camera"), new Set([...events.values()].map((e) => e.camera)));
  fillChoices($("filter-label"), new Set([...events.values()].map((e) => e.label)));
  fillChoices($("filter-name"), new Set([...events.values()].map((e) => e.name).filter((n) => n)));
}

async function loadEvents() {
  const f = filters();
  const query = new URLSearchParams({ limit: String(EVENTS_KEPT) });
  for (const [k, v] of Object.entries(f)) if (v) query.set(k, v);
  const items = await api("v2/events?" + query);
  for (const item of items) events.set(item.id, item);
  renderEvents();
}

function listen() {
  if (stream) return;
  stream = new EventSource("v2/events/stream");
  const take = (m) => {
    const item = JSON.parse(m.data);
    events.set(item.id, Object.assign(events.get(item.id) || {}, item));
    renderEvents();
  };
  for (const type of ["new", "update", "end"]) stream.addEventListener(type, take);
  stream.onopen = () => { $("events-source").dataset.live = "yes"; };
}

function startEvents() {
  if (!features.session.user) return;
  if (!features.events || !features.event_log) {  // no watcher here, no log written yet: the page's own recognitions
    $("events-source").textContent = "No event log yet: events come from watched folders ([watch] dirs for " +
      "vigil serve, or vigil watch). Meanwhile, recognitions made through this page:";
    pollRecent();
    timers.events = setInterval(pollRecent, 5000);
    return;
  }
  $("events-source").textContent = features.events_stream
    ? "The event log, live: new events appear as they happen."
    : "The event log, refreshed every 10 s.";
  loadEvents().catch((err) => { $("events-source").textContent = "Could not read the event log: " + err.message; });
  if (features.events_stream) listen();  // from this server's watcher, or from the log another process writes
  else timers.events = setInterval(loadEvents, 10000);
}

async function pollRecent() {
  const items = await api("v2/ui/recent");
  $("events").replaceChildren(...items.map((item) => {
    const names = item.faces.map((f) => f.state === "known" ? f.name : f.state);
    const row = el("li", { class: "event" }, el("span", { textContent:
      `${new Date(item.time * 1000).toLocaleTimeString()} · ${item.camera} · ${names.join(", ") || "no face"}` }));
    if (item.snapshot) row.prepend(el("img", { src: item.snapshot, alt: "snapshot", class: "snapshot" }));
    return row;
  }));
}

// ---- models and status ----------------------------------------------------------------------------------------
function ago(seconds) {
  const s = Math.max(0, Math.round(Date.now() / 1000 - seconds));
  return s < 90 ? `${s} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

function cameraCard(c) {
  const card = el("div", { class: "card camera", dataset: { camera: c.name } },
    el("h3", {}, el("span", { textContent: c.name }),
       el("small", { textContent: c.last_frame_time ? `last frame ${ago(c.last_frame_time)}` : "no frame seen here" })));
  if (c.thumbnail) card.append(el("img", { src: `${c.thumbnail}?t=${c.last_frame_time}`, alt: `${c.name} last frame`,
                                           class: "last-frame" }));
  const counts = Object.entries(c.frames).map(([k, v]) => `${v} ${k}`).join(", ");
  card.append(el("p", { class: "status", textContent: (c.last_frame ? new Date(c.last_frame).toLocaleString() +
                                                       " · " : "") + (counts || "no frames counted") }));
  return card;
}

function statusRows(s) {
  const m = s.mqtt;
  const mqtt = !m.configured ? "off ([mqtt] host not set)" : !m.running ? `${m.broker}: not used here (no watcher)`
    : m.connected ? `connected to ${m.broker}` : `not connected (retrying ${m.broker})`;
  const e = s.errors;
  return [["Health", s.ready ? "ready" : "loading"], ["Accepting", s.accepting ? "yes" : "no (queues full)"],
          ["MQTT", mqtt], ["Watcher queue", s.watch_queue === null ? "no watcher here" : `${s.watch_queue} frames`],
          ["Requests", String(s.requests)],
          ["Errors", `${e.http_5xx} server errors, ${e.http_4xx} refused requests, ${e.frames_failed} failed frames, ` +
                     `${e.frames_dropped} dropped frames`], ["Version", s.version]];
}

async function refreshStatus() {
  const s = await api("v2/status");
  $("status").replaceChildren(...statusRows(s).flatMap(([k, v]) =>
    [el("dt", { textContent: k }), el("dd", { textContent: v, dataset: { key: k } })]));
  $("cameras").replaceChildren(...s.cameras.map(cameraCard));
  if (!s.cameras.length) $("cameras").append(el("p", { class: "status", textContent: "No watched cameras." }));
  $("models").tBodies[0].replaceChildren(...s.models.map((r) => el("tr", { dataset: { task: r.task } },
    el("td", { textContent: r.task }), el("td", { textContent: r.model }), el("td", { textContent: String(r.runs) }),
    el("td", { textContent: r.mean_ms === null ? "–" : `${r.mean_ms} ms` + (r.mean_batch > 1 ? ` (batch ${r.mean_batch})` : "") }),
    el("td", { textContent: r.images_per_s === null ? "–" : String(r.images_per_s) }),
    el("td", { textContent: String(r.queue) }), el("td", { textContent: String(r.rejected) }))));
}

function startStatus() {
  const ok = features.session.admin;
  for (const p of $("view-models").querySelectorAll(".need-admin")) p.hidden = ok;
  if (!ok || !features.status) return;
  refreshStatus();
  timers.status = setInterval(refreshStatus, 3000);
}

// ---- tabs ----------------------------------------------------------------------------------------------------
const views = { try: null, people: loadPeople, strangers: loadStrangers, events: startEvents, models: startStatus };

function show() {
  const name = (location.hash || "#try").slice(1);
  const view = views.hasOwnProperty(name) ? name : "try";
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== "view-" + view;
  for (const a of document.querySelectorAll("#tabs a")) a.classList.toggle("active", a.dataset.view === view);
  for (const t of Object.values(timers)) clearInterval(t);
  if (stream && view !== "events") { stream.close(); stream = null; }
  if (views[view]) views[view]();
}

// ---- start ---------------------------------------------------------------------------------------------------
$("login-form").addEventListener("submit", signIn);
$("logout").addEventListener("click", signOut);
$("logout").hidden = !features.session.active;
for (const b of document.querySelectorAll(".sign-in")) b.addEventListener("click", askKey);
for (const id of ["filter-camera", "filter-label", "filter-name"]) {
  $(id).addEventListener("change", () => { renderEvents(); if (features.event_log) loadEvents(); });
}
$("enrol-name").addEventListener("input", enrolReset);
dropZone($("try-drop"), $("try-file"), (files) => tryImage(files[0]));
dropZone($("enrol-drop"), $("enrol-files"), enrolFiles);
window.addEventListener("hashchange", show);
if ((features.keys.api_key && !features.session.active)) askKey();
show();
