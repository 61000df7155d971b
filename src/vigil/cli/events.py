"""`vigil watch` and `vigil events …`: thin, the work is in vigil.events. `--json` prints one JSON document."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table

from vigil.cli.common import ConfigOpt, JsonOpt, config_or_exit, emit_json, err, out
from vigil.config.settings import VigilConfig
from vigil.errors import VigilError

events_app = typer.Typer(rich_markup_mode=None, help="The event log: what the watcher saw.", no_args_is_help=True)


def watch(config: ConfigOpt = None) -> None:
    """Watch the `[watch] dirs` folders and the `[cameras.<name>]` streams: new frames and tracks become events in
    the log (and on MQTT with `[mqtt] host`)."""
    from vigil.events.service import EventService
    from vigil.execute.local import Inline

    cfg = config_or_exit(config)
    cameras = [f"camera {name}" for name, camera in cfg.cameras.items() if camera.source]
    if not cfg.watch.dirs and not cameras:
        err.print("[red]error:[/red] nothing to watch: set \\[watch] dirs or a \\[cameras.<name>] source in the config")
        raise typer.Exit(2)
    try:
        cfg.store.data_dir.mkdir(parents=True, exist_ok=True)
        service = EventService(cfg, Inline(cfg).setup()).start()
    except (VigilError, OSError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    err.print(f"watching {', '.join([*(str(d) for d in cfg.watch.dirs), *cameras])}; Ctrl-C stops")
    stop.wait()
    service.stop()


@events_app.command("list")
def list_events(
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    camera: Annotated[str | None, typer.Option(help="only this camera")] = None,
    label: Annotated[str | None, typer.Option(help="only this label (person, car, face …)")] = None,
    name: Annotated[str | None, typer.Option(help="only faces of this person (or 'unknown')")] = None,
    since: Annotated[str | None, typer.Option(help="epoch seconds, ISO 8601 or an age (30m, 2h, 7d)")] = None,
    until: Annotated[str | None, typer.Option(help="epoch seconds, ISO 8601 or an age")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="newest first, at most this many")] = 50,
) -> None:
    """Events, newest first."""
    from vigil.events.location import event_log_exists, open_event_log
    from vigil.events.log import EventQuery
    from vigil.formats.events import event_json, parse_time

    cfg = config_or_exit(config)
    now = time.time()
    try:
        query = EventQuery(camera, label, name, parse_time(since, now) if since else None,
                           parse_time(until, now) if until else None, limit)
        location, found = cfg.events_location(), []
        if event_log_exists(location):
            with open_event_log(location) as log:
                found = log.query(query)
    except (ValueError, VigilError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    base = cfg.events.public_url or f"http://{cfg.server.host}:{cfg.server.port}"
    if as_json:
        emit_json([event_json(e, base) for e in found])
        return
    table = Table(title=f"{len(found)} events", title_justify="left")
    for column in ("id", "camera", "label", "name", "count", "score", "start", "end"):
        table.add_column(column)
    shown = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))  # noqa: E731
    for e in found:
        table.add_row(str(e.id), e.camera, e.label, e.name or "", str(e.max_count), f"{e.score:.2f}", shown(e.start),
                      shown(e.end) if e.end is not None else "open")
    out.print(table)


def _on_log(cfg: VigilConfig, work: Callable[[Any], int]) -> int:
    """`work(log)` on the configured event log; 0 when there is none yet."""
    from vigil.events.location import event_log_exists, open_event_log

    location = cfg.events_location()
    if not event_log_exists(location):
        return 0
    with open_event_log(location) as log:
        return work(log)


def relabel_events(cfg: VigilConfig, cluster: int, name: str) -> int:
    """The face events of a stranger cluster take the name it was given (0 when there is no event log)."""
    return _on_log(cfg, lambda log: log.relabel_cluster(cluster, name))


def relabel_absorbed(cfg: VigilConfig, report: Any) -> int:
    """The face events of the stranger clusters an enrolment absorbed take the person's name (0 without a log)."""
    return _on_log(cfg, lambda log: log.relabel_absorbed(report)) if report.absorbed else 0


def forget_events(cfg: VigilConfig, name: str | None, cluster: int | None) -> int:
    """The face events of one person or stranger cluster deleted with their snapshots (0 without an event log)."""
    return _on_log(cfg, lambda log: log.forget_face(name, cluster))


@events_app.command("relabel")
def relabel(cluster: Annotated[int, typer.Argument(metavar="CLUSTER",
                                                   help="stranger cluster id (see `vigil faces unknowns`)")],
            name: Annotated[str, typer.Argument(metavar="NAME", help="the person's name")],
            config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Give a named stranger cluster's past face events the person's name."""
    changed = relabel_events(config_or_exit(config), cluster, name)
    if as_json:
        emit_json({"cluster_id": cluster, "name": name, "events": changed})
    else:
        out.print(f"{changed} events of cluster {cluster} now name {name}")
