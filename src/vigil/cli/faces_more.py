"""`vigil faces train | unknowns | name | feedback` (the second half of cli/faces.py, split to stay short)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from vigil.cli.common import ConfigOpt, JsonOpt, config_or_exit, emit_json, err, fail, out, plural, write_private
from vigil.cli.face_tools import load_recognizer, open_gallery
from vigil.errors import BadInput, VigilError


def train(model: Annotated[str, typer.Option("--model", help="svm or xgb")] = "svm",
          folder: Annotated[Path | None, typer.Option("--out", help="where to save (default: configured)")] = None,
          trees: Annotated[int, typer.Option(help="XGBoost trees (seed: 600)")] = 600,
          draws: Annotated[int, typer.Option(help="XGBoost random-search draws (seed: 20)")] = 20,
          config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Train the seed's classifier on the gallery's samples; set [recognize] by = "face_classifier" to use it."""
    from vigil.faces.train import gallery_dataset
    from vigil.faces.train import train as fit

    cfg = config_or_exit(config)
    x, y = gallery_dataset(open_gallery(cfg))
    err.print(f"training {model} on {len(x)} samples of {len(set(y.tolist()))} people …")
    try:
        report = fit(x, y, model, folder or cfg.classifier_path(), cfg.faces.embedder, trees=trees, draws=draws)
    except VigilError as exc:
        fail(exc, 1)
    if as_json:
        emit_json(report.as_dict())
        return
    out.print(report.report)
    out.print(f"best {report.best_params}; cv F1 {report.cv_f1:.3f}; test accuracy {report.test_accuracy:.3f}, "
              f"F1 {report.test_f1:.3f}; saved in {report.folder} (confusion.png)")

def unknowns(recluster: Annotated[bool, typer.Option(help="rebuild clusters (average linkage) first")] = False,
             thumbnails: Annotated[Path | None, typer.Option(help="write one face JPEG per cluster here")] = None,
             config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Provisional people: strangers seen across images, grouped; name them with `vigil faces name`."""
    cfg = config_or_exit(config)
    gallery = open_gallery(cfg)
    if recluster:
        gallery.recluster(cfg.faces.cluster_distance)
    clusters = gallery.unknowns()
    if thumbnails:
        thumbnails.mkdir(parents=True, exist_ok=True)
        for c in clusters:
            write_private(thumbnails / f"cluster_{int(c.id)}.jpg", gallery.stranger_thumbnail(c.sample_id))
    if as_json:
        emit_json([c.__dict__ for c in clusters])
        return
    table = Table()
    for column in ("cluster", "faces kept", "sightings", "first seen", "last seen"):
        table.add_column(column)
    import time

    for c in clusters:
        table.add_row(str(c.id), str(c.faces), str(c.sightings), time.ctime(c.first_seen), time.ctime(c.last_seen))
    out.print(table)

def name(cluster: Annotated[int, typer.Argument(metavar="CLUSTER", help="a cluster id from `vigil faces unknowns`")],
         person: Annotated[str, typer.Argument(metavar="PERSON", help="the person's name (new or enrolled)")],
         config: ConfigOpt = None) -> None:
    """Name a provisional cluster: its faces become samples of PERSON (new or existing)."""
    try:
        moved = open_gallery(config_or_exit(config)).name_cluster(cluster, person)
    except VigilError as exc:
        fail(exc, 1)
    err.print(f"cluster {cluster} → {escape(person)} ({plural(moved, 'sample')})")
    from vigil.cli.events import relabel_events

    relabel_events(config_or_exit(config), cluster, person)  # its past events carry the name from now on

def feedback(not_name: Annotated[str | None, typer.Option("--not", help="the faces shown are NOT this person")]
             = None,
             images: Annotated[list[Path] | None, typer.Argument(help="images whose faces were misnamed",
                                                                 metavar="IMAGE", show_default=False)] = None,
             sample: Annotated[int | None, typer.Option(help="a gallery sample id that is not its person")] = None,
             config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Negative feedback: "this face is not NAME" (from images), or reject a wrongly enrolled sample."""
    cfg = config_or_exit(config)
    try:
        if sample is not None:
            who = open_gallery(cfg).reject_sample(sample)
            result = {"rejected_sample": sample, "not": who}
        elif not_name and images:
            result = {"not": not_name, "faces": _negatives(load_recognizer(cfg), not_name, images)}
        else:
            raise BadInput("give --not NAME with images, or --sample ID")
    except VigilError as exc:
        fail(exc, 1)
    if as_json:
        emit_json(result)
    elif sample is not None:
        err.print(f"recorded: sample {sample} is not {escape(result['not'])}; it was moved to their negatives")
    else:
        err.print(f"recorded: {plural(result['faces'], 'face')} marked as not {escape(not_name or '')}")


def _negatives(recognizer, not_name: str, images: list[Path]) -> int:
    """Record, for each image, the face currently matched to `not_name` (or its only face)."""
    from vigil.imaging import images as imaging

    recognizer.gallery.person_id(not_name)  # NotFound early
    count = 0
    for path in images:
        frame = imaging.load(path)
        faces = [f for f in recognizer.detect(frame.pixels) if f.quality == "ok"]
        if not faces:
            continue
        vectors, _ = recognizer.embed(frame.pixels, [f.xyxy for f in faces])
        matches = recognizer.identify(vectors)
        chosen = [k for k, m in enumerate(matches) if m.candidate == not_name] or ([0] if len(faces) == 1 else [])
        for k in chosen:
            recognizer.gallery.add_negative(not_name, vectors[k], note=str(path))
            count += 1
    return count


def register(app: typer.Typer) -> None:
    for command in (train, unknowns, name, feedback):
        app.command()(command)
