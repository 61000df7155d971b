"""Settings: one TOML file (`--config` or `VIGIL_CONFIG`), then `VIGIL_<SECTION>__<KEY>` environment overrides.

Reading config has no side effects: it never opens a model or the network. Unknown keys and bad
values raise ConfigError naming the key. Relative paths in the file are relative to the file.
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from vigil.errors import ConfigError
from vigil.images import ImageLimits
from vigil.registry.catalog import DEFAULT_DETECTOR
from vigil.registry.face_catalog import BLAZEFACE, DLIB_HOG, DLIB_RESNET, FACE_DETECTORS
from vigil.registry.presence_catalog import DEFAULT_PRESENCE
from vigil.registry.store import default_home
from vigil.sql_schema import is_url


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class ServerConfig(Section):
    host: str = Field("127.0.0.1", title="HTTP host", description="address the HTTP API binds to")
    port: int = Field(5000, ge=1, le=65535, title="HTTP port", description="port of the HTTP API")
    api_key: str = Field("", title="API key", description="key needed for every call; empty: none")
    admin_key: str = Field("", title="Admin key", description="key needed for gallery and model changes; empty: none")
    allow_remote_without_key: bool = Field(False, title="Allow remote without key",
                                           description="permit a non-loopback host when no api_key is set")
    body_timeout_s: float = Field(15.0, gt=0, title="Body timeout",
                                  description="seconds to send the whole request body (slower: 408)")
    keyed_docs: bool = Field(True, title="Keyed docs",
                             description="with an api_key set, /docs, /openapi.json and /metrics need it too")
    request_timeout_s: float = Field(30.0, gt=0, title="Request timeout", description="seconds before a 500 timeout")
    queue_size: int = Field(64, ge=1, title="Queue size", description="requests waiting per model before 503")
    max_in_flight: int = Field(128, ge=1, title="Max in flight",
                               description="HTTP requests handled at once; more get 503 + Retry-After, body unread")
    max_batch: int = Field(4, ge=1, le=64, title="Max batch",
                           description="most queued images one detector run takes together (1: no batching)")
    workers: int = Field(0, ge=0, le=16, title="Inference workers",
                         description="detector runs at once (0: one per core; with [detect] threads = 0 each run "
                                     "then gets cores / workers threads)")
    retry_after_s: int = Field(1, ge=1, title="Retry-After", description="seconds a 503 tells the client to wait")
    graceful_shutdown_s: float = Field(10.0, gt=0, title="Graceful shutdown",
                                       description="seconds in-flight requests get to finish after SIGTERM")
    log_format: Literal["json", "text"] = Field("json", title="Log format",
                                                description="json: one object per line on stderr; text: plain")


class RpcConfig(Section):
    objects: str = Field("tcp://127.0.0.1:4242", title="Objects endpoint", description="zerorpc detect_objects")
    faces: str = Field("tcp://127.0.0.1:4243", title="Faces endpoint", description="zerorpc detect_faces")
    heartbeat_s: float = Field(60, gt=0, title="Heartbeat", description="zerorpc heartbeat in seconds (seed: 60)")
    mount_point: str = Field("", title="Mount point",
                             description="prefix added to client paths before reading (relative: to this file)")
    conseq_images_to_skip: int = Field(0, ge=0, title="Frames to skip",
                                       description="reuse labels for frames this close on one monitor (0: off)")
    enabled: bool = Field(True, title="Enabled", description="start the zerorpc servers with `vigil serve`")
    allow_remote: bool = Field(False, title="Allow remote",
                               description="permit non-loopback tcp endpoints (zerorpc has no keys: trusted LAN only)")


class MediaConfig(Section):
    roots: list[Path] = Field(default_factory=list, title="Media roots",
                              description="folders that paths sent over RPC may point into")


class StoreConfig(Section):
    home: Path = Field(default_factory=default_home,
                       title="Model cache", description="where model files are downloaded and verified")
    data_dir: Path = Field(Path("data"), title="Data folder", description="gallery database and other state")


class LimitsConfig(Section):
    max_bytes: int = Field(50 * 1024 * 1024, gt=0, title="Max bytes", description="largest accepted upload or file")
    max_pixels: int = Field(33_177_600, gt=0, title="Max pixels",
                            description="largest accepted image (w × h); default 8K UHD 7680x4320, above any camera")
    decode_budget_mb: int = Field(512, ge=16, title="Decode budget",
                                  description="MiB of decoded pixels (w × h × 3) held by decodes running at once")
    max_entries: int = Field(256, ge=1, title="Max entries",
                             description="entries per detect_faces / /v2/faces/label call; more are refused")
    max_labels: int = Field(64, ge=1, title="Max labels",
                            description="labels per entry in detect_faces / /v2/faces/label; more are refused")
    max_paths: int = Field(1000, ge=1, title="Max paths",
                           description="paths per detect_objects / /v2/detect/paths call; more are refused")
    max_enroll_images: int = Field(32, ge=1, title="Max enrolment images",
                                   description="images per enrolment call; more are refused")
    formats: list[str] = Field(["JPEG", "PNG", "BMP", "WEBP", "TIFF", "GIF"], title="Formats",
                               description="image formats accepted (Pillow names)")


    def image_limits(self) -> ImageLimits:
        return ImageLimits(self.max_bytes, self.max_pixels, frozenset(self.formats), self.decode_budget_mb << 20)


class ModelThresholds(Section):
    min_score: float = Field(0.4, ge=0, le=1, title="Minimum score", description="drop detections scoring lower")
    labels: list[str] = Field(default_factory=list, title="Allowed labels", description="keep only these; empty: all")
    min_area: float = Field(0.0, ge=0, title="Minimum box area", description="drop boxes smaller than this (px²)")


class DetectConfig(Section):
    model: str = Field(DEFAULT_DETECTOR, title="Detector", description="model name in the store")
    input_size: int = Field(512, ge=32, multiple_of=32, title="Input size",
                            description="network input, long side (512: recall 0.91 on small people, 416: faster)")
    rect: bool = Field(True, title="Rectangular input", description="shrink the short side to the frame's aspect")
    precision: Literal["int8", "fp32"] = Field("int8", title="Precision",
                                               description="int8 (calibrated at pull, ~2x faster on VNNI CPUs) or fp32")
    iou: float = Field(0.45, gt=0, le=1, title="NMS IoU", description="overlap above which boxes suppress")
    threads: int = Field(0, ge=0, title="Threads", description="inference threads (0: all cores)")
    presence_gate: float = Field(0.0, ge=0, lt=1, title="Presence gate",
                                 description="skip the detector on frames whose presence person score is below this "
                                             "(0: off; it missed people on the measured frames, see README)")


class PresenceConfig(Section):
    model: str = Field(DEFAULT_PRESENCE, title="Presence model", description="model name in the store (task presence)")
    min_score: float = Field(0.5, ge=0, le=1, title="Person score",
                             description="person is true when the model's person score is at least this")


RecognizeBy = Literal["face_gallery", "face_classifier", "person_classifier"]


class RecognizeConfig(Section):
    """Who is this person: the one choice every front end (detect_faces, /v2/faces/label) follows."""

    by: RecognizeBy = Field("face_gallery", title="Recognise by",
                            description="face_gallery: faces matched against the enrolled gallery (open set); "
                                        "face_classifier: faces named by the seed's trained SVM/XGBoost "
                                        "(`vigil faces train`); person_classifier: whole-person crops named by "
                                        "person_model")
    person_model: str = Field("", title="Person classifier model",
                              description="store name of a trained whole-person classifier (`vigil export RUN "
                                          "--to onnx-int8` registers it); serves /v2/classify and by = "
                                          "\"person_classifier\"")


class PersonConfig(Section):
    min_proba: float = Field(0.8, ge=0, le=1, title="Minimum probability",
                             description="below this the person is not recognised: face = null (seed minProba)")
    threads: int = Field(0, ge=0, title="Threads", description="inference threads (0: all cores)")

class FacesConfig(Section):
    detector: str = Field(BLAZEFACE, title="Face detector",
                          description=f"model name: {', '.join(FACE_DETECTORS)} (default: best measured)")
    fallback: str = Field(DLIB_HOG, title="Fallback detector",
                          description="run when the detector finds no face in a small image (crops); '' = off")
    fallback_max_pixels: int = Field(300_000, ge=0, title="Fallback size",
                                     description="only images up to this many pixels get the fallback detector")
    embedder: str = Field(DLIB_RESNET, title="Face embedder", description="model name of the 128-d embedder")
    min_score: float = Field(0.6, ge=0, le=1, title="Face score", description="drop face detections scoring lower")
    min_face: int = Field(20, ge=1, title="Minimum face", description="faces narrower than this (px) give face: null")
    focus_threshold: float = Field(200.0, ge=0, title="Focus threshold",
                                   description="variance of the Laplacian below which a face is too blurry (seed: 200)")
    num_jitters: int = Field(1, ge=0, le=500, title="Jitters",
                             description="embeddings averaged per face when recognising (seed: 10-500; 0/1: one)")
    enroll_jitters: int = Field(10, ge=0, le=500, title="Enrolment jitters",
                                description="embeddings averaged per face when enrolling (offline, so steadier)")
    upsample: int = Field(1, ge=0, le=3, title="HOG upsample", description="dlib detectors: image doublings")
    tile: int = Field(256, ge=0, title="Tile size",
                      description="BlazeFace also searches overlapping tiles of at least this side (0: never)")
    match_distance: float = Field(0.5, gt=0, title="Match distance",
                                  description="embedding distance at or below which a face gets the person's name")
    unknown_distance: float = Field(0.6, gt=0, title="Unknown distance",
                                    description="distance above which a face is a stranger; between: uncertain")
    min_proba: float = Field(0.6, ge=0, le=1, title="Minimum probability",
                             description="classifier mode: face is null below this class probability (seed 0.6-0.9)")
    cluster_distance: float = Field(0.5, gt=0, title="Stranger cluster distance",
                                    description="strangers closer than this join one provisional person")
    record_strangers: bool = Field(True, title="Record strangers",
                                   description="file faces that match nobody into provisional clusters to name later")
    gallery: Path | str | None = Field(None, title="Gallery", description="SQLite file (default <data_dir>/"
                                       "gallery.sqlite3), or a postgresql:// URL shared by many servers (scale extra)")
    classifier: Path | None = Field(None, title="Classifier",
                                    description="trained classifier folder (default <data_dir>/face_classifier)")
    threads: int = Field(0, ge=0, title="Threads", description="inference threads (0: all cores)")
    gate: str = Field("", title="Face gate",
                      description="face / non-face classifier (store name, labels face + nonface) checking each face "
                                  "candidate before embedding; '' = off")
    gate_min: float = Field(0.3, ge=0, le=1, title="Gate minimum",
                            description="candidates whose gate face probability is below this are dropped (0.3: "
                                        "no true face lost in benchmarks/bench_face_gate.py)")

    @model_validator(mode="after")
    def _ordered(self) -> FacesConfig:
        if self.unknown_distance < self.match_distance:
            raise ValueError("unknown_distance must be at least match_distance")
        return self


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
    faces: bool = Field(True, title="Faces", description="recognise faces on frames where a person is detected")


class EventsConfig(Section):
    hold_s: float = Field(30.0, gt=0, title="Hold time",
                          description="an event stays open this long after its label was last seen")
    labels: list[str] = Field(default_factory=list, title="Event labels",
                              description="object labels that make events; empty: every detected label")
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


class CrowdConfig(Section):
    density_model: str = Field("", title="Density model",
                               description="store name of a crowd density model (`vigil train crowd` + `vigil models "
                                           "add`); empty: the detector count everywhere")
    level_model: Path | None = Field(None, title="Level classifier",
                                     description="folder written by `vigil train crowd-level`; unset: every scene "
                                                 "goes to the density model when one is set")
    density_side: int = Field(0, ge=0, multiple_of=16, title="Density input side",
                              description="long side (px) frames are resized to for the density model (0: the side "
                                          "it was trained at, where people have the sizes it learned)")
    tiling: Literal["auto", "always", "never"] = Field("auto", title="Tiling",
                                                      description="detector tiles: auto = when people look small")
    tile_grid: int = Field(2, ge=1, le=6, title="Tile grid", description="tiles per side (2: four tiles)")
    tile_overlap: float = Field(0.2, ge=0, lt=0.9, title="Tile overlap", description="fraction shared by neighbours")
    small_person: float = Field(0.15, gt=0, le=1, title="Small person",
                                description="auto tiling when the median person box is shorter than this fraction "
                                            "of the frame height")
    min_score: float = Field(0.4, ge=0, le=1, title="Person score", description="detector score kept for counting")
    threads: int = Field(0, ge=0, title="Threads", description="inference threads (0: all cores)")


class RayConfig(Section):
    """`vigil serve --ray`: one Ray Serve deployment per task (the scale extra)."""

    address: str = Field("auto", title="Ray address",
                         description="cluster to join ('auto': a running one, else start a local one)")
    min_replicas: int = Field(1, ge=0, title="Minimum replicas",
                              description="replicas per task deployment, at least (a task loaded on first use: 0)")
    max_replicas: int = Field(2, ge=1, title="Maximum replicas", description="replicas per task deployment, at most")
    target_ongoing_requests: float = Field(4.0, gt=0, title="Target ongoing requests",
                                           description="requests per replica the autoscaler aims at")
    replica_cpus: float = Field(1.0, gt=0, title="CPUs per replica", description="CPUs Ray reserves per task replica")
    max_batch_size: int = Field(4, ge=1, le=64, title="Max batch",
                                description="most requests one task run takes together (Serve's batching), unless "
                                            "the task sets its own limit")
    batch_wait_s: float = Field(0.005, ge=0, title="Batch wait",
                                description="seconds a task replica waits to fill a batch")


class VigilConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_", env_nested_delimiter="__", extra="forbid")

    server: ServerConfig = Field(default_factory=ServerConfig, title="HTTP server", description="HTTP API")
    rpc: RpcConfig = Field(default_factory=RpcConfig, title="zerorpc", description="seed-compatible RPC servers")
    media: MediaConfig = Field(default_factory=MediaConfig, title="Media", description="readable media folders")
    store: StoreConfig = Field(default_factory=StoreConfig, title="Store", description="model cache and data")
    limits: LimitsConfig = Field(default_factory=LimitsConfig, title="Limits", description="input limits")
    detect: DetectConfig = Field(default_factory=DetectConfig, title="Detection", description="object detector")
    recognize: RecognizeConfig = Field(default_factory=RecognizeConfig, title="Recognise",
                                       description="who is this person: face gallery, face classifier or "
                                                   "whole-person classifier")
    presence: PresenceConfig = Field(default_factory=PresenceConfig, title="Presence",
                                     description="is a person in the frame (Visual Wake Words)")
    person: PersonConfig = Field(default_factory=PersonConfig, title="Person classifier",
                                 description="known person vs stranger on whole-body crops (seed 000)")

    faces: FacesConfig = Field(default_factory=FacesConfig, title="Faces", description="face detection and recognition")
    watch: WatchConfig = Field(default_factory=WatchConfig, title="Watcher", description="watched NVR folders")
    events: EventsConfig = Field(default_factory=EventsConfig, title="Events", description="the event log")
    mqtt: MqttConfig = Field(default_factory=MqttConfig, title="MQTT", description="publishing events over MQTT")
    crowd: CrowdConfig = Field(default_factory=CrowdConfig, title="Crowd", description="crowd level, count, heatmap")
    ray: RayConfig = Field(default_factory=RayConfig, title="Ray", description="serving on a Ray cluster")
    models: dict[str, ModelThresholds] = Field(default_factory=dict, title="Per-model thresholds",
                                               description="[models.\"<name>\"] tables")

    @model_validator(mode="before")
    @classmethod
    def _deprecated_keys(cls, values: Any) -> Any:
        return _map_deprecated(values) if isinstance(values, dict) else values

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        return env_settings, init_settings  # environment overrides the file, which arrives as init kwargs

    def thresholds(self, model: str) -> ModelThresholds:
        return self.models.get(model, ModelThresholds())

    def gallery_path(self) -> Path | str:
        """A path, or a database URL as written (vigil.faces.gallery.location tells them apart)."""
        return self.faces.gallery or self.store.data_dir / "gallery.sqlite3"

    def events_location(self) -> Path | str:
        """The event log: `[events] database` (a path, or a URL as written), else the gallery's PostgreSQL
        database when `[faces] gallery` is one, else <data_dir>/events.sqlite3 (vigil.events.location opens it)."""
        database, gallery = self.events.database, self.faces.gallery
        if database:
            return database if is_url(database) else Path(database)
        return gallery if gallery and is_url(gallery) else self.store.data_dir / "events.sqlite3"

    def classifier_path(self) -> Path:
        return self.faces.classifier or self.store.data_dir / "face_classifier"


_OLD_MODES = {("faces", "mode"): {"gallery": "face_gallery", "classifier": "face_classifier"},
              ("rpc", "recognize_mode"): {"face": None, "person": "person_classifier"}}


def _map_deprecated(values: dict[str, Any]) -> dict[str, Any]:
    """`[faces] mode`, `[rpc] recognize_mode` and `[person] model` (before [recognize]) still read, with a warning;
    a [recognize] key given as well wins. `recognize_mode = "face"` defers to `faces.mode`."""
    values = {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}
    recognize = values.setdefault("recognize", {})
    if not isinstance(recognize, dict):
        return values
    chosen: list[str] = []
    for (section, key), meaning in _OLD_MODES.items():
        table = values.get(section)
        if not isinstance(table, dict) or key not in table:
            continue
        raw = table.pop(key)
        if raw not in meaning:
            raise ValueError(f"{section}.{key}: must be one of {', '.join(map(repr, meaning))}, not {raw!r} "
                             f"(deprecated: use [recognize] by)")
        _warn(f"{section}.{key}", "recognize.by")
        if meaning[raw] is not None:
            chosen.append(meaning[raw])
    if chosen and "by" not in recognize:
        recognize["by"] = "person_classifier" if "person_classifier" in chosen else chosen[0]
    person = values.get("person")
    if isinstance(person, dict) and "model" in person:
        _warn("person.model", "recognize.person_model")
        model = person.pop("model")
        recognize.setdefault("person_model", model)
    return values


def _warn(old: str, new: str) -> None:
    logging.getLogger(__name__).warning("deprecated config key %s: use %s", old, new, extra={"key": old, "use": new})


_PATH_KEYS = {("media", "roots"), ("store", "home"), ("store", "data_dir"), ("faces", "gallery"),
              ("faces", "classifier"), ("rpc", "mount_point"),
              ("watch", "dirs"), ("events", "database"), ("crowd", "level_model")}


def load_config(path: str | os.PathLike | None = None) -> VigilConfig:
    path = path or os.environ.get("VIGIL_CONFIG")
    values: dict[str, Any] = {}
    if path:
        file = Path(path)
        try:
            values = tomllib.loads(file.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {file} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
        _anchor_paths(values, file.resolve().parent)
    try:
        return VigilConfig(**values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None


def _anchor_paths(values: dict[str, Any], base: Path) -> None:
    for section, key in _PATH_KEYS:
        table = values.get(section)
        if not isinstance(table, dict) or key not in table:
            continue
        raw = table[key]
        anchor = lambda p: (str(base / Path(p).expanduser())  # noqa: E731
                            if p and "://" not in p and not Path(p).expanduser().is_absolute() else p)
        table[key] = [anchor(p) for p in raw] if isinstance(raw, list) else anchor(raw)


def _describe(exc: ValidationError, path: Any) -> str:
    where = f" in {path}" if path else ""
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        lines.append(f"{key}: {'unknown key' if err['type'] == 'extra_forbidden' else err['msg']}")
    return f"invalid configuration{where}: " + "; ".join(lines)
