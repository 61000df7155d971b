"""The benchmarks the README cites keep running: every script in benchmarks/ imports against today's code and
answers `--help` (its argument parser is reached, so its imports and its `main` are wired), in one subprocess.

They rotted once unnoticed (a refactor removed a module four of them imported); this catches that in seconds
without running a measurement.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
SCRIPTS = sorted(p.stem for p in BENCHMARKS.glob("bench_*.py"))

# Imports each script as `python benchmarks/NAME.py` would see it (benchmarks/ first on the path), then calls its
# main() with `--help`; prints one JSON document: per script, the error or the help's first line.
PROBE = """
import contextlib, importlib, io, json, sys
out = {}
for name in sys.argv[1:]:
    buffer = io.StringIO()
    try:
        module = importlib.import_module(name)
        sys.argv = [name + ".py", "--help"]
        with contextlib.redirect_stdout(buffer):
            module.main()
        out[name] = "main() returned without parsing --help"
    except SystemExit as exc:
        out[name] = buffer.getvalue() if exc.code == 0 else f"exit {exc.code}: {buffer.getvalue()}"
    except Exception as exc:
        out[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


def test_every_benchmark_imports_and_answers_help():
    assert len(SCRIPTS) >= 18  # the glob found the folder
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(BENCHMARKS), str(REPO / "src"), str(REPO),
                                                        os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", PROBE, *SCRIPTS], cwd=BENCHMARKS, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(answers) == SCRIPTS
    broken = {name: text for name, text in answers.items() if not text.startswith("usage: ")}
    assert not broken, broken
    assert "--frames" in answers["bench_watch"]  # a script's own options, not just a usage line
