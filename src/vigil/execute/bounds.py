"""Counts a call may carry: past a cap the call is refused at once with a clear error, never truncated."""

from __future__ import annotations

from vigil.errors import BadInput


def check_count(count: int, cap: int, what: str, key: str) -> None:
    if count > cap:
        raise BadInput(f"{count} {what} in one call, over the limit of {cap} ([limits] {key}); split the call")
