"""Keys: `api_key` for use, `admin_key` for gallery and model changes.

A key may come as the form field `api_key` (what DeepStack clients send), the `X-API-Key` header, or
`Authorization: Bearer <key>`; a request with none of these may bring the web page's session cookie (sessions.py).
Keys are compared in constant time. With no admin_key configured, changes need the
api_key; with neither configured, nothing is needed (and `vigil serve` then binds to loopback only).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Depends, Request

from vigil.config.serving import ServerConfig
from vigil.errors import Unauthorized

_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


async def presented_keys(request: Request) -> list[str]:
    keys = []
    if header := request.headers.get("x-api-key"):
        keys.append(header)
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        keys.append(auth[7:].strip())
    if request.headers.get("content-type", "").startswith(_FORMS):
        form = await request.form()  # Starlette caches the parsed form: the route reads the same one
        value = form.get("api_key")
        if isinstance(value, str) and value:
            keys.append(value)
    sessions = getattr(request.app.state, "sessions", None)
    if not keys and sessions is not None:
        keys.extend(sessions.keys(request))
    return keys


def _matches(expected: str, keys: list[str]) -> bool:
    ok = False
    for key in keys:  # no early exit: every presented key costs the same comparison
        ok |= hmac.compare_digest(key.encode(), expected.encode())
    return ok


def check(server: ServerConfig, keys: list[str], admin: bool) -> None:
    """Use calls take the api_key or the admin_key (an admin may also use); changes take only the admin_key."""
    expected = (server.admin_key or server.api_key) if admin else server.api_key
    if not expected:
        return
    accepted = _matches(expected, keys)
    if not admin and server.admin_key:
        accepted |= _matches(server.admin_key, keys)
    if not accepted:
        what = "admin key" if admin and server.admin_key else "api key"
        raise Unauthorized(f"Incorrect {what}" if keys else f"this call needs the {what}")


def key_checks(server: ServerConfig) -> tuple[Callable, Callable]:
    """FastAPI dependencies for routes that need the api key (use) and the admin key (changes)."""

    async def user(request: Request) -> None:
        check(server, await presented_keys(request), admin=False)

    async def admin(request: Request) -> None:
        check(server, await presented_keys(request), admin=True)

    return Depends(user), Depends(admin)


def known(server: ServerConfig, keys: list[str]) -> bool:
    """One of `keys` is the api_key or the admin_key: enough to let the request in (its route checks the role)."""
    return any(_matches(expected, keys) for expected in (server.api_key, server.admin_key) if expected)
