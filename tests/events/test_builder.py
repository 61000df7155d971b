"""Events open, update and end per camera and label with the hold time; faces by name and stranger cluster."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.events.builder import EventBuilder, Sighting, face_sightings
from vigil.events.watch_tracks import WatchTracks
from vigil.results import Detections


def make_objects(names: list[str], scores: list[float]) -> Detections:
    boxes = [[10 * i, 10, 10 * i + 5, 20] for i in range(len(names))]
    return Detections(boxes, scores, np.arange(len(names)), {"class_name": np.array(names, dtype=object)})


def make_faces(names: list[str], clusters: list[int]) -> Detections:
    n = len(names)
    return Detections([[0, 0, 10, 10]] * n, [0.9] * n, np.zeros(n), {"name": np.array(names, dtype=object),
                                                                       "cluster_id": np.array(clusters)})


def person(count: int = 1, score: float = 0.8) -> Sighting:
    return Sighting("person", count, score, (0.0, 0.0, 1.0, 1.0))


def test_five_consecutive_frames_are_one_event_that_ends_after_the_hold():
    builder = EventBuilder(hold_s=30)
    changes = [c for t in range(5) for c in builder.observe("front", 100.0 + t, [person()])]
    assert [c.type for c in changes] == ["new"]
    assert builder.expire(104 + 29.9) == []
    (end,) = builder.expire(104 + 30)
    assert end.type == "end" and end.event.frames == 5 and end.event.count == 0 and end.event.end == 134
    assert [c.type for c in builder.observe("front", 200, [person()])] == ["new"]  # a later visit is a new event


@pytest.mark.parametrize(("second", "expected"), [
    (person(2), ["update"]),  # the count changed
    (person(1, 0.9), ["update"]),  # a clearly better score (and box, and snapshot)
    (person(1, 0.82), []),  # nothing worth saying
])
def test_an_open_event_updates_only_when_it_changes(second, expected):
    builder = EventBuilder(hold_s=30)
    builder.observe("front", 0, [person()])
    assert [c.type for c in builder.observe("front", 1, [second])] == expected


def test_cameras_and_labels_are_separate_events():
    builder = EventBuilder(hold_s=30)
    car = Sighting("car", 1, 0.7, (0.0, 0.0, 1.0, 1.0))
    changes = builder.observe("front", 0, [person(), car]) + builder.observe("back", 0, [person()])
    assert sorted((c.event.camera, c.event.label) for c in changes) == [("back", "person"), ("front", "car"),
                                                                        ("front", "person")]


def test_face_sightings_group_names_and_stranger_clusters():
    faces = make_faces(["alice", "unknown", "unknown", "uncertain", "alice"], [-1, 7, 8, -1, -1])
    found = {(s.label, s.name, s.cluster_id): s for s in face_sightings(faces)}
    assert found[("face", "alice", None)].count == 2
    assert ("face", "unknown", 7) in found and ("face", "unknown", 8) in found
    assert not any(name == "uncertain" for _, name, _ in found)  # a guess is not an event
    assert face_sightings(Detections.empty()) == face_sightings(None) == []


def test_default_event_labels_are_people_vehicles_and_animals_in_the_detectors_spelling(store):
    from vigil.config.events import EventsConfig
    from vigil.errors import ConfigError
    from vigil.registry.labels import in_detector_terms

    coco = store.labels("yolov4_tiny.coco")  # Darknet's coco.names: "motorbike", not COCO's "motorcycle"
    wanted = in_detector_terms(EventsConfig().wanted(), coco)
    assert set(wanted) == {"person", "bicycle", "car", "motorbike", "bus", "truck", "bird", "cat", "dog", "horse"}
    assert EventsConfig(labels="all").wanted() == () == EventsConfig(labels=["all"]).wanted()
    assert in_detector_terms((), coco) == ()
    with pytest.raises(ConfigError, match="no label 'persn'; did you mean person"):
        in_detector_terms(("persn",), coco)
    tracks = WatchTracks(hold_s=30, gap_s=10, labels=wanted, cameras={})
    _, changes = tracks.observe("front", 0.0, 0.0, make_objects(["tie", "person", "clock", "motorbike"],
                                                               [0.9, 0.8, 0.7, 0.6]), "f.jpg")
    assert sorted(c.event.label for c in changes) == ["motorbike", "person"]
