"""Zones, masks and lines on tracks built by hand (`make_track`), config checks naming the key, the stationary flag."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from tests.tracks.builders import make_track
from vigil.config.cameras import CameraConfig
from vigil.config.settings import load_config
from vigil.errors import ConfigError
from vigil.results import CLASS_NAME, Detections, Track
from vigil.tracks.geometry import crosses, inside
from vigil.tracks.scene import Scene
from vigil.tracks.tracker import Tracker, forget_ended, stationary


def replay(scene: Scene, *tracks: Track) -> list:
    """Feed the tracks frame by frame, as the tracker would; the loitering events."""
    events = []
    for i in range(max(len(t.boxes) for t in tracks)):
        seen = []
        for t in tracks:
            if i < len(t.boxes):
                seen.append(Track(t.id, t.label, t.boxes[: i + 1]))
        events += scene.update(seen[0].boxes[-1][1], seen)
    return events


@pytest.mark.parametrize(("path", "counts"), [
    ([(50, 20), (50, 80)], {"in": 1, "out": 0}),  # line points right (→): moving down the image crosses left → right
    ([(50, 80), (50, 20)], {"in": 0, "out": 1}),
    ([(50, 20), (50, 80), (50, 20)], {"in": 1, "out": 1}),
    ([(150, 20), (150, 80)], {"in": 0, "out": 0}),  # past the segment's end: no crossing
    ([(50, 20), (50, 50), (50, 80)], {"in": 1, "out": 0}),  # stops on the line, then steps off the other side
    ([(50, 20), (50, 50), (50, 20)], {"in": 0, "out": 0}),  # stops on it and goes back
])
def test_line_counts_direction_as_seen_from_its_first_point(path, counts):
    scene = Scene(CameraConfig(lines={"mid": {"points": [(0, 50), (100, 50)]}}), 200, 100)
    replay(scene, make_track(1, path))
    assert scene.lines["mid"] == counts


def test_crosses_reads_right_of_the_line_with_y_down():
    a, b = np.array([0.0, 0.0]), np.array([0.0, 10.0])  # pointing down the image: its right is the image's left
    assert crosses(a, b, np.array([5.0, 5.0]), np.array([-5.0, 5.0])) == 1
    assert crosses(a, b, np.array([-5.0, 5.0]), np.array([5.0, 5.0])) == -1


def test_zone_occupancy_dwell_and_loitering():
    camera = CameraConfig(zones={"door": {"points": [(0, 0), (100, 0), (100, 100), (0, 100)], "loiter_s": 2.0}})
    scene = Scene(camera, 300, 200)
    walker = make_track(1, [(50, 50), (150, 50), (250, 50), (250, 50), (250, 50), (250, 50), (250, 50)])
    loiterer = make_track(2, [(20, 50), (30, 50), (40, 50), (50, 50), (60, 50), (70, 50), (150, 50)])
    car = make_track(3, [(60, 60), (60, 60)], label="car")
    events = replay(scene, walker, loiterer, car)
    zone = scene.zones["door"]
    assert zone.max == {"person": 2, "car": 1}
    assert zone.dwell_s == {1: 0.0, 2: 2.5, 3: 0.5}
    assert [(e.zone, e.track_id) for e in events] == [("door", 2)] and zone.loitering == [2]
    assert zone.now == {}  # on the last frame nobody stands inside


def test_dwell_adds_up_stays_and_ignores_time_outside():
    scene = Scene(CameraConfig(zones={"z": {"points": [(0, 0), (100, 0), (100, 100), (0, 100)]}}), 300, 200)
    replay(scene, make_track(1, [(50, 50), (60, 50), (200, 50), (200, 50), (50, 50), (60, 50)], step_s=1.0))
    assert scene.zones["z"].dwell_s == {1: 2.0}


def test_mask_hides_objects_standing_in_it_by_their_foot_point():
    scene = Scene(CameraConfig(masks={"street": [(0, 0), (100, 0), (100, 100), (0, 100)]}), 300, 200)
    boxes = Detections(np.array([[40, 0, 60, 90], [40, 50, 60, 150], [150, 0, 170, 90]]), np.ones(3),
                       np.zeros(3), {CLASS_NAME: np.array(["car", "person", "car"], dtype=object)})
    kept = scene.unmasked(boxes)
    assert kept.data[CLASS_NAME].tolist() == ["person", "car"]  # the first box's feet (50, 90) are in the mask


def test_polygon_test_includes_concave_shapes():
    l_shape = np.array([(0, 0), (100, 0), (100, 30), (30, 30), (30, 100), (0, 100)])
    assert inside(l_shape, np.array([(10, 10), (80, 10), (10, 80), (80, 80)])).tolist() == [True, True, True, False]


@pytest.mark.parametrize(("table", "key"), [
    ({"zones": {"door": {"points": [[0, 0], [10, 0]]}}}, "cameras.porch.zones.door.points"),
    ({"lines": {"mid": {"points": [[0, 0], [0, 0]]}}}, "cameras.porch.lines.mid.points"),
    ({"masks": {"road": [[0, 0], [5, 5]]}}, "cameras.porch.masks"),
    ({"width": 640, "height": 480, "zones": {"door": {"points": [[0, 0], [700, 0], [0, 10]]}}}, "zones.door"),
])
def test_bad_shapes_are_config_errors_naming_the_key(tmp_path, table, key):
    toml = tmp_path / "vigil.toml"
    lines = ["[cameras.porch]"] + [f"{k} = {_toml(v)}" for k, v in table.items()]
    toml.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(toml)


def _toml(value) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return str(value).replace("'", '"')


def test_a_shape_outside_the_first_frame_names_the_key():
    camera = CameraConfig(lines={"gate": {"points": [(0, 0), (800, 10)]}})
    with pytest.raises(ConfigError, match=r"cameras\.porch\.lines\.gate: lies outside the 768×576 frame"):
        Scene(camera, 768, 576, "cameras.porch.")
    Scene(camera, 800, 576)  # on the edge is inside


def test_a_negative_coordinate_is_refused_when_the_config_loads():
    with pytest.raises(ValidationError, match="outside the frame"):
        CameraConfig(zones={"z": {"points": [(-1, 0), (10, 0), (0, 10)]}})


@pytest.mark.parametrize(("feet", "step_s", "expected"), [
    ([(100, 100)] * 30, 0.1, True),
    ([(100 + i, 100) for i in range(30)], 0.1, False),  # 20 px over its last 2 s: more than 5% of 100
    ([(100 + 0.2 * i, 100) for i in range(30)], 0.1, True),  # 4 px over its last 2 s: < 5% of 100
    ([(100, 100) for _ in range(20)] + [(140, 100)], 0.1, False),  # just moved
    ([(100 + 10 * i, 100) for i in range(10)] + [(190, 100)] * 25, 0.1, True),  # walked, then stood 2.5 s
    ([(100, 100)], 0.1, False),  # seen once: not shown to stand still
])
def test_stationary_over_the_last_two_seconds(feet, step_s, expected):
    assert stationary(make_track(1, feet, step_s=step_s)) is expected


def test_the_facade_names_a_bad_shape():
    import vigil.api as facade
    from tests.tracks.mot import CLIP

    with pytest.raises(ConfigError, match=r"^zones\.door\.points: a zone needs at least 3 points, got 2$"):
        facade.track(CLIP, zones={"door": [(300, 150), (500, 150)]})


def test_occupancy_holds_over_a_missed_frame_and_a_live_camera_forgets_ended_tracks():
    camera = CameraConfig(zones={"z": {"points": [(0, 0), (100, 0), (100, 100), (0, 100)]}})
    scene = Scene(camera, 300, 200)
    a, b = make_track(1, [(50, 50)] * 6, step_s=0.25), make_track(2, [(60, 50)] * 6, step_s=0.25)
    nows = []
    for i in range(6):
        seen = [Track(1, "person", a.boxes[: i + 1])] + ([] if i == 3 else [Track(2, "person", b.boxes[: i + 1])])
        scene.update(i * 0.25, seen)
        nows.append(scene.zones["z"].now.get("person", 0))
    assert nows == [2, 2, 2, 2, 2, 2]  # b missed on frame 3: still counted (PRESENT_S)
    scene.update(3.0, [Track(1, "person", a.boxes)])
    assert scene.zones["z"].now == {"person": 1}  # b unseen for 1.75 s: gone
    scene.forget({2})
    assert set(scene.zones["z"].dwell_s) == {1}
    tracker = Tracker(10)
    tracker.tracks = {1: a, 2: make_track(2, [(60, 50)] * 2, step_s=10.0)}  # track 2 last seen at 10 s
    assert forget_ended(tracker, now_s=65.0, after_s=60.0) == {1} and set(tracker.tracks) == {2}
