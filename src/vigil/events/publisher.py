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
from vigil.formats import events as wire
from vigil.results import EventChange

log = logging.getLogger(__name__)
MAX_QUEUED = 10_000  # messages kept while the broker is away; beyond that new ones are dropped (logged)
BACKOFF_S = (1, 60)


class MqttPublisher:
    def __init__(self, config: MqttConfig, base_url: str) -> None:
        self.config, self.base_url = config, base_url
        self.prefix = config.topic_prefix.rstrip("/")
        self._client: Any = None
        self._discovery: dict[str, bytes] = {}  # retained config topics published so far, republished on connect
        self._lock = threading.Lock()
        self.connected = threading.Event()

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
    def publish(self, changes: list[EventChange]) -> None:
        for change in changes:
            event = change.event
            self._send(wire.events_topic(self.prefix), wire.dumps(wire.change_json(change, self.base_url)))
            if event.label != wire.FACE:
                if change.type != "update" or event.count:
                    self._send(wire.count_topic(self.prefix, event.camera, event.label),
                               wire.count_payload(event.count), retain=True)
            elif change.type == "new" and event.cluster_id is not None:  # a stranger: once per cluster per hold
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

    def discover(self, camera: str, labels: set[str], people: set[str]) -> None:
        """Home Assistant configs for these labels of a camera and these people (retained; each once)."""
        discovery = self.config.discovery_prefix.rstrip("/")
        if not discovery:
            return
        configs = [c for label in sorted(labels - {wire.FACE})
                   for c in wire.camera_discovery(self.prefix, discovery, camera, label)]
        configs += [wire.person_discovery(self.prefix, discovery, name) for name in sorted(people)]
        for topic, config in configs:
            payload = wire.dumps(config)
            with self._lock:
                if self._discovery.get(topic) == payload:
                    continue
                self._discovery[topic] = payload
            self._send(topic, payload, retain=True)

    def zero_counts(self, camera: str, labels: set[str]) -> None:
        for label in sorted(labels - {wire.FACE}):
            self._send(wire.count_topic(self.prefix, camera, label), wire.count_payload(0), retain=True)

    def forget_camera(self, camera: str, labels: set[str]) -> None:
        """A camera went away: its discovery configs and retained counts are cleared (empty retained messages)."""
        discovery = self.config.discovery_prefix.rstrip("/")
        for label in sorted(labels - {wire.FACE}):
            if discovery:
                for topic, _ in wire.camera_discovery(self.prefix, discovery, camera, label):
                    with self._lock:
                        self._discovery.pop(topic, None)
                    self._send(topic, b"", retain=True)
            self._send(wire.count_topic(self.prefix, camera, label), b"", retain=True)

    def send(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """A message composed elsewhere: the camera feeds' zones, lines and availability (events/camera_feed.py)."""
        self._send(topic, payload, retain)
