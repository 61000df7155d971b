"""The typed results that flow through Vigil, from model wrappers to wire formats.

`Detections` follows supervision's design: parallel arrays plus a `data` dict of per-detection
extras, indexable by boolean masks, integer arrays and slices, so filtering reads `d[d.score > 0.5]`.
Boxes are always xyxy float pixels of the original image.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# keys of Detections.data, one name each
CLASS_NAME = "class_name"  # the label of each class id
FACE = "face"  # who each person is (a name or None): the seed's detect_faces
FACE_PROBA = "faceProba"  # how sure (the seed's key)


@dataclass
class Detections:
    xyxy: np.ndarray  # (n, 4) float32, pixels of the original image
    score: np.ndarray  # (n,) float32 in [0, 1]
    class_id: np.ndarray  # (n,) int64
    data: dict[str, np.ndarray] = field(default_factory=dict)  # per-detection extras, each of length n

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        self.score = np.asarray(self.score, dtype=np.float32).reshape(-1)
        self.class_id = np.asarray(self.class_id, dtype=np.int64).reshape(-1)
        n = len(self.xyxy)
        if len(self.score) != n or len(self.class_id) != n:
            raise ValueError(f"Detections arrays disagree in length: {n}, {len(self.score)}, {len(self.class_id)}")
        for key, values in self.data.items():
            values = np.asarray(values) if not isinstance(values, np.ndarray) else values
            if len(values) != n:
                raise ValueError(f"Detections.data[{key!r}] has {len(values)} entries, expected {n}")
            self.data[key] = values

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    @classmethod
    def merge(cls, parts: Sequence[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        keys = set(parts[0].data)
        if any(set(p.data) != keys for p in parts):
            raise ValueError("cannot merge Detections whose data keys differ")
        return cls(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.score for p in parts]),
            np.concatenate([p.class_id for p in parts]),
            {k: np.concatenate([p.data[k] for p in parts]) for k in keys},
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: Any) -> Detections:
        if isinstance(index, str):
            raise TypeError("use d.data[key] for per-detection extras")
        if isinstance(index, int | np.integer):
            index = [int(index)]
        return Detections(
            self.xyxy[index], self.score[index], self.class_id[index], {k: v[index] for k, v in self.data.items()}
        )

    def __iter__(self) -> Iterator[Detections]:
        for i in range(len(self)):
            yield self[i]

    @property
    def area(self) -> np.ndarray:
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]

    def with_names(self, labels: Sequence[str]) -> Detections:
        """Return a copy whose data['class_name'] holds the label of each class id."""
        names = np.array([labels[i] if 0 <= i < len(labels) else str(i) for i in self.class_id], dtype=object)
        return Detections(self.xyxy, self.score, self.class_id, {**self.data, CLASS_NAME: names})


@dataclass
class ImageResult:
    """What Vigil says about one input image; `error` is set when the image could not be used."""

    image: str
    detections: Detections = field(default_factory=Detections.empty)
    width: int = 0
    height: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Presence:
    """Is a person in the frame: the presence model's person probability and the thresholded answer."""

    person: bool
    score: float  # probability of "person", 0–1
    model: str


@dataclass
class Event:
    """A label (or a face) seen on one camera: open from `start` until `hold_s` after `last_seen`, then `end` is set.

    Objects: `label` is the class name and `count` how many the latest frame showed. Faces: `label` is "face" and
    `name` the person, or "unknown" with the stranger's provisional `cluster_id`.
    """

    camera: str
    label: str
    start: float
    score: float
    box: tuple[float, float, float, float]
    count: int = 1
    name: str | None = None
    cluster_id: int | None = None
    id: int = 0  # 0 until the event log stores it
    last_seen: float = 0.0
    end: float | None = None
    max_count: int = 1
    frames: int = 1
    source: str = ""  # the file of the best-scoring frame
    has_snapshot: bool = False
    track_id: int | None = None  # the track a camera feed's event follows (one event per track)


@dataclass(frozen=True)
class EventChange:
    """What happened to an event: "new", "update" (count or best score changed) or "end"."""

    type: str
    event: Event


@dataclass
class CrowdEstimate:
    """How many people, how dense, and where. `estimator` names what counted: "detector", "tiled_detector" or
    "density"; `level` is "dense", "sparse" or "unknown" (no level classifier)."""

    count: float = 0.0
    level: str = "unknown"
    estimator: str = "detector"
    dense_proba: float | None = None  # the level classifier's probability of "dense"
    people: Detections = field(default_factory=Detections.empty)  # person boxes when a detector counted
    density: np.ndarray | None = None  # (h, w) map over the frame at any resolution; sums to `count`
    heatmap_png: bytes | None = None  # the density overlaid on the frame, when asked for
    width: int = 0
    height: int = 0
    error: str | None = None


@dataclass
class TrackFace:
    """A person track's best face (vigil.tracks.faces): the frame it was on, its box (original pixels) and
    best-face score (vigil.faces.best); once recognised, who it is: `name` (a person, "unknown", "uncertain") and a
    stranger's `cluster_id`."""

    frame: int
    time_s: float
    box: tuple[float, float, float, float]
    score: float
    name: str | None = None
    cluster_id: int | None = None


@dataclass
class Track:
    """One object followed over frames. `boxes` holds (frame, time_s, xyxy, score) per frame it was detected on;
    `best` is the index in `boxes` of its best view (highest score × √area), `best_crop` its pixels (RGB); `face`
    a person's best face when faces were looked for."""

    id: int
    label: str
    boxes: list[tuple[int, float, tuple[float, float, float, float], float]] = field(default_factory=list)
    best: int = 0
    best_crop: np.ndarray | None = None
    face: TrackFace | None = None

    @property
    def first_frame(self) -> int:
        return self.boxes[0][0]

    @property
    def last_frame(self) -> int:
        return self.boxes[-1][0]

    @property
    def first_time(self) -> float:
        return self.boxes[0][1]

    @property
    def last_time(self) -> float:
        return self.boxes[-1][1]


@dataclass
class ZoneReport:
    """A zone over a run: the most of each label in it at once, seconds each track spent in it, loiterers."""

    now: dict[str, int] = field(default_factory=dict)
    max: dict[str, int] = field(default_factory=dict)
    dwell_s: dict[int, float] = field(default_factory=dict)
    loitering: list[int] = field(default_factory=list)  # track ids, in the order they began loitering


@dataclass(frozen=True)
class Loitering:
    """A track that has stayed in a zone longer than its `loiter_s`."""

    zone: str
    track_id: int
    label: str
    dwell_s: float
    time_s: float


@dataclass
class TrackReport:
    """What `vigil track` learnt from one source: the frames it read, its tracks, line counts and zones."""

    source: str
    frames: int = 0
    analysed: int = 0  # frames the detector ran on (the rest were skipped by --fps or motion gating)
    skipped_by_motion: int = 0
    dropped: int = 0  # frames lost: corrupt, out of order, or during a stream's drop
    reconnects: int = 0
    width: int = 0
    height: int = 0
    tracks: list[Track] = field(default_factory=list)
    stationary: dict[int, bool] = field(default_factory=dict)
    lines: dict[str, dict[str, int]] = field(default_factory=dict)
    zones: dict[str, ZoneReport] = field(default_factory=dict)
    error: str | None = None
