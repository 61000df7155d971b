"""atheris target: the parsing a stranger reaches before any key is checked or model runs: the key gate's scan of a
multipart/urlencoded body, and detect_faces' JSON entries. Each either answers or raises BadInput."""

from __future__ import annotations

import asyncio
import json
import sys

import atheris

with atheris.instrument_imports(include=["vigil"]):
    from vigil.errors import BadInput
    from vigil.formats.seed import entries_from_seed
    from vigil.http import gate


def _gate(content_type: bytes, body: bytes, chunk: int) -> None:
    messages = [{"type": "http.request", "body": body[i:i + chunk], "more_body": i + chunk < len(body)}
                for i in range(0, max(len(body), 1), chunk)]

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    key, read = asyncio.run(gate._form_key(content_type, receive))
    assert key is None or isinstance(key, str)
    assert sum(len(m.get("body", b"")) for m in read) <= gate.FORM_KEY_WINDOW + chunk


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    kind = fdp.ConsumeIntInRange(0, 2)
    chunk = fdp.ConsumeIntInRange(1, 4096)
    rest = fdp.ConsumeBytes(fdp.remaining_bytes())
    if kind == 0:
        _gate(b"multipart/form-data; boundary=xyz", rest, chunk)
    elif kind == 1:
        _gate(b"application/x-www-form-urlencoded", rest, chunk)
    else:
        try:
            entries_from_seed(json.loads(rest.decode("utf-8", "replace")), 256, 64)
        except (BadInput, ValueError, RecursionError):
            return


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
