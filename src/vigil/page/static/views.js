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

function enrolReset() {
  $("enrol-error").textContent = "";
  $("enrol-results").replaceChildren();
  $("enrol-choose").hidden = true;
}

async function enrolFiles(files) {
  const name = $("enrol-name").value.trim();
  $("enrol-error").textContent = "";
  if (!name) {
    $("enrol-error").textContent = `Type the person's name first, then choose the photo${files.length === 1 ? "" : "s"} again.`;
    $("enrol-name").focus();
    return;
  }
  for (const file of files) {
    const row = el("li", { textContent: `${file.name}: enrolling…`, class: "enrol" });
    $("enrol-results").prepend(row);
    await enrolOne(name, file, row, {});
  }
  loadPeople();
}

// One photo: several faces → the user picks one; a face that matches someone else → the message naming them and a
// button that enrols it anyway (the same photo again with force=true).
async function enrolOne(name, file, row, fields) {
  const path = "v2/ui/enroll/" + encodeURIComponent(name);
  try {
    let result = await api(path, { method: "POST", body: formWith(file, fields) });
    if (result.outcome === "choose") {
      row.textContent = `${file.name}: ${OUTCOMES.choose}`;
      const box = await pickFace(file, result.faces.filter((f) => f.quality === "ok"));
      fields = Object.assign({}, fields, { box: box.join(",") });
      result = await api(path, { method: "POST", body: formWith(file, fields) });
    }
    row.textContent = `${file.name}: ${OUTCOMES[result.outcome] || result.outcome}`;
    row.dataset.outcome = result.outcome;
  } catch (err) {
    // a refusal names the file itself (the upload's name is its label): once, not twice
    row.textContent = err.message.startsWith(`${file.name}: `) ? err.message : `${file.name}: ${err.message}`;
    row.dataset.outcome = "error";
    if (err.status === 409 && err.data && err.data.matches) {
      row.dataset.outcome = "matches";
      row.dataset.matches = err.data.matches;
      row.append(" ", el("button", { type: "button", class: "danger force", textContent: `Enrol as ${name} anyway`,
        onclick: async () => {
          row.textContent = `${file.name}: enrolling anyway…`;
          delete row.dataset.matches;
          await enrolOne(name, file, row, Object.assign({}, fields, { force: "true" }));
          loadPeople();
        } }));
    }
  }
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
