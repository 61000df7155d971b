"""`vigil batch`: detection, faces and crowd counts over archives, in-process or on Ray (logic: vigil.batch.runner)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from vigil.cli.common import ConfigOpt, JsonOpt, config_or_exit, emit_json, err, out
from vigil.errors import VigilError


def batch(
    sources: Annotated[list[Path], typer.Argument(help="image files, folder trees, or videos", show_default=False,
                                                   metavar="SOURCE")],
    output: Annotated[Path, typer.Option("--out", help="results.jsonl or results.parquet (also the resume journal)")],
    tasks: Annotated[str, typer.Option(help="comma-separated: detect, faces, crowd")] = "detect",
    ray: Annotated[str | None, typer.Option(help="run on Ray: 'auto' (join a cluster, else start one) or ADDRESS")]
    = None,
    fps: Annotated[float, typer.Option(min=0, help="frames per second sampled from videos (0: every frame)")] = 1.0,
    workers: Annotated[int, typer.Option(min=0, help="without --ray: processes (0: one per core; 1: a plain loop)")]
    = 0,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Results per image in the seed format (as `vigil detect --json`), appended to --out; an interrupted run
    resumes where it stopped."""
    from vigil.batch.runner import run_batch

    cfg = config_or_exit(config)
    remote = None
    if ray is not None:
        from vigil.batch.on_ray import ray_runner  # the scale extra

        remote = ray_runner(ray)
    wanted = [t.strip() for t in tasks.split(",") if t.strip()]
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=False) as bar:
        def progress(total: int, done: int):
            task = bar.add_task("images", total=total, completed=done)
            return lambda n: bar.advance(task, n)

        try:
            report = run_batch(sources, output, cfg, wanted, fps, workers, remote, progress)
        except VigilError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    if as_json:
        emit_json(asdict(report))
    else:
        out.print(f"{report.images} images ({report.skipped} from an earlier run, {report.processed} now, "
                  f"{report.errors} errors) → {report.out} [{report.runner}]")
