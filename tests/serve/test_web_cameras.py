"""The page's Cameras view in a real Chromium against a real `vigil serve` running a live camera on a real video
(issue 22): the camera's latest frame with its tracks (boxes with track ids), its zones and lines drawn over it and
its events; zones and lines drawn by clicking points come back as a ready [cameras.<name>] TOML snippet; shapes the
config would refuse are refused naming the key; the routes need the admin key."""

from __future__ import annotations

import time
import tomllib

import pytest
import requests

from tests.serve import server as harness
from tests.serve.browser import expect, signed_in
from tests.serve.server import ADMIN_KEY, API_KEY
from tests.tracks.mot import CLIP

pytestmark = pytest.mark.integration
TIMEOUT_MS = 60_000
ADMIN = {"X-API-Key": ADMIN_KEY}
URL = "v2/cameras"


@pytest.fixture(scope="module")
def server(tmp_path_factory, store):
    extra = (f'[cameras.porch]\nsource = "{CLIP}"\nfps = 2\nmotion_gate = false\n'
             '[cameras.porch.zones.door]\npoints = [[300, 150], [500, 150], [500, 350], [300, 350]]\n'
             '[cameras.porch.lines.mid]\npoints = [[384, 0], [384, 576]]\n')
    running = harness.start(tmp_path_factory.mktemp("serve-cameras"), extra=extra)
    yield running
    assert running.stop() == 0, running.log_tail()


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    shot = tmp_path_factory.mktemp("shots") / "cameras.png"
    with signed_in(server.url, ADMIN_KEY, shot, {"width": 1200, "height": 1400}, TIMEOUT_MS) as signed:
        yield signed


def test_the_cameras_route_needs_the_admin_key_and_describes_the_live_camera(server):
    assert requests.get(f"{server.url}/{URL}", headers={"X-API-Key": API_KEY}, timeout=10).status_code in (401, 403)
    features = requests.get(f"{server.url}/v2/ui/features", headers=ADMIN, timeout=10).json()
    assert features["cameras"]
    porch, = requests.get(f"{server.url}/{URL}", headers=ADMIN, timeout=10).json()["cameras"]
    assert porch["name"] == "porch" and porch["kind"] == "video" and porch["source"] == str(CLIP)
    assert porch["zones"]["door"]["points"][0] == [300, 150]
    assert porch["lines"]["mid"]["points"] == [[384, 0], [384, 576]]
    missing = requests.get(f"{server.url}/{URL}/garage/frame.jpg", headers=ADMIN, timeout=10)
    assert missing.status_code == 404 and "garage" in missing.text


@pytest.fixture(scope="module")
def ended(server):
    """The camera's video analysed to its end: its last frame, tracks and events stay as they were."""
    deadline = time.monotonic() + 90
    while not (porch := requests.get(f"{server.url}/{URL}", headers=ADMIN, timeout=10).json()["cameras"][0])["ended"]:
        assert time.monotonic() < deadline, "the camera's video was not analysed within 90 s"
        time.sleep(0.2)
    return porch


def _shapes(server, drawn: dict) -> requests.Response:
    return requests.post(f"{server.url}/{URL}/porch/shapes", json=drawn, headers=ADMIN, timeout=10)


def test_shapes_the_config_would_refuse_are_refused_naming_the_key(server, ended):
    assert ended["width"] == 768 and ended["height"] == 576 and not ended["online"] and ended["analysed"] > 0
    few = _shapes(server, {"zones": {"door": {"points": [[1, 1], [50, 50]]}}})
    assert few.status_code == 400 and "cameras.porch.zones.door.points" in few.text and "3 points" in few.text
    far = _shapes(server, {"lines": {"far": {"points": [[0, 0], [5000, 10]]}}})
    assert far.status_code == 400 and "cameras.porch.lines.far" in far.text and "outside the frame" in far.text
    ok = _shapes(server, {"masks": {"sky": [[0, 0], [768, 0], [768, 40]]}})
    assert ok.status_code == 200 and not ok.json()["applied"], "the camera has ended: nothing runs to take them"
    assert "[cameras.porch.masks]\nsky = [[0, 0], [768, 0], [768, 40]]" in ok.json()["toml"]


def test_the_view_shows_the_latest_frame_tracks_shapes_and_events_and_draws_new_shapes(server, ended, page):
    page.goto(server.url + "/#cameras")
    page.reload()  # opened at #cameras, not reached by a tab click
    expect(page.locator("#tab-cameras")).to_be_visible()
    row = page.locator("#camera-list li[data-camera='porch']")
    expect(row).to_contain_text("video · ended")
    page.wait_for_function("cams.imageKey !== '' && JSON.parse(document.getElementById('camera-canvas')"
                           ".dataset.tracks || '[]').length > 0")
    assert page.evaluate("cams.image.naturalWidth") > 0
    shown = page.evaluate("JSON.parse(document.getElementById('camera-canvas').dataset.shapes)")
    assert shown == {"zones": ["door"], "lines": ["mid"], "masks": []}
    tracks = page.evaluate("cams.list[0].tracks.map(t => t.id)")
    expect(row.locator(".tracks")).to_contain_text(f"#{tracks[0]}")
    page.locator("#camera-events li[data-track]").first.wait_for()  # the camera's events, one per track
    assert page.locator("#camera-events li[data-track]").count() >= 1

    canvas = page.locator("#camera-canvas")
    box = canvas.bounding_box()
    scale = 768 / box["width"]
    page.select_option("#shape-kind", "zones")
    page.fill("#shape-name", "path")
    for x, y in ((100, 100), (300, 100), (300, 250)):
        canvas.click(position={"x": x / scale, "y": y / scale})
    page.click("#shape-add")
    page.select_option("#shape-kind", "lines")
    page.fill("#shape-name", "kerb")
    for x, y in ((0, 500), (768, 500)):
        canvas.click(position={"x": min(x / scale, box["width"] - 1), "y": y / scale})
    page.click("#shape-add")
    page.click("#shapes-save")
    expect(page.locator("#camera-toml")).to_contain_text("[cameras.porch.zones.path]")
    snippet = tomllib.loads(page.locator("#camera-toml").inner_text())["cameras"]["porch"]
    assert set(snippet["zones"]) == {"door", "path"} and set(snippet["lines"]) == {"mid", "kerb"}
    for (x, y), (want_x, want_y) in zip(snippet["zones"]["path"]["points"], ((100, 100), (300, 100), (300, 250)),
                                        strict=True):
        assert abs(x - want_x) <= 3 and abs(y - want_y) <= 3
    assert snippet["zones"]["door"]["points"] == [[300, 150], [500, 150], [500, 350], [300, 350]]
    assert abs(snippet["lines"]["kerb"]["points"][1][0] - 768) <= 3

    assert not page.watch.errors, page.watch.errors
    page.select_option("#shape-kind", "zones")  # a zone of two points: refused, the key named
    page.fill("#shape-name", "thin")
    for x, y in ((10, 10), (60, 60)):
        canvas.click(position={"x": x / scale, "y": y / scale})
    page.click("#shape-add")
    page.click("#shapes-save")
    expect(page.locator("#camera-error")).to_contain_text("cameras.porch.zones.thin.points")
    assert all("status of 400" in e for e in page.watch.errors), page.watch.errors  # the refusal, nothing else
    assert not page.watch.foreign(server.url), page.watch.foreign(server.url)
