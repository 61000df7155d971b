"""Frame skip with the seed's semantics: monitor = 5th path field, frame = leading digits before '-'."""

from __future__ import annotations

import pytest

from vigil.execute.frameskip import FrameSkip, parse

EVENT = "/nvr/zoneminder/events/PlayroomDoor/19/04/04/04/30/00"


@pytest.mark.parametrize(("path", "expected"), [
    (f"{EVENT}/00088-capture.jpg", ("PlayroomDoor", 88)),
    ("/nvr/zoneminder/events/Front/00001-analyse.jpg", ("Front", 1)),
    (f"{EVENT}/capture-00088.jpg", None),  # no leading frame number
    ("/short/00001-capture.jpg", None),  # no monitor field
    ("relative/a/b/c/d/00001-capture.jpg", ("d", 1)),  # the seed's split, whatever the path is
])
def test_parse(path, expected):
    assert parse(path) == expected


@pytest.mark.parametrize(("skip", "frames", "reused"), [
    (0, [1, 2, 3], [False, False, False]),  # off
    (2, [1, 2, 3, 4], [False, True, True, False]),  # within 2 of the last run (1), then 4 runs
    (1, [10, 11, 12, 13], [False, True, False, True]),
    (5, [7, 3], [False, False]),  # an earlier frame number: a new event, run
])
def test_reuse_within_n_frames_of_the_last_run(skip, frames, reused):
    fs = FrameSkip(skip)
    got = []
    for frame in frames:
        path = f"{EVENT}/{frame:05d}-capture.jpg"
        labels = fs.reuse(path)
        got.append(labels is not None)
        if labels is None:
            fs.remember(path, f"labels of {frame}")
    assert got == reused


def test_monitors_are_independent():
    fs = FrameSkip(3)
    fs.remember("/nvr/zoneminder/events/A/1/00001-capture.jpg", "a")
    assert fs.reuse("/nvr/zoneminder/events/A/1/00002-capture.jpg") == "a"
    assert fs.reuse("/nvr/zoneminder/events/B/1/00002-capture.jpg") is None
