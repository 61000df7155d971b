"""`vigil events list --json` / `relabel`, `vigil watch` refusing an empty [watch], and the optional imports: paho-mqtt
and watchdog stay unimported unless [mqtt] / [watch] are configured, psycopg unless a postgresql:// URL is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from vigil.events.log import EventLog
from vigil.results import Event, EventChange


def run(*args: str):
    """The real command line, in this process (typer's runner), for speed."""
    from typer.testing import CliRunner

    from vigil.cli.main import app

    return CliRunner().invoke(app, list(args))


def test_events_list_json_filters_and_relabel(tmp_path):
    config = tmp_path / "vigil.toml"
    config.write_text('[store]\ndata_dir = "data"\n')
    log = EventLog(tmp_path / "data" / "events.sqlite3")
    for camera, label, name, cluster in (("3", "person", None, None), ("4", "face", "unknown", 5)):
        log.save([EventChange("new", Event(camera, label, 100.0, 0.7, (1, 2, 3, 4), name=name, cluster_id=cluster,
                                           last_seen=100.0))])
    done = run("events", "list", "--config", str(config), "--json", "--camera", "4")
    assert done.exit_code == 0, done.stderr
    (entry,) = json.loads(done.stdout)
    assert (entry["camera"], entry["label"], entry["name"], entry["cluster_id"]) == ("4", "face", "unknown", 5)
    done = run("events", "relabel", "5", "bob", "--config", str(config), "--json")
    assert json.loads(done.stdout) == {"cluster_id": 5, "name": "bob", "events": 1}
    assert json.loads(run("events", "list", "--config", str(config), "--json", "--name", "bob").stdout)[0]["id"] == 2
    bad = run("events", "list", "--config", str(config), "--since", "soon")
    assert bad.exit_code == 2 and "'soon' is not a time" in bad.stderr
    empty = run("watch", "--config", str(config))
    assert empty.exit_code == 2 and "set [watch] dirs" in empty.stderr


def test_naming_a_stranger_cluster_relabels_its_events(tmp_path):
    import numpy as np

    from vigil.faces.gallery.gallery import Gallery

    config = tmp_path / "vigil.toml"
    config.write_text('[store]\ndata_dir = "data"\n')
    cluster = Gallery(tmp_path / "data" / "gallery.sqlite3").add_stranger(np.full(128, 0.1, np.float32))
    log = EventLog(tmp_path / "data" / "events.sqlite3")
    stranger = Event("4", "face", 100.0, 0.7, (1, 2, 3, 4), name="unknown", cluster_id=cluster, last_seen=100.0)
    log.save([EventChange("new", stranger)])
    done = run("faces", "name", str(cluster), "carol", "--config", str(config))
    assert done.exit_code == 0, done.output
    assert log.get(stranger.id).name == "carol"


def test_paho_and_watchdog_are_imported_only_when_configured(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import vigil.cli.main, vigil.serve.run, vigil.http.deepstack, vigil.http.events
        from vigil.config.settings import VigilConfig
        from vigil.events.service import EventService
        from vigil.execute.local import Inline
        config = VigilConfig(store={{"data_dir": Path({str(tmp_path)!r})}})
        EventService(config, Inline(config)).start().stop()
        print(sorted(m for m in ("paho", "watchdog", "psycopg") if m in sys.modules))
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
