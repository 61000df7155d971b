"""What the `vigil faces` command modules (faces.py, faces_more.py) share: opening the gallery and the recogniser,
each failing the command cleanly. Face code is imported inside, so other commands never load it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vigil.cli.common import fail
from vigil.config.settings import VigilConfig
from vigil.errors import VigilError

if TYPE_CHECKING:
    from vigil.faces.gallery.gallery import Gallery
    from vigil.faces.recognizer import FaceRecognizer


def open_gallery(cfg: VigilConfig) -> Gallery:
    """The configured gallery: an SQLite file (default) or a postgresql:// URL."""
    from vigil.faces.gallery.location import open_gallery as open_location

    try:
        return open_location(cfg.gallery_path())
    except VigilError as exc:
        fail(exc)


def load_recognizer(cfg: VigilConfig, gallery: Gallery | None = None) -> FaceRecognizer:
    from vigil.faces.recognizer import FaceRecognizer
    from vigil.registry.store import ModelStore

    store = ModelStore(cfg.store.home)
    try:
        for name in FaceRecognizer.models(cfg.faces):
            store.pull(name)  # idempotent: hashes what is there, fetches only what is missing
        return FaceRecognizer.load(cfg, store, gallery or open_gallery(cfg))
    except VigilError as exc:
        fail(exc)
