"""The app `vigil serve` runs: every router (DeepStack /v1, native /v2, events, the page), the error mapping, the
middlewares, and the operations routes (health, readiness, metrics)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from vigil import __version__
from vigil.errors import VigilError
from vigil.execute.executor import Executor
from vigil.formats import native
from vigil.http import mapping
from vigil.http.cameras import cameras_router
from vigil.http.deepstack import deepstack_router
from vigil.http.events import events_router
from vigil.http.gate import BodyDeadline, KeyGate, keyless_page
from vigil.http.guesses import Guesses
from vigil.http.methods import Methods
from vigil.http.middleware import AccessLog, Admission, BodyLimit
from vigil.http.openapi import ERRORS
from vigil.http.sightings import sightings_router
from vigil.http.status import status_router
from vigil.http.stream import STREAM_PATH
from vigil.http.v2 import v2_router
from vigil.page import routes as page
from vigil.seed.paths import SeedCalls


def create_app(executor: Executor, seed: SeedCalls | None = None) -> FastAPI:
    """The app over an executor; `seed` shares the seed calls' frame-skip memory with the zerorpc servers."""
    app = FastAPI(title="Vigil", version=__version__, description="Self-hosted vision for security cameras: "
                  "DeepStack/CodeProject.AI-compatible /v1/vision routes and the native /v2 API.")
    app.state.executor = executor
    _error_handlers(app, executor)
    _operations(app, executor)
    app.include_router(deepstack_router(executor), responses=ERRORS)
    app.include_router(v2_router(executor, seed or SeedCalls(executor)), responses=ERRORS)
    app.include_router(events_router(executor), responses=ERRORS)
    app.include_router(status_router(executor), responses=ERRORS)
    app.include_router(sightings_router(executor), responses=ERRORS)
    app.include_router(cameras_router(executor), responses=ERRORS)
    page.install(app, executor)  # the page at / and its routes
    app.add_middleware(Methods, document=app.openapi)  # OPTIONS and 405 name every method of the path
    limit = executor.config.limits.max_bytes + 1024 * 1024  # room for the multipart envelope and form fields
    app.add_middleware(BodyLimit, max_bytes=limit, drain_bytes=4 * limit)
    app.add_middleware(Admission, limit=executor.config.server.max_in_flight, retry_after_s=executor.retry_after_s,
                       free=_free)
    app.add_middleware(KeyGate, server=executor.config.server)  # before admission: keyless clients hold no slot
    app.add_middleware(BodyDeadline, timeout_s=executor.config.server.body_timeout_s)
    app.add_middleware(Guesses, limit=executor.config.server.failed_keys_per_min)  # before any key is read
    app.add_middleware(AccessLog, metrics=executor.metrics)
    return app


def _free(path: str) -> bool:
    """Requests admission does not count (issue 20): keyless page routes (logins stuck mid-body must hold no slot),
    and event streams, which have their own bound ([events] stream_max, stream_per_key)."""
    return keyless_page(path) or path == STREAM_PATH


def _error_handlers(app: FastAPI, executor: Executor) -> None:
    app.add_exception_handler(VigilError, lambda r, e: mapping.vigil_error(r, e, executor.retry_after_s))
    app.add_exception_handler(RequestValidationError, mapping.validation_error)
    app.add_exception_handler(HTTPException, mapping.http_error)
    app.add_exception_handler(ClientDisconnect, mapping.client_gone)
    app.add_exception_handler(Exception, mapping.unexpected)


def _operations(app: FastAPI, executor: Executor) -> None:
    busy = {503: ERRORS[503]}

    @app.get("/health", tags=["operations"], summary="200 once the models are loaded", responses=busy)
    def health() -> JSONResponse:
        return JSONResponse(native.health(executor.ready), status_code=200 if executor.ready else 503)

    @app.get("/ready", tags=["operations"], summary="200 when models are loaded and the queue has room", responses=busy)
    def ready() -> JSONResponse:
        events = getattr(app.state, "events", None)  # a watcher whose thread died is not ready (restarted meanwhile)
        gone = executor.unavailable()  # a PostgreSQL gallery that went away: 503 until it is back and migrated
        accepting = executor.accepting and (events is None or events.alive) and gone is None
        reason = "a database the face routes need cannot be reached" if gone else None  # keyless: no URL here
        body = native.readiness(accepting, executor.config.detect.model, reason)
        return JSONResponse(body, status_code=200 if accepting else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse,
             responses={401: ERRORS[401]})
    def metrics() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(executor.metrics.render(), media_type=CONTENT_TYPE_LATEST)


