"""scikit-image's `lfw_subset` (100 LFW faces, 100 non-face patches, 25×25 grey) as a training folder:
DIR/face/*.png + DIR/nonface/*.png. `python -m tests.face_data DIR` writes it for the README's commands."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image


def write_lfw_subset(root: Path) -> Path:
    from skimage.data import lfw_subset

    pictures = lfw_subset()  # the first 100 are faces, the next 100 are not (skimage's documentation)
    for label, part in (("face", pictures[:100]), ("nonface", pictures[100:])):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i, picture in enumerate(part):
            Image.fromarray(np.round(picture * 255).astype(np.uint8), "L").save(root / label / f"{i:03d}.png")
    return root


if __name__ == "__main__":
    print(write_lfw_subset(Path(sys.argv[1])))
