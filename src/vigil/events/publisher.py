"""Events to MQTT with paho-mqtt 2.x (imported only when `[mqtt] host` is set).

paho's network thread connects in the background and reconnects with back-off (1 s doubling to 60 s); a broker that
is down never blocks frame processing. QoS 1 messages published meanwhile wait in paho's queue (bounded by
MAX_QUEUED) and go out on reconnect; the event log keeps every event regardless. On every connect Vigil says
`online` (the last will says `offline`) and republishes the retained discovery configs, so a broker restarted
without persistence learns them again.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from vigil.config.events import MqttConfig
from vigil.formats import cameras as cameras_wire
from vigil.formats import events as wire
from vigil.formats import sightings as sightings_wire
from vigil.results import EventChange

log = logging.getLogger(__name__)
MAX_QUEUED = 10_000  # messages kept while the broker is away; beyond that new ones are dropped (logged)
BACKOFF_S = (1, 60)


class MqttPublisher:
    def __init__(self, config: MqttConfig, base_url: str) -> None:
        self.config, self.base_url = config, base_url
        self.prefix = config.topic_prefix.rstrip("/")
        self._client: Any = None
        self.discovery = config.discovery_prefix.rstrip("/")
        self._discovery: dict[str, bytes] = {}  # retained config topics published so far, republished on connect
        if self.discovery:  # the hub device every camera's device hangs under
            topic, hub = wire.hub_discovery(self.prefix, self.discovery)
            self._discovery[topic] = wire.dumps(hub)
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self._open: dict[tuple[str, str], set[tuple[int | None, int]]] = {}  # (camera, label) → its open events
        self._counting = threading.Lock()  # the event worker, its timer and the live cameras' threads all publish

    def start(self) -> MqttPublisher:
        import paho.mqtt.client as mqtt

        cfg = self.config
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cfg.client_id)
        client.will_set(wire.availability_topic(self.prefix), b"offline", qos=1, retain=True)
        if cfg.username:
            client.username_pw_set(cfg.username, cfg.password or None)
        if cfg.tls:
            client.tls_set()
        client.reconnect_delay_set(*BACKOFF_S)
        client.max_queued_messages_set(MAX_QUEUED)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self._client = client
        client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
        client.loop_start()  # paho's thread: connects, retries the first connection, reconnects with back-off
        return self

    def stop(self) -> None:
        if self._client is None:
            return
        if self.connected.is_set():
            info = self._client.publish(wire.availability_topic(self.prefix), b"offline", qos=1, retain=True)
            info.wait_for_publish(2)
        self._client.disconnect()
        self._client.loop_stop()
        self._client = None

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT broker refused the connection", extra={"reason": str(reason)})
            return
        log.info("MQTT connected", extra={"host": self.config.host, "port": self.config.port})
        client.publish(wire.availability_topic(self.prefix), b"online", qos=1, retain=True)
        with self._lock:
            retained = list(self._discovery.items())
        for topic, payload in retained:
            client.publish(topic, payload, qos=1, retain=True)
        self.connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.connected.clear()
        if reason.is_failure:  # not our own disconnect at shutdown
            log.warning("MQTT disconnected; reconnecting with back-off", extra={"reason": str(reason)})

    def _send(self, topic: str, payload: bytes, retain: bool = False) -> None:
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (0, 4):  # 4: not connected, kept in the queue and sent on reconnect
            log.warning("MQTT message dropped", extra={"topic": topic, "rc": info.rc})

    # --- what Vigil says ---------------------------------------------------------------------------------------
    def publish(self, changes: list[EventChange], retained: bool = True) -> None:
        """Each change on `<prefix>/events`, and the retained counts and face topics; `retained=False` (a camera
        that went away) sends only the events topic, so nothing of the camera is retained again.

        The count `<prefix>/<camera>/<label>` is how many of the camera's events of that label are open: objects
        make one event per track, so two people walking through count 2, and 1 once the first one's event ended
        (`hold_s` after it was last seen) while the other's goes on. A parked object that opened no event is not
        counted. Sent when an event opens or ends."""
        for change in changes:
            self._send(wire.events_topic(self.prefix), wire.dumps(wire.change_json(change, self.base_url)))
            if change.event.label != wire.FACE:
                self._count(change, retained)
            elif retained:
                self._face(change)

    def _count(self, change: EventChange, retained: bool) -> None:
        event = change.event
        key, place = (event.track_id, event.id), (event.camera, event.label)
        with self._counting:
            open_now = self._open.setdefault(place, set())
            before = len(open_now)
            if change.type == "end":
                open_now.discard(key)
            else:
                open_now.add(key)
            if retained and len(open_now) != before:
                self._send(wire.count_topic(self.prefix, *place), wire.count_payload(len(open_now)), retain=True)

    def _face(self, change: EventChange) -> None:
        event = change.event
        if change.type == "new" and event.cluster_id is not None:  # a stranger: once per cluster per hold
            self._send(wire.face_topic(self.prefix, event.camera, "unknown"),
                       wire.dumps(wire.face_payload(event, self.base_url)))
        elif change.type != "end" and event.name and event.cluster_id is None:
            self._send(wire.face_topic(self.prefix, event.camera, event.name),
                       wire.dumps(wire.face_payload(event, self.base_url)))
            self._send(wire.match_topic(self.prefix, event.name),
                       wire.dumps(wire.double_take_match(event, self.base_url)))

    def state(self, camera: str, task: str, answer: dict) -> None:
        """A `[watch] tasks` answer for the camera's latest frame, retained (`<prefix>/<camera>/<task>`)."""
        self._send(wire.task_topic(self.prefix, camera, task), wire.dumps(answer), retain=True)

    def discover(self, camera: str | None, labels: set[str], people: set[str]) -> None:
        """Home Assistant configs for these labels of a camera and these people (retained; each once)."""
        if not self.discovery:
            return
        configs = [c for label in sorted(labels - {wire.FACE})
                   for c in wire.camera_discovery(self.prefix, self.discovery, camera, label)] if camera else []
        configs += [wire.person_discovery(self.prefix, self.discovery, name) for name in sorted(people)]
        self._retain(configs)

    def discover_faces(self, camera: str) -> None:
        """Home Assistant event entities of a camera's faces: unknown, returning (retained; each once)."""
        if self.discovery:
            self._retain(sightings_wire.face_event_discovery(self.prefix, self.discovery, camera))

    def discover_feed(self, camera: str, zones: dict[str, list[str]], lines: list[str],
                      gone_zones: dict[str, list[str]] | None = None, gone_lines: list[str] | None = None) -> None:
        """Home Assistant entities of a live camera: online, zone occupancy per label, line counts, loitering
        (retained; each once, so a label first seen in a zone adds only its own). Zones and lines gone (new shapes
        from the page) lose their entities and retained states."""
        gone_zones, gone_lines = gone_zones or {}, gone_lines or []
        configs = ([t for t, _ in cameras_wire.shape_discovery(self.prefix, self.discovery, camera, gone_zones,
                                                                gone_lines)] if self.discovery else [])
        self._clear(configs + cameras_wire.shape_states(self.prefix, camera, gone_zones, gone_lines))
        if self.discovery:
            self._retain(cameras_wire.feed_discovery(self.prefix, self.discovery, camera, zones, lines))

    def returning(self, camera: str, message: dict) -> None:
        """A stranger cluster starts a new visit (`<prefix>/<camera>/face/returning`)."""
        self._send(sightings_wire.returning_topic(self.prefix, camera), wire.dumps(message))

    def _retain(self, configs: list[tuple[str, dict]]) -> None:
        for topic, config in configs:
            payload = wire.dumps(config)
            with self._lock:
                if self._discovery.get(topic) == payload:
                    continue
                self._discovery[topic] = payload
            self._send(topic, payload, retain=True)

    def zero_counts(self, camera: str, labels: set[str]) -> None:
        with self._counting:
            for label in labels:
                self._open.pop((camera, label), None)
        for label in sorted(labels - {wire.FACE}):
            self._send(wire.count_topic(self.prefix, camera, label), wire.count_payload(0), retain=True)

    def _clear(self, topics: list[str]) -> None:
        """Empty retained messages: the broker drops what it kept, Home Assistant removes the entity."""
        for topic in topics:
            with self._lock:
                self._discovery.pop(topic, None)
            self._send(topic, b"", retain=True)

    def forget_camera(self, camera: str, labels: set[str], tasks: list[str] | tuple[str, ...] = ()) -> None:
        """A camera went away: its discovery configs, retained counts and task answers are cleared."""
        configs = [topic for label in sorted(labels - {wire.FACE}) if self.discovery
                   for topic, _ in wire.camera_discovery(self.prefix, self.discovery, camera, label)]
        states = [wire.count_topic(self.prefix, camera, label) for label in sorted(labels - {wire.FACE})]
        with self._counting:
            for label in labels:
                self._open.pop((camera, label), None)
        self._clear(configs + states + [wire.task_topic(self.prefix, camera, task) for task in tasks])

    def forget_person(self, name: str) -> None:
        """A person renamed or deleted: their sensor's config and its retained state are cleared."""
        configs = [wire.person_discovery(self.prefix, self.discovery, name)[0]] if self.discovery else []
        self._clear([*configs, wire.match_topic(self.prefix, name)])

    def send(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """A message composed elsewhere: the camera feeds' zones, lines and availability (events/camera_feed.py)."""
        self._send(topic, payload, retain)
