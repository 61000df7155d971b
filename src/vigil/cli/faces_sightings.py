"""`vigil faces visits | search | forget`: what the watched cameras' sightings say (vigil.faces.sightings)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vigil.cli.common import ConfigOpt, JsonOpt, config_or_exit, emit_json, err, fail, out, write_private
from vigil.cli.face_tools import load_recognizer, open_gallery
from vigil.errors import VigilError


def visits(since: Annotated[str | None, typer.Option(help="only sightings since: epoch s, ISO 8601 or an age (7d)")]
           = None,
           thumbnails: Annotated[Path | None, typer.Option(help="write each one's best face JPEG here")] = None,
           config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Visits per person and stranger cluster: how often, when, where, and the best face."""
    from vigil.faces.sightings import Sightings
    from vigil.faces.visits import split, summarise
    from vigil.formats.events import parse_time
    from vigil.formats.sightings import visits_json

    cfg = config_or_exit(config)
    try:
        start = parse_time(since, time.time()) if since is not None else None
    except ValueError as exc:
        fail(exc, 1)
    store = Sightings(open_gallery(cfg))
    summaries = summarise(split(store.rows(since=start), cfg.faces.visit_gap_s))
    if thumbnails:
        thumbnails.mkdir(parents=True, exist_ok=True)
        for s in summaries:
            who = s.who.name if s.who.cluster is None else f"cluster_{s.who.cluster}"
            write_private(thumbnails / f"{who}.jpg", store.crop(s.best.best))
    document = visits_json(summaries, cfg.events.public_url or f"http://{cfg.server.host}:{cfg.server.port}")
    if as_json:
        emit_json(document)
        return
    table = Table()
    for column in ("who", "visits", "first seen", "last seen", "cameras"):
        table.add_column(column)
    for entry in document:
        who = entry.get("name") or f"cluster {entry['cluster']}"
        table.add_row(who, str(entry["visits"]), time.ctime(entry["first_seen"]), time.ctime(entry["last_seen"]),
                      ", ".join(entry["cameras"]))
    out.print(table)


def search(image: Annotated[Path, typer.Argument(metavar="IMAGE", help="a photo of the face(s) to look for")],
           config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """When and where each face of IMAGE was seen by the watched cameras (newest first)."""
    from vigil.faces.search import query_faces
    from vigil.faces.search import search as find
    from vigil.faces.sightings import Sightings
    from vigil.formats.sightings import search_json
    from vigil.imaging import images as imaging

    cfg = config_or_exit(config)
    recognizer = load_recognizer(cfg)
    try:
        faces, seen = query_faces(recognizer, imaging.load(image))
        found = find(Sightings(recognizer.gallery), faces, cfg.faces.match_distance)
    except VigilError as exc:
        fail(exc, 1)
    document = search_json(found, seen, cfg.events.public_url or f"http://{cfg.server.host}:{cfg.server.port}")
    if as_json:
        emit_json(document)
        return
    if "message" in document:
        err.print(document["message"])
    for k, face in enumerate(document["faces"], 1):
        out.print(f"face {k} at {face['box']}: {len(face['sightings'])} sighting(s)")
        for s in face["sightings"]:
            who = s.get("name") or f"cluster {s['cluster']}"
            out.print(f"  {time.ctime(s['time'])}  {s['camera']}  {who}  similarity {s['similarity']:.2f}")


def forget(who: Annotated[str, typer.Argument(metavar="WHO",
                                              help="a person's name, or a stranger cluster: 12 or cluster:12")],
           config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Delete one identity everywhere: its sightings and face crops, samples or stranger faces, embeddings."""
    from vigil.faces.sightings import Sightings, Who

    cfg = config_or_exit(config)
    try:
        identity = Who.parse(who)
        removed = Sightings(open_gallery(cfg)).forget(identity)
    except VigilError as exc:
        fail(exc, 1)
    from vigil.cli.events import forget_events

    removed["events"] = forget_events(cfg, identity.name, identity.cluster)
    document = {**({"name": identity.name} if identity.cluster is None else {"cluster": identity.cluster}), **removed}
    if as_json:
        emit_json(document)
    else:
        err.print(f"forgot {who}: {removed}")


def register(app: typer.Typer) -> None:
    for command in (visits, search, forget):
        app.command()(command)
