"""The web page at `/`: one server-rendered HTML shell, its static files, and the few JSON routes it needs beyond the
API (features, the key → session cookie exchange, recent recognitions); the Models & status view reads /v2/status.

The page calls the JSON API with relative URLs only. Sections for presence, crowd and events are rendered only when
those routes exist in this app, so the page never asks for a route that is not there. Files live in page/static/.
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections import deque
from pathlib import Path
from string import Template
from typing import Any

from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from vigil import __version__
from vigil.errors import NotFound, Unauthorized, VigilError
from vigil.events.location import event_log_exists
from vigil.execute.executor import Executor
from vigil.formats import page
from vigil.http import auth
from vigil.http.cameras import live_feeds
from vigil.http.openapi import ERRORS, JPEG_ANSWER
from vigil.page import sessions
from vigil.page.gallery import gallery_router

FILES = Path(__file__).with_name("static")
STATIC = {"app.js": "text/javascript", "views.js": "text/javascript", "live.js": "text/javascript",
          "visits.js": "text/javascript", "cameras.js": "text/javascript",
          "app.css": "text/css", "favicon.svg": "image/svg+xml"}
CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
IN_TRY_VIEW = ("detect", "faces")  # the Try view draws these itself; every other task gets a panel of its own


def install(app: FastAPI, executor: Executor) -> None:
    """What http.py calls: the session store the key checks consult, and the page's routes."""
    app.state.sessions = sessions.Sessions()
    recent = Recent()
    app.include_router(page_router(executor))
    app.include_router(gallery_router(executor, recent), responses=ERRORS)
    app.include_router(ui_router(executor, app.state.sessions, recent), responses=ERRORS)


class Recent:
    """The last recognitions made through the page, newest first, each with a small snapshot: what the Events view
    shows while the server has no event log (no watcher, none written yet)."""

    def __init__(self, size: int = 100) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=size)
        self._snapshots: dict[int, bytes] = {}
        self._count = 0
        self._lock = threading.Lock()

    def add(self, source: str, faces: list[dict[str, Any]], snapshot: bytes = b"") -> None:
        with self._lock:
            self._count += 1
            url = f"v2/ui/recent/{self._count}/snapshot.jpg" if snapshot else None
            self._items.appendleft({"id": self._count, "time": time.time(), "camera": source, "faces": faces,
                                    "snapshot": url})
            if snapshot:
                self._snapshots[self._count] = snapshot
            kept = {item["id"] for item in self._items}
            self._snapshots = {k: v for k, v in self._snapshots.items() if k in kept}

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items)

    def snapshot(self, item: int) -> bytes:
        with self._lock:
            found = self._snapshots.get(item)
        if found is None:
            raise NotFound(f"no recent snapshot {item}")
        return found


def features(request: Request, executor: Executor) -> dict[str, Any]:
    """What the page may offer, from the task registry and the app's routes (included routers' paths too), and
    whether there is an event log to show (a watcher running here, or a log written)."""
    routes = {path for path in request.app.openapi().get("paths", {})}
    tasks = [{"name": t.name, "path": t.path.lstrip("/"), "title": t.name.capitalize(), "summary": t.summary}
             for t in executor.tasks().values()
             if t.name not in IN_TRY_VIEW and t.path in routes and t.available(executor.config)]
    try:
        faces_on = executor.recognizer.gallery is not None
    except VigilError:
        faces_on = False
    server = executor.config.server
    found = request.app.state.sessions.find(request)
    keys = {"api_key": bool(server.api_key), "admin_key": bool(server.admin_key)}
    needed = bool(server.api_key or server.admin_key)
    session = {"active": found is not None, "user": found is not None or not server.api_key,
               "admin": (found is not None and found.admin) or not needed}
    watching = getattr(request.app.state, "events", None) is not None
    logged = watching or event_log_exists(executor.config.events_location())
    events = getattr(request.app.state, "events", None)  # live cameras, or the watcher's named folder cameras
    live = bool(live_feeds(request.app.state)) or bool(getattr(events, "watcher", None) and events.scenes.cameras)
    return page.features(routes, tasks, faces_on, keys, session, logged, watching, live)


def page_router(executor: Executor) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    shell = Template((FILES / "index.html").read_text())

    @router.get("/")
    def index(request: Request) -> HTMLResponse:
        found = features(request, executor)
        body = shell.substitute(version=html.escape(__version__), features=_script_json(found),
                                sections=_optional_sections(found))
        return HTMLResponse(body, headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                                           "Cache-Control": "no-store", "Referrer-Policy": "same-origin"})

    @router.get("/ui/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            raise NotFound(f"no page file {name!r}")
        return Response((FILES / name).read_bytes(), media_type=STATIC[name],
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    @router.get("/favicon.ico")
    def favicon() -> Response:
        return static("favicon.svg")

    return router


def _script_json(value: Any) -> str:
    """JSON safe inside <script> (whose text is not entity-decoded): no '<', '>' or '&' survive literally."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _optional_sections(found: dict[str, Any]) -> str:
    """A result panel for each served task beyond detect and faces (the Try view fills them)."""
    return "\n".join(f'<section class="result" id="{html.escape(t["name"])}-result" hidden>'
                     f'<h3>{html.escape(t["title"])}</h3><p class="answer"></p>'
                     f'<canvas class="heatmap" hidden></canvas><details><summary>JSON</summary><pre></pre></details>'
                     '</section>' for t in found["tasks"])


def ui_router(executor: Executor, store: sessions.Sessions, recent: Recent) -> APIRouter:
    router = APIRouter(prefix="/v2/ui", tags=["web page"])
    user, _ = auth.key_checks(executor.config.server)

    @router.get("/features", summary="What this server offers the page (routes present, keys, the session)")
    def ui_features(request: Request) -> dict[str, Any]:
        return features(request, executor)

    @router.post("/session", summary="Exchange a key for a session cookie (HttpOnly, SameSite=Strict)")
    def login(request: Request, key: str = Body(embed=True, min_length=1)) -> JSONResponse:
        admin = _role(executor, key)
        token, session = store.open(key, admin)
        reply = JSONResponse({"admin": admin})
        secure = request.url.scheme == "https"
        reply.set_cookie(sessions.COOKIE, token, max_age=int(store.ttl_s), httponly=True, samesite="strict",
                         secure=secure, path="/")
        reply.set_cookie(sessions.CSRF_COOKIE, session.csrf, max_age=int(store.ttl_s), samesite="strict",
                         secure=secure, path="/")
        return reply

    @router.delete("/session", summary="Forget this browser's session")
    def logout(request: Request) -> JSONResponse:
        store.close(request.cookies.get(sessions.COOKIE, ""))
        reply = JSONResponse({"session": False})
        for name in (sessions.COOKIE, sessions.CSRF_COOKIE):
            reply.delete_cookie(name, path="/", samesite="strict")
        return reply

    @router.get("/recent", dependencies=[user], summary="Recent recognitions made through the page")
    def recent_items() -> list[dict[str, Any]]:
        return recent.items()

    @router.get("/recent/{item}/snapshot.jpg", dependencies=[user], summary="A recent recognition's picture",
                response_class=Response, responses=JPEG_ANSWER)
    def recent_snapshot(item: int) -> Response:
        return Response(recent.snapshot(item), media_type="image/jpeg", headers={"Cache-Control": "private"})

    return router


def _role(executor: Executor, key: str) -> bool:
    """True for the admin key (or the only key), False for the api key; Unauthorized for anything else."""
    server = executor.config.server
    try:
        auth.check(server, [key], admin=True)
        return True
    except Unauthorized:
        pass
    if not server.api_key:
        raise Unauthorized("Incorrect key")
    auth.check(server, [key], admin=False)
    return False
