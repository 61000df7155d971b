"""Events from tracks: one per track (never one per frame) carrying `track_id`, ended `hold_s` after the track was
last seen; a stationary object found again opens no new event, after a gap in the frames too; a better view moves
the event's source; faces take their person track's id; the event log keeps `track_id` (migration 2) and upgrades a
log written before it."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from tests.tracks.builders import make_track
from vigil.db.sql_schema import Schema
from vigil.db.sqlite_file import migrate_file
from vigil.events.log import EventLog
from vigil.events.schema import EVENTS_SCHEMA, MIGRATIONS
from vigil.events.track_events import TrackEvents
from vigil.events.watch_tracks import NO_TRACK, with_track_ids
from vigil.results import Detections, Event, EventChange, Track


def frames_of(*tracks: Track):
    """(time_s, tracks seen) per frame, as the tracker reports them: each track as far as it has come."""
    for i in range(max(t.last_frame for t in tracks) + 1):
        seen = [Track(t.id, t.label, [b for b in t.boxes if b[0] <= i]) for t in tracks
                if any(b[0] == i for b in t.boxes)]
        yield i * 0.5, seen


def run(events: TrackEvents, *tracks: Track, until_s: float | None = None) -> list[EventChange]:
    changes = [c for time_s, seen in frames_of(*tracks) for c in events.observe(time_s, seen)]
    if until_s is not None:
        changes += events.observe(until_s, [])
    return changes


def test_one_event_per_track_with_its_id_ended_after_the_hold_time():
    walker = make_track(7, [(100 + 20 * i, 300) for i in range(10)])
    events = TrackEvents("porch", hold_s=3.0, started_at=1000.0)
    changes = run(events, walker)
    assert [c.type for c in changes] == ["new"] and changes[0].event.track_id == 7
    assert changes[0].event.start == 1000.0 and changes[0].event.frames == 10
    ended = events.observe(4.5 + 3.0, [])
    assert [(c.type, c.event.track_id, c.event.end) for c in ended] == [("end", 7, 1004.5)]


def test_a_single_alarm_frame_opens_an_event():
    changes = run(TrackEvents("porch", 30.0, 0.0), make_track(1, [(50, 50)]))
    assert [c.type for c in changes] == ["new"]


def test_two_people_two_events_and_a_better_view_updates():
    a = make_track(1, [(100 + 20 * i, 300) for i in range(4)])
    b = make_track(2, [(400 - 20 * i, 300) for i in range(4)])
    b.boxes[3] = (*b.boxes[3][:3], 0.99)  # a much better view on its last frame
    changes = run(TrackEvents("porch", 30.0, 0.0), a, b)
    assert [(c.type, c.event.track_id) for c in changes] == [("new", 1), ("new", 2), ("update", 2)]
    assert changes[-1].event.score == 0.99


def test_a_parked_truck_found_again_opens_no_new_event_until_it_moves():
    events = TrackEvents("drive", hold_s=2.0, started_at=0.0)
    parked = make_track(1, [(300, 400)] * 6, label="truck")
    assert [c.type for c in run(events, parked, until_s=10.0)] == ["new", "end"]
    again = make_track(2, [(300, 400)] * 4, label="truck")  # hidden by a passing van, then a new track id
    assert [c.type for c in run(events, again)] == []
    leaves = make_track(3, [(301, 400)] * 5 + [(300 + 40 * i, 400) for i in range(1, 5)], label="truck")
    changes = run(events, leaves)
    assert [(c.type, c.event.track_id) for c in changes] == [("new", 3)]  # it drove off: news


def test_the_event_log_keeps_track_id_and_upgrades_an_older_log(tmp_path):
    path = tmp_path / "events.sqlite3"
    conn = sqlite3.connect(path)
    migrate_file(conn, Schema(MIGRATIONS[:1], key="events", noun="event log"), path, existed=False)
    conn.execute("INSERT INTO events(camera, label, start, last_seen, count, max_count, score, box, frames) "
                 "VALUES ('yard', 'person', 1, 1, 1, 1, 0.9, '[0, 0, 1, 1]', 1)")
    conn.commit()
    conn.close()
    with EventLog(path) as log:
        assert EVENTS_SCHEMA.version >= 2
        old = log.query()[0]
        assert old.track_id is None
        log.save([EventChange("new", Event("yard", "person", 2.0, 0.8, (1, 2, 3, 4), last_seen=2.0, track_id=42))])
        assert [e.track_id for e in log.query()] == [42, None]


def test_after_a_gap_what_stands_where_a_track_was_last_seen_opens_no_new_event():
    """Alarm frames far apart (the watcher restarts its tracker): the truck seen on one frame, then on the next
    alarm at the same place under a new track id, stays quiet; a person elsewhere is news."""
    events = TrackEvents("drive", hold_s=30.0, started_at=0.0)
    assert [c.type for c in run(events, make_track(1, [(300, 400)], label="truck"))] == ["new"]
    events.restart()
    assert run(events, make_track(2, [(301, 400)], label="truck")) == []
    assert [c.event.track_id for c in run(events, make_track(3, [(100, 400)]))] == [3]
    events.restart()  # quiet track 2 was last seen there too: still quiet after the next gap
    assert run(events, make_track(4, [(300, 400)], label="truck")) == []


def test_a_better_view_makes_its_frame_the_events_source():
    track = make_track(5, [(100, 300), (120, 300)])
    events = TrackEvents("porch", 30.0, 0.0)
    events.observe(0.0, [Track(5, "person", track.boxes[:1])], "a.jpg")
    track.boxes[1] = (*track.boxes[1][:3], 0.99)
    [change] = events.observe(0.5, [track], "b.jpg")
    assert (change.type, change.event.source, change.event.score) == ("update", "b.jpg", 0.99)
    assert events.open_events([5, 6]) == [change.event]


@pytest.mark.parametrize(("face", "expected"), [
    ((140, 110, 160, 130), 2),  # inside both person boxes: the smaller one's
    ((20, 110, 40, 130), 1),  # inside the big one only
    ((500, 110, 520, 130), NO_TRACK),  # on no person
    ((300, 110, 320, 130), NO_TRACK),  # inside a dog: not a person track
])
def test_a_face_takes_the_id_of_the_smallest_person_track_holding_it(face, expected):
    seen = [make_track(1, [(150, 500)], height=450), make_track(2, [(150, 300)], height=250),
            make_track(3, [(310, 300)], label="dog", height=250)]
    for track, width in zip(seen, (150, 20, 20), strict=True):  # widen the boxes around their foot points
        _, t, (x1, y1, x2, y2), score = track.boxes[0]
        track.boxes[0] = (0, t, ((x1 + x2) / 2 - width, y1, (x1 + x2) / 2 + width, y2), score)
    faces = Detections(np.array([face], dtype=np.float64), np.array([0.9]), np.zeros(1, np.int64),
                       {"name": np.array(["ann"], dtype=object)})
    assert with_track_ids(faces, seen).data["track_id"].tolist() == [expected]
