"""Events from tracks: one event per track, never one per frame, each carrying its `track_id`. Live cameras
(events/camera_feed.py) and the watcher's alarm frames (events/watch_tracks.py) both make their object events here.

A track opens its event on the first frame it is seen (a single alarm frame is enough), updates it when its best
score improves by SCORE_STEP (the event's `source` becomes that frame, whose snapshot is then drawn), and ends it
`hold_s` after it was last seen. A stationary object does not open new events: a new track whose first box stands
where a stationary object of its label stood (IoU ≥ PARKED_IOU) — the parked truck found again after it was hidden —
stays quiet until it moves. After a gap in the frames (`restart`: the watcher's alarm frames resume) where each track
was last seen counts as parked too: an object standing at the same place on both sides of the gap did not move.

Thread-safe: a camera's frames come from one thread, the event service's timer calls `expire` from another.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np

from vigil.events.builder import SCORE_STEP
from vigil.ops.nms import iou_matrix
from vigil.results import Event, EventChange, Track
from vigil.tracks.tracker import stationary

PARKED_IOU = 0.6
PARKED_KEPT = 64  # stationary objects remembered per camera (the latest box of each)
LAST_KEPT = 256  # tracks whose last box a restart can park: the most recently seen (a live camera never restarts)
_Box = tuple[float, ...]


class TrackEvents:
    def __init__(self, camera: str, hold_s: float, started_at: float, labels: Sequence[str] = ()) -> None:
        """`started_at`: the wall-clock time of the source's time 0 (track times are seconds from it)."""
        self.camera, self.hold_s, self.started_at, self.labels = camera, hold_s, started_at, set(labels)
        self.open: dict[int, Event] = {}
        self._quiet: dict[int, float] = {}  # tracks that opened no event (parked), by when they were last seen
        self._parked: dict[int, tuple[str, _Box]] = {}  # track id → where it stood still, oldest first
        self._last: dict[int, tuple[str, _Box]] = {}  # track id → where it was last seen, since the last restart
        self._lock = threading.Lock()

    def observe(self, time_s: float, seen: list[Track], source: str = "") -> list[EventChange]:
        now = self.started_at + time_s
        with self._lock:
            changes = [change for track in seen if not self.labels or track.label in self.labels
                       for change in self._track(track, now, source)]
            return changes + self._expire(now)

    def _track(self, track: Track, now: float, source: str) -> list[EventChange]:
        _, _, box, score = track.boxes[-1]
        _remember(self._last, track.id, (track.label, box), LAST_KEPT)
        still = stationary(track)
        if still:
            self._park(track.id, track.label, box)
        event = self.open.get(track.id)
        if event is None:
            if (still and track.id in self._quiet) or (len(track.boxes) == 1 and self._parked_here(track.label, box)):
                self._quiet[track.id] = now
                return []
            self._quiet.pop(track.id, None)
            event = self.open[track.id] = Event(self.camera, track.label, now, score, box, last_seen=now,
                                                source=source, track_id=track.id)
            return [EventChange("new", event)]
        event.last_seen, event.frames = max(event.last_seen, now), event.frames + 1
        if score >= event.score + SCORE_STEP:
            event.score, event.box, event.source = score, box, source
            return [EventChange("update", event)]
        return []

    def _park(self, track_id: int, label: str, box: _Box) -> None:
        _remember(self._parked, track_id, (label, box), PARKED_KEPT)

    def _parked_here(self, label: str, box: _Box) -> bool:
        boxes = [b for lab, b in self._parked.values() if lab == label]
        return bool(boxes) and float(iou_matrix(np.array([box]), np.array(boxes)).max()) >= PARKED_IOU

    def restart(self) -> None:
        """The frames resume after a gap and the tracker starts afresh: where each track was last seen is
        remembered as parked, so what still stands there opens no new event."""
        with self._lock:
            for track_id, (label, box) in self._last.items():
                self._park(track_id, label, box)
            self._last.clear()

    def open_events(self, track_ids: Iterable[int]) -> list[Event]:
        """The open events of these tracks (those that have one)."""
        with self._lock:
            found = (self.open.get(i) for i in track_ids)
            return [e for e in found if e is not None]

    def expire(self, now: float) -> list[EventChange]:
        """End the events of tracks not seen for `hold_s` (`now` on the events' clock)."""
        with self._lock:
            return self._expire(now)

    def _expire(self, now: float) -> list[EventChange]:
        self._quiet = {i: seen for i, seen in self._quiet.items() if now - seen < self.hold_s}
        ended = [e for e in self.open.values() if now - e.last_seen >= self.hold_s]
        return [self._end(e) for e in ended]

    def _end(self, event: Event) -> EventChange:
        event.end, event.count = event.last_seen, 0
        del self.open[event.track_id]
        return EventChange("end", event)

    def end_all(self) -> list[EventChange]:
        with self._lock:
            return [self._end(e) for e in list(self.open.values())]


def _remember(kept: dict[int, tuple[str, _Box]], track_id: int, where: tuple[str, _Box], most: int) -> None:
    """Keep `where` as the track's latest, the oldest forgotten beyond `most`."""
    kept.pop(track_id, None)
    kept[track_id] = where
    if len(kept) > most:
        del kept[next(iter(kept))]
