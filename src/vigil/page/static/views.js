// Vigil's page, the managing views (people, strangers, events, models) and the start; app.js comes first.
"use strict";

// ---- people --------------------------------------------------------------------------------------------
const OUTCOMES = { added: "face found, enrolled", duplicate: "duplicate (already enrolled)", "no face": "no face found",
                   "too small": "face too small", blurry: "face too blurry", choose: "several faces: pick one" };

function adminOnly(view) {
  const ok = features.session.admin;
  for (const p of view.querySelectorAll(".need-admin")) p.hidden = ok;
  if (ok && !features.faces && !view.querySelector(".no-faces")) {
    view.append(el("p", { class: "no-faces status", textContent: "Face recognition is not available on this server." }));
  }
  return ok;
}

async function loadPeople() {
  const view = $("view-people");
  $("enrol-form").hidden = !adminOnly(view) || !features.faces;
  if (!features.session.admin || !features.faces) return;
  const people = await api("v2/ui/people");
  const box = $("people");
  box.replaceChildren();
  if (!people.length) box.append(el("p", { textContent: "Nobody enrolled yet: drop a photo above." }));
  for (const p of people) box.append(personCard(p));
}

function personCard(person) {
  const thumbs = el("div", { class: "thumbs" });
  for (const s of person.samples) {
    thumbs.append(el("div", { class: "thumb" },
      el("img", { src: `v2/samples/${s.id}/face.jpg`, alt: `${person.name} sample ${s.id}`, title: s.source }),
      el("div", { class: "actions" },
        el("button", { type: "button", textContent: "✕", title: "delete this sample",
                       onclick: () => change(`v2/samples/${s.id}`, { method: "DELETE" }, loadPeople) }),
        el("button", { type: "button", textContent: "not them", title: "this face is not " + person.name,
                       onclick: () => change(`v2/samples/${s.id}/reject`, { method: "POST" }, loadPeople) }))));
  }
  const rename = el("input", { value: person.name, "aria-label": "new name", size: 10 });
  const path = "v2/gallery/" + encodeURIComponent(person.name);
  return el("div", { class: "card person", dataset: { name: person.name } },
    el("h3", {}, el("span", { textContent: person.name }),
       el("small", { textContent: `${person.samples.length} sample${person.samples.length === 1 ? "" : "s"}` })),
    thumbs,
    el("div", { class: "actions-row" }, rename,
       el("button", { type: "button", textContent: "Rename",
                      onclick: () => change(path, { method: "PATCH", json: { name: rename.value } }, loadPeople) }),
       el("button", { type: "button", class: "danger", textContent: "Delete",
                      onclick: () => confirm(`Forget ${person.name}?`) &&
                        change(path, { method: "DELETE" }, loadPeople) })));
}

async function change(path, options, reload) {
  try {
    await api(path, options);
  } catch (err) {
    alert(err.message);
  }
  reload();
}

async function enrolFiles(files) {
  const name = $("enrol-name").value.trim();
  if (!name) {
    $("enrol-name").reportValidity();
    return;
  }
  for (const file of files) {
    const row = el("li", { textContent: `${file.name}: enrolling…`, class: "enrol" });
    $("enrol-results").prepend(row);
    try {
      let result = await api("v2/ui/enroll/" + encodeURIComponent(name), { method: "POST", body: formWith(file) });
      if (result.outcome === "choose") {
        row.textContent = `${file.name}: ${OUTCOMES.choose}`;
        const box = await pickFace(file, result.faces.filter((f) => f.quality === "ok"));
        result = await api("v2/ui/enroll/" + encodeURIComponent(name),
                           { method: "POST", body: formWith(file, { box: box.join(",") }) });
      }
      row.textContent = `${file.name}: ${OUTCOMES[result.outcome] || result.outcome}`;
      row.dataset.outcome = result.outcome;
    } catch (err) {
      row.textContent = `${file.name}: ${err.message}`;
      row.dataset.outcome = "error";
    }
  }
  loadPeople();
}

// Shows the photo with its usable faces; resolves with the box of the face clicked.
async function pickFace(file, faces) {
  const bitmap = await createImageBitmap(file);
  const canvas = $("choose-canvas");
  drawBoxes(canvas, bitmap, faces.map((f, i) => ({ box: f.box, color: COLORS[i % COLORS.length],
                                                  text: `face ${i + 1}`, kind: "choice" })));
  $("enrol-choose").hidden = false;
  return new Promise((resolve) => {
    canvas.onclick = (e) => {
      const r = canvas.getBoundingClientRect();
      const x = (e.clientX - r.left) * canvas.width / r.width, y = (e.clientY - r.top) * canvas.height / r.height;
      const hit = faces.find((f) => x >= f.box[0] && x <= f.box[2] && y >= f.box[1] && y <= f.box[3]);
      if (!hit) return;
      canvas.onclick = null;
      $("enrol-choose").hidden = true;
      resolve(hit.box);
    };
  });
}

// ---- strangers --------------------------------------------------------------------------------------------
async function loadStrangers() {
  if (!adminOnly($("view-strangers")) || !features.faces) return;
  const [clusters, people] = await Promise.all([api("v2/strangers"), api("v2/gallery")]);
  const box = $("strangers");
  box.replaceChildren();
  if (!clusters.length) box.append(el("p", { textContent: "No unknown faces seen yet." }));
  for (const c of clusters) box.append(clusterCard(c, people));
  loadVisits();  // visits.js
}

function clusterCard(cluster, people) {
  const name = el("input", { placeholder: "name", "aria-label": "name this person", size: 10 });
  const merge = el("select", { "aria-label": "merge into" },
    el("option", { value: "", textContent: "merge into…" }),
    ...people.map((p) => el("option", { value: p.name, textContent: p.name })));
  const path = `v2/strangers/${cluster.id}`;
  const named = (who) => who && change(path + "/name", { method: "POST", json: { name: who } }, loadStrangers);
  return el("div", { class: "card stranger", dataset: { cluster: cluster.id } },
    el("h3", {}, el("span", { textContent: `Stranger #${cluster.id}` }),
       el("small", { textContent: `${cluster.sightings} sightings, ${cluster.faces} faces` })),
    el("div", { class: "thumbs" }, ...cluster.face_ids.map((id) => el("div", { class: "thumb" },
      el("img", { src: `v2/strangers/faces/${id}/face.jpg`, alt: `stranger face ${id}` })))),
    el("div", { class: "actions-row" }, name,
       el("button", { type: "button", textContent: "Name", onclick: () => named(name.value.trim()) })),
    el("div", { class: "actions-row" }, merge,
       el("button", { type: "button", textContent: "Merge", onclick: () => named(merge.value) }),
       el("button", { type: "button", class: "danger", textContent: "Dismiss",
                      onclick: () => change(path, { method: "DELETE" }, loadStrangers) })));
}

// ---- events ------------------------------------------------------------------------------------------------
let stream = null;
const seen = [];

function eventRow(item) {
  const when = new Date((item.time || item.start_time || Date.now() / 1000) * 1000).toLocaleTimeString();
  const camera = item.camera || item.source || "";
  const names = item.faces ? item.faces.map((f) => f.state === "known" ? f.name : f.state)
                           : [item.name || item.label || item.type || "event"];
  const row = el("li", { class: "event", dataset: { camera, names: names.join(" ") } },
                 el("span", { textContent: `${when} · ${camera || "?"} · ${names.join(", ") || "no face"}` }));
  if (typeof item.snapshot === "string" && !/^[a-z]+:|^\/\//i.test(item.snapshot)) {  // the server's own only
    row.prepend(el("img", { src: item.snapshot, alt: "snapshot", class: "snapshot" }));
  }
  return row;
}

function renderEvents() {
  const cam = $("filter-camera").value.toLowerCase(), who = $("filter-name").value.toLowerCase();
  const list = $("events");
  list.replaceChildren(...seen.map(eventRow).filter((r) =>
    r.dataset.camera.toLowerCase().includes(cam) && r.dataset.names.toLowerCase().includes(who)));
}

async function pollEvents(path) {
  const items = await api(path);
  seen.splice(0, seen.length, ...(Array.isArray(items) ? items : items.events || []));
  renderEvents();
}

function startEvents() {
  if (!features.session.user) return;
  if (features.events_stream) {
    $("events-source").textContent = "Live (server-sent events).";
    if (stream) return;
    stream = new EventSource("v2/events/stream");
    stream.onmessage = (m) => { seen.unshift(JSON.parse(m.data)); seen.length = Math.min(seen.length, 200); renderEvents(); };
    return;
  }
  const path = features.events ? "v2/events" : "v2/ui/recent";
  $("events-source").textContent = features.events ? "The event log, refreshed every 5 s."
    : "Recent recognitions made through this page (the event log is not part of this server).";
  pollEvents(path);
  timers.events = setInterval(() => pollEvents(path), 5000);
}

// ---- models and status ---------------------------------------------------------------------------------------
let last = null;

async function refreshStatus() {
  const s = await api("v2/ui/status");
  const now = performance.now();
  const rate = last ? ((s.requests - last.requests) / ((now - last.at) / 1000)).toFixed(2) : "…";
  last = { requests: s.requests, at: now };
  const rows = [["Health", s.ready ? "ready" : "loading"], ["Accepting", s.accepting ? "yes" : "no (queue full)"],
                ["Requests/s", rate], ["Requests", String(s.requests)],
                ...Object.entries(s.queue).map(([m, d]) => [`Queue ${m}`, String(d)]),
                ...Object.entries(s.model_ms).map(([m, ms]) => [`Run ${m}`, `${ms} ms`])];
  $("status").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: v })]));
}

async function startStatus() {
  if (!features.session.user) return;
  refreshStatus();
  timers.status = setInterval(refreshStatus, 3000);
  const models = await api("v2/ui/models");
  $("models").tBodies[0].replaceChildren(...models.map((m) => el("tr", { class: m.serving ? "serving" : "" },
    el("td", { textContent: m.name + (m.serving ? " (serving)" : "") }), el("td", { textContent: m.task }),
    el("td", { textContent: m.state }),
    el("td", { textContent: m.measured_ms !== null ? `${m.measured_ms} ms here` + (m.speed ? `; ${m.speed}` : "") : m.speed }),
    el("td", { class: "source", textContent: m.sources.join("\n") }))));
}

// ---- tabs ----------------------------------------------------------------------------------------------
const views = { try: null, people: loadPeople, strangers: loadStrangers, events: startEvents, models: startStatus };

function show() {
  const name = (location.hash || "#try").slice(1);
  const view = views.hasOwnProperty(name) ? name : "try";
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== "view-" + view;
  for (const a of document.querySelectorAll("#tabs a")) a.classList.toggle("active", a.dataset.view === view);
  for (const t of Object.values(timers)) clearInterval(t);
  if (views[view]) views[view]();
}

// ---- start ---------------------------------------------------------------------------------------------------
$("login-form").addEventListener("submit", signIn);
$("logout").addEventListener("click", signOut);
$("logout").hidden = !features.session.active;
for (const b of document.querySelectorAll(".sign-in")) b.addEventListener("click", askKey);
$("filter-camera").addEventListener("input", renderEvents);
$("filter-name").addEventListener("input", renderEvents);
dropZone($("try-drop"), $("try-file"), (files) => tryImage(files[0]));
dropZone($("enrol-drop"), $("enrol-files"), enrolFiles);
window.addEventListener("hashchange", show);
if ((features.keys.api_key && !features.session.active)) askKey();
show();
