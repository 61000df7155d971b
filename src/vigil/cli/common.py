"""What every `vigil` sub-command shares: the consoles, the --json and --config options, the one JSON
document on stdout, the one way a command fails (`fail`), loading config with a clear exit on a bad file, and opening
the gallery and the face recogniser for the `faces` commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from vigil.config import VigilConfig, load_config
from vigil.errors import VigilError

if TYPE_CHECKING:
    from vigil.faces.gallery.gallery import Gallery
    from vigil.faces.recognizer import FaceRecognizer

out = Console()
err = Console(stderr=True, soft_wrap=True)  # whole lines: messages stay greppable

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="vigil.toml (default: $VIGIL_CONFIG)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print exactly one JSON document on stdout")]


def emit_json(document: object) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def fail(problem: Exception | str, code: int = 2) -> NoReturn:
    """Print `error: …` on stderr and exit with `code` (2: could not start, e.g. bad config or a missing model;
    1: the work itself failed)."""
    err.print(f"[red]error:[/red] {problem}")
    raise typer.Exit(code) from None


def config_or_exit(path: Path | None) -> VigilConfig:
    try:
        return load_config(path)
    except VigilError as exc:
        fail(exc)


def open_gallery(cfg: VigilConfig) -> Gallery:
    from vigil.faces.gallery.gallery import Gallery

    try:
        return Gallery(cfg.gallery_path())
    except VigilError as exc:
        fail(exc)


def load_recognizer(cfg: VigilConfig, gallery: Gallery | None = None) -> FaceRecognizer:
    from vigil.faces.recognizer import FaceRecognizer
    from vigil.registry.store import ModelStore

    store = ModelStore(cfg.store.home)
    try:
        for name in (cfg.faces.detector, cfg.faces.embedder):
            store.pull(name)  # idempotent: hashes what is there, fetches only what is missing
        return FaceRecognizer.load(cfg, store, gallery or open_gallery(cfg))
    except VigilError as exc:
        fail(exc)
