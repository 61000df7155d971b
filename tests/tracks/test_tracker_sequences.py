"""The tracker on alarm frames (issue 22): with `every_detection` no detection goes without a track — ByteTrack
alone starts a track mid-stream only when it is seen twice — and a restart after a gap forgets ByteTrack's state
while ids go on counting. Boxes are given (the detector is tested elsewhere); ByteTrack is the real one."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.results import CLASS_NAME, Detections
from vigil.tracks.tracker import Tracker


def people(*boxes: tuple[float, float, float, float], score: float = 0.9) -> Detections:
    n = len(boxes)
    return Detections(np.array(boxes, dtype=np.float64).reshape(-1, 4), np.full(n, score), np.zeros(n, np.int64),
                      {CLASS_NAME: np.array(["person"] * n, dtype=object)})


WALKER = [(10.0 * i, 0.0, 10.0 * i + 50, 100.0) for i in range(4)]
NEWCOMER = (400.0, 0.0, 450.0, 100.0)


def ids(tracker: Tracker, frame: int, detections: Detections) -> list[int]:
    return sorted(t.id for t in tracker.update(frame, frame * 0.5, detections))


@pytest.mark.parametrize(("every_detection", "newcomer_ids"), [
    (False, []),  # ByteTrack waits for a second sighting: a one-frame newcomer gets no track
    (True, [2]),  # the watcher's tracker: it gets one at once
])
def test_a_newcomer_seen_once_mid_sequence(every_detection, newcomer_ids):
    tracker = Tracker(2.0, every_detection=every_detection)
    assert ids(tracker, 0, people(WALKER[0])) == [1]
    seen = ids(tracker, 1, people(WALKER[1], NEWCOMER))
    assert seen == [1, *newcomer_ids]


def test_a_provisional_track_continues_as_the_track_bytetrack_confirms():
    tracker = Tracker(2.0, every_detection=True)
    ids(tracker, 0, people(WALKER[0]))
    assert ids(tracker, 1, people(WALKER[1], NEWCOMER)) == [1, 2]
    assert ids(tracker, 2, people(WALKER[2], (405.0, 0.0, 455.0, 100.0))) == [1, 2]  # confirmed: the same id
    assert ids(tracker, 3, people(WALKER[3], (410.0, 0.0, 460.0, 100.0))) == [1, 2]
    assert len(tracker.tracks[2].boxes) == 3


def test_a_weak_detection_that_never_starts_a_bytetrack_track_keeps_one_provisional_id():
    tracker = Tracker(2.0, every_detection=True)
    ids(tracker, 0, people(WALKER[0]))
    weak = [ids(tracker, i, people(NEWCOMER, score=0.3)) for i in range(1, 4)]  # below ByteTrack's start bar
    assert weak == [[2], [2], [2]]


def test_a_restart_forgets_the_tracks_but_never_reuses_an_id():
    tracker = Tracker(2.0, every_detection=True)
    ids(tracker, 0, people(WALKER[0], NEWCOMER))
    tracker.restart()
    assert tracker.tracks == {}
    assert ids(tracker, 1, people(WALKER[0], NEWCOMER)) == [3, 4]  # the same places, new tracks, new ids
