"""The one place where errors become replies: typed VigilErrors to HTTP status + body (DeepStack's shape on /v1,
the native shape elsewhere) (zerorpc replies: seed/rpc.py)."""

from __future__ import annotations

import logging
import re

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from vigil.errors import MatchesAnother, NotActivated, Overloaded, TimedOut, VigilError
from vigil.formats import deepstack, native

log = logging.getLogger(__name__)
DEEPSTACK_PREFIX = "/v1/"


def http_status(exc: VigilError) -> int:
    return exc.status


def error_body(path: str, message: str, kind: str, status: int) -> dict:
    """The error body for a route: DeepStack's shape under /v1/, the native one elsewhere."""
    if path.startswith(DEEPSTACK_PREFIX):
        return deepstack.error(message, status)
    return native.error(message, kind, status)


_SERVER_PATH = re.compile(r"(?<![\w.])/(?:[^\s/'\":,;]+/)+([^\s/'\":,;]*)")


def server_paths_hidden(message: str) -> str:
    """Absolute paths of this machine (model cache, config) shortened to their last component for clients."""
    return _SERVER_PATH.sub(lambda m: m.group(1) or "…", message)


def _body(request: Request, message: str, kind: str, status: int) -> dict:
    return error_body(request.url.path, message, kind, status)


def vigil_error(request: Request, exc: VigilError, retry_after_s: int) -> JSONResponse:
    status = http_status(exc)
    headers = {"Retry-After": str(retry_after_s)} if isinstance(exc, Overloaded) else None
    message = f"timeout: {exc}" if isinstance(exc, TimedOut) else str(exc)
    if isinstance(exc, NotActivated):
        message = f"endpoint not activated: {exc}"  # DeepStack's words for a 403
    if isinstance(exc, NotActivated) or status >= 500:
        message = server_paths_hidden(message)
    if status >= 500:
        log.warning("request failed", extra={"path": request.url.path, "error": message, "kind": type(exc).__name__})
    body = _body(request, message, type(exc).__name__, status)
    if isinstance(exc, MatchesAnother):
        body["matches"] = exc.matches  # the page's confirm step: show the name, resubmit with force=true
    return JSONResponse(body, status_code=status, headers=headers)


def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """DeepStack answered missing or malformed fields with 400; the native API keeps FastAPI's 422 detail."""
    if request.url.path.startswith(DEEPSTACK_PREFIX):
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return JSONResponse(deepstack.error(f"{field}: {first.get('msg', 'invalid')}", 400), status_code=400)
    # only loc/msg/type: `input` may be raw bytes and `ctx` an exception, neither JSON (and both echo the request)
    detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
              for e in exc.errors()]
    return JSONResponse({"detail": detail}, status_code=422)


def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse(_body(request, str(exc.detail), "HTTPException", exc.status_code), status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


def client_gone(request: Request, exc: ClientDisconnect) -> Response:
    """The client hung up mid-upload: nothing to answer, nothing to run."""
    log.info("client disconnected before its request was complete", extra={"path": request.url.path})
    return Response(status_code=400)


def unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", extra={"path": request.url.path})
    return JSONResponse(_body(request, "internal error", "InternalError", 500), status_code=500)  # no class names
