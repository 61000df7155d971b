// Vigil's page, the Strangers tab's visits and face search (issue 25); app.js and views.js come first.
"use strict";

const CAMERA_COLORS = {};

function cameraColor(camera) {
  if (!(camera in CAMERA_COLORS)) CAMERA_COLORS[camera] = COLORS[Object.keys(CAMERA_COLORS).length % COLORS.length];
  return CAMERA_COLORS[camera];
}

function when(t) {
  return new Date(t * 1000).toLocaleString();
}

// Visits per person and stranger cluster on one timeline: a lane each, a mark per visit, coloured by camera.
async function loadVisits() {
  const panel = $("visits-panel");
  panel.hidden = !features.session.admin || !features.faces;
  if (panel.hidden) return;
  const entries = await api("v2/faces/visits?since=30d");
  const box = $("visits");
  box.replaceChildren();
  if (!entries.length) {
    box.append(el("p", { textContent: "No visits yet: faces on watched cameras appear here." }));
    return;
  }
  const start = Math.min(...entries.map((e) => e.first_seen));
  const span = Math.max(Date.now() / 1000 - start, 1);
  for (const e of entries) box.append(visitLane(e, start, span));
}

function visitLane(entry, start, span) {
  const who = entry.name || `Stranger #${entry.cluster}`;
  const lane = el("div", { class: "lane" });
  for (const v of entry.timeline) {
    const mark = el("a", { class: "visit", href: `v2/faces/sightings/${v.best_face}/face.jpg`, target: "_blank",
                           title: `${v.camera}: ${when(v.start)} – ${when(v.end)}, ${v.sightings} sightings` });
    mark.style.left = `${(100 * (v.start - start)) / span}%`;
    mark.style.width = `max(4px, ${(100 * (v.end - v.start)) / span}%)`;
    mark.style.background = cameraColor(v.camera);
    lane.append(mark);
  }
  return el("div", { class: "visits-row", dataset: { who } },
    el("img", { src: `v2/faces/sightings/${entry.best_face.sighting}/face.jpg`, alt: `best face of ${who}` }),
    el("div", {},
      el("strong", { textContent: who }),
      el("small", { textContent: ` ${entry.visits} visit${entry.visits === 1 ? "" : "s"}, last ${when(entry.last_seen)}, `
                                 + entry.cameras.join(", ") }),
      lane));
}

// Drop a photo: when and where each of its faces was seen, newest first.
async function searchFaces(files) {
  const out = $("search-results");
  out.replaceChildren();
  if (!files.length) return;
  let answer;
  try {
    answer = await api("v2/faces/search", { method: "POST", body: formWith(files[0]) });
  } catch (err) {
    out.append(el("p", { class: "error", textContent: err.message }));
    return;
  }
  if (answer.message) out.append(el("p", { class: "status", textContent: answer.message }));
  answer.faces.forEach((face, k) => {
    const rows = face.sightings.map((s) => el("li", {},
      el("img", { src: `v2/faces/sightings/${s.sighting}/face.jpg`, alt: "sighting", class: "mini" }),
      el("span", { textContent: `${when(s.time)} · ${s.camera} · ${s.name || "stranger #" + s.cluster} · `
                                + `similarity ${s.similarity.toFixed(2)}` })));
    out.append(el("h4", { textContent: `Face ${k + 1}: ${face.sightings.length ? face.sightings.length + " sightings"
                                                                                : "never seen"}` }),
               el("ul", { class: "rows found" }, ...rows));
  });
}

document.addEventListener("DOMContentLoaded", () => dropZone($("search-drop"), $("search-file"), searchFaces));
