"""deploy/: the example config sets every key Vigil has (so it documents them all) and loads as it is."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from vigil.config.settings import VigilConfig, load_config

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^\[([^\]]+)\]", text, flags=re.M)
    return {name.strip(): body for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_example_config_names_every_key():
    sections = _sections((DEPLOY / "vigil.toml").read_text())
    missing = []
    for name, field in VigilConfig.model_fields.items():
        model = field.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        body = sections.get(name, "")
        missing += [f"[{name}] {key}" for key in model.model_fields
                    if not re.search(rf"^#?\s*{key}\s*=", body, flags=re.M)]
    assert not missing, f"add these to deploy/vigil.toml: {', '.join(missing)}"


def test_every_registered_task_has_its_section_in_the_example_config():
    """A task's facts come from its registration: its config section (TaskDef.section) is in deploy/vigil.toml and
    is a section of the settings model, with its `threads` where the task's runtime takes threads."""
    from vigil.tasks.discover import discover

    sections = _sections((DEPLOY / "vigil.toml").read_text())
    for task in discover().values():
        if not task.section:
            continue
        assert task.section in VigilConfig.model_fields, f"{task.name}: no [{task.section}] in the settings model"
        assert task.section in sections, f"{task.name}: add [{task.section}] to deploy/vigil.toml"


def test_example_config_loads():
    config = load_config(DEPLOY / "vigil.toml")
    assert config.server.host == "127.0.0.1" and config.rpc.heartbeat_s == 60
    assert config.media.roots == [Path("/var/cache/zoneminder/events")]


def test_starter_config_loads_and_keeps_to_the_basics():
    """The short starter beside the every-key file: it loads as it is, and sets only ports, data, media, watch and
    MQTT (its data and media folders are relative to the file, as `make run` expects of ./vigil.toml)."""
    starter = DEPLOY / "vigil.starter.toml"
    config = load_config(starter)
    assert (config.server.host, config.server.port) == ("127.0.0.1", 5000) and config.mqtt.host == ""
    assert config.store.data_dir == DEPLOY / "data" and config.media.roots == [DEPLOY / "data" / "media"]
    assert set(_sections(starter.read_text())) == {"server", "rpc", "store", "media", "watch", "mqtt"}
    assert "make run" in starter.read_text()


def test_systemd_unit_runs_vigil_serve():
    unit = (DEPLOY / "vigil.service").read_text()
    assert re.search(r"^ExecStart=\S+/vigil serve --config /etc/vigil/vigil.toml$", unit, flags=re.M)
    assert "KillSignal=SIGTERM" in unit and "[Install]" in unit
