"""The watcher's alarm frames grouped into tracks: per camera, a tracker fed that camera's processed frames in time
order (a frame's time is its file's mtime), and its object events one per track (events/track_events.py).

Frames closer together than `[watch] track_gap_s` are one sequence; after a longer pause the tracker starts afresh
(the objects may have moved meanwhile, and ByteTrack's motion model would match them wrongly) while track ids go on
counting, and where the tracks were last seen is remembered as parked: the truck found again where it stood stays
quiet. A frame older than the camera's last tracked one (a late upload) is tracked at that last time, so the
tracker's clock never runs backwards; it is counted (`on_late`) and logged. A frame whose detections frame skip
reused shows the tracks of the frame it reused, untouched. Faces take the id of the person track they are on.

Event times are the wall clock when Vigil saw the frame ("a backlog cannot split one event"); the tracker's motion
and stationary judgement use the frames' own times.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from vigil.config.cameras import CameraConfig
from vigil.events.track_events import TrackEvents
from vigil.registry.labels import PERSON
from vigil.results import CLASS_NAME, Detections, Event, EventChange, Track
from vigil.tracks.geometry import centres
from vigil.tracks.tracker import Tracker, forget_ended, load_tracker

log = logging.getLogger(__name__)
# ByteTrack counts in frames, not seconds: its lost buffer is lost_s × fps frames. NVRs store alarm frames at one or
# a few a second (ZoneMinder's alarm frame rate, Blue Iris' alert images), so 2 a second unless the camera says.
ALARM_FPS = 2.0
LOST_S = 2.0  # a track missed on this many seconds of frames ends (the same as a live camera's)
KEEP_S = 60.0  # tracks unseen this long are forgotten while a sequence goes on (their events ended long before)
NO_TRACK = -1  # a face on no person track


@dataclass
class _Camera:
    tracker: Tracker
    events: TrackEvents
    last_time: float | None = None  # the latest frame time tracked
    frames: int = 0
    seen: list[Track] = field(default_factory=list)  # the tracks on the last tracked frame (frame skip reuses them)
    forgotten: set[int] = field(default_factory=set)  # tracks dropped, until the camera's scene drops them too


class WatchTracks:
    def __init__(self, hold_s: float, gap_s: float, labels: Sequence[str], cameras: dict[str, CameraConfig],
                 on_late: Callable[[str], None] = lambda _camera: None) -> None:
        """`labels`: those that make events (empty: all); persons are tracked regardless, for the faces on them."""
        load_tracker()
        self.hold_s, self.gap_s, self.labels, self.cameras = hold_s, gap_s, tuple(labels), cameras
        self.on_late = on_late
        self._by_camera: dict[str, _Camera] = {}
        self._lock = threading.Lock()

    def _camera(self, camera: str) -> _Camera:
        with self._lock:
            if camera not in self._by_camera:
                fps = getattr(self.cameras.get(camera), "fps", None) or ALARM_FPS
                self._by_camera[camera] = _Camera(Tracker(fps, LOST_S, every_detection=True),
                                                  TrackEvents(camera, self.hold_s, 0.0, self.labels))
            return self._by_camera[camera]

    def observe(self, camera: str, frame_time: float, now: float, objects: Detections | None,
                source: str) -> tuple[list[Track], list[EventChange]]:
        """One frame's objects (None: frame skip reused the last frame's) → the tracks on it and the event changes.
        `now`: the wall clock, the events' time."""
        cam = self._camera(camera)
        if objects is not None:
            cam.seen = self._track(cam, camera, frame_time, self._wanted(objects))
        return cam.seen, cam.events.observe(now, cam.seen, source)

    def _track(self, cam: _Camera, camera: str, frame_time: float, objects: Detections) -> list[Track]:
        if cam.last_time is not None and frame_time < cam.last_time:
            self.on_late(camera)
            log.info("watched frame older than the camera's last: tracked at the last frame's time",
                     extra={"camera": camera, "late_s": round(cam.last_time - frame_time, 3)})
            frame_time = cam.last_time
        elif cam.last_time is not None and frame_time - cam.last_time > self.gap_s:
            cam.tracker.restart()
            cam.events.restart()
        cam.last_time, cam.frames = frame_time, cam.frames + 1
        seen = cam.tracker.update(cam.frames, frame_time, objects)
        cam.forgotten |= forget_ended(cam.tracker, frame_time, max(KEEP_S, 2 * self.hold_s))
        return seen

    def _wanted(self, objects: Detections) -> Detections:
        if not self.labels:
            return objects
        names = objects.data.get(CLASS_NAME, np.array([str(c) for c in objects.class_id], dtype=object))
        return objects[np.isin(names.astype(str), [*self.labels, PERSON])]

    def forgotten(self, camera: str) -> set[int]:
        """The camera's tracks forgotten since the last call (its scene forgets them too: memory stays bounded)."""
        cam = self._camera(camera)
        gone, cam.forgotten = cam.forgotten, set()
        return gone

    def shown(self, camera: str, seen: list[Track]) -> list[Event]:
        """The open events of the tracks on a frame: the frame is one of theirs."""
        return self._camera(camera).events.open_events(t.id for t in seen)

    def expire(self, now: float) -> list[EventChange]:
        with self._lock:
            cameras = list(self._by_camera.values())
        return [c for cam in cameras for c in cam.events.expire(now)]

    def end_camera(self, camera: str) -> list[EventChange]:
        """The camera is gone: its events end (at their last sighting), its tracks are forgotten."""
        with self._lock:
            cam = self._by_camera.pop(camera, None)
        return cam.events.end_all() if cam is not None else []

    def end_all(self) -> list[EventChange]:
        with self._lock:
            cameras = list(self._by_camera.values())
        return [c for cam in cameras for c in cam.events.end_all()]


def with_track_ids(faces: Detections | None, seen: Sequence[Track]) -> Detections | None:
    """The faces, each with the id of the person track whose box holds its centre (the smallest such box;
    NO_TRACK where none does) in `data["track_id"]`."""
    if faces is None or not len(faces):
        return faces
    people = [t for t in seen if t.label == PERSON]
    ids = np.full(len(faces), NO_TRACK, dtype=np.int64)
    if people:
        boxes = np.array([t.boxes[-1][2] for t in people], dtype=np.float64)
        points = centres(faces.xyxy)[:, None, :]
        holds = np.all((points >= boxes[None, :, :2]) & (points <= boxes[None, :, 2:]), axis=2)
        areas = np.where(holds, ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))[None, :], np.inf)
        smallest = np.argmin(areas, axis=1)
        ids = np.where(holds.any(axis=1), np.array([t.id for t in people])[smallest], NO_TRACK)
    return Detections(faces.xyxy, faces.score, faces.class_id, {**faces.data, "track_id": ids})
