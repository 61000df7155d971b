"""Face detectors behind one call: `detector(rgb, min_score) -> Detections` (boxes in that image's pixels,
score, data["keypoints"] (n, k, 2) where the model gives them).

- BlazeFace full-range (LiteRT, 192×192): ~5 ms a pass; larger frames are also searched in
  overlapping tiles so that faces of ~24 px are not lost in the downscale.
- dlib HOG (built into dlib): the `face_recognition` library's default; frontal faces ≥ ~80 px at no
  upsampling, so small inputs are upsampled.
- dlib MMOD CNN: the most robust to pose, and by far the slowest on a CPU.
- YuNet 2023mar (onnxruntime, 640×640): faces from ~10 px with five landmarks; larger frames also get tiles.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from vigil.ops.anchors import BLAZEFACE_FULL_RANGE, decode_blazeface, ssd_anchors
from vigil.ops.letterbox import letterbox
from vigil.ops.nms import nms, weighted_nms
from vigil.ops.tensor import to_tensor
from vigil.ops.yunet import decode_yunet
from vigil.registry.face_catalog import BLAZEFACE, DLIB_HOG, DLIB_MMOD, YUNET
from vigil.registry.specs import ModelSpec
from vigil.registry.store import ModelStore
from vigil.results import Detections
from vigil.runtimes import dlib as dlib_rt
from vigil.runtimes.session import open_session

log = logging.getLogger(__name__)
NO_KEYPOINTS = np.zeros((0, 0, 2), np.float32)


class FaceDetector(Protocol):
    name: str

    def __call__(self, rgb: np.ndarray, min_score: float = 0.5) -> Detections: ...


def _faces(xyxy: np.ndarray, score: np.ndarray, keypoints: np.ndarray | None = None) -> Detections:
    n = len(xyxy)
    data = {"keypoints": keypoints} if keypoints is not None and len(keypoints) == n else {}
    return Detections(xyxy, score, np.zeros(n, np.int64), data)


class BlazeFaceDetector:
    """MediaPipe BlazeFace full-range: letterbox to 192×192 in [-1, 1], decode 2304 anchors, weighted NMS."""

    def __init__(self, spec: ModelSpec, session, tile: int = 256, iou: float = 0.3) -> None:
        self.name, self.spec, self.session = spec.name, spec, session
        self.anchors = ssd_anchors(BLAZEFACE_FULL_RANGE)
        self.tile, self.iou = tile, iou

    def _run(self, rgb: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        canvas, box = letterbox(rgb, self.spec.input.width, self.spec.input.height, self.spec.input.pad_value)
        raw_boxes, raw_scores = self.session.run([to_tensor(canvas, self.spec.input)])[:2]
        xyxy, score, kps = decode_blazeface(raw_boxes, raw_scores, self.anchors, BLAZEFACE_FULL_RANGE, min_score)
        flat = box.boxes_to_source(np.concatenate([kps.reshape(-1, 2)] * 2, axis=1))[:, :2]
        return box.boxes_to_source(xyxy), score, flat.reshape(kps.shape)

    def __call__(self, rgb: np.ndarray, min_score: float = 0.5) -> Detections:
        if rgb.size == 0:
            return Detections.empty()
        xyxy, score, kps = _whole_and_tiles(self._run, rgb, min_score, self.tile)
        merged, kept_score, leaders = weighted_nms(xyxy, score, self.iou)
        return _faces(merged, kept_score, kps[leaders] if len(leaders) else NO_KEYPOINTS)


def _whole_and_tiles(run, rgb: np.ndarray, min_score: float, tile: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(boxes, scores, keypoints) of `run` on the whole frame and on its tiles, in frame pixels, not yet merged."""
    parts = [run(rgb, min_score)]
    for x0, y0, x1, y1 in _tiles(rgb.shape[1], rgb.shape[0], tile):
        xyxy, score, kps = run(rgb[y0:y1, x0:x1], min_score)
        parts.append((xyxy + np.float32([x0, y0, x0, y0]), score, kps + np.float32([x0, y0])))
    xyxy, score, kps = (np.concatenate(p) for p in zip(*parts, strict=True))
    return xyxy, score, kps


def _tiles(width: int, height: int, tile: int) -> list[tuple[int, int, int, int]]:
    """Overlapping square tiles (25% overlap) covering a frame whose long side exceeds 1.5 tiles. On camera
    frames (≤ ~1000 px) a tile is `tile` px and reaches the 192-px network at ≥ 3/4 scale, so faces down to
    ~24 px stay above BlazeFace's ~16-px floor; big photos get bigger tiles (≥ half the short side, a
    third of the long side), whose faces are big too, so that no frame costs more than ~12 passes."""
    side = max(tile, min(width, height) // 2, max(width, height) // 3)
    if tile <= 0 or max(width, height) <= 1.5 * side:
        return []
    step = int(side * 0.75)

    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        n = -(-(length - side) // step) + 1
        return [round(i * (length - side) / (n - 1)) for i in range(n)]

    return [(x, y, min(width, x + side), min(height, y + side)) for y in starts(height) for x in starts(width)]


class YuNetDetector:
    """OpenCV Zoo's YuNet: letterbox to 640×640 (BGR, 0-255), decode three strides, NMS; frames much larger than the
    input are also searched in tiles (as BlazeFace's), so small faces keep their pixels."""

    def __init__(self, spec: ModelSpec, session, iou: float = 0.3) -> None:
        self.name, self.spec, self.session, self.iou = spec.name, spec, session, iou
        self.names = list(session.output_names)  # cls_8 … kps_32, decoded by name

    def _run(self, rgb: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        side_w, side_h = self.spec.input.width, self.spec.input.height
        canvas, box = letterbox(rgb, side_w, side_h, self.spec.input.pad_value)
        outputs = dict(zip(self.names, self.session.run([to_tensor(canvas, self.spec.input)]), strict=True))
        xyxy, score, kps = decode_yunet(outputs, side_w, side_h, min_score)
        flat = box.boxes_to_source(np.concatenate([kps.reshape(-1, 2)] * 2, axis=1))[:, :2]
        return box.boxes_to_source(xyxy), score, flat.reshape(kps.shape)

    def __call__(self, rgb: np.ndarray, min_score: float = 0.6) -> Detections:
        if rgb.size == 0:
            return Detections.empty()
        xyxy, score, kps = _whole_and_tiles(self._run, rgb, min_score, self.spec.input.width)
        keep = nms(xyxy, score, np.zeros(len(score), np.int64), self.iou)
        return _clip(_faces(xyxy[keep], score[keep], kps[keep] if len(keep) else NO_KEYPOINTS), rgb)


class DlibHogDetector:
    """dlib's HOG detector; `upsample` doubles the image that many times (face_recognition uses 1)."""

    def __init__(self, name: str = DLIB_HOG, upsample: int = 1) -> None:
        self.name, self.upsample, self.model = name, upsample, dlib_rt.hog_detector()

    def __call__(self, rgb: np.ndarray, min_score: float = 0.0) -> Detections:
        if rgb.size == 0:
            return Detections.empty()
        # HOG scores are SVM margins (≈ -0.5…3); squash to (0, 1) so one min_score reads the same everywhere
        rects, margins, _ = self.model.run(np.ascontiguousarray(rgb), self.upsample, -0.5)
        score = 1.0 / (1.0 + np.exp(-2.0 * np.asarray(margins, np.float32)))
        xyxy = np.array([[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects], np.float32)
        found = _faces(xyxy.reshape(-1, 4), score)
        return _clip(found[found.score >= min_score], rgb)


class DlibCnnDetector:
    """dlib's MMOD CNN face detector (confidence is a margin ≥ 0 for kept faces)."""

    def __init__(self, path, name: str = DLIB_MMOD, upsample: int = 0) -> None:
        self.name, self.upsample, self.model = name, upsample, dlib_rt.cnn_detector(path)

    def __call__(self, rgb: np.ndarray, min_score: float = 0.0) -> Detections:
        if rgb.size == 0:
            return Detections.empty()
        found = self.model(np.ascontiguousarray(rgb), self.upsample)
        xyxy = np.array([[d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1] for d in found],
                        np.float32)
        score = 1.0 / (1.0 + np.exp(-2.0 * np.array([d.confidence for d in found], np.float32)))
        faces = _faces(xyxy.reshape(-1, 4), score)
        return _clip(faces[faces.score >= min_score], rgb)


def _clip(found: Detections, rgb: np.ndarray) -> Detections:
    h, w = rgb.shape[:2]
    found.xyxy = np.clip(found.xyxy, 0, [w, h, w, h]).astype(np.float32)
    return found


def load_face_detector(store: ModelStore, name: str, threads: int | None = None, upsample: int = 1) -> FaceDetector:
    spec = store.spec(name)
    if spec.task != "face_detect":
        raise ValueError(f"{name} is a {spec.task} model, not a face detector")
    if name == DLIB_HOG:
        return DlibHogDetector(upsample=upsample)
    if name == DLIB_MMOD:
        return DlibCnnDetector(store.path(name, "model"), upsample=max(0, upsample - 1))
    if spec.decoder == "blazeface" or name == BLAZEFACE:
        detector = BlazeFaceDetector(spec, open_session(store.path(name, "model"), "litert", threads or 2))
        detector(np.full((spec.input.height, spec.input.width, 3), 127, np.uint8))  # warm-up
        return detector
    if spec.decoder == "yunet" or name == YUNET:
        session = open_session(store.path(name, "model"), "onnxruntime", threads)
        detector = YuNetDetector(spec, session)
        detector(np.full((spec.input.height, spec.input.width, 3), 127, np.uint8))  # warm-up
        return detector
    raise ValueError(f"no face detector wrapper for {name}")
