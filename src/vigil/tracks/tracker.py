"""The tracker: supervision's ByteTrack (chosen by measurement, see README "Tracks"), one instance per label so a
track never changes label, behind Vigil's own `Track` records (results.py) with Vigil's own ids.

ByteTrack matches boxes by IoU through a Kalman filter, first the confident detections, then the weak ones, so a
person briefly scored low (partly hidden) keeps its id; it needs no appearance model, so it runs on the detector's
boxes alone at almost no cost.

ByteTrack starts a track mid-stream only when its detection is seen again on the next frame (and scores at least
`activation` + 0.1). A live stream has frames to spare; alarm frames do not, so with `every_detection` each detection
ByteTrack leaves out gets a provisional track at once, which the track ByteTrack confirms on the next frame (or a
provisional detection there) continues when it stands where the provisional one stood (IoU ≥ PROVISIONAL_IOU).
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np

from vigil.errors import NotActivated
from vigil.ops.nms import iou_matrix
from vigil.results import CLASS_NAME, Detections, Track
from vigil.tracks.geometry import centres

log = logging.getLogger(__name__)
STATIONARY_WINDOW_S = 2.0  # a track is judged on its last 2 seconds (its whole life if shorter)
STATIONARY_SHARE = 0.05  # … during which its centre moved less than 5% of its box height
CROP_SIDE = 256  # the best view is kept at most this many pixels on its longer side
PROVISIONAL_IOU = 0.3  # ByteTrack's own bar for confirming a new track (its unconfirmed matching: 1 - 0.7)


class Tracker:
    def __init__(self, fps: float, lost_s: float = 2.0, activation: float = 0.25, match: float = 0.8,
                 every_detection: bool = False) -> None:
        """`fps`: frames analysed per second; a track lost for `lost_s` ends. `activation`: the score a detection
        needs to start a track; `match`: ByteTrack's matching threshold (1 - IoU cost). `every_detection`: no
        detection is left without a track (provisional tracks, above)."""
        self.fps = max(fps, 1e-3)
        self.lost_frames = max(1, math.ceil(lost_s * self.fps))
        self.activation, self.match, self.every_detection = activation, match, every_detection
        self._by_label: dict[str, object] = {}
        self._ids: dict[tuple[str, int], int] = {}
        self._pending: dict[str, list[tuple[np.ndarray, int]]] = {}  # label → last frame's provisional boxes, ids
        self._last_id = 0
        self.tracks: dict[int, Track] = {}

    def restart(self) -> None:
        """Forget every track and ByteTrack's state (the objects may have moved meanwhile); ids go on counting, so
        a track id is never given twice."""
        self._by_label.clear()
        self._ids.clear()
        self._pending.clear()
        self.tracks.clear()

    def _bytetrack(self, label: str):
        if label not in self._by_label:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # supervision announces its successor library on every instance
                sv = _supervision()
                self._by_label[label] = sv.ByteTrack(
                    track_activation_threshold=self.activation, lost_track_buffer=self.lost_frames,
                    minimum_matching_threshold=self.match, frame_rate=30, minimum_consecutive_frames=1)
        return self._by_label[label]

    def update(self, index: int, time_s: float, detections: Detections, pixels: np.ndarray | None = None
               ) -> list[Track]:
        """Feed one analysed frame's detections; the tracks seen on it (labels with no detection still age)."""
        sv = _supervision()

        names = detections.data.get(CLASS_NAME)
        labels = np.asarray(names if names is not None else [str(c) for c in detections.class_id], dtype=object)
        seen: list[Track] = []
        for label in sorted(set(labels.tolist()) | set(self._by_label)):
            mine = detections[labels == label]
            found = sv.Detections(xyxy=mine.xyxy.astype(np.float32), confidence=mine.score,
                                  class_id=mine.class_id.astype(int))
            tracked = self._bytetrack(label).update_with_detections(found)
            pending = self._pending.pop(label, [])
            for box, score, tracker_id in zip(tracked.xyxy, tracked.confidence, tracked.tracker_id, strict=True):
                key = (label, int(tracker_id))
                if key not in self._ids:
                    self._ids[key] = self._continued(pending, box)
                seen.append(self._extend(label, self._ids[key], index, time_s, box, float(score), pixels))
            if self.every_detection:
                seen += self._provisional(label, mine, tracked.xyxy, pending, index, time_s, pixels)
        return seen

    def _provisional(self, label: str, mine: Detections, tracked: np.ndarray, pending: list[tuple[np.ndarray, int]],
                     index: int, time_s: float, pixels: np.ndarray | None) -> list[Track]:
        """The detections ByteTrack left out, each on a provisional track (continued or new), kept for next frame."""
        left = [i for i, box in enumerate(mine.xyxy.astype(np.float32))
                if not len(tracked) or not np.any(np.all(np.isclose(tracked, box), axis=1))]
        seen = []
        for i in left:
            track_id = self._continued(pending, mine.xyxy[i])
            seen.append(self._extend(label, track_id, index, time_s, mine.xyxy[i], float(mine.score[i]), pixels))
            self._pending.setdefault(label, []).append((mine.xyxy[i], track_id))
        return seen

    def _continued(self, pending: list[tuple[np.ndarray, int]], box: np.ndarray) -> int:
        """The id of the provisional track standing where `box` stands (taken from `pending`), else a new id."""
        if pending:
            overlaps = iou_matrix(np.array([box], dtype=np.float64), np.array([b for b, _ in pending]))[0]
            best = int(np.argmax(overlaps))
            if overlaps[best] >= PROVISIONAL_IOU:
                return pending.pop(best)[1]
        self._last_id += 1
        return self._last_id

    def _extend(self, label: str, track_id: int, index: int, time_s: float, box: np.ndarray, score: float,
                pixels: np.ndarray | None) -> Track:
        if track_id not in self.tracks:
            self.tracks[track_id] = Track(track_id, label)
        track = self.tracks[track_id]
        xyxy = tuple(round(float(v), 1) for v in box)
        track.boxes.append((index, time_s, xyxy, round(score, 4)))
        if len(track.boxes) == 1 or view_quality(xyxy, score) > view_quality(track.boxes[track.best][2],
                                                                             track.boxes[track.best][3]):
            track.best = len(track.boxes) - 1
            track.best_crop = crop(pixels, xyxy) if pixels is not None else None
        return track


def forget_ended(tracker: Tracker, now_s: float, after_s: float) -> set[int]:
    """Drop tracks last seen more than `after_s` before `now_s` (a live camera keeps only what is current); their
    ids. ByteTrack has ended them long before (its memory is `lost_s`)."""
    ended = {i for i, t in tracker.tracks.items() if now_s - t.last_time > after_s}
    for track_id in ended:
        del tracker.tracks[track_id]
    return ended


def _supervision():
    try:
        import supervision
    except ImportError as exc:
        raise NotActivated("tracking needs supervision's ByteTrack: pip install 'vigil[events]' (the watcher) or "
                           "'vigil[tracks]' (videos and streams)") from exc
    return supervision


def load_tracker() -> None:
    """Import the tracker library now (about 0.7 s), so a service fails at its start when it is missing and its
    first frame does not wait for the import."""
    _supervision()


def view_quality(xyxy: tuple[float, ...], score: float) -> float:
    """How good a view of the object a box is: its score × √area (bigger and surer is better)."""
    return score * math.sqrt(max(0.0, xyxy[2] - xyxy[0]) * max(0.0, xyxy[3] - xyxy[1]))


def crop(pixels: np.ndarray, xyxy: tuple[float, ...]) -> np.ndarray:
    """The box's pixels (a copy), reduced to at most CROP_SIDE on its longer side."""
    h, w = pixels.shape[:2]
    x1, y1 = max(0, int(xyxy[0])), max(0, int(xyxy[1]))
    x2, y2 = min(w, math.ceil(xyxy[2])), min(h, math.ceil(xyxy[3]))
    part = pixels[y1:y2, x1:x2]
    step = max(1, math.ceil(max(part.shape[:2], default=0) / CROP_SIDE))
    return part[::step, ::step].copy()


def stationary(track: Track, window_s: float = STATIONARY_WINDOW_S, share: float = STATIONARY_SHARE) -> bool:
    """True when the box centre moved less than `share` of the box height over the track's last `window_s`
    (its whole life if shorter). A track seen once has not shown it stands still: False."""
    if len(track.boxes) < 2:
        return False
    recent = [b for b in track.boxes if b[1] >= track.last_time - window_s]
    points = centres(np.array([b[2] for b in recent]))
    last = track.boxes[-1][2]
    moved = float(np.max(np.linalg.norm(points - points[-1], axis=1)))
    return moved < share * (last[3] - last[1])
