"""The scale extra: off the default path (serving, the CLI and the SQLite gallery never import Ray or psycopg), and
its deploy/ray example loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vigil.config.settings import load_config
from vigil.db.sql_schema import is_url

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "ray"

DEFAULT_PATH = ["vigil.cli.main", "vigil.http.deepstack", "vigil.execute.local", "vigil.faces.recognizer",
                "vigil.faces.gallery.location", "vigil.events.location", "vigil.events.service",
                "vigil.http.events", "vigil.execute.executor", "vigil.batch.runner", "vigil.cli.batch"]


def test_default_import_path_has_no_ray_or_database_driver():
    code = ("import importlib, sys\n"
            f"for name in {DEFAULT_PATH!r}: importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ray', 'psycopg', 'psycopg_pool')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_cluster_example_config_loads_with_a_postgresql_gallery():
    config = load_config(DEPLOY / "vigil.toml")
    assert is_url(config.gallery_path()) and config.gallery_path().startswith("postgresql://vigil@")
    assert config.ray.address == "127.0.0.1:6379" and config.ray.max_replicas == 8


def test_cluster_units_start_ray_and_vigil_serve_ray():
    assert "ray start --head --block" in (DEPLOY / "ray-head.service").read_text()
    assert "ray start --address ${RAY_HEAD} --block" in (DEPLOY / "ray-worker.service").read_text()
    assert "vigil serve --ray --ray-address 127.0.0.1:6379" in (DEPLOY / "vigil-ray.service").read_text()


def test_every_cluster_unit_uses_ray_token_authentication():
    for unit in ("ray-head.service", "ray-worker.service", "vigil-ray.service"):
        lines = (DEPLOY / unit).read_text().splitlines()
        assert "Environment=RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=/etc/vigil/ray_token" in lines, unit
