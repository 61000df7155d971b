"""`vigil faces dataset`: build the face gate's face / non-face training set (logic in vigil.faces.dataset)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.common import ConfigOpt, JsonOpt, config_or_exit, emit_json, err, fail, out
from vigil.cli.face_tools import load_recognizer, open_gallery
from vigil.errors import VigilError


def register(app: typer.Typer) -> None:
    @app.command()
    def dataset(out_dir: Annotated[Path, typer.Option("--out", help="writes OUT/face/*.png and OUT/nonface/*.png")],
                faces: Annotated[Path | None, typer.Option("--faces", help="images showing faces (positives)")]
                = None,
                nonfaces: Annotated[Path | None, typer.Option("--nonfaces", help="images with no face (negatives)")]
                = None,
                frames: Annotated[Path | None, typer.Option("--frames", help="camera frames: hard negatives (faceless "
                                                            "heads, background, rejected candidates)")] = None,
                demo: Annotated[bool, typer.Option(help="add scikit-image's lfw_subset (100 + 100, 25×25)")] = False,
                gallery: Annotated[bool, typer.Option(help="add the gallery's sample thumbnails as faces")] = True,
                seed: Annotated[int, typer.Option(help="where --frames' background patches are cut: the same "
                                                       "frames and seed give the same set")] = 0,
                config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
        """A face / non-face set for the face gate ([faces] gate), in the layout `vigil train classify` reads."""
        from vigil.faces import dataset as build

        cfg = config_or_exit(config)
        writer = build.DatasetWriter(out_dir)
        try:
            if demo:
                build.demo(writer)
            if gallery and cfg.gallery_path().exists():
                build.from_gallery(writer, open_gallery(cfg))
            if nonfaces:
                build.from_nonfaces(writer, nonfaces)
            if faces or frames:
                recognizer = load_recognizer(cfg)
                if faces:
                    build.from_faces(writer, recognizer, faces)
                if frames:
                    build.from_frames(writer, recognizer, _person_detector(cfg), frames, seed)
        except VigilError as exc:
            fail(exc, 1)
        report = writer.report.as_dict()
        if as_json:
            emit_json(report)
            return
        for problem in report["unreadable"]:
            err.print(f"[yellow]unreadable[/yellow] {problem['source']}: {problem['error']}")
        out.print(f"{report['totals']} in {report['out']} ({report['written']})")


def _person_detector(cfg):
    from vigil.registry.store import ModelStore
    from vigil.tasks.detect import ObjectDetector

    store = ModelStore(cfg.store.home)
    store.pull(cfg.detect.model)
    return ObjectDetector.load(store, cfg.detect.model, cfg.detect.input_size, cfg.detect.rect,
                               precision=cfg.detect.precision)
