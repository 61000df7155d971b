"""The output file is the journal: entries are appended, flushed, as they finish, so an interrupted run restarts
where it stopped and never does an image twice (a line cut by the interruption is dropped and redone). When
everything is done the file is rewritten in input order; a .parquet output is journalled in a `.jsonl` beside it
and converted at the end, with real columns (never a JSON string per row): `image`, `frame`, `time`, `camera`,
`labels` as list<struct<…>>, `error`, `worker`, and a struct column per other task."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from vigil.batch.sources import Item, entry_key
from vigil.errors import BadInput

FIRST_COLUMNS = ("image", "frame", "time", "camera", "labels", "error")


class Journal:
    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        if self.out.suffix.lower() not in (".jsonl", ".parquet"):
            raise BadInput(f"{self.out}: the output must end in .jsonl or .parquet")
        self.path = self.out if self.out.suffix.lower() == ".jsonl" else self.out.with_suffix(".parquet.jsonl")
        self.entries: dict[str, dict[str, Any]] = {}
        if self.out != self.path and self.out.exists() and not self.path.exists():
            self._load_parquet()
        elif self.path.exists():
            self._load_lines()

    def _load_lines(self) -> None:
        data = self.path.read_bytes()
        whole = data[:data.rfind(b"\n") + 1]  # a line cut by an interruption is redone
        for line in whole.splitlines():
            entry = json.loads(line)
            self.entries[entry_key(entry)] = entry
        if len(whole) != len(data):
            with self.path.open("r+b") as f:
                f.truncate(len(whole))

    def _load_parquet(self) -> None:
        import pyarrow.parquet as pq

        for row in pq.read_table(self.out).to_pylist():
            entry = {k: v for k, v in row.items() if v is not None}  # a column absent from this entry reads null
            self.entries[entry_key(entry)] = entry
        write_lines(self.path, self.entries.values())

    def append(self, entries: Iterable[dict[str, Any]]) -> None:
        lines = []
        for entry in entries:
            self.entries[entry_key(entry)] = entry
            lines.append(json.dumps(entry) + "\n")
        with self.path.open("a") as f:
            f.write("".join(lines))
            f.flush()
            os.fsync(f.fileno())

    def finish(self, items: Sequence[Item]) -> None:
        """Everything done: the output in input order (and in Parquet when asked)."""
        wanted = [i.key for i in items if i.key in self.entries]
        others = set(self.entries) - set(wanted)  # from earlier runs over other sources: kept, after these
        ordered = [self.entries[k] for k in wanted] + [e for k, e in self.entries.items() if k in others]
        if self.out == self.path:
            write_lines(self.path, ordered)
            return
        write_parquet(self.out, ordered)
        self.path.unlink()


def write_lines(path: Path, entries: Iterable[dict[str, Any]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(json.dumps(e) + "\n" for e in entries))
    os.replace(tmp, path)


def write_parquet(out: Path, entries: list[dict[str, Any]]) -> None:
    """Columns typed from the entries themselves (pyarrow infers list<struct> for labels, a struct per task)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    typed = {"image": pa.string(), "frame": pa.int64(), "time": pa.float64(), "camera": pa.string(),
             "error": pa.string()}
    names = list(FIRST_COLUMNS) + sorted({k for e in entries for k in e} - set(FIRST_COLUMNS))
    columns = {name: pa.array([e.get(name) for e in entries], type=typed.get(name)) for name in names}
    tmp = out.with_suffix(".parquet.tmp")
    pq.write_table(pa.table(columns), tmp)
    os.replace(tmp, out)
