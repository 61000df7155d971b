"""The web page at / in a real Chromium against a real `vigil serve`: try an image, enrol and recognise, pick one
face of several, name a stranger, a wrong key refused, a phone-width tour with no console errors or foreign loads.
Each test leaves a screenshot in its pytest tmp folder."""

from __future__ import annotations

import base64
import json
import re
import time

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from tests.conftest import fixture_image, jpeg
from tests.serve.browser import Watch, launch, playwright_or_fail
from tests.serve.server import ADMIN_KEY, API_KEY

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture fails with the install instruction
    expect = None

pytestmark = pytest.mark.integration
TIMEOUT_MS = 60_000


def _file(name: str, data: bytes) -> dict:
    return {"name": name, "mimeType": "image/jpeg", "buffer": data}


@pytest.fixture(scope="module")
def photos():
    messi = np.asarray(Image.open(fixture_image("messi5.jpg")).convert("RGB"))
    astronaut = skdata.astronaut()
    side = np.zeros((512, 512 + messi.shape[1], 3), np.uint8)  # two people: the astronaut and Messi
    side[:, :512] = astronaut
    side[: messi.shape[0], 512:] = messi
    return {"messi": fixture_image("messi5.jpg").read_bytes(), "messi mirrored": jpeg(messi[:, ::-1].copy()),
            "astronaut": jpeg(astronaut), "two": jpeg(side), "street": fixture_image("vtest_000.jpg").read_bytes()}


@pytest.fixture(scope="module")
def browser():
    with playwright_or_fail()() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, server, tmp_path, request):
    """A fresh browser context (no cookies) at a given width; its screenshot is saved when the test ends."""
    opened = []

    def make(width: int = 1200, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        watch = Watch()
        watch.attach(page)
        opened.append((context, page))
        return page, watch

    yield make
    for i, (context, page) in enumerate(opened):
        page.screenshot(path=str(tmp_path / f"{request.node.name}-{i}.png"), full_page=True)
        context.close()


def sign_in(page, server, key: str) -> None:
    page.goto(server.url + "/")
    page.fill("#login-key", key)
    with page.expect_navigation():
        page.click("#login-form button[type=submit]")
    page.wait_for_selector("#logout", state="visible")


def wait_until(page, predicate: str, timeout_s: float = 30) -> None:
    """Poll a JS predicate (the page's CSP forbids the eval that page.wait_for_function uses)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(predicate):
        assert time.monotonic() < deadline, f"not true within {timeout_s} s: {predicate}"
        time.sleep(0.1)


def drop(page, selector: str, name: str, data: bytes) -> None:
    """Drop a file on an element as a user dragging it from their desktop would."""
    page.evaluate("""([selector, name, b64]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const files = new DataTransfer();
        files.items.add(new File([bytes], name, { type: "image/jpeg" }));
        document.querySelector(selector).dispatchEvent(new DragEvent("drop", { dataTransfer: files, bubbles: true }));
    }""", [selector, name, base64.b64encode(data).decode()])


def try_image(page, name: str, data: bytes) -> None:
    page.goto(page.url.split("#")[0] + "#try")
    page.locator("input[type=file]").first.set_input_files(_file(name, data))
    expect(page.locator("#try-status")).to_have_text(re.compile("^" + re.escape(name) + ": "), timeout=TIMEOUT_MS)


def test_try_an_image_draws_person_boxes(open_page, server, photos):
    page, watch = open_page()
    sign_in(page, server, API_KEY)
    try_image(page, "street.jpg", photos["street"])
    rows = page.locator("#try-list li.object").all_inner_texts()
    persons = [r for r in rows if r.startswith("person ")]
    assert len(persons) >= 3, rows
    assert all(0 < float(r.split()[1]) <= 1 for r in persons)
    canvas = page.locator("#try-canvas")
    assert canvas.is_visible()
    boxes = [b for b in json.loads(canvas.get_attribute("data-boxes")) if b["label"] == "person"]
    assert len(boxes) == len(persons)
    # the box really is drawn: the pixel in the middle of its top edge has the box's colour
    drawn = page.evaluate("""(boxes) => { const c = document.getElementById('try-canvas').getContext('2d');
        return boxes.map(b => Array.from(c.getImageData(Math.round((b.box[0] + b.box[2]) / 2),
                                                        Math.round(b.box[1]), 1, 1).data).slice(0, 3)); }""", boxes)
    hits = sum(_close(rgb, b["color"]) for rgb, b in zip(drawn, boxes, strict=True))
    assert hits >= len(boxes) // 2, (drawn, [b["color"] for b in boxes])
    raw = json.loads(page.locator("#try-json").text_content())
    assert len([label for label in raw["detect"]["labels"] if label["name"] == "person"]) == len(persons)
    assert not watch.errors and not watch.foreign(server.url), (watch.errors, watch.foreign(server.url))


def _close(rgb: list[int], color: str, tolerance: int = 40) -> bool:
    want = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, want, strict=True))


def test_enrol_a_person_then_recognise_them_in_another_photo(open_page, server, photos, tmp_path):
    page, watch = open_page()
    sign_in(page, server, ADMIN_KEY)
    page.goto(server.url + "/#people")
    page.fill("#enrol-name", "messi")
    page.set_input_files("#enrol-files", [_file("messi.jpg", photos["messi"]), _file("nobody.jpg", photos["street"])])
    page.wait_for_selector("#enrol-results li[data-outcome='added']")
    page.wait_for_selector("#enrol-results li:nth-child(1)[data-outcome]")  # the second file answered too
    outcomes = dict(r.split(": ", 1) for r in page.locator("#enrol-results li").all_inner_texts())
    assert outcomes["messi.jpg"] == "face found, enrolled"
    assert outcomes["nobody.jpg"] in ("no face found", "face too small", "face too blurry"), outcomes
    card = page.locator(".person[data-name='messi']")
    card.locator("img").first.wait_for()
    wait_until(page, "() => [...document.querySelectorAll('.person img')].every(i => i.complete && i.naturalWidth)")
    page.screenshot(path=str(tmp_path / "people.png"), full_page=True)
    try_image(page, "mirrored.jpg", photos["messi mirrored"])
    faces = page.locator("#try-list li.face").all_inner_texts()
    assert len(faces) == 1 and faces[0].startswith("face: messi (known, similarity 0."), faces
    assert not watch.errors, watch.errors


def test_a_photo_with_several_faces_lets_the_user_pick_one(open_page, server, photos, tmp_path):
    page, watch = open_page()
    sign_in(page, server, ADMIN_KEY)
    page.goto(server.url + "/#people")
    page.fill("#enrol-name", "picked")
    page.set_input_files("#enrol-files", _file("two.jpg", photos["two"]))
    page.wait_for_selector("#enrol-choose", state="visible")
    boxes = json.loads(page.locator("#choose-canvas").get_attribute("data-boxes"))
    assert len(boxes) == 2
    page.screenshot(path=str(tmp_path / "choose.png"), full_page=True)
    right = max(boxes, key=lambda b: b["box"][0])  # Messi, on the right
    canvas = page.locator("#choose-canvas")
    size = canvas.bounding_box()
    width = page.evaluate("document.getElementById('choose-canvas').width")
    scale = size["width"] / width
    x, y = (right["box"][0] + right["box"][2]) / 2 * scale, (right["box"][1] + right["box"][3]) / 2 * scale
    canvas.click(position={"x": x, "y": y})
    # the face taken is Messi's, enrolled as "messi" above: refused, naming him (409 with `matches`)
    refused = page.locator("#enrol-results li[data-outcome='matches']").first
    refused.wait_for()
    said = refused.inner_text()  # the file named once, by the name it was uploaded with
    assert said.startswith("two.jpg: this face already matches messi; not enrolled as picked (enrol it anyway with "
                           "force)") and said.count("two.jpg") == 1, said
    try_image(page, "mirrored.jpg", photos["messi mirrored"])
    faces = page.locator("#try-list li.face").all_inner_texts()
    assert len(faces) == 1 and "messi" in faces[0], faces
    assert not [e for e in watch.errors if "409" not in e], watch.errors  # the refusal's 409 is the one expected


def test_name_a_stranger_cluster(open_page, server, photos, tmp_path):
    page, watch = open_page()
    sign_in(page, server, ADMIN_KEY)
    before = {c["id"] for c in page.request.get(server.url + "/v2/strangers").json()}
    try_image(page, "astronaut.jpg", photos["astronaut"])
    assert page.locator("#try-list li.face").all_inner_texts() == ["face: unknown (unknown, similarity 0.00)"] or \
        page.locator("#try-list li.face.unknown").count() == 1
    new = [c for c in page.request.get(server.url + "/v2/strangers").json() if c["id"] not in before]
    assert len(new) == 1 and new[0]["sightings"] >= 1
    page.goto(server.url + "/#strangers")
    card = page.locator(f".stranger[data-cluster='{new[0]['id']}']")
    card.locator("img").first.wait_for()
    assert "sightings" in card.inner_text()
    page.screenshot(path=str(tmp_path / "strangers.png"), full_page=True)
    card.locator("input").fill("eileen")
    card.get_by_role("button", name="Name").click()
    card.wait_for(state="detached")
    page.goto(server.url + "/#people")
    page.locator(".person[data-name='eileen'] img").first.wait_for()
    try_image(page, "astronaut again.jpg", photos["astronaut"])
    assert page.locator("#try-list li.face").all_inner_texts()[0].startswith("face: eileen (known")
    assert not watch.errors, watch.errors


def test_wrong_key_refused_and_changes_need_the_csrf_token(open_page, server, photos, tmp_path):
    page, _ = open_page()
    page.goto(server.url + "/")
    assert page.locator("#login").is_visible()
    page.fill("#login-key", "not-the-key")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("Refused")
    assert "Incorrect" in page.locator("#login-error").inner_text()
    page.screenshot(path=str(tmp_path / "refused.png"))
    assert not [c for c in page.context.cookies() if c["name"] == "vigil_session"]
    sign_in(page, server, API_KEY)
    cookie = next(c for c in page.context.cookies() if c["name"] == "vigil_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    form = {"image": {"name": "a.jpg", "mimeType": "image/jpeg", "buffer": photos["astronaut"]}}
    forged = page.request.post(server.url + "/v2/detect", multipart=form)  # the cookie alone, no token
    assert forged.status == 401 and "X-CSRF-Token" in forged.json()["error"]
    gallery = page.request.post(server.url + "/v2/ui/enroll/x", multipart=form,
                                headers={"X-CSRF-Token": _csrf(page)})  # the api key may not change the gallery
    assert gallery.status == 401
    ok = page.request.post(server.url + "/v2/detect", multipart=form, headers={"X-CSRF-Token": _csrf(page)})
    assert ok.status == 200


def _csrf(page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "vigil_csrf")


def test_phone_width_tour_without_console_errors_or_foreign_loads(open_page, server, photos, tmp_path):
    page, watch = open_page(390, 844)
    sign_in(page, server, ADMIN_KEY)
    drop(page, "#try-drop", "dropped.jpg", photos["messi mirrored"])  # drag and drop instead of the file input
    expect(page.locator("#try-status")).to_have_text(re.compile("^dropped.jpg: "), timeout=TIMEOUT_MS)
    assert page.locator("#try-list li.face").count() == 1
    page.screenshot(path=str(tmp_path / "phone-try.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for view, ready in [("people", "#people"), ("strangers", "#strangers"), ("models", "#models tbody tr"),
                        ("events", "#events li")]:
        page.goto(f"{server.url}/#{view}")
        page.wait_for_selector(ready, state="attached")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, view
        page.screenshot(path=str(tmp_path / f"phone-{view}.png"), full_page=True)
    wait_until(page, "() => [...document.querySelectorAll('#events img')].some(i => i.complete && i.naturalWidth)")
    page.goto(f"{server.url}/#models")
    page.wait_for_selector("#models tbody tr", state="attached")
    models = dict(zip(page.locator("#models td:first-child").all_inner_texts(),
                      page.locator("#models td:nth-child(2)").all_inner_texts(), strict=True))
    assert models["detect"] == "yolov4_tiny.coco", models  # the models in use, no wall of source URLs
    expect(page.locator("#status dd[data-key='MQTT']")).to_have_text("off ([mqtt] host not set)")
    expect(page.locator("#cameras")).to_contain_text("No watched cameras.")
    assert not watch.errors, watch.errors
    assert not watch.foreign(server.url), watch.foreign(server.url)
    assert any(u.endswith("/ui/favicon.svg") for u in watch.urls)
