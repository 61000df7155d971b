"""The best face of a person track, recognised (issue 22): a folder camera sliding over face_recognition's obama2.jpg
(vigil.registry.samples), a little soft at first, sharp in the middle, out of focus at the end; Obama enrolled from
obama.jpg in a real SQLite gallery; the real detector, tracker and face models through one Inline executor."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace

import cv2
import numpy as np
import pytest

from tests.conftest import jpeg
from tests.tracks.test_cli_track import VIGIL
from vigil.config.cameras import CameraConfig
from vigil.config.settings import VigilConfig
from vigil.events.camera_feed import CameraFeed
from vigil.events.sightings import SightingKeeper
from vigil.execute.executor import FACES
from vigil.execute.local import Inline
from vigil.faces.sightings import Sightings
from vigil.registry.samples import sample_path
from vigil.results import EventChange
from vigil.sources.frames import FolderSource
from vigil.tracks.faces import TrackFaces
from vigil.tracks.pipeline import TrackOptions, track_source

BLUR = [0.5, 0.55, 0.45, 0.0, 0.5, 2.5]  # Gaussian sigma per frame: frame 3 is the sharp one, frame 5 too soft
SHARP = BLUR.index(0.0)


@pytest.fixture(scope="module")
def faces_executor(store, tmp_path_factory):
    config = VigilConfig(faces={"gallery": str(tmp_path_factory.mktemp("trackfaces") / "g.sqlite3")})
    executor = Inline(config, store).setup()
    report = executor.call(FACES, "enroll", "Obama", [sample_path("obama.jpg")], None, deadline=float("inf"))
    assert report.samples == 1
    return executor


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    photo = cv2.cvtColor(cv2.imread(str(sample_path("obama2.jpg"))), cv2.COLOR_BGR2RGB)
    photo = cv2.resize(photo, (313, 600), interpolation=cv2.INTER_AREA)
    out = tmp_path_factory.mktemp("faceframes")
    for i, sigma in enumerate(BLUR):
        window = np.ascontiguousarray(photo[:, 2 * i:2 * i + 300])
        if sigma:
            window = cv2.GaussianBlur(window, (0, 0), sigma)
        (out / f"frame_{i:03d}.jpg").write_bytes(jpeg(window))
    return out


@pytest.fixture(scope="module")
def tracked(faces_executor, folder):
    """The track as seen to the last frame, then ended: (tracker faces, report, recognitions before the end, face)."""
    looking = TrackFaces(faces_executor, "door", look_every=1)
    report = track_source(faces_executor, FolderSource(folder), CameraConfig(), TrackOptions(labels=["person"]),
                          lambda frame, _scene, seen, _new: looking.observe(frame, seen))
    before = looking.recognitions
    ended = looking.ended(report.tracks[0].id) if report.tracks else None
    return looking, report, before, ended


def test_one_track_whose_best_face_is_the_sharp_frontal_one_recognised_once(tracked):
    looking, report, before, ended = tracked
    assert [t.label for t in report.tracks] == ["person"]
    track = report.tracks[0]
    assert track.face is not None and track.face.frame == SHARP != track.first_frame
    assert looking.looks == len(BLUR) and before == 0  # looked on every frame, recognised only at the end
    assert ended is not None and looking.recognitions == 1
    assert track.face.name == "Obama" and track.face.cluster_id is None
    found = ended[1]
    assert int(found.data["track_id"][0]) == track.id and str(found.data["name"][0]) == "Obama"
    x0, y0, x1, y1 = found.xyxy[0]
    bx0, by0, bx1, by1 = track.boxes[SHARP][2]
    assert bx0 - 1 <= x0 < x1 <= bx1 + 1 and by0 - 1 <= y0 < y1 <= by1 + 1  # in frame pixels, inside the person
    assert looking.ended(track.id) is None  # forgotten once ended


def test_the_best_face_was_a_choice_among_usable_faces(faces_executor, folder):
    """Several frames show a usable face (the choice is real); the sharp one scores highest, the softest none."""
    scores = []
    for path in sorted(folder.iterdir()):
        pixels = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        found = faces_executor.call(FACES, "best_face", pixels, deadline=float("inf"))
        scores.append(found[1] if found is not None else 0.0)
    assert sum(s > 0 for s in scores) >= 4 and scores[-1] == 0, scores
    assert int(np.argmax(scores)) == SHARP and scores[0] < scores[SHARP], scores


def test_a_live_camera_names_the_track_event_and_files_one_sighting(faces_executor, folder):
    """A `[cameras.door]` feed over the folder (a look every 3rd frame: frames 0 and 3): the first usable face is
    recognised at once (the event named while the person is there); frame 3's sharper face becomes the best but is
    not 1.25 times better, so it is not recognised again, at the end either; one sighting, with the track id."""
    gallery = faces_executor.recognizer.gallery
    keeper = SightingKeeper(faces_executor.config, gallery, None, "http://127.0.0.1")
    changes: list[EventChange] = []
    sighted = []

    def file(camera, t, face, event):
        sighted.append(event.track_id)
        keeper.observe(camera, t, face, lambda _name, _cluster: event)

    def copies(batch):  # as the event service's listeners get them: the feed goes on changing its open events
        changes.extend(EventChange(c.type, replace(c.event)) for c in batch)

    camera = CameraConfig(source=str(folder), motion_gate=False)
    feed = CameraFeed("door", camera, faces_executor, lambda *_: None, emit=copies, sighted=file)
    feed.run()
    assert feed.error is None and feed.faces is not None
    assert feed.faces.looks == 2 and feed.faces.recognitions == 1
    (track,) = [t for t in feed.report.tracks if t.label == "person"]  # a live camera tracks every label
    assert track.face.frame == SHARP and track.face.name == "Obama"
    kinds = [(c.type, c.event.track_id, c.event.name) for c in changes if c.event.track_id == track.id]
    assert kinds[0][:2] == ("new", track.id) and ("update", track.id, "Obama") in kinds
    assert kinds[-1] == ("end", track.id, "Obama") and sighted == [track.id]
    rows = [r for r in Sightings(gallery).rows() if r.camera == "door"]
    assert [(r.track_id, r.name, r.cluster) for r in rows] == [(track.id, "Obama", None)]
    assert rows[0].quality > 0


def test_the_event_service_stores_the_named_track_event_and_its_sighting(faces_executor, folder, tmp_path):
    """`vigil serve`'s event service: the feed's person event is stored named, and its sighting points at it."""
    from vigil.events.service import EventService

    config = faces_executor.config.model_copy(update={
        "cameras": {"porch": CameraConfig(source=str(folder), motion_gate=False)},
        "store": faces_executor.config.store.model_copy(update={"data_dir": tmp_path})})
    service = EventService(config, faces_executor).start()
    try:
        service.feeds[0].join(60)
        report = service.feeds[0].report
        (track,) = [t for t in report.tracks if t.label == "person"]
        (event,) = [e for e in service.log.query() if e.track_id == track.id]
        assert event.name == "Obama" and event.end is not None
        rows = [r for r in Sightings(faces_executor.recognizer.gallery).rows() if r.camera == "porch"]
        assert [(r.track_id, r.event_id, r.name) for r in rows] == [(track.id, event.id, "Obama")]
    finally:
        service.stop()


@pytest.fixture(scope="module")
def stranger_folder(tmp_path_factory):
    """Biden (face_recognition's biden.jpg, not enrolled) standing still for 3 frames."""
    photo = cv2.cvtColor(cv2.imread(str(sample_path("biden.jpg"))), cv2.COLOR_BGR2RGB)
    photo = cv2.resize(photo, (264, 600), interpolation=cv2.INTER_AREA)
    out = tmp_path_factory.mktemp("stranger")
    for i in range(3):
        (out / f"frame_{i:03d}.jpg").write_bytes(jpeg(np.ascontiguousarray(photo)))
    return out


def test_a_stranger_back_on_a_live_camera_is_announced_as_returning(faces_executor, stranger_folder):
    """Two visits of one track each (the visit gap made short): the first files the stranger's cluster and is no
    return; the second is announced as the cluster's second visit, with the track's event."""
    config = faces_executor.config
    short = config.model_copy(update={"faces": config.faces.model_copy(update={"visit_gap_s": 0.01})})
    keeper = SightingKeeper(short, faces_executor.recognizer.gallery, None, "http://127.0.0.1")
    said, clusters = [], []

    def file(camera, t, face, event):
        clusters.append(event.cluster_id)
        said.append(keeper.observe(camera, t, face, lambda _name, _cluster: event))

    for _ in range(2):
        feed = CameraFeed("gate", CameraConfig(source=str(stranger_folder), motion_gate=False), faces_executor,
                          lambda *_: None, emit=lambda _changes: None, sighted=file)
        feed.run()
        assert feed.error is None and feed.faces.recognitions == 1
    assert len(clusters) == 2 and clusters[0] is not None and clusters[0] == clusters[1]
    assert said[0] == [] and len(said[1]) == 1
    message = said[1][0]
    assert message["cluster"] == clusters[0] and message["visits"] == 2 and message["camera"] == "gate"


def test_vigil_track_faces_json(faces_executor, folder, tmp_path):
    """`vigil track --faces --json` as a user runs it; without --faces no track carries a face."""
    toml = tmp_path / "vigil.toml"
    toml.write_text(f'[faces]\ngallery = "{faces_executor.config.faces.gallery}"\n')
    done = subprocess.run([*VIGIL, "track", str(folder), "--labels", "person", "--faces", "--json",
                           "--config", str(toml)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (person,) = json.loads(done.stdout)["tracks"]
    assert person["name"] == "Obama" and "cluster" not in person and person["best_face"]["frame"] == SHARP
    assert len(person["best_face"]["box"]) == 4 and 0 < person["best_face"]["score"] <= 1
