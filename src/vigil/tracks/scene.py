"""A camera's scene: masks that hide objects, zones that count and time them, lines that count crossings.

Every test is on a box's foot point (tracks/geometry.py). Occupancy is counted on frames the detector ran on; a
track's dwell in a zone is the time between the first and the last frame it was seen inside, summed over its stays
(a frame it was missed on does not end a stay; a frame it was seen outside does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vigil.config.cameras import CameraConfig
from vigil.errors import ConfigError
from vigil.results import Detections, Loitering, Track, ZoneReport
from vigil.tracks.geometry import crosses, foot_points, inside, side, within_frame

PRESENT_S = 1.0  # a track inside a zone counts as there until it has gone unseen this long (a missed frame is no exit)


@dataclass
class _Stay:
    label: str
    entered: float
    last: float
    before: float = 0.0  # seconds of earlier stays
    inside: bool = True
    loitered: bool = False

    @property
    def dwell(self) -> float:
        return self.before + (self.last - self.entered)


def outside_masks(detections: Detections, masks: dict[str, list[tuple[float, float]]]) -> Detections:
    """The detections whose foot point falls in no mask (a camera's `masks`; the watcher's frames use it too)."""
    if not masks or not len(detections):
        return detections
    feet = foot_points(detections.xyxy)
    hidden = np.zeros(len(detections), bool)
    for points in masks.values():
        hidden |= inside(np.array(points), feet)
    return detections[~hidden]


@dataclass
class Scene:
    camera: CameraConfig
    width: int
    height: int
    where: str = "cameras.<name>."  # how config keys are named in messages ("--": as command-line options)
    lines: dict[str, dict[str, int]] = field(default_factory=dict)
    zones: dict[str, ZoneReport] = field(default_factory=dict)
    _stays: dict[tuple[str, int], _Stay] = field(default_factory=dict)
    _last_foot: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """ConfigError naming the key of any zone, line or mask that does not lie inside this camera's frames."""
        for key, points in self.camera.shapes().items():
            if not within_frame(np.array(points), self.width, self.height):
                raise ConfigError(f"{self._named(key)}: lies outside the {self.width}×{self.height} frame "
                                  f"(0 ≤ x ≤ {self.width}, 0 ≤ y ≤ {self.height})")
        self.lines = {name: {"in": 0, "out": 0} for name in self.camera.lines}
        self.zones = {name: ZoneReport() for name in self.camera.zones}

    def reshape(self, camera: CameraConfig) -> None:
        """New zones, lines and masks (the page's, checked against this frame size by config/cameras.py): zones
        and lines that keep their name keep their counts."""
        self.camera = camera
        self.lines = {name: self.lines.get(name, {"in": 0, "out": 0}) for name in camera.lines}
        self.zones = {name: self.zones.get(name, ZoneReport()) for name in camera.zones}
        self._stays = {k: v for k, v in self._stays.items() if k[0] in camera.zones}
        self._last_foot = {k: v for k, v in self._last_foot.items() if k[1] in camera.lines}

    def _named(self, key: str) -> str:
        """A shape's key as the user wrote it: `cameras.door.zones.z` in the config, `--zone z` on the command line."""
        if self.where != "--":
            return f"{self.where}{key}"
        kind, _, name = key.partition(".")
        return f"--{kind.removesuffix('s')} {name}"

    def unmasked(self, detections: Detections) -> Detections:
        return outside_masks(detections, self.camera.masks)

    def forget(self, track_ids: set[int]) -> None:
        """Drop what is kept about tracks that are over (a live camera's memory stays bounded)."""
        self._stays = {k: v for k, v in self._stays.items() if k[1] not in track_ids}
        self._last_foot = {k: v for k, v in self._last_foot.items() if k[0] not in track_ids}
        for report in self.zones.values():
            for track_id in track_ids & set(report.dwell_s):
                del report.dwell_s[track_id]
            report.loitering = [i for i in report.loitering if i not in track_ids]

    def update(self, time_s: float, seen: list[Track]) -> list[Loitering]:
        """The tracks seen on one analysed frame: line crossings, zone occupancy and dwell; new loiterers."""
        feet = {t.id: foot_points(np.array(t.boxes[-1][2]))[0] for t in seen}
        self._count_crossings(feet)
        return [event for name in self.camera.zones for event in self._zone(name, time_s, seen, feet)]

    def _count_crossings(self, feet: dict[int, np.ndarray]) -> None:
        """A crossing is judged between the last two points off the line, so a foot that stops on it still counts
        once it steps off on the other side."""
        for track_id, point in feet.items():
            for name, line in self.camera.lines.items():
                a, b = np.array(line.points[0]), np.array(line.points[1])
                if side(a, b, point) == 0:
                    continue
                before = self._last_foot.get((track_id, name))
                self._last_foot[(track_id, name)] = point
                way = crosses(a, b, before, point) if before is not None else 0
                if way:
                    self.lines[name]["in" if way > 0 else "out"] += 1

    def _zone(self, name: str, time_s: float, seen: list[Track], feet: dict[int, np.ndarray]) -> list[Loitering]:
        zone, report = self.camera.zones[name], self.zones[name]
        counted = [t for t in seen if not zone.labels or t.label in zone.labels]
        events = []
        for track in counted:
            key = (name, track.id)
            stay = self._stays.get(key)
            if not inside(np.array(zone.points), feet[track.id])[0]:
                if stay is not None and stay.inside:
                    stay.inside, stay.before, stay.entered = False, stay.dwell, stay.last
                continue
            if stay is None:
                stay = self._stays[key] = _Stay(track.label, entered=time_s, last=time_s)
            elif not stay.inside:
                stay.inside, stay.entered = True, time_s
            stay.last = time_s
            report.dwell_s[track.id] = round(stay.dwell, 3)
            if zone.loiter_s is not None and not stay.loitered and stay.dwell >= zone.loiter_s:
                stay.loitered = True
                report.loitering.append(track.id)
                events.append(Loitering(name, track.id, track.label, stay.dwell, time_s))
        now: dict[str, int] = {}
        for (zone_name, _), stay in self._stays.items():
            if zone_name == name and stay.inside and time_s - stay.last <= PRESENT_S:
                now[stay.label] = now.get(stay.label, 0) + 1
        report.now = now
        for label, count in now.items():
            report.max[label] = max(report.max.get(label, 0), count)
        return events
