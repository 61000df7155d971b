"""`vigil faces …`: the gallery, enrolment, recognition, training and strangers. Thin: logic lives in
vigil.faces.recognizer, vigil.faces.gallery.gallery and vigil.faces. Progress goes to stderr; `--json` prints
exactly one JSON document on stdout."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from vigil.cli.common import ConfigOpt, JsonOpt, config_or_exit, emit_json, err, fail, failed_line, out, plural
from vigil.cli.face_tools import load_recognizer, open_gallery
from vigil.cli.faces_dataset import register as register_dataset
from vigil.cli.faces_more import register
from vigil.cli.faces_sightings import register as register_sightings
from vigil.errors import VigilError

REFUSED = 3  # exit code: a face matched another person and was not enrolled
ForceOpt = Annotated[bool, typer.Option("--force", help="enrol faces that already match another person")]

faces_app = typer.Typer(rich_markup_mode=None,
                        help="Faces: enrol people, recognise faces, train the seed's classifiers, name strangers.",
                        no_args_is_help=True)


def _progress(source: str, outcome: str) -> None:
    colour = {"added": "green", "skipped": "dim"}.get(outcome, "yellow")
    err.print(f"[{colour}]{outcome:>14}[/{colour}] {source}")


def _report_summary(reports: list, as_json: bool) -> None:
    totals = {k: sum(len(getattr(r, k)) for r in reports) for k in ("added", "skipped", "no_face", "unreadable")}
    if as_json:
        emit_json({"people": [r.as_dict() for r in reports], "totals": totals})
        return
    table = Table(title="enrolment")
    for column in ("name", "added", "skipped", "no usable face", "unreadable"):
        table.add_column(column, justify="left" if column == "name" else "right")
    for r in reports:
        table.add_row(r.name, str(len(r.added)), str(len(r.skipped)), str(len(r.no_face)), str(len(r.unreadable)))
    out.print(table)
    for r in reports:
        for source, other in r.matches:
            out.print(f"matches {other}: {r.name}: {source}" + (" (enrolled anyway)" if r.forced else ""))
        if r.absorbed:
            out.print(f"{r.name}: absorbed stranger cluster(s) {', '.join(map(str, r.absorbed))}")
        for source in r.no_face:
            out.print(f"no usable face: {r.name}: {source}")
        for source, why in r.unreadable:
            out.print(f"unreadable: {escape(r.name)}: " + failed_line(source, why))


@faces_app.command()
def enroll(folder: Annotated[Path, typer.Argument(metavar="FOLDER",
                                                  help="DIR/<name>/*.jpg (the seed's dataset layout)")],
           force: ForceOpt = False, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Enrol every person folder; resumable (files already enrolled are skipped by hash). A face that already
    matches another person is refused (exit 3) unless --force."""
    from vigil.faces.enroll import enroll_tree

    cfg = config_or_exit(config)
    recognizer = load_recognizer(cfg)
    try:
        reports = enroll_tree(recognizer, folder, _progress, force)
    except VigilError as exc:
        fail(exc)
    from vigil.cli.events import relabel_absorbed

    for report in reports:
        relabel_absorbed(cfg, report)
    _report_summary(reports, as_json)
    refusal = next((r.conflict() for r in reports if r.refused), None)
    if refusal is not None:
        fail(refusal, REFUSED)


@faces_app.command()
def add(name: Annotated[str, typer.Argument(metavar="NAME", help="the person's name")],
        images: Annotated[list[Path], typer.Argument(help="images showing this person", show_default=False,
                                                     metavar="IMAGE")],
        force: ForceOpt = False,
        config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Add images of one person. A face that already matches someone else is refused (exit 3) unless --force."""
    from vigil.faces.enroll import enroll as enroll_one

    cfg = config_or_exit(config)
    recognizer = load_recognizer(cfg)
    try:
        report = enroll_one(recognizer, name, list(images), _progress, force=force)
    except VigilError as exc:
        fail(exc)
    from vigil.cli.events import relabel_absorbed

    relabel_absorbed(cfg, report)  # their past events carry the name from now on, as `vigil faces name` does
    _report_summary([report], as_json)
    refusal = report.conflict()
    if refusal is not None:
        fail(refusal, REFUSED)
    if not report.added and not report.skipped:
        raise typer.Exit(1)


@faces_app.command()
def samples(name: Annotated[str, typer.Argument(metavar="NAME", help="the person's name")],
            config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """One person's samples with their ids (for `vigil faces feedback --sample ID`)."""
    try:
        rows = open_gallery(config_or_exit(config)).samples(name)
    except VigilError as exc:
        fail(exc, 1)
    if as_json:
        emit_json([{"id": int(i), "source": source, "created": created} for i, source, created in rows])
        return
    table = Table(title=name)
    for column in ("id", "source", "added"):
        table.add_column(column)
    for i, source, created in rows:
        table.add_row(str(i), escape(source), time.ctime(created))
    out.print(table)


@faces_app.command("list")
def list_people(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """People in the gallery with their sample counts."""
    people = open_gallery(config_or_exit(config)).people()
    if as_json:
        emit_json([{"name": p.name, "samples": p.samples, "id": p.id, "created": p.created} for p in people])
        return
    table = Table()
    table.add_column("name")
    table.add_column("samples", justify="right")
    for p in people:
        table.add_row(p.name, str(p.samples))
    out.print(table)


@faces_app.command()
def rename(old: Annotated[str, typer.Argument(metavar="OLD", help="the current name")],
           new: Annotated[str, typer.Argument(metavar="NEW", help="the new name")], config: ConfigOpt = None) -> None:
    """Rename a person."""
    try:
        open_gallery(config_or_exit(config)).rename(old, new)
    except VigilError as exc:
        fail(exc, 1)
    err.print(f"renamed {old} → {new}")


@faces_app.command()
def remove(name: Annotated[str, typer.Argument(metavar="NAME", help="the person's name")],
           config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Remove a person and all their samples."""
    try:
        count = open_gallery(config_or_exit(config)).remove(name)
    except VigilError as exc:
        fail(exc, 1)
    if as_json:
        emit_json({"name": name, "samples_removed": count})
    else:
        err.print(f"removed {escape(name)} ({plural(count, 'sample')})")


def _face_rows(detections) -> list[dict]:
    rows = []
    for i in range(len(detections)):
        x0, y0, x1, y1 = (float(v) for v in detections.xyxy[i])
        rows.append({"name": str(detections.data["name"][i]), "similarity": float(detections.data["similarity"][i]),
                     "score": float(detections.score[i]), "person_id": int(detections.data["person_id"][i]),
                     "quality": str(detections.data["quality"][i]),
                     "box": {"xmin": x0, "ymin": y0, "xmax": x1, "ymax": y1}})
    return rows


@faces_app.command()
def recognize(images: Annotated[list[Path], typer.Argument(help="image files", show_default=False, metavar="IMAGE")],
              config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Every face in each image: box, name (or unknown / uncertain), similarity and detector score."""
    from vigil.imaging import images as imaging

    cfg = config_or_exit(config)
    recognizer = load_recognizer(cfg)
    limits = cfg.limits.image_limits()
    entries = []
    for path in images:
        try:
            frame = imaging.load(path, limits)
            entries.append({"image": str(path), "faces": _face_rows(recognizer.recognize(frame, str(path)))})
        except VigilError as exc:
            entries.append({"image": str(path), "faces": [], "error": str(exc)})
    recognizer.strangers.wait()  # strangers are filed in the background: all of them before the command ends
    if as_json:
        emit_json(entries)
    else:
        for entry in entries:
            out.print(failed_line(entry["image"], entry["error"]) if "error" in entry
                      else f"[bold]{escape(entry['image'])}[/bold]")
            for f in entry["faces"]:
                b = f["box"]
                out.print(f"  {f['name']:<20} similarity {f['similarity']:.2f}  score {f['score']:.2f}  "
                          f"box {b['xmin']:.0f},{b['ymin']:.0f},{b['xmax']:.0f},{b['ymax']:.0f}  {f['quality']}")
    if entries and all("error" in e for e in entries):
        raise typer.Exit(1)


register(faces_app)  # train, unknowns, name, feedback
register_dataset(faces_app)  # dataset (the face gate's training set)
register_sightings(faces_app)  # visits, search, forget
