"""The engine both front ends share, with the real detector: seed detect_objects semantics over media paths."""

from __future__ import annotations

import pytest

from tests.serve.server import make_media
from vigil.config.settings import VigilConfig
from vigil.execute.local import Engine
from vigil.seed.paths import SeedCalls
from vigil.tasks.detect import DetectParams


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    make_media(root)
    return root


def _engine(media, skip: int) -> Engine:
    config = VigilConfig(rpc={"mount_point": str(media / "mnt"), "conseq_images_to_skip": skip},
                         media={"roots": [media / "mnt" / "nvr"]})
    return Engine(config).setup()


def _paths(n: int) -> list[str]:
    return [f"/nvr/zoneminder/events/Front/{i + 1:05d}-capture.jpg" for i in range(n)]


@pytest.mark.parametrize(("skip", "ran"), [(0, list(range(10))), (2, [0, 3, 6, 9]), (4, [0, 5])])
def test_frame_skip_copies_labels_of_the_last_run_frame(media, store, skip, ran):
    engine = _engine(media, skip)
    try:
        results = SeedCalls(engine).detect_paths(_paths(10), DetectParams(), engine.deadline())
    finally:
        engine.close()
    assert [r.image for r in results] == _paths(10)
    last = None
    for i, result in enumerate(results):
        labels = list(result.detections.data["class_name"])
        if i in ran:
            last = (labels, result.detections.xyxy.tolist())
        else:
            assert (labels, result.detections.xyxy.tolist()) == last, f"frame {i + 1} should copy the last run"
    runs = engine.metrics.registry.get_sample_value("vigil_batch_size_sum",
                                                {"task": "detect", "model": engine.config.detect.model})
    assert runs == len(ran)


def test_no_media_roots_means_no_path_is_read(store):
    engine = Engine(VigilConfig()).setup()
    try:
        result = SeedCalls(engine).detect_paths(["/etc/hostname"], DetectParams(), engine.deadline())[0]
    finally:
        engine.close()
    assert result.error and "no media roots" in result.error and len(result.detections) == 0


def test_workers_share_the_cores():
    engine = Engine(VigilConfig(server={"workers": 2}))
    assert engine.workers == 2 and engine.plan.threads(engine.config, "detect") >= 1
    engine = Engine(VigilConfig(server={"workers": 1}, detect={"threads": 3}))
    assert engine.workers == 1 and engine.plan.threads(engine.config, "detect") == 3


def test_a_long_call_does_not_flood_a_small_queue(media, store):
    config = VigilConfig(server={"queue_size": 2, "max_batch": 1, "workers": 1},
                         rpc={"mount_point": str(media / "mnt")}, media={"roots": [media / "mnt" / "nvr"]})
    engine = Engine(config).setup()
    try:
        results = SeedCalls(engine).detect_paths(_paths(10) * 3, DetectParams(), engine.deadline())
    finally:
        engine.close()
    assert len(results) == 30 and all(r.ok and len(r.detections) for r in results)
