"""The real `vigil serve` driven by `zerorpc.Client` the way the seed's alarm uploader did: a batch of 10 paths to
detect_objects, then its result to detect_faces; paths outside the media roots never get read."""

from __future__ import annotations

import json

import pytest
import zerorpc

from tests.serve.server import FRAMES

pytestmark = pytest.mark.integration


def _client(endpoint: str) -> zerorpc.Client:
    client = zerorpc.Client(heartbeat=5, timeout=60)
    client.connect(endpoint)
    return client


@pytest.fixture(scope="module")
def objects(server):
    client = _client(server.objects)
    yield client
    client.close()


def test_detect_objects_batch_of_ten_in_input_order(server, objects, pipeline):
    paths = server.client_paths()
    reply = objects.detect_objects(paths)
    assert isinstance(reply, str)  # the seed returned JSON strings
    entries = json.loads(reply)
    assert [e["image"] for e in entries] == paths
    for entry, name in zip(entries, FRAMES, strict=True):
        assert "error" not in entry
        expected = pipeline.detect(server.local(entry["image"]))[0].detections
        assert [label["name"] for label in entry["labels"]] == list(expected.data["class_name"]), name
        for label, box in zip(entry["labels"], expected.xyxy, strict=True):
            assert [label["box"][k] for k in ("xmin", "ymin", "xmax", "ymax")] == pytest.approx(box.tolist(), abs=0.5)
    assert sum(label["name"] == "person" for e in entries for label in e["labels"]) >= 15


BAD_PATHS = [  # (case, path, words in the entry's error)
    ("parent traversal", "/nvr/zoneminder/events/../../../../etc/passwd", "outside the configured media roots"),
    ("symlink out of the root", "/nvr/zoneminder/events/Front/00099-capture.jpg", "outside the configured media roots"),
    ("missing file", "/nvr/zoneminder/events/Front/77777-capture.jpg", "no such file"),
    ("a folder", "/nvr/zoneminder/events/Front", "is a directory"),
    ("NUL byte", "/nvr/zoneminder/events/Front/\x00.jpg", "NUL"),
]


@pytest.mark.parametrize(("case", "path", "words"), BAD_PATHS, ids=[b[0] for b in BAD_PATHS])
def test_bad_paths_get_an_error_entry_and_good_ones_still_work(server, objects, case, path, words):
    good = server.client_paths()[0]
    entries = json.loads(objects.detect_objects([path, good]))
    assert entries[0]["image"] == path and entries[0]["labels"] == []
    assert words in entries[0]["error"]
    assert "error" not in entries[1] and entries[1]["labels"]


def test_wrong_argument_type_is_a_remote_error(server, objects):
    with pytest.raises(zerorpc.RemoteError) as caught:
        objects.detect_objects("/nvr/zoneminder/events/Front/00001-capture.jpg")
    assert caught.value.name == "BadInput"
    assert json.loads(objects.detect_objects(server.client_paths()[:1]))[0]["labels"]
