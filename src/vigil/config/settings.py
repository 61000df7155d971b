"""Settings: one TOML file (`--config` or `VIGIL_CONFIG`), then `VIGIL_<SECTION>__<KEY>` environment overrides.

Reading config has no side effects: it never opens a model or the network. Unknown keys and bad
values raise ConfigError naming the key. Relative paths in the file are relative to the file.
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from vigil.config.cameras import CameraConfig
from vigil.config.events import EventsConfig, MqttConfig, WatchConfig
from vigil.config.serving import LimitsConfig, MediaConfig, RayConfig, RpcConfig, ServerConfig, StoreConfig
from vigil.config.tasks import (
    CrowdConfig,
    DetectConfig,
    FacesConfig,
    ModelThresholds,
    PersonConfig,
    PresenceConfig,
    RecognizeConfig,
)
from vigil.db.sql_schema import is_url
from vigil.errors import ConfigError


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
    cameras: dict[str, CameraConfig] = Field(default_factory=dict, title="Cameras",
                                             description="[cameras.<name>] tables: source, fps, zones, lines, masks")
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

    @model_validator(mode="after")
    def _home_expanded(self) -> VigilConfig:
        """`~` in every path key, from the file or the environment (the file's are also anchored by load_config)."""
        for section, key in _PATH_KEYS:
            table = getattr(self, section)
            value = getattr(table, key)
            setattr(table, key, [_expand(v) for v in value] if isinstance(value, list) else _expand(value))
        return self

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


def _expand(value: Any) -> Any:
    """A path with `~` expanded; URLs, empty values and non-paths as they are."""
    if isinstance(value, Path):
        return value.expanduser()
    if isinstance(value, str) and value.startswith("~") and "://" not in value:
        return str(Path(value).expanduser())
    return value


def _anchor_paths(values: dict[str, Any], base: Path) -> None:
    """Relative paths in the file are relative to the file; `~` is the user's home."""
    def anchor(p: Any) -> Any:
        if not isinstance(p, str) or not p or "://" in p:
            return p
        expanded = Path(p).expanduser()
        return str(expanded if expanded.is_absolute() else base / expanded)

    for section, key in _PATH_KEYS:
        table = values.get(section)
        if not isinstance(table, dict) or key not in table:
            continue
        raw = table[key]
        table[key] = [anchor(p) for p in raw] if isinstance(raw, list) else anchor(raw)


def _describe(exc: ValidationError, path: Any) -> str:
    """Each bad key, named as the user wrote it: `VIGIL_SECTION__KEY` when the environment set it, else the file's
    `section.key`."""
    lines, sources = [], set()
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        variable = _environment_variable(err["loc"])
        sources.add("the environment" if variable else str(path) if path else "the defaults")
        problem = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{variable} ({key}): {problem}" if variable else f"{key}: {problem}")
    return f"invalid configuration in {' and '.join(sorted(sources))}: " + "; ".join(lines)


def _environment_variable(loc: tuple[Any, ...]) -> str | None:
    """The VIGIL_ variable that set this key (or its whole section), if one did."""
    present = {name.upper(): name for name in os.environ if name.upper().startswith("VIGIL_")}
    for depth in range(len(loc), 0, -1):
        name = "VIGIL_" + "__".join(str(p) for p in loc[:depth]).upper()
        if name in present:
            return present[name]
    return None
