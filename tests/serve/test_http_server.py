"""The real `vigil serve` on 127.0.0.1, driven over HTTP: the deepstack-python client, the native API, operations,
and abuse (each abuse is followed by a good request that must still succeed)."""

from __future__ import annotations

import io
import socket
import struct
import zlib

import pytest
import requests
from deepstack.core import DeepstackException, DeepstackObject

from tests.conftest import fixture_image
from tests.serve.server import ADMIN_KEY, API_KEY

pytestmark = pytest.mark.integration
KEY = {"X-API-Key": API_KEY}


def _good_request(server) -> None:
    with fixture_image("dog.jpg").open("rb") as f:
        reply = requests.post(f"{server.url}/v1/vision/detection", files={"image": f}, data={"api_key": API_KEY},
                              timeout=30)
    assert reply.status_code == 200, reply.text
    assert "dog" in {p["label"] for p in reply.json()["predictions"]}


def test_deepstack_python_object_detection(server):
    client = DeepstackObject(ip="127.0.0.1", port=server.port, api_key=API_KEY, min_confidence=0.5)
    predictions = client.detect(fixture_image("dog.jpg").read_bytes())
    labels = {p["label"] for p in predictions}
    assert "dog" in labels and labels & {"car", "truck"}  # the van reads as either; the bicycle scores < 0.5 at 512
    dog = next(p for p in predictions if p["label"] == "dog")
    assert 0.5 <= dog["confidence"] <= 1
    assert 0 <= dog["x_min"] < dog["x_max"] <= 768 and 0 <= dog["y_min"] < dog["y_max"] <= 576
    assert all(isinstance(dog[k], int) for k in ("x_min", "y_min", "x_max", "y_max"))


def test_deepstack_python_wrong_key_is_refused(server):
    client = DeepstackObject(ip="127.0.0.1", port=server.port, api_key="wrong", min_confidence=0.5)
    with pytest.raises(DeepstackException, match="401"):
        client.detect(fixture_image("dog.jpg").read_bytes())


def test_deepstack_response_keys_and_min_confidence(server):
    data = fixture_image("vtest_000.jpg").read_bytes()
    low = requests.post(f"{server.url}/v1/vision/detection", files={"image": data},
                        data={"min_confidence": "0.2"}, headers=KEY, timeout=30).json()
    high = requests.post(f"{server.url}/v1/vision/detection", files={"image": data},
                         data={"min_confidence": "0.9"}, headers=KEY, timeout=30).json()
    assert set(low) >= {"success", "predictions", "duration", "inferenceMs", "processMs"}
    assert low["success"] is True and len(low["predictions"]) > len(high["predictions"])
    assert all(p["confidence"] >= 0.9 for p in high["predictions"])


def test_native_detect_returns_seed_format_with_openapi(server):
    with fixture_image("vtest_000.jpg").open("rb") as f:
        reply = requests.post(f"{server.url}/v2/detect", files={"image": ("f.jpg", f)}, data={"labels": "person"},
                              headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30)
    entry = reply.json()
    assert reply.status_code == 200 and entry["image"] == "f.jpg"
    assert entry["labels"] and {label["name"] for label in entry["labels"]} == {"person"}
    assert set(entry["labels"][0]["box"]) == {"xmin", "ymin", "xmax", "ymax"}
    spec = requests.get(f"{server.url}/openapi.json", headers={"X-API-Key": API_KEY}, timeout=10).json()
    assert {"/v2/detect", "/v2/detect/paths", "/v2/gallery", "/v2/models"} <= set(spec["paths"])


def test_operations_endpoints(server):
    assert requests.get(f"{server.url}/health", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{server.url}/ready", timeout=5).status_code == 200
    _good_request(server)
    metrics = requests.get(f"{server.url}/metrics", headers={"X-API-Key": API_KEY}, timeout=5).text
    assert 'vigil_requests_total{front="http",route="/v1/vision/detection",status="200",task="detect"}' in metrics
    assert 'vigil_model_seconds_count{model="yolov4_tiny.coco",task="detect"}' in metrics
    assert 'vigil_queue_depth{model="yolov4_tiny.coco",task="detect"}' in metrics


def _png_bomb(side: int = 30000) -> bytes:
    """A valid 1-bit PNG of side×side black pixels: ~100 KB on the wire, 900 million pixels decoded."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    row = b"\x00" * (1 + side // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _truncated() -> bytes:
    data = fixture_image("vtest_000.jpg").read_bytes()
    return data[: len(data) // 2]


ABUSE = [  # (case, files, form, headers, status, words in the error)
    ("truncated jpeg", lambda: {"image": ("a.jpg", _truncated())}, {}, KEY, 400, "truncated"),
    ("zero bytes", lambda: {"image": ("a.jpg", b"")}, {}, KEY, 400, "zero bytes"),
    ("text named .jpg", lambda: {"image": ("a.jpg", b"just some text, not a picture\n" * 10)}, {}, KEY, 400,
     "not a recognised image"),
    ("png bomb", lambda: {"image": ("bomb.png", _png_bomb())}, {}, KEY, 400, "over the"),
    ("100 MB upload", lambda: {"image": ("big.jpg", b"\xff" * (100 * 1024 * 1024))}, {}, KEY, 413, "over the"),
    ("missing image field", lambda: {"picture": ("a.jpg", b"x")}, {}, KEY, 400, "No valid image"),
    ("bad min_confidence", lambda: {"image": ("a.jpg", b"x")}, {"min_confidence": "lots"}, KEY, 400,
     "min_confidence"),
    ("min_confidence out of range", lambda: {"image": ("a.jpg", b"x")}, {"min_confidence": "1.5"}, KEY, 400,
     "min_confidence"),
    ("no key", lambda: {"image": ("a.jpg", b"x")}, {}, {}, 401, "api key"),
    ("wrong key", lambda: {"image": ("a.jpg", b"x")}, {"api_key": "nope"}, {}, 401, "Incorrect api key"),
]


@pytest.mark.parametrize(("case", "files", "form", "headers", "status", "words"), ABUSE, ids=[a[0] for a in ABUSE])
def test_abuse_gets_a_clear_error_and_the_server_goes_on(server, case, files, form, headers, status, words):
    reply = requests.post(f"{server.url}/v1/vision/detection", files=files(), data=form, headers=headers, timeout=60)
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["success"] is False and words in body["error"]
    _good_request(server)


def test_admin_routes_need_the_admin_key(server):
    for key in (None, API_KEY):
        data = {"userid": "someone", **({"api_key": key} if key else {})}
        reply = requests.post(f"{server.url}/v1/vision/face/delete", data=data, timeout=10)
        assert reply.status_code == 401 and reply.json()["success"] is False
    reply = requests.delete(f"{server.url}/v2/gallery/someone", headers=KEY, timeout=10)
    assert reply.status_code == 401
    reply = requests.post(f"{server.url}/v2/models/no_such_model/pull", headers={"X-API-Key": ADMIN_KEY}, timeout=10)
    assert reply.status_code == 404 and "no_such_model" in reply.json()["error"]


def test_client_that_disconnects_mid_upload(server):
    body = io.BytesIO()
    body.write(b"--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\n")
    body.write(fixture_image("vtest_000.jpg").read_bytes())
    head = (f"POST /v1/vision/detection HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {API_KEY}\r\n"
            f"Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {body.tell() + 5000}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode() + body.getvalue()[: body.tell() // 2])
    _good_request(server)
    assert server.alive()


def test_unknown_custom_model_names_close_matches(server):
    reply = requests.post(f"{server.url}/v1/vision/custom/yolov4_tiny.cocoa", headers=KEY,
                          files={"image": fixture_image("dog.jpg").read_bytes()}, timeout=30)
    assert reply.status_code == 404 and "yolov4_tiny.coco" in reply.json()["error"]
    reply = requests.post(f"{server.url}/v1/vision/custom/yolov4_tiny.coco", headers=KEY,
                          files={"image": fixture_image("dog.jpg").read_bytes()}, timeout=30)
    assert reply.status_code == 200 and "dog" in {p["label"] for p in reply.json()["predictions"]}


def test_blue_iris_model_names_lists_and_errors_in_codeproject_shape(server):
    dog = fixture_image("dog.jpg").read_bytes()
    listed = [requests.get(f"{server.url}/v1/vision/custom/list", headers=KEY, timeout=10).json(),
              requests.post(f"{server.url}/v1/vision/custom/list", data={"api_key": API_KEY}, timeout=10).json()]
    assert listed[0] == listed[1] and listed[0]["success"] is True
    models = listed[0]["models"]
    assert {"ipcam-general", "ipcam-combined", "ipcam-animal", "ipcam-dark", "yolov4_tiny.coco"} <= set(models)
    assert not [m for m in models if m.startswith(("blazeface", "dlib", "vww"))]  # detectors only
    combined = DeepstackObject(ip="127.0.0.1", port=server.port, api_key=API_KEY, timeout=60,
                               custom_model="ipcam-combined")
    found = {p["label"] for p in combined.detect(dog)}
    assert "dog" in found and found & {"car", "truck"}
    general = DeepstackObject(ip="127.0.0.1", port=server.port, api_key=API_KEY, timeout=60,
                              custom_model="ipcam-general")
    found = {p["label"] for p in general.detect(dog)}
    assert found & {"car", "truck"} and "dog" not in found  # people and vehicles only
    unknown = requests.post(f"{server.url}/v1/vision/custom/ipcam-nothing", files={"image": dog}, headers=KEY,
                            timeout=30)
    body = unknown.json()
    assert unknown.status_code == 404 and body["success"] is False and "ipcam-general" in body["error"]
    assert "blazeface" not in body["error"] and "dlib" not in body["error"]
    scene = requests.post(f"{server.url}/v1/vision/scene", files={"image": dog}, headers=KEY, timeout=30)
    assert scene.status_code == 403 and scene.json()["success"] is False  # no classifier served here
    assert "person_model" in scene.json()["error"]


def test_oversize_body_without_a_declared_length(server):
    """Chunked upload, so only counting the stream can find it too large."""
    def chunks():
        yield b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\n"
        for _ in range(60):
            yield b"\xff" * (1024 * 1024)
        yield b"\r\n--b--\r\n"

    reply = requests.post(f"{server.url}/v1/vision/detection", data=chunks(), timeout=60,
                          headers={"Content-Type": "multipart/form-data; boundary=b", **KEY})
    assert reply.status_code == 413 and "over the" in reply.json()["error"]
    _good_request(server)
