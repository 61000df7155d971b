"""Two real `vigil serve` processes on one PostgreSQL gallery: what one enrols, the other recognises within a second
(its match matrix is refreshed by NOTIFY; tests/faces/test_gallery_postgres.py proves no polling is involved)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.faces.test_gallery_postgres import url  # noqa: F401 - a fresh schema on the test server
from tests.serve import server as harness
from tests.serve.server import ADMIN_KEY, API_KEY
from tests.serve.test_faces_server import photos  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def recognise(server: harness.Server, image: bytes) -> list[str]:
    reply = requests.post(f"{server.url}/v1/vision/face/recognize", files={"image": image},
                          data={"api_key": API_KEY}, timeout=30)
    assert reply.status_code == 200, reply.text
    return [p["userid"] for p in reply.json()["predictions"]]


def test_enrol_on_one_server_and_recognise_on_another_within_a_second(
        tmp_path, store, face_models, url, photos):  # noqa: F811 - fixtures imported above
    extra = f'[faces]\ngallery = "{url}"\n'
    first = harness.start(tmp_path / "a", extra=extra)
    second = harness.start(tmp_path / "b", extra=extra)
    try:
        assert recognise(second, photos["messi mirrored"]) == ["unknown"]
        reply = requests.post(f"{first.url}/v1/vision/face/register", files={"image": photos["messi"]},
                              data={"userid": "messi", "api_key": ADMIN_KEY}, timeout=60)
        assert reply.status_code == 200, reply.text
        enrolled = time.monotonic()
        while (found := recognise(second, photos["messi mirrored"])) != ["messi"]:
            assert time.monotonic() - enrolled < 1.0, f"the second server still says {found}"
        listed = requests.post(f"{second.url}/v1/vision/face/list", data={"api_key": API_KEY}, timeout=10).json()
        assert listed["faces"] == ["messi"]
    finally:
        assert first.stop() == 0 and second.stop() == 0
