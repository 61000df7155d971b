"""Face alignment and embedding: dlib's 5-point shape predictor places eye corners and nose, a 150×150
chip is cut with the face upright, and dlib's ResNet (converted to ONNX at pull, identical output to
~1e-6, ~20× faster than the BLAS-less dlib wheel) maps it to a 128-d vector where the same person lies
within ~0.6 (Euclidean). `num_jitters` > 1 averages over that many randomly perturbed copies of the chip
(dlib's jittering: small rotation, scale, shift, mirror), steadier and proportionally slower."""

from __future__ import annotations

import cv2
import numpy as np

from vigil.registry.face_catalog import DLIB_RESNET, EMBED_DIM, SFACE
from vigil.registry.store import ModelStore
from vigil.runtimes import dlib as dlib_rt
from vigil.runtimes.session import open_session

CHIP_SIZE = 150
CHIP_PADDING = 0.25  # dlib's default: the chip shows a little context around the landmarks


class FaceEmbedder:
    def __init__(self, landmarks_path, session, name: str = DLIB_RESNET, seed: int = 0) -> None:
        self.name = name
        self.predictor = dlib_rt.shape_predictor(landmarks_path)
        self.session = session
        self.rng = np.random.default_rng(seed)

    @classmethod
    def load(cls, store: ModelStore, name: str = DLIB_RESNET, threads: int | None = None) -> FaceEmbedder:
        session = open_session(store.path(name, "onnx"), "onnxruntime", threads)
        embedder = cls(store.path(name, "landmarks"), session, name)
        embedder.embed_chips([np.full((CHIP_SIZE, CHIP_SIZE, 3), 127, np.uint8)])  # warm-up
        return embedder

    def chips(self, rgb: np.ndarray, xyxy: np.ndarray) -> list[np.ndarray]:
        """Aligned 150×150 RGB chips, one per box (boxes in `rgb` pixels)."""
        return self.align(rgb, xyxy)[0]

    def align(self, rgb: np.ndarray, xyxy: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """The chips and the five landmarks they were aligned on, (n, 5, 2) in `rgb` pixels."""
        if len(xyxy) == 0:
            return [], np.zeros((0, 5, 2), np.float32)
        rgb = np.ascontiguousarray(rgb)
        shapes = dlib_rt.full_object_detections()
        for x0, y0, x1, y1 in xyxy:
            shapes.append(self.predictor(rgb, dlib_rt.rectangle(x0, y0, x1, y1)))
        points = np.array([[(s.part(i).x, s.part(i).y) for i in range(5)] for s in shapes], np.float32)
        return [np.asarray(c) for c in dlib_rt.face_chips(rgb, shapes, CHIP_SIZE, CHIP_PADDING)], points

    def embed_chips(self, chips: list[np.ndarray], num_jitters: int = 0) -> np.ndarray:
        """(n, 128) float32 embeddings of aligned chips."""
        if not chips:
            return np.zeros((0, EMBED_DIM), np.float32)
        if num_jitters <= 1:
            return self._run(np.stack(chips))
        return np.stack([self._run(np.stack([self._jitter(c) for _ in range(num_jitters)])).mean(0) for c in chips])

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run([np.ascontiguousarray(batch, np.uint8)])[0], np.float32)

    def _jitter(self, chip: np.ndarray) -> np.ndarray:
        """dlib's jitter_image: rotate ±~3°, scale ±~10%, shift ±~2%, mirror half the time."""
        angle = self.rng.uniform(-3, 3)
        scale = self.rng.uniform(0.9, 1.1)
        shift = self.rng.uniform(-0.02, 0.02, 2) * CHIP_SIZE
        matrix = cv2.getRotationMatrix2D((CHIP_SIZE / 2, CHIP_SIZE / 2), angle, scale)
        matrix[:, 2] += shift
        out = cv2.warpAffine(chip, matrix, (CHIP_SIZE, CHIP_SIZE), borderMode=cv2.BORDER_REFLECT)
        return out[:, ::-1] if self.rng.random() < 0.5 else out

    def __call__(self, rgb: np.ndarray, xyxy: np.ndarray, num_jitters: int = 0) -> tuple[np.ndarray, list]:
        chips = self.chips(rgb, xyxy)
        return self.embed_chips(chips, num_jitters), chips


# SFace: OpenCV's FaceRecognizerSF aligns on five points to this 112×112 template; Vigil aligns on its two eyes
# (centres of dlib's eye corners), which fixes rotation, scale and position the same way
SFACE_EYES = np.float32([[38.2946, 51.6963], [73.5318, 51.5014]])
# unit vectors scaled so that OpenCV's SFace threshold (L2 1.128, cosine 0.363) lands on dlib's usual 0.6: one set
# of [faces] distances reads the same for both embedders
SFACE_SCALE = 0.6 / 1.128


class SFaceEmbedder(FaceEmbedder):
    """OpenCV Zoo's SFace (int8): eyes from dlib's 5-point predictor, a similarity warp to 112×112, RGB 0-255,
    one face a run (the graph's batch is fixed at 1), unit vectors times SFACE_SCALE."""

    @classmethod
    def load(cls, store: ModelStore, name: str = SFACE, threads: int | None = None) -> SFaceEmbedder:
        session = open_session(store.path(name, "onnx"), "onnxruntime", threads)
        embedder = cls(store.path(name, "landmarks"), session, name)
        embedder.embed_chips([np.full((112, 112, 3), 127, np.uint8)])  # warm-up
        return embedder

    def chips(self, rgb: np.ndarray, xyxy: np.ndarray) -> list[np.ndarray]:
        rgb = np.ascontiguousarray(rgb)
        out = []
        for x0, y0, x1, y1 in xyxy:
            shape = self.predictor(rgb, dlib_rt.rectangle(x0, y0, x1, y1))
            points = np.float32([[shape.part(i).x, shape.part(i).y] for i in range(4)])
            eyes = np.stack([points[:2].mean(0), points[2:4].mean(0)])
            eyes = eyes[np.argsort(eyes[:, 0])]  # the eye on the image's left first, as in the template
            out.append(cv2.warpAffine(rgb, _similarity(eyes, SFACE_EYES), (112, 112), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REPLICATE))
        return out

    def embed_chips(self, chips: list[np.ndarray], num_jitters: int = 0) -> np.ndarray:
        if not chips:
            return np.zeros((0, EMBED_DIM), np.float32)
        rows = [self.session.run([np.ascontiguousarray(c.astype(np.float32).transpose(2, 0, 1)[None])])[0][0]
                for c in chips]
        vectors = np.asarray(rows, np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9) * SFACE_SCALE


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2×3 rotation + uniform scale + shift taking the two points `src` onto `dst`."""
    d_src, d_dst = src[1] - src[0], dst[1] - dst[0]
    scale = float(np.hypot(*d_dst) / max(np.hypot(*d_src), 1e-6))
    angle = float(np.arctan2(d_dst[1], d_dst[0]) - np.arctan2(d_src[1], d_src[0]))
    rot = scale * np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.column_stack([rot, dst[0] - rot @ src[0]]).astype(np.float32)


def load_embedder(store: ModelStore, name: str, threads: int | None = None) -> FaceEmbedder:
    """The embedder `[faces] embedder` names: dlib's ResNet or SFace."""
    return SFaceEmbedder.load(store, name, threads) if name == SFACE else FaceEmbedder.load(store, name, threads)
