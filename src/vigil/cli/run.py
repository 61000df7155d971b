"""`vigil run TASK IMAGE...`: any registered task on image files, built from its registration (options, encoder).

With `--json`, one array in input order of the task's encoded answers; an image that cannot be used gets
`{"image", "error"}` and fails only itself. The task runs through the same executor as the server (one worker here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from vigil.cli.common import ConfigOpt, JsonOpt, config_or_exit, emit_json, fail, failed_line, out
from vigil.errors import VigilError

OptionOpt = Annotated[list[str] | None, typer.Option("--option", "-o", help="a task option as key=value (repeatable)")]


def run(
    task: Annotated[str, typer.Argument(metavar="TASK",
                                        help="a registered task, e.g. detect, faces, classify", show_default=False)],
    images: Annotated[list[Path], typer.Argument(help="image files", show_default=False, metavar="IMAGE")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    option: OptionOpt = None,
) -> None:
    """Run one task on images; prints the task's JSON answer for each image, in input order."""
    from vigil.execute.local import Inline
    from vigil.formats.native import image_error
    from vigil.tasks.base import get

    executor = Inline(config_or_exit(config))
    try:
        definition = get(task)
        options = definition.options(**_pairs(option or []))
        executor.load(task)  # load now: a model that cannot load is one error, not one per image
    except ValidationError as exc:
        fail(f"{task}: bad option: {_first(exc)}")
    except VigilError as exc:
        fail(str(exc))
    entries: list[dict[str, Any]] = []
    try:
        for path in images:
            try:
                result = executor.run_bytes(task, path, options, executor.deadline())
                entries.append(definition.encode(str(path), result))
            except VigilError as exc:
                entries.append(image_error(str(path), str(exc)))
    finally:
        executor.close()
    if as_json:
        emit_json(entries)
    else:
        _print(entries)
    if entries and all("error" in e for e in entries):
        raise typer.Exit(1)


def _pairs(raw: list[str]) -> dict[str, str]:
    pairs = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--option takes key=value, not {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"


def _print(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        if "error" in entry:
            out.print(failed_line(entry["image"], entry["error"]))
            continue
        labels = entry.get("labels")
        if isinstance(labels, list):
            names = ", ".join(_label(label) for label in labels) or "nothing found"
            out.print(f"[bold]{entry['image']}[/bold]: {names}")
        else:
            out.print(f"[bold]{entry['image']}[/bold]: {entry}")


def _label(label: dict[str, Any]) -> str:
    who = f" ({label['face']})" if label.get("face") else ""
    return f"{label.get('name')}{who} {label.get('score', 0):.2f}"
