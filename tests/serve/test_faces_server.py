"""Faces through the real server: the deepstack-python client (register, list, recognize), face detection and
match, the native gallery routes, and the seed's detect_objects → detect_faces over zerorpc."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import requests
import zerorpc
from deepstack.core import DeepstackFace
from PIL import Image
from skimage import data as skdata

from tests.conftest import fixture_image, jpeg
from tests.serve.server import ADMIN_KEY, API_KEY
from vigil.events.log import EventLog
from vigil.results import Event, EventChange

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def photos():
    messi = np.asarray(Image.open(fixture_image("messi5.jpg")).convert("RGB"))
    return {"messi": fixture_image("messi5.jpg").read_bytes(),
            "messi mirrored": jpeg(np.ascontiguousarray(messi[:, ::-1])),  # another picture of the same face
            "astronaut": jpeg(skdata.astronaut()),  # someone else
            "horses": fixture_image("horses.jpg").read_bytes()}  # nobody


@pytest.fixture(scope="module")
def enrolled(server, photos):
    admin = DeepstackFace(ip="127.0.0.1", port=server.port, api_key=ADMIN_KEY, timeout=60)
    assert admin.register("messi", photos["messi"]) == "face added"
    yield
    requests.post(f"{server.url}/v1/vision/face/delete", data={"userid": "messi", "api_key": ADMIN_KEY}, timeout=30)


def test_deepstack_python_register_list_recognize(server, photos, enrolled):
    user = DeepstackFace(ip="127.0.0.1", port=server.port, api_key=API_KEY, timeout=60)
    assert user.get_registered_faces() == ["messi"]
    known = user.recognize(photos["messi mirrored"])
    assert [p["userid"] for p in known] == ["messi"] and 0.5 <= known[0]["confidence"] <= 1
    stranger = user.recognize(photos["astronaut"])
    assert [(p["userid"], p["confidence"]) for p in stranger] == [("unknown", 0.0)]
    assert user.recognize(photos["horses"]) == []


def test_register_without_a_face_or_userid_is_400(server, photos):
    for form, files, words in [({"userid": "nobody"}, {"image": photos["horses"]}, "no face could be enrolled"),
                               ({}, {"image": photos["messi"]}, "userid not specified")]:
        reply = requests.post(f"{server.url}/v1/vision/face/register", data={**form, "api_key": ADMIN_KEY},
                              files=files, timeout=60)
        assert reply.status_code == 400 and words in reply.json()["error"]


def test_register_a_photo_without_a_face_fails_every_time(server, photos):
    form = {"userid": "nobody_twice", "api_key": ADMIN_KEY}
    for _ in range(2):  # the retry of the same file once answered success with count 0
        reply = requests.post(f"{server.url}/v1/vision/face/register", data=form, files={"image": photos["horses"]},
                              timeout=60)
        assert reply.status_code == 400 and reply.json()["success"] is False


def test_enrolling_someone_elses_face_is_refused_on_v2_and_warned_on_v1(server, photos, enrolled):
    admin = {"X-API-Key": ADMIN_KEY}
    files = [("images", ("m.jpg", photos["messi mirrored"]))]  # Messi is enrolled as "messi"
    refused = requests.post(f"{server.url}/v2/gallery/imposter", files=files, headers=admin, timeout=60)
    assert refused.status_code == 409 and refused.json()["matches"] == "messi"
    assert "messi" in refused.json()["error"]
    assert "imposter" not in [p["name"] for p in requests.get(f"{server.url}/v2/gallery", headers=admin,
                                                            timeout=10).json()]
    as_form = requests.post(f"{server.url}/v2/gallery/imposter", files=files, data={"force": "true"}, headers=admin,
                            timeout=60)
    assert as_form.status_code == 200 and as_form.json()["added"] == ["m.jpg"] and as_form.json()["forced"]
    other = [("images", ("m.jpg", photos["messi"]))]
    as_query = requests.post(f"{server.url}/v2/gallery/imposter2?force=true", files=other, headers=admin, timeout=60)
    assert as_query.status_code == 200 and as_query.json()["matches"][0][1] in {"messi", "imposter"}  # [source, name]
    deepstack = requests.post(f"{server.url}/v1/vision/face/register", files={"image": photos["messi"]},
                              data={"userid": "imposter3", "api_key": ADMIN_KEY}, timeout=60).json()
    assert deepstack["success"] is True and deepstack["count"] == 1 and "already matches" in deepstack["warning"]
    for name in ("imposter", "imposter2", "imposter3"):
        requests.delete(f"{server.url}/v2/gallery/{name}", headers=admin, timeout=10)


def test_register_several_images_at_once(server, photos):
    form = {"userid": "messi_twice", "api_key": ADMIN_KEY}
    files = {"image1": photos["messi"], "image2": photos["messi mirrored"], "image3": photos["horses"]}
    reply = requests.post(f"{server.url}/v1/vision/face/register", data=form, files=files, timeout=60)
    assert reply.status_code == 200 and reply.json()["count"] == 2  # the horses give no face
    people = requests.get(f"{server.url}/v2/gallery", headers={"X-API-Key": ADMIN_KEY}, timeout=10).json()
    assert {"name": "messi_twice", "samples": 2} in people
    reply = requests.post(f"{server.url}/v1/vision/face/delete", data=form, timeout=30)
    assert reply.json()["success"] is True


def test_face_detection_and_match(server, photos, enrolled):
    headers = {"X-API-Key": API_KEY}
    faces = requests.post(f"{server.url}/v1/vision/face", files={"image": photos["astronaut"]}, headers=headers,
                          timeout=60).json()
    assert faces["success"] and len(faces["predictions"]) == 1
    face = faces["predictions"][0]
    assert 150 < face["x_min"] < face["x_max"] < 300 and 50 < face["y_min"] < face["y_max"] < 200  # her face
    same = requests.post(f"{server.url}/v1/vision/face/match", headers=headers, timeout=60,
                         files={"image1": photos["messi"], "image2": photos["messi mirrored"]}).json()
    other = requests.post(f"{server.url}/v1/vision/face/match", headers=headers, timeout=60,
                          files={"image1": photos["messi"], "image2": photos["astronaut"]}).json()
    assert same["similarity"] > 0.5 > other["similarity"]


def test_native_gallery_routes(server, photos):
    admin = {"X-API-Key": ADMIN_KEY}
    reply = requests.post(f"{server.url}/v2/gallery/eileen", files=[("images", ("a.jpg", photos["astronaut"]))],
                          headers=admin, timeout=60)
    assert reply.status_code == 200 and reply.json()["added"]
    assert len(reply.json()["absorbed"]) == 1  # she was recognised as a stranger above: that cluster is her
    people = requests.get(f"{server.url}/v2/gallery", headers=admin, timeout=10).json()
    assert {"name": "eileen", "samples": 2} in people
    assert requests.patch(f"{server.url}/v2/gallery/eileen", json={"name": "eileen_collins"}, headers=admin,
                          timeout=10).status_code == 200
    found = requests.post(f"{server.url}/v2/faces/recognize", files={"image": ("x.jpg", photos["astronaut"])},
                          headers=admin, timeout=60).json()
    assert [label["face"] for label in found["labels"]] == ["eileen_collins"]
    reply = requests.delete(f"{server.url}/v2/gallery/eileen_collins", headers=admin, timeout=10)
    assert reply.json() == {"name": "eileen_collins", "removed": 2}
    assert requests.delete(f"{server.url}/v2/gallery/eileen_collins", headers=admin, timeout=10).status_code == 404


def test_seed_uploader_detect_objects_then_detect_faces(server, enrolled):
    objects, faces = zerorpc.Client(heartbeat=5, timeout=120), zerorpc.Client(heartbeat=5, timeout=120)
    objects.connect(server.objects)
    faces.connect(server.faces)
    try:
        paths = server.client_paths()
        reply = objects.detect_objects(paths)
        detected = json.loads(reply)
        labelled = json.loads(faces.detect_faces(detected))
        assert json.loads(faces.detect_faces(reply)) == labelled  # the unparsed JSON string works too
    finally:
        objects.close()
        faces.close()
    assert [e["image"] for e in labelled] == paths
    for before, after in zip(detected, labelled, strict=True):
        assert [(b["name"], b["box"]) for b in before["labels"]] == [(a["name"], a["box"]) for a in after["labels"]]
        for label in after["labels"]:
            if label["name"] == "person":
                assert "face" in label and "faceProba" in label
    messi = labelled[FRAME_OF_MESSI]
    assert "messi" in [label.get("face") for label in messi["labels"]]


FRAME_OF_MESSI = 9  # messi5.jpg is the tenth frame of the batch (tests/serve/server.py FRAMES)


def test_every_enrolment_path_names_the_absorbed_clusters_past_events(server, photos):
    """A stranger seen by a camera (an event of its cluster in the log), then enrolled through /v2, /v1 register or
    the page: the enrolment absorbs the cluster, and its past event carries the name, as `vigil faces add` does."""
    admin = {"X-API-Key": ADMIN_KEY}
    log = EventLog(server.root / "data" / "events.sqlite3")  # the server's event log (no watcher: it reads this one)
    paths = {"v2": lambda name: requests.post(f"{server.url}/v2/gallery/{name}", headers=admin, timeout=60,
                                              files=[("images", ("a.jpg", photos["astronaut"]))]),
             "v1": lambda name: requests.post(f"{server.url}/v1/vision/face/register", timeout=60,
                                              data={"userid": name, "api_key": ADMIN_KEY},
                                              files={"image": photos["astronaut"]}),
             "page": lambda name: requests.post(f"{server.url}/v2/ui/enroll/{name}", headers=admin, timeout=60,
                                                files={"image": ("a.jpg", photos["astronaut"])})}
    for path, enrol in paths.items():
        cluster = _new_stranger(server, photos["astronaut"])
        seen = Event("door", "face", 100.0, 0.7, (1, 2, 3, 4), name="unknown", cluster_id=cluster, last_seen=100.0)
        log.save([EventChange("new", seen)])
        reply = enrol(f"collins_{path}")
        assert reply.status_code == 200, reply.text
        assert log.get(seen.id).name == f"collins_{path}", path
        assert requests.delete(f"{server.url}/v2/gallery/collins_{path}", headers=admin, timeout=10).ok
    cluster = _new_stranger(server, photos["astronaut"])  # naming a cluster on the page names its events too
    seen = Event("door", "face", 100.0, 0.7, (1, 2, 3, 4), name="unknown", cluster_id=cluster, last_seen=100.0)
    log.save([EventChange("new", seen)])
    named = requests.post(f"{server.url}/v2/strangers/{cluster}/name", headers=admin, json={"name": "collins"},
                          timeout=60)
    assert named.status_code == 200, named.text
    assert log.get(seen.id).name == "collins"
    assert requests.delete(f"{server.url}/v2/gallery/collins", headers=admin, timeout=10).ok
    log.close()


def _new_stranger(server, photo: bytes) -> int:
    """The stranger cluster recognising `photo` files (nobody in the gallery has that face)."""
    admin = {"X-API-Key": ADMIN_KEY}

    def clusters() -> set[int]:
        return {c["id"] for c in requests.get(f"{server.url}/v2/strangers", headers=admin, timeout=10).json()}

    before = clusters()
    found = requests.post(f"{server.url}/v2/faces/recognize", files={"image": ("x.jpg", photo)}, headers=admin,
                          timeout=60)
    assert found.status_code == 200, found.text
    deadline = time.monotonic() + 10
    while not (new := clusters() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    (cluster,) = new
    return cluster
