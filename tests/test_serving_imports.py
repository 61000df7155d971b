"""Serving installs without torch: the CLI, the server and a real `vigil detect` never import torch, the training
package, the exporters or the PostgreSQL driver (only a postgresql:// gallery or event log loads it); `vigil eval`
(onnxruntime / LiteRT) never imports torch. Each case runs in a fresh
interpreter, so nothing another test imported can hide or fake an import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import fixture_image

SERVING_NEVER = ("torch", "vigil.train", "vigil.export", "psycopg", "psycopg_pool", "vigil.db.postgres_db",
                 "av", "supervision")  # PyAV and the tracker: only a video, a stream or `vigil track` loads them

CHECK = """
import json, sys
{body}
loaded = sorted(m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in {forbidden!r}))
print(json.dumps(loaded))
"""

DETECT = """
from vigil.cli.main import app
try:
    app(["detect", {image!r}, "--json"], standalone_mode=False)
except SystemExit as exc:
    assert not exc.code, exc.code
"""


def loaded_modules(body: str, forbidden: tuple[str, ...]) -> list[str]:
    code = CHECK.format(body=body, forbidden=forbidden)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("body", "forbidden"),
    [
        ("import vigil.cli.main", SERVING_NEVER),
        ("import vigil.serve.run", SERVING_NEVER),
        ("import vigil.api, vigil.execute.local", SERVING_NEVER),
        ("import vigil.export.evaluate", ("torch",)),  # `vigil eval` measures exported files without torch
    ],
    ids=["cli", "server", "facade", "eval"],
)
def test_module_imports_stay_light(body, forbidden):
    assert loaded_modules(body, forbidden) == []


def test_vigil_detect_on_a_real_image_never_imports_torch(store):
    """The whole command, models loaded and run: still no torch, training or export code."""
    body = DETECT.format(image=str(fixture_image("dog.jpg")))
    assert loaded_modules(body, SERVING_NEVER) == []
