"""Settings: one TOML file (`--config` or `VIGIL_CONFIG`), then `VIGIL_<SECTION>__<KEY>` environment overrides.

Reading config has no side effects: it never opens a model or the network. Unknown keys and bad
values raise ConfigError naming the key. Relative paths in the file are relative to the file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from vigil.errors import ConfigError
from vigil.registry.catalog import DEFAULT_DETECTOR
from vigil.registry.face_catalog import BLAZEFACE, DLIB_HOG, DLIB_RESNET, FACE_DETECTORS


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class ServerConfig(Section):
    host: str = Field("127.0.0.1", title="HTTP host", description="address the HTTP API binds to")
    port: int = Field(5000, ge=1, le=65535, title="HTTP port", description="port of the HTTP API")
    api_key: str = Field("", title="API key", description="key needed for every call; empty: none")
    admin_key: str = Field("", title="Admin key", description="key needed for gallery and model changes; empty: none")
    allow_remote_without_key: bool = Field(False, title="Allow remote without key",
                                           description="permit a non-loopback host when no api_key is set")
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
    recognize_mode: Literal["face", "person"] = Field("face", title="Recognise mode",
                                                      description="detect_faces uses faces or a person classifier")
    mount_point: str = Field("", title="Mount point",
                             description="prefix added to client paths before reading (relative: to this file)")
    conseq_images_to_skip: int = Field(0, ge=0, title="Frames to skip",
                                       description="reuse labels for frames this close on one monitor (0: off)")
    enabled: bool = Field(True, title="Enabled", description="start the zerorpc servers with `vigil serve`")


class MediaConfig(Section):
    roots: list[Path] = Field(default_factory=list, title="Media roots",
                              description="folders that paths sent over RPC may point into")


class StoreConfig(Section):
    home: Path = Field(default_factory=lambda: Path(os.environ.get("VIGIL_HOME", "~/.cache/vigil")).expanduser(),
                       title="Model cache", description="where model files are downloaded and verified")
    data_dir: Path = Field(Path("data"), title="Data folder", description="gallery database and other state")


class LimitsConfig(Section):
    max_bytes: int = Field(50 * 1024 * 1024, gt=0, title="Max bytes", description="largest accepted upload or file")
    max_pixels: int = Field(50_000_000, gt=0, title="Max pixels", description="largest accepted image (w × h)")
    formats: list[str] = Field(["JPEG", "PNG", "BMP", "WEBP", "TIFF", "GIF"], title="Formats",
                               description="image formats accepted (Pillow names)")


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


class PersonConfig(Section):
    model: str = Field("", title="Person classifier",
                       description="store name of a trained classifier (`vigil export RUN --to onnx-int8` registers "
                                   "it); used by detect_faces when rpc.recognize_mode = \"person\"")
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
    mode: Literal["gallery", "classifier"] = Field("gallery", title="Mode",
                                                   description="open-set gallery matching, or the seed's classifier")
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

    @model_validator(mode="after")
    def _ordered(self) -> FacesConfig:
        if self.unknown_distance < self.match_distance:
            raise ValueError("unknown_distance must be at least match_distance")
        return self


class RayConfig(Section):
    """`vigil serve --ray`: one Ray Serve deployment per task (the scale extra)."""

    address: str = Field("auto", title="Ray address",
                         description="cluster to join ('auto': a running one, else start a local one)")
    min_replicas: int = Field(1, ge=0, title="Minimum replicas", description="replicas per task deployment, at least")
    max_replicas: int = Field(2, ge=1, title="Maximum replicas", description="replicas per task deployment, at most")
    target_ongoing_requests: float = Field(4.0, gt=0, title="Target ongoing requests",
                                           description="requests per replica the autoscaler aims at")
    replica_cpus: float = Field(1.0, gt=0, title="CPUs per replica", description="CPUs Ray reserves per task replica")
    max_batch_size: int = Field(4, ge=1, le=64, title="Max batch",
                                description="most requests one detector run takes together (Serve's batching)")
    batch_wait_s: float = Field(0.005, ge=0, title="Batch wait",
                                description="seconds a detector replica waits to fill a batch")


class VigilConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_", env_nested_delimiter="__", extra="forbid")

    server: ServerConfig = Field(default_factory=ServerConfig, title="HTTP server", description="HTTP API")
    rpc: RpcConfig = Field(default_factory=RpcConfig, title="zerorpc", description="seed-compatible RPC servers")
    media: MediaConfig = Field(default_factory=MediaConfig, title="Media", description="readable media folders")
    store: StoreConfig = Field(default_factory=StoreConfig, title="Store", description="model cache and data")
    limits: LimitsConfig = Field(default_factory=LimitsConfig, title="Limits", description="input limits")
    detect: DetectConfig = Field(default_factory=DetectConfig, title="Detection", description="object detector")
    person: PersonConfig = Field(default_factory=PersonConfig, title="Person classifier",
                                 description="known person vs stranger on whole-body crops (seed 000)")

    faces: FacesConfig = Field(default_factory=FacesConfig, title="Faces", description="face detection and recognition")
    ray: RayConfig = Field(default_factory=RayConfig, title="Ray", description="serving on a Ray cluster")
    models: dict[str, ModelThresholds] = Field(default_factory=dict, title="Per-model thresholds",
                                               description="[models.\"<name>\"] tables")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        return env_settings, init_settings  # environment overrides the file, which arrives as init kwargs

    def thresholds(self, model: str) -> ModelThresholds:
        return self.models.get(model, ModelThresholds())

    def gallery_path(self) -> Path | str:
        """A path, or a database URL as written (vigil.faces.gallery.location tells them apart)."""
        return self.faces.gallery or self.store.data_dir / "gallery.sqlite3"

    def classifier_path(self) -> Path:
        return self.faces.classifier or self.store.data_dir / "face_classifier"


_PATH_KEYS = {("media", "roots"), ("store", "home"), ("store", "data_dir"), ("faces", "gallery"),
              ("faces", "classifier"), ("rpc", "mount_point")}


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
