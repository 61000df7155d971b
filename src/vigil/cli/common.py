"""What every `vigil` sub-command shares: the consoles, the --json and --config options, the one JSON
document on stdout, the one way a command fails (`fail`), and loading config with a clear exit on a bad file."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from vigil.config.settings import VigilConfig, load_config
from vigil.errors import VigilError

out = Console()
err = Console(stderr=True, soft_wrap=True)  # whole lines: messages stay greppable

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="vigil.toml (default: $VIGIL_CONFIG)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print exactly one JSON document on stdout")]


def emit_json(document: object) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def fail(problem: Exception | str, code: int = 2) -> NoReturn:
    """Print `error: …` on stderr and exit with `code` (2: could not start, e.g. bad config or a missing model;
    1: the work itself failed)."""
    err.print(f"[red]error:[/red] {escape(str(problem))}")  # a message's [section] is text, not markup
    raise typer.Exit(code) from None


def failed_line(source: str, error: str) -> str:
    """One failed input as printed: the source once (errors that name their file already start with it), red."""
    message = error if error.startswith(f"{source}:") else f"{source}: {error}"
    return f"[red]{escape(message)}[/red]"


def plural(count: int, noun: str) -> str:
    """ "1 sample", "2 samples": how every message counts things."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def config_or_exit(path: Path | None) -> VigilConfig:
    try:
        return load_config(path)
    except VigilError as exc:
        fail(exc)


def write_private(path: Path, data: bytes) -> None:
    """A data file the command writes: created 0600, and never through a symlink planted at its name."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
