"""`vigil track SOURCE...`: follow objects through a video, a folder of frames or a stream; count line crossings
and zone occupancy. Shapes come from `--line`/`--zone`, or from `[cameras.<name>]` with `--camera`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from vigil.cli.common import ConfigOpt, JsonOpt, config_or_exit, emit_json, fail, out
from vigil.errors import ConfigError, VigilError

LineOpt = Annotated[list[str] | None, typer.Option("--line", help="NAME=x1,y1,x2,y2 (repeatable); 'in' is from the "
                                                  "line's left to its right, seen from the first point to the second")]
ZoneOpt = Annotated[list[str] | None, typer.Option("--zone", help="NAME=x1,y1,x2,y2,x3,y3,... (repeatable)")]


def parse_shape(option: str, text: str, pairs: int | None = None) -> tuple[str, list[tuple[float, float]]]:
    """`NAME=x1,y1,...` as a name and points; ConfigError naming the option and the name when it is malformed."""
    name, sep, numbers = text.partition("=")
    where = f"--{option} {name.strip() or text}"
    try:
        values = [float(v) for v in numbers.split(",")] if sep else []
    except ValueError:
        raise ConfigError(f"{where}: coordinates must be numbers, got {numbers!r}") from None
    if not sep or not name.strip() or len(values) % 2:
        raise ConfigError(f"{where}: expected NAME=x1,y1,x2,y2,... (pixel pairs), got {text!r}")
    points = list(zip(values[::2], values[1::2], strict=True))
    if pairs is not None and len(points) != pairs:
        raise ConfigError(f"{where}: a line is exactly {pairs} points, got {len(points)}")
    if pairs is None and len(points) < 3:
        raise ConfigError(f"{where}: a zone needs at least 3 points, got {len(points)}")
    return name.strip(), points


def camera_from_options(lines: list[str], zones: list[str], loiter_s: float | None):
    from vigil.config.cameras import camera_config

    parsed_lines = dict(parse_shape("line", text, pairs=2) for text in lines)
    parsed_zones = dict(parse_shape("zone", text) for text in zones)
    return camera_config("--", lines={k: {"points": v} for k, v in parsed_lines.items()},
                         zones={k: {"points": v, "loiter_s": loiter_s} for k, v in parsed_zones.items()})


def track(
    sources: Annotated[list[str] | None, typer.Argument(
        metavar="SOURCE", show_default=False,
        help="video files, folders of frames, rtsp:// or http(s):// URLs (with --camera: its source when none is "
             "given)")] = None,
    line: LineOpt = None,
    zone: ZoneOpt = None,
    fps: Annotated[float | None, typer.Option(min=0.01, help="frames analysed per second (a file: every frame "
                                                             "unless given; a folder: its frame rate)")]
    = None,
    motion_gate: Annotated[bool, typer.Option("--motion-gate", help="run the detector only on frames that changed "
                                                                    "(and a keyframe every 5 s)")] = False,
    camera: Annotated[str | None, typer.Option(help="use \\[cameras.NAME]'s source, zones, lines, masks, fps, "
                                                    "gating")] = None,
    loiter_s: Annotated[float | None, typer.Option(min=0.01, help="loitering after this many seconds in a --zone")]
    = None,
    labels: Annotated[str | None, typer.Option(help="comma-separated labels to track, e.g. person,car")] = None,
    min_score: Annotated[float | None, typer.Option(min=0, max=1, help="override the detector's min score")] = None,
    duration: Annotated[float | None, typer.Option(min=0.1, help="stop reading a stream after this many seconds")]
    = None,
    retries: Annotated[int, typer.Option(min=0, help="a stream's failed connection attempts in a row before it "
                                                     "is given up")] = 3,
    faces: Annotated[bool, typer.Option("--faces", help="each person track's best face, recognised (also with "
                                                        "--camera NAME whose config sets faces = true)")] = False,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Tracks with ids and `stationary`, line counts in/out and zone occupancy/dwell: one JSON object per source
    (an array of them for several sources)."""
    from vigil.execute.local import Inline
    from vigil.tasks.detect import DetectParams
    from vigil.tracks.pipeline import TrackOptions

    cfg = config_or_exit(config)
    try:
        shapes, where = _camera(cfg, camera, line or [], zone or [], loiter_s)
        sources = sources or ([shapes.source] if shapes.source else [])
        if not sources:
            raise ConfigError("no source: name a video, folder or stream URL (or --camera NAME with a source)")
        options = TrackOptions(fps=fps or shapes.fps, motion_gate=motion_gate or (camera is not None and
                                                                               shapes.motion_gate),
                               keyframe_s=shapes.keyframe_s, params=DetectParams(min_score=min_score),
                               labels=[s.strip() for s in (labels or "").split(",") if s.strip()], where=where)
        executor = Inline(cfg).setup()
    except VigilError as exc:
        fail(exc)
    faces = faces or (camera is not None and "faces" in shapes.model_fields_set and shapes.faces)
    documents = [_one(executor, source, shapes, options, retries, duration, faces) for source in sources]
    if as_json:
        emit_json(documents[0] if len(documents) == 1 else documents)
    else:
        _print(documents)
    if all("error" in d for d in documents):
        raise typer.Exit(1)


def _camera(cfg, name: str | None, lines: list[str], zones: list[str], loiter_s: float | None):
    if name is None:
        return camera_from_options(lines, zones, loiter_s), "--"
    if name not in cfg.cameras:
        have = ", ".join(cfg.cameras) or "none"
        raise ConfigError(f"--camera {name}: no [cameras.{name}] in the config (have: {have})")
    if lines or zones:
        raise ConfigError("--camera takes its lines and zones from the config; drop --line/--zone or --camera")
    return cfg.cameras[name], f"cameras.{name}."


def _one(executor, source: str, shapes, options, retries: int, duration: float | None, faces: bool) -> dict:
    from vigil.formats import tracks as formats
    from vigil.results import TrackReport
    from vigil.sources.reader import open_source
    from vigil.tracks.faces import track_with_faces
    from vigil.tracks.pipeline import track_source

    try:
        reader = open_source(source, fps=options.fps, retries=retries, duration_s=duration)
        return formats.report((track_with_faces if faces else track_source)(executor, reader, shapes, options))
    except ConfigError as exc:
        fail(exc)
    except VigilError as exc:
        return formats.report(TrackReport(source, error=str(exc)))


def _print(documents: list[dict]) -> None:
    for doc in documents:
        if "error" in doc:
            out.print(f"[bold]{doc['source']}[/bold]: [red]{doc['error']}[/red]")
            continue
        table = Table(title=f"{doc['source']}: {doc['frames']} frames, {doc['analysed']} analysed",
                      title_justify="left")
        for column in ("id", "label", "first", "last", "stationary"):
            table.add_column(column)
        for t in doc["tracks"]:
            table.add_row(str(t["id"]), t["label"], str(t["first_frame"]), str(t["last_frame"]), str(t["stationary"]))
        out.print(table)
        for name, counts in doc["lines"].items():
            out.print(f"line {name}: in {counts['in']}, out {counts['out']}")
        for name, z in doc["zones"].items():
            out.print(f"zone {name}: max {z['max']}, dwell {z['dwell_s']}")
