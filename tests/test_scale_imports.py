"""The scale extra stays off the default path: serving, the CLI and the SQLite gallery never import Ray or psycopg."""

from __future__ import annotations

import subprocess
import sys

DEFAULT_PATH = ["vigil.cli.main", "vigil.serve.http", "vigil.serve.engine", "vigil.faces.recognizer",
                "vigil.faces.gallery.location", "vigil.pipeline", "vigil.batch", "vigil.cli.batch"]


def test_default_import_path_has_no_ray_or_database_driver():
    code = ("import importlib, sys\n"
            f"for name in {DEFAULT_PATH!r}: importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ray', 'psycopg', 'psycopg_pool')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
