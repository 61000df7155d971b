"""Tracks built by hand, for tests of what is computed from tracks (zones, lines, events)."""

from __future__ import annotations

from vigil.results import Track


def make_track(track_id: int, feet: list[tuple[float, float]], label: str = "person", step_s: float = 0.5,
               height: float = 100.0) -> Track:
    """A track whose foot point visits `feet` in order, one frame every `step_s`."""
    track = Track(track_id, label)
    for i, (x, y) in enumerate(feet):
        track.boxes.append((i, i * step_s, (x - 10, y - height, x + 10, y), 0.9))
    return track
