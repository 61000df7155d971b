"""The detector's second look: after the first pass over the whole frame, a closer look at a few windows where small
or doubtful people were seen, merged back without double counts.

1. Evidence: person candidates the first pass scored below the threshold (it decodes down to `look_score`) and
   people it found small at its scale. Windows of `look_side` network pixels, `look_zoom` times closer than the first
   pass, are placed over them by greedy cover (ops/tiles.py: plan_windows).
2. Bands: where a window found someone the first pass had missed, its neighbours along the same row (the band of the
   frame at that distance from the camera) get a look too (ops/tiles.py: along_bands).
3. Merge: boxes cut by an inner window edge are dropped, so are those the first pass already has; NMS and the
   cut-half rule of tiles (ops/tiles.py: merge_tiles) join the rest.

At most `look_windows` windows in all, each stage's windows in one batched detector run: no frame costs more than the
first pass plus that many small runs, and a frame where the first pass saw nobody small and nothing doubtful (an empty
car park, the sky) costs only the first pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from vigil.config.tasks import DetectConfig
from vigil.ops.nms import inside_matrix, iou_matrix
from vigil.ops.tiles import along_bands, cut_by_window, merge_tiles, plan_windows
from vigil.results import Detections

PERSON_ID = 0  # COCO class id of "person" in every built-in detector
SMALL_NET_PX = 48  # a person shorter than this in the first pass's network pixels counts as small
MAX_POINTS = 64  # evidence points considered per frame (best first)
MIN_SIDE = 32  # frames narrower than this get no second look
LARGE_SHARE = 0.8  # a doubtful person taller or wider than this share of a closer window gets a context window
LARGE_DOUBT = 0.1  # ... when the first pass was at least this sure (big low-score boxes are mostly clutter)
CONTEXT_MARGIN = 0.5  # a context window's margin on each side, in the person's longer side
Window = tuple[int, int, int, int]
Run = Callable[[list[np.ndarray], list[float]], list[Detections]]  # crops and their min scores → detections


@dataclass(frozen=True)
class LookPlan:
    """The second look's settings, from [detect]: `windows` 0 (or profile fast) turns it off."""

    windows: int
    side: int
    zoom: float
    score: float

    @classmethod
    def from_config(cls, cfg: DetectConfig) -> LookPlan:
        return cls(cfg.look_windows if cfg.profile == "second_look" else 0, cfg.look_side, cfg.look_zoom,
                   cfg.look_score)

    @property
    def active(self) -> bool:
        return self.windows > 0

    def first_pass_score(self, min_score: float) -> float:
        return min(min_score, self.score) if self.active else min_score

    def window_side(self, first_scale: float) -> int:
        """Source pixels per window: `side` network pixels at `zoom` times the first pass's scale."""
        return max(MIN_SIDE, round(self.side / (self.zoom * first_scale)))

    def windows_for(self, found: Detections, min_score: float, first_scale: float, width: int,
                    height: int, moved: np.ndarray | None = None) -> list[Window]:
        """Where the evidence asks for a second look in one frame (source pixels); `found` is the first pass, down
        to `score`; `moved`: where a stream's frame changed (boxes), looked at after the doubtful people."""
        if min(width, height) < MIN_SIDE:
            return []  # a sliver (a 1-px-wide image): nothing to look closer at
        people = found[found.class_id == PERSON_ID]
        side = self.window_side(first_scale)
        heights = (people.xyxy[:, 3] - people.xyxy[:, 1]) * first_scale
        doubtful = people.score < min_score
        large = doubtful & (np.max(people.xyxy[:, 2:] - people.xyxy[:, :2], axis=1) > LARGE_SHARE * side)
        context = context_windows(people[large & (people.score >= LARGE_DOUBT)], width, height,
                                  self.windows // 2)
        doubtful &= ~large
        small = ~doubtful & ~large & (heights < SMALL_NET_PX)
        order = np.concatenate([np.flatnonzero(doubtful)[np.argsort(-people.score[doubtful])],
                                np.flatnonzero(small)])
        centres = (people.xyxy[order, :2] + people.xyxy[order, 2:]) / 2
        n_doubtful = int(doubtful.sum())
        points = np.concatenate([centres[:n_doubtful], _unexplained(moved, people[people.score >= min_score], side),
                                 centres[n_doubtful:]])[:MAX_POINTS]
        return context + plan_windows(width, height, points, side, self.windows - len(context))


NO_LOOK = LookPlan(0, 0, 1.0, 1.0)  # the fast profile: the first pass alone


def context_windows(doubtful: Detections, width: int, height: int, limit: int) -> list[Window]:
    """Windows around doubtful people too big for a closer look (surest first, at most `limit`, one per place): the
    box with half its longer side as margin on every side (a doubtful box is often a part of the person), clipped to
    the frame, so the detector sees the person whole, centred and without the rest of the frame — a player seen from
    behind at the frame's edge, scored 0.2 in the whole frame, scores above 0.5 there."""
    windows: list[Window] = []
    for i in np.argsort(-doubtful.score):
        x0, y0, x1, y1 = (float(v) for v in doubtful.xyxy[i])
        if len(windows) >= limit or (windows and inside_matrix([(x0, y0, x1, y1)], windows).max() > 0.5):
            continue
        margin = CONTEXT_MARGIN * max(x1 - x0, y1 - y0)
        windows.append((max(0, int(x0 - margin)), max(0, int(y0 - margin)), min(width, round(x1 + margin)),
                        min(height, round(y1 + margin))))
    return windows


def _unexplained(moved: np.ndarray | None, people: Detections, side: int) -> np.ndarray:
    """Centres of the moving blobs a closer window could show a person in: smaller than the window, and not on a
    person the first pass already has (a walker it found moves too)."""
    if moved is None or not len(moved):
        return np.zeros((0, 2), np.float32)
    centres = (moved[:, :2] + moved[:, 2:]) / 2
    fits = np.max(moved[:, 2:] - moved[:, :2], axis=1) < side
    on_person = np.zeros(len(moved), bool)
    for x0, y0, x1, y1 in people.xyxy:
        on_person |= (centres[:, 0] >= x0) & (centres[:, 0] <= x1) & (centres[:, 1] >= y0) & (centres[:, 1] <= y1)
    return centres[fits & ~on_person]


@dataclass
class FrameLook:
    """One frame on its second look: the first pass and what each window found (people, frame pixels, new ones)."""

    pixels: np.ndarray
    first: Detections
    min_score: float
    first_scale: float  # the first pass's network pixels per frame pixel
    moved: np.ndarray | None = None  # where a stream's frame changed (boxes in these pixels)
    windows: list[Window] = field(default_factory=list)
    found: list[Detections] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[1], self.pixels.shape[0]

    def add(self, window: Window, found: Detections) -> None:
        """What the detector found in `window` (window pixels): people kept, mapped to the frame, cut ones dropped."""
        people = found[(found.class_id == PERSON_ID) & (found.score >= self.min_score)]
        people = people[~cut_by_window(people.xyxy, window, *self.size)]
        people = _bare(people)
        self.windows.append(window)
        self.found.append(replace(people, xyxy=people.xyxy + np.array(window[:2] * 2, np.float32)))

    def first_people(self) -> Detections:
        return _bare(self.first[(self.first.class_id == PERSON_ID) & (self.first.score >= self.min_score)])

    def new_people(self, found: Detections) -> Detections:
        return found[~_seen(found.xyxy, self.first_people().xyxy)]


def look_again(plan: LookPlan, frames: Sequence[FrameLook], run: Run, labels: Sequence[str]) -> list[Detections]:
    """The second look at a batch of frames (stages 1–3 above); `run` is the detector on crops at `plan.side`."""
    _look(frames, [plan.windows_for(f.first, f.min_score, f.first_scale, *f.size, f.moved) for f in frames], run)
    _look(frames, [along_bands(f.size[0], [w for w, p in zip(f.windows, f.found, strict=True) if len(f.new_people(p))],
                               f.windows, plan.windows) for f in frames], run)
    return [merge_look(f, labels) for f in frames]


def _look(frames: Sequence[FrameLook], windows: Sequence[list[Window]], run: Run) -> None:
    jobs = [(frame, window) for frame, wanted in zip(frames, windows, strict=True) for window in wanted]
    if not jobs:
        return
    found = run([crop(frame.pixels, window) for frame, window in jobs], [frame.min_score for frame, _ in jobs])
    for (frame, window), people in zip(jobs, found, strict=True):
        frame.add(window, people)


def crop(pixels: np.ndarray, window: Window) -> np.ndarray:
    x0, y0, x1, y1 = window
    return np.ascontiguousarray(pixels[y0:y1, x0:x1])


def merge_look(frame: FrameLook, labels: Sequence[str]) -> Detections:
    """The first pass (kept above min_score) with the new people found in the windows, NMS and the cut-half rule of
    tiles (ops/tiles.py: merge_tiles) over the people."""
    first = frame.first[frame.first.score >= frame.min_score]
    if not frame.windows:
        return first
    people = Detections.merge([frame.first_people(), *(frame.new_people(p) for p in frame.found)])
    people = people[merge_tiles(people.xyxy, people.score)]
    return Detections.merge([_bare(first[first.class_id != PERSON_ID]), people]).with_names(labels)


def _seen(xyxy: np.ndarray, first: np.ndarray, iou: float = 0.45, inside: float = 0.7) -> np.ndarray:
    """Mask of second-look boxes the first pass already has: overlapping one of its boxes, or mostly inside one or
    mostly covering one (a person cut by a window edge, or the window's view of a person the first pass saw whole)."""
    if not len(xyxy) or not len(first):
        return np.zeros(len(xyxy), bool)
    covered = np.maximum(inside_matrix(xyxy, first), inside_matrix(first, xyxy).T) > inside
    return ((iou_matrix(xyxy, first) > iou) | covered).any(axis=1)


def _bare(found: Detections) -> Detections:
    return Detections(found.xyxy, found.score, found.class_id)
