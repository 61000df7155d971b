"""Settings of the events rooms: the folder watcher, the event log, MQTT."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from vigil.config.section import Section
from vigil.registry.labels import ALL_LABELS, CAMERA_LABELS


class WatchConfig(Section):
    dirs: list[Path] = Field(default_factory=list, title="Watched folders",
                             description="folders whose new image files are processed as they appear (NVR alarm "
                                         "frames, FTP uploads); readable without being in [media] roots")
    camera_pattern: str = Field("", title="Camera pattern",
                                description="regex with a (?P<camera>...) group, matched against the path relative "
                                            "to the watched folder; empty: the first folder below it (ZoneMinder's "
                                            "monitor id)")
    default_camera: str = Field("default", min_length=1, title="Default camera",
                                description="camera of a file that matches no pattern")
    extensions: list[str] = Field([".jpg", ".jpeg", ".png", ".bmp", ".webp"], title="Extensions",
                                  description="file name endings that are frames (case-insensitive)")
    queue_per_camera: int = Field(8, ge=1, title="Queue per camera",
                                  description="frames waiting per camera; beyond it the oldest are dropped (counted)")
    settle_s: float = Field(1.0, gt=0, title="Settle time",
                            description="without inotify close events (polling): a file is complete when its size "
                                        "has not changed for this long")
    frames_to_skip: int = Field(0, ge=0, title="Frames to skip",
                                description="reuse the labels for frames this close on one camera (seed "
                                            "conseqImagesToSkip; 0: off)")
    track_gap_s: float = Field(10.0, gt=0, title="Track gap",
                               description="a camera's frames closer together than this are one sequence, tracked "
                                           "as one; after a longer pause tracking starts afresh (objects may have "
                                           "moved meanwhile)")
    faces: bool = Field(True, title="Faces", description="recognise faces on frames where a person is detected")
    tasks: list[str] = Field(default_factory=list, title="Other tasks",
                             description="registered tasks run on every watched frame besides detect and faces "
                                         "(e.g. presence, crowd); each answer is kept as the camera's latest and "
                                         "published on MQTT as <prefix>/<camera>/<task>")


class EventsConfig(Section):
    hold_s: float = Field(30.0, gt=0, title="Hold time",
                          description="an event stays open this long after its object (its track) or face was last "
                                      "seen")
    labels: list[str] = Field(list(CAMERA_LABELS), title="Event labels",
                              description="object labels that make events (and Home Assistant entities); the "
                                          "default: people, vehicles and animals; \"all\" (or [\"all\"]): every "
                                          "label the detector knows")
    snapshots: bool = Field(True, title="Snapshots", description="keep an annotated JPEG per event")
    retention_days: float = Field(14.0, gt=0, title="Retention days", description="events older than this are deleted")
    retention_mb: float = Field(1024.0, gt=0, title="Retention MB",
                                description="oldest events are deleted while snapshots take more than this")
    database: Path | str | None = Field(None, title="Event log",
                                        description="SQLite file, or a postgresql:// URL (scale extra); default: the "
                                                    "gallery's database when [faces] gallery is a URL, else "
                                                    "<data_dir>/events.sqlite3")
    public_url: str = Field("", title="Public URL",
                            description="base of snapshot and thumbnail URLs in MQTT messages (default: "
                                        "http://<server host>:<port>)")
    stream_s: float = Field(300.0, gt=0, le=86400, title="Stream length",
                            description="the longest a /v2/events/stream connection lasts (its `seconds` parameter "
                                        "may ask less); EventSource clients then reconnect by themselves")
    stream_max: int = Field(64, ge=1, le=10000, title="Streams in all",
                            description="most /v2/events/stream connections open at once (outside [server] "
                                        "max_in_flight); more get 503 + Retry-After")
    stream_per_key: int = Field(8, ge=1, le=10000, title="Streams per key",
                                description="most /v2/events/stream connections open at once with one key")

    @field_validator("labels", mode="before")
    @classmethod
    def _all(cls, value: object) -> object:
        return [ALL_LABELS] if value == ALL_LABELS else value

    def wanted(self) -> tuple[str, ...]:
        """The labels that make events; empty: every label ("all", or an empty list as before)."""
        return () if ALL_LABELS in self.labels else tuple(self.labels)


class MqttConfig(Section):
    host: str = Field("", title="Broker host", description="MQTT broker; empty: MQTT off")
    port: int = Field(1883, ge=1, le=65535, title="Broker port", description="1883, or 8883 with TLS")
    username: str = Field("", title="Username", description="broker login; empty: anonymous")
    password: str = Field("", title="Password", description="broker password")
    tls: bool = Field(False, title="TLS", description="connect with TLS (system CA certificates)")
    client_id: str = Field("vigil", min_length=1, title="Client id", description="MQTT client id")
    topic_prefix: str = Field("vigil", min_length=1, title="Topic prefix", description="first level of every topic")
    discovery_prefix: str = Field("homeassistant", title="Discovery prefix",
                                  description="Home Assistant discovery prefix; empty: no discovery")
    keepalive_s: int = Field(30, ge=5, title="Keepalive", description="seconds between pings")
