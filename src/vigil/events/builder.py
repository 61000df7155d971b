"""Frames in, events out: one event per camera and label (and per face name or stranger cluster), open while the label
keeps being seen and ended `hold_s` after the last sighting, so a person in five consecutive frames is one event.
The watcher makes its identity events here (label `face`, per name or stranger cluster, carrying the person track
the face was on); its object events are one per track (events/watch_tracks.py).

An open event reports "update" only when what it says changes (the count, or a better score and box), never once
per frame.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vigil.faces.matcher import UNCERTAIN, UNKNOWN
from vigil.formats.events import FACE
from vigil.results import Detections, Event, EventChange

SCORE_STEP = 0.05  # a best score has to improve this much to be worth an update (and a new snapshot)
_Key = tuple[str, str, str | None, int | None]


@dataclass(frozen=True)
class Sighting:
    """One label in one frame: how many, and the best-scoring box."""

    label: str
    count: int
    score: float
    box: tuple[float, float, float, float]
    name: str | None = None
    cluster_id: int | None = None
    track_id: int | None = None  # a face's: the person track it is on


def face_sightings(faces: Detections | None) -> list[Sighting]:
    """Named faces by name, strangers by cluster, each with the best face's person track (`data["track_id"]`, when
    the faces have one). Uncertain faces make no event: a guess is not news."""
    if faces is None or not len(faces):
        return []
    clusters = faces.data.get("cluster_id", np.full(len(faces), -1))
    tracks = faces.data.get("track_id", np.full(len(faces), -1))
    groups: dict[tuple[str, int | None], list[int]] = defaultdict(list)
    for i, name in enumerate(faces.data["name"]):
        if name == UNKNOWN:
            groups[(UNKNOWN, int(clusters[i]) if clusters[i] >= 0 else None)].append(i)
        elif name != UNCERTAIN:
            groups[(str(name), None)].append(i)
    found = []
    for (name, cluster), rows in groups.items():
        best = _best(faces[np.array(rows)], FACE)
        track = int(tracks[rows[int(np.argmax(faces.score[rows]))]])
        found.append(Sighting(FACE, best.count, best.score, best.box, name, cluster, track if track >= 0 else None))
    return found


def _best(group: Detections, label: str) -> Sighting:
    top = int(np.argmax(group.score))
    return Sighting(label, len(group), float(group.score[top]), tuple(float(v) for v in group.xyxy[top]))


class EventBuilder:
    """Thread-safe: the frame worker calls `observe`, a timer calls `expire`."""

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self._open: dict[_Key, Event] = {}
        self._lock = threading.Lock()

    def observe(self, camera: str, t: float, seen: Sequence[Sighting], source: str = "") -> list[EventChange]:
        changes = []
        with self._lock:
            for s in seen:
                key = (camera, s.label, s.name, s.cluster_id)
                event = self._open.get(key)
                if event is None:
                    event = Event(camera, s.label, t, s.score, s.box, s.count, s.name, s.cluster_id, last_seen=t,
                                  max_count=s.count, source=source, track_id=s.track_id)
                    self._open[key] = event
                    changes.append(EventChange("new", event))
                    continue
                changes += _update(event, s, t, source)
        return changes

    def shown(self, camera: str, seen: Sequence[Sighting]) -> list[Event]:
        """The open events these sightings belong to (after `observe`): the frame is one of theirs."""
        with self._lock:
            found = (self._open.get((camera, s.label, s.name, s.cluster_id)) for s in seen)
            return [e for e in found if e is not None]
    def open_event(self, key: _Key) -> Event | None:
        """The open event of (camera, label, name, cluster), if any."""
        with self._lock:
            return self._open.get(key)

    def expire(self, now: float) -> list[EventChange]:
        """End the events whose label has not been seen for `hold_s`."""
        with self._lock:
            done = [k for k, e in self._open.items() if now - e.last_seen >= self.hold_s]
            return [self._end(k, now) for k in done]

    def end_camera(self, camera: str, now: float) -> list[EventChange]:
        """End a camera's open events at once (its folder is gone)."""
        with self._lock:
            return [self._end(k, now) for k in list(self._open) if k[0] == camera]

    def end_all(self, now: float) -> list[EventChange]:
        with self._lock:
            return [self._end(k, now) for k in list(self._open)]

    def _end(self, key: _Key, now: float) -> EventChange:
        event = self._open.pop(key)
        event.end, event.count = now, 0
        return EventChange("end", event)


def _update(event: Event, s: Sighting, t: float, source: str) -> list[EventChange]:
    event.last_seen = max(event.last_seen, t)
    event.frames += 1
    changed = s.count != event.count
    event.count, event.max_count = s.count, max(event.max_count, s.count)
    if event.track_id is None and s.track_id is not None:  # a face first seen on no person track, now on one
        event.track_id, changed = s.track_id, True
    if s.score >= event.score + SCORE_STEP:
        event.score, event.box, event.source = s.score, s.box, source
        changed = True
    return [EventChange("update", event)] if changed else []
