"""Faces along the straight line: detect → face gate (optional) → check size and focus → align → embed → recognise.

`FaceRecognizer` composes a face detector (tasks/face_detect.py), the aligner/embedder
(tasks/face_embed.py) and an identity source: the SQLite gallery (open-set matching, the default) or
the seed's trained face identity model (SVM / XGBoost). It implements the seed's `detect_faces` semantics for one image
(`label_persons`) and plain recognition of every face in a frame (`recognize`); enrolment (faces/enroll.py) builds
on it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import cv2
import numpy as np
import simplejpeg

from vigil.config.settings import VigilConfig
from vigil.config.tasks import FacesConfig
from vigil.errors import NotFound, check_deadline
from vigil.faces import best
from vigil.faces.gallery.gallery import Gallery
from vigil.faces.gallery.location import open_gallery
from vigil.faces.gallery.recorder import StrangerRecorder
from vigil.faces.gate import FaceGate
from vigil.faces.identity_model import FaceIdentityModel
from vigil.faces.matcher import UNCERTAIN, UNKNOWN, Match, match
from vigil.imaging.images import DecodedImage, ImageLimits
from vigil.ops.focus import laplacian_variance
from vigil.registry.face_catalog import EMBED_DIM
from vigil.registry.labels import PERSON
from vigil.registry.store import ModelStore
from vigil.results import CLASS_NAME, Detections
from vigil.tasks.face_detect import FaceDetector, load_face_detector
from vigil.tasks.face_embed import FaceEmbedder, load_embedder

log = logging.getLogger(__name__)
# faces wider than this are shrunk before the focus measure, which otherwise calls big sharp faces blurry;
# camera crops (the seed's use, threshold 200) are mostly narrower and measured unchanged
FOCUS_WIDTH = 128
HEAD_SIDE = 160  # a person narrower than this (px) has its head region upscaled to this width for a second search
HEAD_ZOOM = 4.0  # at most this much


@dataclass
class FaceCheck:
    """One detected face after the quality checks, in the pixels of the image it was found in."""

    xyxy: np.ndarray
    score: float
    quality: str  # "ok", "small" or "blurry"


def thumbnail(chip: np.ndarray) -> bytes:
    return simplejpeg.encode_jpeg(np.ascontiguousarray(chip), quality=85, colorspace="RGB")


class FaceRecognizer:
    def __init__(self, config: FacesConfig, detector: FaceDetector, embedder: FaceEmbedder,
                 gallery: Gallery | None = None, identity_model: FaceIdentityModel | None = None,
                 record_strangers: bool = True, fallback: FaceDetector | None = None,
                 gate: FaceGate | None = None) -> None:
        self.config, self.detector, self.embedder, self.fallback = config, detector, embedder, fallback
        self.gate = gate  # [faces] gate: a face / non-face check on each candidate before alignment
        self.gallery, self.identity_model = gallery, identity_model
        self.record_strangers = record_strangers and gallery is not None
        self.strangers = StrangerRecorder(gallery, config.cluster_distance)
        self.limits = ImageLimits()  # load() applies [limits]
        self._lock = threading.Lock()

    @staticmethod
    def models(config: FacesConfig) -> tuple[str, ...]:
        """Store names of the models `load` opens under this config (the gate only when one is set)."""
        return (config.detector, config.embedder, *((config.gate,) if config.gate else ()))

    @classmethod
    def load(cls, config: VigilConfig, store: ModelStore, gallery: Gallery | None = None,
             embedder: FaceEmbedder | None = None) -> FaceRecognizer:
        """Everything the config names; `gallery` and `embedder` (an onnxruntime session: re-entrant) may be shared
        by several recognizers, the detectors may not."""
        cfg = config.faces
        threads = cfg.threads or None
        detector = load_face_detector(store, cfg.detector, threads, cfg.upsample)
        if hasattr(detector, "tile"):
            detector.tile = cfg.tile
        embedder = embedder or load_embedder(store, cfg.embedder, threads)
        # recognize.by = "face_classifier" is the seed's identity model (SVM / XGBoost)
        identity_model = (FaceIdentityModel.load(config.classifier_path()) if config.recognize.by == "face_classifier"
                          else None)
        if gallery is None:
            gallery = open_gallery(config.gallery_path())
        gallery.bind_embedder(cfg.embedder)
        fallback = None
        if cfg.fallback and cfg.fallback != cfg.detector:
            fallback = load_face_detector(store, cfg.fallback, threads, cfg.upsample)
        # per recognizer, like the detectors: a LiteRT gate is not re-entrant
        gate = FaceGate.load(store, cfg.gate, cfg.gate_min, threads) if cfg.gate else None
        recognizer = cls(cfg, detector, embedder, gallery, identity_model, cfg.record_strangers, fallback, gate)
        recognizer.limits = config.limits.image_limits()
        return recognizer

    # --- pieces ------------------------------------------------------------------------------------
    def detect(self, rgb: np.ndarray) -> list[FaceCheck]:
        """Faces in `rgb` with the size and focus checks applied (sizes in these pixels)."""
        if rgb.size == 0 or min(rgb.shape[:2]) < 2:
            return []
        pixels = _as_rgb(rgb)
        small = rgb.shape[0] * rgb.shape[1] <= self.config.fallback_max_pixels
        with self._lock:  # neither a LiteRT interpreter nor a dlib detector may run in two threads at once
            found = self._gated(pixels, self.detector(pixels, self.config.min_score))
            if not len(found) and self.fallback is not None and small:
                # BlazeFace misses some soft, low-resolution faces that dlib's HOG still finds; on small images
                # (person crops) a second opinion costs a few ms. HOG's own threshold is a margin of 0 (0.5).
                found = self._gated(pixels, self.fallback(pixels, 0.5))
        return [FaceCheck(box, float(score), self._quality(rgb, box)) for box, score in zip(found.xyxy, found.score,
                                                                                           strict=True)]

    def best_face(self, rgb: np.ndarray) -> tuple[np.ndarray, float] | None:
        """The best usable face in `rgb` (a person crop) by vigil.faces.best (size, sharpness, frontal pose), with
        its score; None when no face passes the size and focus checks."""
        boxes = np.array([f.xyxy for f in self.detect(rgb) if f.quality == "ok"], np.float32).reshape(-1, 4)
        if not len(boxes):
            return None
        _, points = self.embedder.align(_as_rgb(rgb), boxes)
        scores = [best.quality(rgb, box, p, 1.0, FOCUS_WIDTH) for box, p in zip(boxes, points, strict=True)]
        k = int(np.argmax(scores))
        return boxes[k], float(scores[k])

    def _gated(self, pixels: np.ndarray, found: Detections) -> Detections:
        """The candidates the face gate lets through (all of them when there is no gate), scored in one run."""
        if self.gate is None or not len(found):
            return found
        return found[self.gate.keep(pixels, found.xyxy)]

    def _quality(self, rgb: np.ndarray, box: np.ndarray, scale: float = 1.0) -> str:
        if (box[2] - box[0]) / scale < self.config.min_face:
            return "small"
        x0, y0, x1, y1 = np.round(box).astype(int)
        face = rgb[max(0, y0):y1, max(0, x0):x1]
        if laplacian_variance(face, FOCUS_WIDTH) < self.config.focus_threshold:
            return "blurry"
        return "ok"

    def embed(self, rgb: np.ndarray, boxes: np.ndarray, jitters: int | None = None) -> tuple[np.ndarray, list]:
        jitters = self.config.num_jitters if jitters is None else jitters
        return self.embedder(_as_rgb(rgb), np.asarray(boxes, np.float32).reshape(-1, 4), jitters)

    def identify(self, embeddings: np.ndarray) -> list[Match]:
        """A Match per embedding: gallery matching (name, "unknown" or "uncertain"), or in classifier mode
        the class when its probability reaches min_proba, else "uncertain" (distance = 1 − probability)."""
        if self.identity_model is not None:
            predicted = self.identity_model.predict(embeddings, self.config.min_proba)
            return [Match(n, 1.0 - p, self._person_id(n), n) if n else Match(UNCERTAIN, 1.0 - p, -1)
                    for n, p in predicted]
        if self.gallery is None or not len(embeddings):
            return [Match(UNKNOWN, float("inf"), -1) for _ in range(len(embeddings))]
        return match(embeddings, self.gallery.matrix(), self.config.match_distance, self.config.unknown_distance)

    def _person_id(self, name: str) -> int:
        try:
            return self.gallery.person_id(name) if self.gallery is not None else -1
        except NotFound:
            return -1

    def _remember(self, matches: list[Match], embeddings: np.ndarray, chips: list, source: str,
                  wait_s: float = 0.0) -> list[int]:
        """File strangers into provisional clusters, off the request path. The cluster id per match (-1: not filed,
        or not filed within `wait_s`: callers off the request path, such as the folder watcher, may wait for it)."""
        clusters = [-1] * len(matches)
        if not self.record_strangers:
            return clusters
        rows = zip(matches, embeddings, chips, strict=True)
        filed = {i: self.strangers.record(vector, thumbnail(chip), source)
                 for i, (m, vector, chip) in enumerate(rows) if m.name == UNKNOWN}
        if wait_s > 0:
            for i, future in filed.items():
                clusters[i] = self.strangers.cluster_of(future, wait_s)
        return clusters

    # --- the three verbs ---------------------------------------------------------------------------------
    def recognize(self, frame: DecodedImage, source: str = "", cluster_wait_s: float = 0.0) -> Detections:
        """Every face in a frame: xyxy (original pixels), score (detector), data name / similarity / person_id /
        cluster_id (a stranger's provisional cluster when filed within `cluster_wait_s`, else -1), plus quality
        ("ok", "small", "blurry": unchecked faces are named "uncertain")."""
        scale = frame.scale
        faces = self.detect(frame.pixels)
        for f in faces:
            f.quality = self._quality(frame.pixels, f.xyxy, scale)
        good = [f for f in faces if f.quality == "ok"]
        chips, points = self.embedder.align(_as_rgb(frame.pixels), np.array([f.xyxy for f in good], np.float32))
        vectors = self.embedder.embed_chips(chips, self.config.num_jitters)
        matches = self.identify(vectors)
        pending = iter(zip(matches, self._remember(matches, vectors, chips, source, cluster_wait_s), strict=True))
        names, sims, pids, clusters = [], [], [], []
        for f in faces:
            m, cluster = next(pending) if f.quality == "ok" else (Match(UNCERTAIN, float("inf"), -1), -1)
            names.append(m.name)
            sims.append(m.similarity)
            pids.append(m.person_id)
            clusters.append(cluster)
        xyxy = np.array([f.xyxy for f in faces], np.float32).reshape(-1, 4) / scale
        return Detections(xyxy, [f.score for f in faces], np.zeros(len(faces), np.int64), {
            "name": np.array(names, dtype=object), "similarity": np.array(sims, np.float32),
            "person_id": np.array(pids, np.int64), "quality": np.array([f.quality for f in faces], dtype=object),
            "cluster_id": np.array(clusters, np.int64),  # a stranger's provisional cluster (-1: none)
            **self._sighting_data(frame, faces, vectors, chips, points)})

    def _sighting_data(self, frame: DecodedImage, faces: list[FaceCheck], vectors: np.ndarray, chips: list,
                       points: np.ndarray) -> dict[str, np.ndarray]:
        """What a sighting keeps of each face (vigil.faces.sightings): its embedding (zeros when unchecked), aligned
        chip (None when unchecked) and best-face quality (vigil.faces.best)."""
        embedding = np.zeros((len(faces), EMBED_DIM), np.float32)
        chip = np.full(len(faces), None, dtype=object)
        score = np.zeros(len(faces), np.float32)
        rows = [i for i, f in enumerate(faces) if f.quality == "ok"]
        for k, i in enumerate(rows):
            embedding[i], chip[i] = vectors[k], chips[k]
            score[i] = best.quality(frame.pixels, faces[i].xyxy, points[k], frame.scale, FOCUS_WIDTH)
        return {"embedding": embedding, "chip": chip, "face_quality": score}

    def label_persons(self, frame: DecodedImage, detections: Detections, source: str = "",
                      deadline: float | None = None) -> Detections:
        """Seed `detect_faces` for one image: every detection echoed in order with data["face"] and
        data["faceProba"]; only `person` boxes are examined, and None means "not recognised".
        Past `deadline` (time.monotonic) the work stops with TimedOut: the caller has given up on it."""
        n = len(detections)
        face, proba = np.full(n, None, dtype=object), np.full(n, None, dtype=object)
        crops = []  # (detection index, crop, face box in crop pixels)
        names = detections.data.get(CLASS_NAME)
        for i in range(n):
            if names is not None and str(names[i]) == PERSON:
                check_deadline(deadline, "labelling persons")
                found = self._best_face(frame, detections.xyxy[i])
                if found is not None:
                    crops.append((i, *found))
        if crops:
            # align each person's face in its own crop, then embed every chip in one batch
            chips = [self.embedder.chips(_as_rgb(crop), box[None])[0] for _, crop, box in crops]
            vectors = self.embedder.embed_chips(chips, self.config.num_jitters)
            for (i, _, _), (label, p) in zip(crops, self._label(vectors, chips, source), strict=True):
                face[i], proba[i] = label, p
        return Detections(detections.xyxy.copy(), detections.score.copy(), detections.class_id.copy(),
                          {**detections.data, "face": face, "faceProba": proba})

    def _best_face(self, frame: DecodedImage, box: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The person crop and its highest-scoring face box when that face passes size and focus checks."""
        h, w = frame.pixels.shape[:2]
        if not np.isfinite(box).all():
            return None
        x0, y0, x1, y1 = (np.asarray(box, np.float64) * frame.scale).round().astype(int)
        x0, x1 = np.clip([x0, x1], 0, w)
        y0, y1 = np.clip([y0, y1], 0, h)
        crop = frame.pixels[y0:y1, x0:x1]
        found = self._face_in(crop, crop, 1.0, frame.scale)
        if found is None and crop.size:
            head, zoom = head_region(crop)
            if zoom > 1:
                found = self._face_in(head, crop, zoom, frame.scale)
        return found

    def _face_in(self, pixels: np.ndarray, crop: np.ndarray, zoom: float, scale: float
                 ) -> tuple[np.ndarray, np.ndarray] | None:
        """`pixels` (the crop, or its head region `zoom` times larger) and its best face, checked for size and focus
        on the crop's own pixels."""
        faces = self.detect(pixels)
        if not faces:
            return None
        best = max(faces, key=lambda f: f.score)
        if self._quality(crop, best.xyxy / zoom, scale) != "ok":
            return None
        return pixels, best.xyxy

    def _label(self, vectors: np.ndarray, chips: list, source: str) -> list[tuple[str | None, float]]:
        if self.identity_model is not None:
            return self.identity_model.predict(vectors, self.config.min_proba)
        matches = self.identify(vectors)
        self._remember(matches, vectors, chips, source)
        return [(m.name if m.person_id >= 0 else None, m.similarity) for m in matches]


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """Grey or IR frames (h, w) or (h, w, 1) become 3-channel; RGBA loses alpha."""
    if image.ndim == 2:
        image = image[:, :, None]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3], dtype=np.uint8)


def head_region(crop: np.ndarray) -> tuple[np.ndarray, float]:
    """The top of a person crop, where the head is (the full width, at most as tall as it is wide, and at least a
    third of the person), upscaled so that its width reaches HEAD_SIDE; (region, zoom). A zoom of 1: already large."""
    height, width = crop.shape[:2]
    region = crop[: max(1, min(height, max(width, height // 3)))]
    zoom = min(HEAD_ZOOM, HEAD_SIDE / max(1, width))
    if zoom <= 1:
        return region, 1.0
    size = (max(1, round(region.shape[1] * zoom)), max(1, round(region.shape[0] * zoom)))
    return cv2.resize(region, size, interpolation=cv2.INTER_CUBIC), zoom
