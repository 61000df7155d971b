"""The page's server side in-process (TestClient, real Engine): sections only for routes that exist, the session
cookie and its CSRF token, key clients unaffected, static files and headers."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data as skdata

from tests.conftest import fixture_image, jpeg
from vigil.config.settings import VigilConfig
from vigil.execute.local import Engine
from vigil.registry.samples import sample_path
from vigil.serve.app import create_app

KEY, ADMIN = "use-1", "admin-2"


@pytest.fixture(scope="module")
def engine(store, face_models, tmp_path_factory):
    config = VigilConfig(server={"api_key": KEY, "admin_key": ADMIN},
                         store={"data_dir": tmp_path_factory.mktemp("data")})
    engine = Engine(config).setup()
    yield engine
    engine.close()


def _image() -> dict:
    return {"image": ("dog.jpg", fixture_image("dog.jpg").read_bytes())}


def test_a_panel_for_every_served_task_from_the_registry(engine):
    """Panels come from the task registry (issue 19), and the app's included routers count (issue 20: features read
    `app.routes`, where an included router's routes did not show, so presence and crowd read as absent)."""
    from tests.tasks import brightness
    from vigil.tasks.base import register, unregister

    client = TestClient(create_app(engine))
    page = client.get("/")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert "presence-result" in page.text and "crowd-result" in page.text and "brightness-result" not in page.text
    found = client.get("/v2/ui/features").json()
    assert found["presence"] is True and found["crowd"] is True
    # routes served are reported (issue 21); no watcher and no log written: nothing to read in the log yet
    assert found["events"] and found["events_stream"] and found["status"]
    assert found["event_log"] is False and found["watching"] is False
    assert {t["name"] for t in found["tasks"]} >= {"presence", "crowd"}
    register(brightness.TASK)
    try:
        plugged = TestClient(create_app(engine))  # a task registered before the app is built gets its panel
        assert "brightness-result" in plugged.get("/").text
        assert "brightness" in {t["name"] for t in plugged.get("/v2/ui/features").json()["tasks"]}
    finally:
        unregister(brightness.TASK.name)


@pytest.mark.parametrize(("name", "type_"), [("app.js", "text/javascript"), ("app.css", "text/css"),
                                             ("favicon.svg", "image/svg+xml")])
def test_static_files(engine, name, type_):
    reply = TestClient(create_app(engine)).get(f"/ui/{name}")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith(type_) and reply.content


def test_unknown_static_file_is_404(engine):
    client = TestClient(create_app(engine))
    assert client.get("/ui/index.html").status_code == 404 and client.get("/ui/web.py").status_code == 404


def test_session_cookie_needs_csrf_for_changes_and_keys_are_unaffected(engine):
    client = TestClient(create_app(engine))
    assert client.post("/v2/ui/session", json={"key": "wrong"}).status_code == 401
    assert "vigil_session" not in client.cookies
    login = client.post("/v2/ui/session", json={"key": KEY})
    assert login.status_code == 200 and login.json() == {"admin": False}
    cookie = login.headers.get_list("set-cookie")
    assert any("vigil_session=" in c and "HttpOnly" in c and "SameSite=strict" in c for c in cookie), cookie
    assert client.get("/v2/ui/recent").status_code == 200  # a read: the cookie alone is enough
    refused = client.post("/v2/detect", files=_image())
    assert refused.status_code == 401 and "X-CSRF-Token" in refused.json()["error"]
    token = client.cookies["vigil_csrf"]
    assert client.post("/v2/detect", files=_image(), headers={"X-CSRF-Token": token}).status_code == 200
    assert client.post("/v2/detect", files=_image(), headers={"X-CSRF-Token": "x" + token}).status_code == 401
    assert client.get("/v2/strangers").status_code == 401  # the api key's session may not see the gallery
    # a client that sends its key is judged by the key, whatever cookie it carries
    assert client.post("/v2/detect", files=_image(), headers={"X-API-Key": KEY}).status_code == 200
    client.delete("/v2/ui/session")
    assert client.get("/v2/ui/recent").status_code == 401


def test_admin_session_reaches_the_gallery_routes(engine):
    client = TestClient(create_app(engine))
    assert client.post("/v2/ui/session", json={"key": ADMIN}).json() == {"admin": True}
    assert client.get("/v2/strangers").json() == []
    assert client.get("/v2/ui/people").json() == []
    assert client.get("/v2/samples/999/face.jpg").status_code == 404
    headers = {"X-CSRF-Token": client.cookies["vigil_csrf"]}
    nobody = client.post("/v2/ui/enroll/x", files=_image(), headers=headers).json()
    assert nobody["outcome"] == "no face" and nobody["faces"] == []
    bad_box = client.post("/v2/ui/enroll/x", files=_image(), data={"box": "1,2"}, headers=headers)
    assert bad_box.status_code == 400 and "box must be" in bad_box.json()["error"]


def test_samples_and_strangers_edited_through_the_page_routes(engine):
    client = TestClient(create_app(engine))
    client.post("/v2/ui/session", json={"key": ADMIN})
    headers = {"X-CSRF-Token": client.cookies["vigil_csrf"]}
    messi = fixture_image("messi5.jpg").read_bytes()
    mirrored = jpeg(np.asarray(Image.open(io.BytesIO(messi)).convert("RGB"))[:, ::-1].copy())
    outcomes = [client.post("/v2/ui/enroll/leo", files={"image": ("p.jpg", data)}, headers=headers).json()
                for data in (messi, mirrored, sample_path("obama.jpg").read_bytes())]
    # the mirrored photo is the same face again (one sample); another man's photo under this name is refused
    assert [(r["outcome"], len(r["faces"])) for r in outcomes[:2]] == [("added", 1), ("duplicate", 1)]
    assert outcomes[2]["outcome"] == "added"  # nobody else is enrolled yet
    second_photo = sample_path("obama2.jpg").read_bytes()
    refused = client.post("/v2/ui/enroll/leo2", files={"image": ("p.jpg", second_photo)}, headers=headers)
    assert refused.status_code == 409 and refused.json()["matches"] == "leo"
    first, second = (s["id"] for s in _samples(client, "leo"))
    face = client.get(f"/v2/samples/{first}/face.jpg")
    assert face.headers["content-type"] == "image/jpeg" and face.content[:2] == b"\xff\xd8"
    assert client.post(f"/v2/samples/{first}/reject", headers=headers).json() == {"id": first, "not": "leo"}
    assert client.delete(f"/v2/samples/{second}", headers=headers).json() == {"id": second, "name": "leo"}
    assert _samples(client, "leo") == []
    astronaut = jpeg(skdata.astronaut())
    for _ in range(2):  # the same stranger twice: one cluster, two sightings
        faces = client.post("/v2/ui/faces", files={"image": ("a.jpg", astronaut)}, headers=headers).json()
        assert [f["state"] for f in faces] == ["unknown"]
    recent = client.get("/v2/ui/recent").json()
    assert recent[0]["camera"] == "a.jpg" and recent[0]["faces"][0]["state"] == "unknown"
    assert client.get(recent[0]["snapshot"]).content[:2] == b"\xff\xd8"
    [cluster] = _strangers_once_filed(client, sightings=2)  # filing runs off the request path
    assert cluster["sightings"] == 2 and cluster["face_ids"]
    assert client.get(f"/v2/strangers/faces/{cluster['face_ids'][0]}/face.jpg").content[:2] == b"\xff\xd8"
    merged = client.post(f"/v2/strangers/{cluster['id']}/name", json={"name": "leo"}, headers=headers).json()
    assert merged["samples"] >= 1 and len(_samples(client, "leo")) == merged["samples"]
    client.post("/v2/ui/faces", files={"image": ("b.jpg", jpeg(skdata.chelsea()))}, headers=headers)
    for c in client.get("/v2/strangers").json():
        assert client.delete(f"/v2/strangers/{c['id']}", headers=headers).json()["removed"] >= 1
    assert client.get("/v2/strangers").json() == []
    assert client.delete("/v2/strangers/12345", headers=headers).status_code == 404


def _strangers_once_filed(client, sightings: int, wait_s: float = 20.0) -> list[dict]:
    """The stranger clusters once `sightings` have been filed (the recorder's thread files them after answering)."""
    end = time.monotonic() + wait_s
    while True:
        clusters = client.get("/v2/strangers").json()
        if sum(c["sightings"] for c in clusters) >= sightings or time.monotonic() > end:
            return clusters
        time.sleep(0.05)


def _samples(client, name: str) -> list[dict]:
    return next(p["samples"] for p in client.get("/v2/ui/people").json() if p["name"] == name)
