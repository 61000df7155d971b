"""Helpers shared by the benchmark scripts: timing, percentiles, tables, test images."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "tests" / "fixtures" / "images"  # the vendored real frames (tests/fixtures/SOURCES.md)


def timings_ms(fn: Callable[[], object], runs: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def p50_p95(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), float(np.percentile(samples, 95))


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [[f"{c:.2f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = lambda values: "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def make_1080p_jpeg(path: Path) -> Path:
    """A real street frame brought to 1920×1080 (cubic upscale of vtest, cropped to 16:9), JPEG quality 90."""
    frame = cv2.imread(str(IMAGES / "vtest_120.jpg"))
    big = cv2.resize(frame, (1920, 1440), interpolation=cv2.INTER_CUBIC)[180:1260]
    cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path
