"""[recognize] by = "person_classifier": detect_faces names each person box with the whole-person classifier
(seed 000), over the real zerorpc servers (in-process here) with the real PersonClassifier wrapper. The classifier
is a small ONNX model built in the test (mean brightness of the crop → "bright" / "dark"), since trained ones
need the train extra."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import zerorpc
from onnx import TensorProto, helper

from tests.serve.server import free_port, make_media
from vigil.config.settings import VigilConfig
from vigil.execute.local import Engine
from vigil.formats.seed import from_seed
from vigil.registry.specs import InputSpec, ModelFile, ModelSpec, PathSource
from vigil.runtimes.session import open_session
from vigil.seed.rpc import RpcServers
from vigil.tasks.classify import ClassifyRunner, PersonClassifier

pytestmark = pytest.mark.integration
LABELS = ("bright", "dark")


def brightness_classifier(folder) -> PersonClassifier:
    weights = helper.make_tensor("w", TensorProto.FLOAT, [3, 2], [4.0, -4.0] * 3)
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["x"], ["pooled"]), helper.make_node("Flatten", ["pooled"], ["flat"]),
         helper.make_node("MatMul", ["flat", "w"], ["logits"]), helper.make_node("Softmax", ["logits"], ["p"])],
        "brightness", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 32, 32])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["n", 2])], [weights])
    path = folder / "brightness.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), path)
    spec = ModelSpec(name="brightness.test", task="classify", format="onnx", runtime="onnxruntime", labels=LABELS,
                     input=InputSpec(width=32, height=32, layout="NCHW", dtype="float32", mean=(127.0,) * 3,
                                     std=(128.0,) * 3, resize="stretch"),
                     files={"model": ModelFile(name=path.name, sha256="0" * 64, sources=(PathSource(path=str(path)),))},
                     licence="test")
    return PersonClassifier(spec, open_session(path, "onnxruntime", 1), LABELS)


@pytest.fixture(scope="module")
def person_server(tmp_path_factory, store):
    root = tmp_path_factory.mktemp("person")
    make_media(root)
    config = VigilConfig(rpc={"objects": f"tcp://127.0.0.1:{free_port()}", "faces": f"tcp://127.0.0.1:{free_port()}",
                              "mount_point": str(root / "mnt")},
                         media={"roots": [root / "mnt" / "nvr"]}, person={"min_proba": 0.7},
                         recognize={"by": "person_classifier", "person_model": "brightness.test"},
                         store={"data_dir": root / "data"})
    engine = Engine(config).setup()
    engine.use("classify", [ClassifyRunner(brightness_classifier(root), 0.7, engine.nested)])
    servers = RpcServers(engine, config.rpc, grace_s=5).start()
    yield engine, root
    servers.stop()
    engine.close()


def test_detect_faces_in_person_mode(person_server):
    engine, root = person_server
    objects, faces = zerorpc.Client(heartbeat=5, timeout=60), zerorpc.Client(heartbeat=5, timeout=60)
    objects.connect(engine.config.rpc.objects)
    faces.connect(engine.config.rpc.faces)
    paths = [f"/nvr/zoneminder/events/Front/{i:05d}-capture.jpg" for i in range(1, 11)]
    try:
        detected = json.loads(objects.detect_objects(paths))
        labelled = json.loads(faces.detect_faces(detected))
    finally:
        objects.close()
        faces.close()
    persons = 0
    for entry, before in zip(labelled, detected, strict=True):
        frame = engine.decode(root / "mnt" / entry["image"].lstrip("/"), full_size=True)
        expected = engine.runner("classify").classifier.label_persons(frame, from_seed(before).detections, 0.7)
        for label, face, proba in zip(entry["labels"], expected.data["face"], expected.data["faceProba"],
                                      strict=True):
            assert label.get("face") == face
            if label["name"] == "person":
                persons += 1
                assert label["faceProba"] == pytest.approx(proba, abs=1e-5) and 0.5 <= label["faceProba"] <= 1
                assert (label["face"] is None) == (label["faceProba"] < 0.7)
            else:
                assert label.get("faceProba") is None
    assert persons >= 15 and {label.get("face") for e in labelled for label in e["labels"]} & set(LABELS)


def test_native_classify_route(person_server):
    from fastapi.testclient import TestClient

    from tests.conftest import fixture_image
    from vigil.serve.app import create_app

    engine, _ = person_server
    reply = TestClient(create_app(engine)).post(
        "/v2/classify", files={"image": ("v.jpg", fixture_image("vtest_000.jpg").read_bytes())})
    labels = reply.json()["labels"]
    assert reply.status_code == 200 and labels and {label["name"] for label in labels} == {"person"}
    assert all(label["face"] in (*LABELS, None) and 0.5 <= label["faceProba"] <= 1 for label in labels)


def test_scene_answers_in_codeproject_shape_from_the_classify_model(person_server):
    """CodeProject.AI's /v1/vision/scene: the whole image through the served classifier, label and confidence."""
    from fastapi.testclient import TestClient

    from tests.conftest import jpeg
    from vigil.serve.app import create_app

    engine, _ = person_server
    client = TestClient(create_app(engine))
    for level, label in ((240, "bright"), (10, "dark")):
        image = jpeg(np.full((48, 64, 3), level, np.uint8))
        reply = client.post("/v1/vision/scene", files={"image": ("s.jpg", image)}).json()
        assert reply["success"] is True and reply["label"] == label and 0.5 < reply["confidence"] <= 1
