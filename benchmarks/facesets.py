"""Real faces available offline, and the realistic variations the face benchmarks are run on.

Sources (all real photographs): skimage's astronaut (Eileen Collins) and lfw_subset (100 LFW faces, 25×25,
then 100 non-faces), the vendored test images (messi5.jpg one small face; person.jpg a woman seen from
behind: no face), and face_recognition's test photos (three portraits and two partial crops of Barack
Obama, one of Joe Biden; fetched from the face_recognition sdist by vigil.registry.samples).
No registry package ships a multi-identity face set, so identities beyond Obama's are single photos:
their "other images" are transformed copies (scale, crop jitter, brightness, JPEG quality), stated so.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import simplejpeg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
IMAGES = ROOT / "tests" / "fixtures" / "images"

# reference face boxes (xyxy, original pixels) read off the photos; a detection counts with IoU ≥ 0.3
FACE_BOXES = {
    "astronaut": [(175, 70, 275, 172)],
    "messi5": [(222, 93, 259, 130)],
    "obama": [(356, 131, 614, 414)],
    "obama2": [(179, 278, 444, 621)],
    "obama3": [(645, 308, 921, 599)],
    "obama_partial_face2": [(351, 127, 551, 414)],
    "biden": [(431, 238, 702, 552)],
    "person": [],
}


def rgb_of(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def photos() -> dict[str, np.ndarray]:
    import skimage.data

    from vigil.registry.samples import sample_path

    out = {"astronaut": skimage.data.astronaut(), "messi5": rgb_of(IMAGES / "messi5.jpg"),
           "person": rgb_of(IMAGES / "person.jpg")}
    for name in ("obama", "obama2", "obama3", "obama_partial_face2", "biden"):
        out[name] = rgb_of(sample_path(f"{name}.jpg"))
    return out


def lfw(size: int = 100) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(faces, non-faces) of lfw_subset, grey 25×25 upscaled to `size` and padded by half a face so a
    detector sees some context around it."""
    import skimage.data

    data = skimage.data.lfw_subset()
    images = []
    for patch in data:
        grey = cv2.resize((patch * 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
        grey = cv2.copyMakeBorder(grey, size // 2, size // 2, size // 2, size // 2, cv2.BORDER_REPLICATE)
        images.append(np.repeat(grey[:, :, None], 3, axis=2))
    return images[:100], images[100:]


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    return simplejpeg.decode_jpeg(simplejpeg.encode_jpeg(np.ascontiguousarray(rgb), quality=quality))


def variants(rgb: np.ndarray, box: tuple[int, int, int, int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Transformed copies of a photo: the camera-side changes a second picture of a face goes through."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    fw, fh = x1 - x0, y1 - y0
    out = {}
    for s in (0.5, 0.75):
        out[f"scale{s}"] = cv2.resize(rgb, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
    for k in range(2):  # a looser or tighter person-style crop around the face, shifted
        dx, dy = rng.uniform(-0.3, 0.3, 2) * [fw, fh]
        pad = rng.uniform(0.6, 1.5)
        cx0, cy0 = int(max(0, x0 - pad * fw + dx)), int(max(0, y0 - pad * fh + dy))
        cx1, cy1 = int(min(w, x1 + pad * fw + dx)), int(min(h, y1 + pad * fh * 2 + dy))
        out[f"crop{k}"] = np.ascontiguousarray(rgb[cy0:cy1, cx0:cx1])
    for b in (0.6, 1.4):
        out[f"bright{b}"] = np.clip(rgb.astype(np.float32) * b, 0, 255).astype(np.uint8)
    for q in (20, 40):
        out[f"jpeg{q}"] = jpeg(rgb, q)
    out["grey"] = np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    return out


def face_crop(rgb: np.ndarray, box: tuple[int, int, int, int], margin: float = 0.6
              ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The face with context (hair, chin) so a pasted copy still looks like a head; and the face's box
    inside that crop."""
    x0, y0, x1, y1 = box
    mx, my = int((x1 - x0) * margin), int((y1 - y0) * margin)
    cx0, cy0 = max(0, x0 - mx), max(0, y0 - my)
    crop = np.ascontiguousarray(rgb[cy0 : y1 + my, cx0 : x1 + mx])
    return crop, (x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0)


def small_faces_scene(heads: list[tuple[np.ndarray, tuple]], face_widths: list[int], rng: np.random.Generator
                      ) -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
    """Heads (face_crop output) pasted so their faces are `face_widths` px wide into a real camera frame
    (vtest_000.jpg, 768×576)."""
    scene = rgb_of(IMAGES / "vtest_000.jpg").copy()
    boxes = []
    h, w = scene.shape[:2]
    slots = [(x, y) for y in range(10, h - 180, 185) for x in range(10, w - 180, 185)]
    for (head, fb), width, (x, y) in zip(heads, face_widths, rng.permutation(slots), strict=False):
        s = width / (fb[2] - fb[0])
        patch = cv2.resize(head, (max(1, int(head.shape[1] * s)), max(1, int(head.shape[0] * s))),
                           interpolation=cv2.INTER_AREA)
        ph, pw = min(patch.shape[0], h - y), min(patch.shape[1], w - x)
        scene[y : y + ph, x : x + pw] = patch[:ph, :pw]
        boxes.append((x + fb[0] * s, y + fb[1] * s, x + fb[2] * s, y + fb[3] * s))
    return scene, boxes


def count_hits(found: np.ndarray, truth: list, thr: float = 0.3) -> tuple[int, int]:
    """(true faces found, detections matching no true face)."""
    from vigil.ops.nms import iou_matrix  # after the sys.path line above

    used, hits = set(), 0
    for t in truth:
        best = max(range(len(found)), key=lambda i: float(iou_matrix(found[i], t)[0, 0]), default=None)
        if best is not None and best not in used and float(iou_matrix(found[best], t)[0, 0]) >= thr:
            used.add(best)
            hits += 1
    return hits, len(found) - len(used)
