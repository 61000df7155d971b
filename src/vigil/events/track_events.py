"""Events from tracks: one event per track, never one per frame, each carrying its `track_id`.

A track opens its event on the first frame it is seen (a single alarm frame is enough), updates it when its best
score improves by SCORE_STEP, and ends it `hold_s` after it was last seen. A stationary object does not open new
events: a new track whose first box stands where a stationary object of its label stood (IoU ≥ PARKED_IOU) — the
parked truck found again after it was hidden — stays quiet until it moves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vigil.events.builder import SCORE_STEP
from vigil.ops.nms import iou_matrix
from vigil.results import Event, EventChange, Track
from vigil.tracks.tracker import stationary

PARKED_IOU = 0.6
PARKED_KEPT = 64  # stationary objects remembered per camera (the latest box of each)


class TrackEvents:
    def __init__(self, camera: str, hold_s: float, started_at: float, labels: Sequence[str] = ()) -> None:
        """`started_at`: the wall-clock time of the source's time 0 (track times are seconds from it)."""
        self.camera, self.hold_s, self.started_at, self.labels = camera, hold_s, started_at, set(labels)
        self.open: dict[int, Event] = {}
        self._quiet: dict[int, float] = {}  # tracks that opened no event (parked), by when they were last seen
        self._parked: dict[int, tuple[str, tuple[float, ...]]] = {}  # track id → where it stood still, oldest first

    def observe(self, time_s: float, seen: list[Track], source: str = "") -> list[EventChange]:
        now = self.started_at + time_s
        changes = [change for track in seen if not self.labels or track.label in self.labels
                   for change in self._track(track, now, source)]
        return changes + self._expire(now)

    def _track(self, track: Track, now: float, source: str) -> list[EventChange]:
        _, _, box, score = track.boxes[-1]
        still = stationary(track)
        if still:
            self._parked.pop(track.id, None)
            self._parked[track.id] = (track.label, box)
            if len(self._parked) > PARKED_KEPT:
                del self._parked[next(iter(self._parked))]
        event = self.open.get(track.id)
        if event is None:
            if (still and track.id in self._quiet) or (len(track.boxes) == 1 and self._parked_here(track.label, box)):
                self._quiet[track.id] = now
                return []
            self._quiet.pop(track.id, None)
            event = self.open[track.id] = Event(self.camera, track.label, now, score, box, last_seen=now,
                                                source=source, track_id=track.id)
            return [EventChange("new", event)]
        event.last_seen, event.frames = now, event.frames + 1
        if score >= event.score + SCORE_STEP:
            event.score, event.box = score, box
            return [EventChange("update", event)]
        return []

    def _parked_here(self, label: str, box: tuple[float, ...]) -> bool:
        boxes = [b for lab, b in self._parked.values() if lab == label]
        return bool(boxes) and float(iou_matrix(np.array([box]), np.array(boxes)).max()) >= PARKED_IOU

    def _expire(self, now: float) -> list[EventChange]:
        self._quiet = {i: seen for i, seen in self._quiet.items() if now - seen < self.hold_s}
        ended = [e for e in self.open.values() if now - e.last_seen >= self.hold_s]
        return [self._end(e) for e in ended]

    def _end(self, event: Event) -> EventChange:
        event.end, event.count = event.last_seen, 0
        del self.open[event.track_id]
        return EventChange("end", event)

    def end_all(self) -> list[EventChange]:
        return [self._end(e) for e in list(self.open.values())]
