"""`vigil faces visits | search | forget` end to end on real photos, in-process (typer's runner): one JSON document on
stdout with --json, typed failures as exit codes."""

from __future__ import annotations

import json
import time

import cv2
import pytest

from tests.conftest import fixture_image
from tests.test_cli_faces import run  # `vigil faces …` in-process, exit code checked
from vigil.registry.samples import sample_path


@pytest.fixture(scope="module")
def env(tmp_path_factory, store) -> dict:
    """A gallery with one stranger (Biden) sighted two hours ago on camera a and a minute ago on camera b."""
    from vigil.config.settings import VigilConfig
    from vigil.faces.gallery.gallery import Gallery
    from vigil.faces.recognizer import FaceRecognizer, thumbnail
    from vigil.faces.sightings import NewSighting, Sightings
    from vigil.imaging import images

    root = tmp_path_factory.mktemp("cli_sightings")
    config = VigilConfig(store={"data_dir": root / "data"})
    for name in FaceRecognizer.models(config.faces):
        store.pull(name)
    gallery = Gallery(config.gallery_path())
    rec = FaceRecognizer.load(config, store, gallery)
    found = rec.recognize(images.load(sample_path("biden.jpg")), "biden", cluster_wait_s=10)
    cluster = int(found.data["cluster_id"][0])
    now = time.time()
    Sightings(gallery).add([NewSighting(t, camera, found.data["embedding"][0], cluster_id=cluster,
                                        crop=thumbnail(found.data["chip"][0]), quality=0.5)
                            for t, camera in ((now - 7200, "a"), (now - 60, "b"))])
    gallery.close()
    flipped = root / "biden_flipped.jpg"
    cv2.imwrite(str(flipped), cv2.flip(cv2.imread(str(sample_path("biden.jpg"))), 1))
    return {"VIGIL_STORE__DATA_DIR": str(root / "data"), "cluster": cluster, "flipped": str(flipped), "root": root}


def test_visits_since_and_search_newest_first(env):
    [entry] = json.loads(run(env, "visits", "--json").stdout)
    assert entry["cluster"] == env["cluster"] and entry["visits"] == 2 and entry["cameras"] == ["a", "b"]
    assert entry["first_seen"] < entry["last_seen"] and entry["best_face"]["url"].endswith("/face.jpg")
    assert json.loads(run(env, "visits", "--since", "1h", "--json").stdout)[0]["visits"] == 1
    out = env["root"] / "best"
    run(env, "visits", "--thumbnails", str(out))
    assert (out / f"cluster_{env['cluster']}.jpg").read_bytes()[:2] == b"\xff\xd8"
    run(env, "visits", "--since", "last tuesday", code=1)
    answer = json.loads(run(env, "search", env["flipped"], "--json").stdout)
    [face] = answer["faces"]
    assert [s["camera"] for s in face["sightings"]] == ["b", "a"]  # newest first
    assert all(s["cluster"] == env["cluster"] and 0.5 <= s["similarity"] <= 1 for s in face["sightings"])
    none = json.loads(run(env, "search", str(fixture_image("horses.jpg")), "--json").stdout)
    assert none == {"faces": [], "faces_found": 0, "faces_searched": 0, "message": "no face found in the image"}


def test_forget_removes_the_identity_and_says_what_went(env):
    run(env, "forget", "Nobody", code=1)
    gone = json.loads(run(env, "forget", f"cluster:{env['cluster']}", "--json").stdout)
    assert gone == {"cluster": env["cluster"], "sightings": 2, "faces": 1, "events": 0}
    assert json.loads(run(env, "visits", "--json").stdout) == []
    assert json.loads(run(env, "search", env["flipped"], "--json").stdout)["faces"][0]["sightings"] == []
    run(env, "forget", str(env["cluster"]), code=1)
