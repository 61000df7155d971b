"""`vigil presence …`: is a person in the frame (Visual Wake Words), and the datasets that train such a model.
No torch here: detection runs on LiteRT, datasets are files; training is `vigil train classify`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from vigil.cli.common import ConfigOpt, JsonOpt, config_or_exit, emit_json, err, fail, failed_line, out
from vigil.errors import VigilError

presence_app = typer.Typer(rich_markup_mode=None,
                           help="Person presence (Visual Wake Words): detect, build datasets from COCO or footage.",
                           no_args_is_help=True)



@presence_app.command("detect")
def detect(
    images_: Annotated[list[Path], typer.Argument(metavar="IMAGE", help="image files", show_default=False)],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    min_score: Annotated[float | None, typer.Option(min=0, max=1, help="person at or above (default [presence])")
                         ] = None,
) -> None:
    """Is a person in each image? One entry per image, in input order (the presence model only, no detector)."""
    from vigil.formats import native
    from vigil.imaging import images
    from vigil.registry.store import ModelStore
    from vigil.tasks.base import TaskContext
    from vigil.tasks.presence import DECODE_SIDE, TASK, PresenceOptions

    cfg = config_or_exit(config)
    try:
        model = TASK.load(TaskContext(cfg, ModelStore(cfg.store.home)))
    except VigilError as exc:
        fail(exc)
    limits = images.ImageLimits(cfg.limits.max_bytes, cfg.limits.max_pixels, frozenset(cfg.limits.formats))
    options = PresenceOptions(min_score=min_score)
    entries = []
    for path in images_:
        try:
            frame = images.load(path, limits, fit=(DECODE_SIDE, DECODE_SIDE))
            entries.append(TASK.encode(str(path), model.run_batch([model.prepare(frame, options)])[0]))
        except VigilError as exc:
            entries.append(native.image_failed(str(path), str(exc)))
    if as_json:
        emit_json(entries)
    else:
        for e in entries:
            if "error" in e:
                out.print(failed_line(e["image"], e["error"]))
            else:
                out.print(f"[bold]{escape(e['image'])}[/bold]: person={e['person']} score={e['score']:.3f}")
    if entries and all("error" in e for e in entries):
        raise typer.Exit(1)


@presence_app.command("dataset")
def dataset(
    coco: Annotated[Path, typer.Option("--coco", help="COCO instances JSON (e.g. instances_train2014.json)")],
    images_dir: Annotated[Path, typer.Option("--images", help="folder holding the COCO images")],
    out_dir: Annotated[Path, typer.Option("--out", help="dataset folder: person/, non_person/, manifest.csv")],
    class_name: Annotated[str, typer.Option("--class", help="COCO category of interest")] = "person",
    area_threshold: Annotated[float, typer.Option(min=0, max=1, help="positive above this area fraction")] = 0.005,
    split: Annotated[str | None, typer.Option(help="manifest split (default: from the file name: val, test, train)")
                     ] = None,
    copy: Annotated[bool, typer.Option(help="copy the images instead of linking them")] = False,
    as_json: JsonOpt = False,
) -> None:
    """A Visual Wake Words dataset from COCO: positive when one annotation of the class covers more than the threshold
    of the image (COCO `area` / width × height). Every image gets a row."""
    from vigil.train.vww import coco_dataset

    try:
        rows = coco_dataset(coco, images_dir, out_dir, class_name, area_threshold, split, copy)
    except (VigilError, OSError) as exc:
        fail(exc)
    positive = sum(r.label for r in rows)
    summary = {"out": str(out_dir), "images": len(rows), "present": positive, "absent": len(rows) - positive,
               "manifest": str(out_dir / "manifest.csv")}
    if as_json:
        emit_json(summary)
    else:
        out.print(f"{len(rows)} images: {positive} with {class_name}, {len(rows) - positive} without → {out_dir}")


@presence_app.command("autolabel")
def autolabel(
    sources: Annotated[list[Path], typer.Argument(metavar="DIR_OR_VIDEO", help="image folders, images or videos")],
    out_dir: Annotated[Path, typer.Option("--out", help="dataset folder: person/, non_person/, manifest.csv")],
    area_threshold: Annotated[float, typer.Option(min=0, max=1, help="positive above this box area fraction")
                              ] = 0.005,
    crops: Annotated[int, typer.Option(min=0, help="random crops a frame (plus one around a person)")] = 2,
    every_s: Annotated[float, typer.Option(min=0.01, help="videos: one frame every this many seconds")] = 1.0,
    block_s: Annotated[float, typer.Option(min=1, help="held-out time ranges (every 5th block → test)")] = 60.0,
    seed: Annotated[int, typer.Option(help="crop positions")] = 0,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Label your own footage with the Vigil detector as teacher (the VWW area rule on its person boxes)."""
    from vigil.execute.local import Inline
    from vigil.tasks.detect import DetectParams
    from vigil.train.autolabel import AutolabelSettings
    from vigil.train.autolabel import autolabel as run_autolabel

    cfg = config_or_exit(config)
    cfg.detect.presence_gate = 0.0  # the teacher sees every frame
    try:
        executor = Inline(cfg).setup()
        teacher = lambda f: executor.detect_frame(f, DetectParams(), executor.deadline())  # noqa: E731
        settings = AutolabelSettings(area_threshold, crops, every_s, block_s, seed)
        report = run_autolabel(sources, out_dir, teacher, settings)
    except (VigilError, OSError) as exc:
        fail(exc)
    for message in report.errors:
        err.print(f"[yellow]skipped[/yellow] {message}")
    summary = {"out": str(out_dir), "images": len(report.rows), "splits": report.counts(),
               "ambiguous_crops": report.ambiguous, "errors": report.errors}
    if as_json:
        emit_json(summary)
    else:
        out.print(f"{len(report.rows)} images → {out_dir}: {report.counts()}")
    if not report.rows:
        raise typer.Exit(1)
