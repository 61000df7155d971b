"""A camera's scene on MQTT, for live cameras (events/camera_feed.py) and the watcher's folder cameras
(events/watch_scenes.py) alike: zone occupancy per label (retained, on change), line counts (retained, on change),
loitering events, the camera's availability, and the Home Assistant entities of its zones and lines (topics and
payloads in formats/tracks.py and formats/cameras.py)."""

from __future__ import annotations

from collections.abc import Callable

from vigil.config.cameras import CameraConfig
from vigil.formats import tracks as wire
from vigil.formats.cameras import shape_states
from vigil.formats.events import dumps
from vigil.results import Loitering
from vigil.tracks.scene import Scene

Send = Callable[[str, bytes, bool], None]  # topic, payload, retain (MqttPublisher.send)
# camera, zone → labels, lines, and the zones and lines gone (MqttPublisher.discover_feed)
Discover = Callable[[str, dict[str, list[str]], list[str], dict[str, list[str]] | None, list[str] | None], None]


class SceneStates:
    def __init__(self, name: str, camera: CameraConfig, send: Send, prefix: str = "vigil",
                 discover: Discover | None = None) -> None:
        self.name, self.camera, self.send, self.discover = name, camera, send, discover
        self.prefix = prefix.rstrip("/")
        self._zone_labels = {zone: set(z.labels) for zone, z in camera.zones.items()}
        self._published: dict[str, bytes] = {}

    def announce(self, gone_zones: dict[str, list[str]] | None = None, gone_lines: list[str] | None = None) -> None:
        """The camera's Home Assistant entities: online, its zones per label, its lines, loitering."""
        if self.discover is not None:
            self.discover(self.name, {k: sorted(v) for k, v in self._zone_labels.items()}, sorted(self.camera.lines),
                          gone_zones, gone_lines)

    def available(self, online: bool) -> None:
        self._once(wire.camera_available_topic(self.prefix, self.name), b"online" if online else b"offline")

    def reshape(self, camera: CameraConfig) -> None:
        """New zones and lines (the scene already took them): those gone lose their entities and retained states."""
        gone_zones = {k: sorted(v) for k, v in self._zone_labels.items() if k not in camera.zones}
        gone_lines = sorted(set(self.camera.lines) - set(camera.lines))
        self.camera = camera
        for topic in shape_states(self.prefix, self.name, gone_zones, gone_lines):
            self._published.pop(topic, None)  # cleared by the publisher: sent again if the shape comes back
        self._zone_labels = {zone: set(z.labels) for zone, z in camera.zones.items()}
        self.announce(gone_zones, gone_lines)

    def publish(self, scene: Scene, loiterers: list[Loitering]) -> None:
        """The scene after an analysed frame: what changed of its zones and lines, and its new loiterers."""
        for zone_name, report in scene.zones.items():
            labels = self._zone_labels.setdefault(zone_name, set())
            if not set(report.max) <= labels:  # a label seen in the zone for the first time: its entities
                labels |= set(report.max)
                self.announce()
            for label in report.max:
                self._once(wire.zone_topic(self.prefix, self.name, zone_name, label),
                           str(report.now.get(label, 0)).encode())
        for line, counts in scene.lines.items():
            self._once(wire.line_topic(self.prefix, self.name, line), dumps(counts))
        for event in loiterers:
            self.send(wire.loitering_topic(self.prefix, self.name), dumps(wire.loitering(self.name, event)), False)

    def _once(self, topic: str, payload: bytes) -> None:
        """A retained state, sent only when it changes."""
        if self._published.get(topic) != payload:
            self._published[topic] = payload
            self.send(topic, payload, True)
