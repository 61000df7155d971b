"""Runtimes that are not re-entrant get one runner per worker: the faces task (BlazeFace LiteRT interpreter, dlib HOG)
and a LiteRT detector. Before, one BlazeFace interpreter served every thread behind a single faces queue, and a LiteRT
detector shared by two workers raised RuntimeError on about half of the calls."""

from __future__ import annotations

import threading

from tests.conftest import fixture_image
from vigil.config.settings import VigilConfig
from vigil.config.tasks import ModelThresholds
from vigil.execute.local import Engine
from vigil.tasks.base import NoOptions
from vigil.tasks.detect import DetectRunner, ObjectDetector


def test_two_threads_on_the_faces_task_never_share_an_interpreter(store, face_models, tmp_path):
    engine = Engine(VigilConfig(server={"workers": 2}, store={"data_dir": tmp_path},
                                faces={"record_strangers": False}))
    frame = engine.decode_for("faces", fixture_image("messi5.jpg").read_bytes())
    errors: list[Exception] = []
    found: list[int] = []

    def client() -> None:
        for _ in range(15):
            try:
                found.append(len(engine.run("faces", frame, NoOptions(), engine.deadline())))
            except Exception as exc:  # any failure is the finding
                errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runners = engine.loaded("faces").runners
    engine.close()
    assert not errors and len(found) == 30 and len(set(found)) == 1 and found[0] >= 1
    first, second = (r.recognizer for r in runners)
    assert first is not second and first.detector.session is not second.detector.session
    assert first.fallback.model is not second.fallback.model  # dlib's HOG keeps per-image state
    assert first.gallery is second.gallery and first.embedder is second.embedder  # shared: safe and one copy


class _LiteRTLike:
    """A session with a fixed NHWC input, as a LiteRT SSD has; never run here."""

    def __init__(self) -> None:
        self.input_shape = [1, 300, 300, 3]
        self.metadata: dict[str, str] = {}


def test_a_litert_detector_is_not_shared_by_workers(store):
    spec = store.spec("yolov4_tiny.coco").model_copy(update={"runtime": "litert", "decoder": "ssd_coral"})
    runner = DetectRunner(ObjectDetector(spec, _LiteRTLike(), ("person",)), ModelThresholds(), 0.45)
    assert runner.reentrant is False
    onnx = DetectRunner(ObjectDetector.load(store, "yolov4_tiny.coco", threads=1), ModelThresholds(), 0.45)
    assert onnx.reentrant is True
