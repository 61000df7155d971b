"""The crowd task with the real detector on the real vtest frames: counts against the hand counts, tiles, routing,
the CLI's JSON array and heatmaps, a bad image failing only itself."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import FIXTURES, fixture_image
from vigil.config.settings import VigilConfig
from vigil.execute.local import Inline
from vigil.imaging import images
from vigil.tasks.crowd import TASK, CrowdOptions

HAND = json.loads((FIXTURES / "vtest_people.json").read_text())["frames"]


@pytest.fixture(scope="module")
def counter(store):
    """The crowd runner as an executor loads it: it counts people with the executor's detect task."""
    return Inline(VigilConfig(), store).runner("crowd")


def test_defines_the_crowd_task():
    from vigil.tasks.discover import discover

    task = discover()["crowd"]  # POST /v2/crowd and `vigil run crowd` come from this registration
    assert task is TASK and task.path == "/v2/crowd" and task.options is CrowdOptions
    assert task.models(VigilConfig()) == (VigilConfig().detect.model,)


def test_detector_count_on_vtest_matches_hand_counts(counter):
    counted = {}
    for name in HAND:
        estimate = counter.estimate(images.load(fixture_image(name)))
        assert estimate.estimator in ("detector", "tiled_detector") and estimate.level == "unknown"
        assert estimate.count == len(estimate.people)
        assert estimate.density.sum() == pytest.approx(estimate.count, abs=0.05 * estimate.count + 0.01)
        counted[name] = estimate.count
    truth = sum(frame["count"] for frame in HAND.values())
    assert abs(sum(counted.values()) - truth) <= 0.2 * truth, counted
    assert all(abs(counted[name] - frame["count"]) <= 3 for name, frame in HAND.items()), counted


def test_tiles_find_at_least_what_the_whole_frame_finds(counter):
    frame = images.load(fixture_image("vtest_120.jpg"))
    whole = counter.estimate(frame, CrowdOptions(estimator="detector"))
    tiled = counter.estimate(frame, CrowdOptions(estimator="tiled_detector"))
    assert (whole.estimator, tiled.estimator) == ("detector", "tiled_detector")
    assert whole.count <= tiled.count <= whole.count + 4
    assert np.all(tiled.people.xyxy[:, 2] <= 768 + 1)


def test_density_without_a_model_is_a_clear_error(counter):
    from vigil.errors import NotActivated

    with pytest.raises(NotActivated, match="density_model"):
        counter.estimate(images.load(fixture_image("vtest_000.jpg")), CrowdOptions(estimator="density"))


def test_heatmap_png_is_the_frame_size(counter):
    import io

    from PIL import Image

    estimate = counter.estimate(images.load(fixture_image("vtest_060.jpg")), CrowdOptions(heatmap=True))
    png = Image.open(io.BytesIO(estimate.heatmap_png))
    assert png.size == (768, 576) and png.format == "PNG"


def test_cli_count_json_in_input_order_with_heatmaps(tmp_path, store):
    bad = tmp_path / "broken.jpg"
    bad.write_text("not an image")
    frames = [fixture_image("vtest_000.jpg"), bad, fixture_image("vtest_120.jpg")]
    done = subprocess.run([sys.executable, "-m", "vigil.cli", "crowd", "count", *map(str, frames), "--json",
                           "--heatmap", str(tmp_path / "heat")], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    assert [e["image"] for e in entries] == [str(p) for p in frames]
    assert "error" in entries[1] and "count" not in entries[1]
    for entry, name in ((entries[0], "vtest_000.jpg"), (entries[2], "vtest_120.jpg")):
        assert {"image", "count", "level", "estimator", "estimate", "people"} <= set(entry)
        assert abs(entry["count"] - HAND[name]["count"]) <= 3
    assert sorted(p.name for p in (tmp_path / "heat").iterdir()) == ["vtest_000.heatmap.png",
                                                                     "vtest_120.heatmap.png"]


def test_auto_counts_distant_people_through_the_detectors_second_look(counter):
    """The beach photo (2 near people, 8 distant): `auto` inherits the detect task's second look (no tiles of its
    own), so the distant people are counted."""
    estimate = counter.estimate(images.load(fixture_image("kite.jpg")))
    assert estimate.estimator == "detector" and 8 <= estimate.count <= 11
