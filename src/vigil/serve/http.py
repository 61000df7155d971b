"""The HTTP front end: the app, health, readiness and metrics, and the DeepStack / CodeProject.AI routes.

The /v1/vision routes read their multipart form themselves (image, image1..N, userid, min_confidence, api_key), as
DeepStack clients send them, and answer in DeepStack's shape (formats/deepstack.py). The native API is in http_v2.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from vigil import __version__
from vigil.errors import BadInput, VigilError
from vigil.formats import deepstack, native
from vigil.pipeline import DetectRequest
from vigil.serve import auth, mapping, web
from vigil.serve.engine import DETECT, FACES, CustomModels, Engine
from vigil.serve.gate import BodyDeadline, KeyGate
from vigil.serve.http_events import events_router
from vigil.serve.http_v2 import v2_router
from vigil.serve.middleware import AccessLog, Admission, BodyLimit
from vigil.serve.openapi import ERRORS, form_body

_IMAGE_FIELD = re.compile(r"^image\d*$")
NO_IMAGE = "No valid image file was found"


def create_app(engine: Engine) -> FastAPI:
    app = FastAPI(title="Vigil", version=__version__, description="Self-hosted vision for security cameras: "
                  "DeepStack/CodeProject.AI-compatible /v1/vision routes and the native /v2 API.")
    app.state.engine = engine
    _error_handlers(app, engine)
    _operations(app, engine)
    app.include_router(deepstack_router(engine), responses=ERRORS)
    app.include_router(v2_router(engine), responses=ERRORS)
    app.include_router(events_router(engine), responses=ERRORS)
    web.install(app, engine)  # the page at / and its routes (serve/web.py)
    limit = engine.config.limits.max_bytes + 1024 * 1024  # room for the multipart envelope and form fields
    app.add_middleware(BodyLimit, max_bytes=limit, drain_bytes=4 * limit)
    app.add_middleware(Admission, limit=engine.config.server.max_in_flight, retry_after_s=engine.retry_after_s)
    app.add_middleware(KeyGate, server=engine.config.server)  # before admission: keyless clients hold no slot
    app.add_middleware(BodyDeadline, timeout_s=engine.config.server.body_timeout_s)
    app.add_middleware(AccessLog, metrics=engine.metrics)
    return app


def _error_handlers(app: FastAPI, engine: Engine) -> None:
    app.add_exception_handler(VigilError, lambda r, e: mapping.vigil_error(r, e, engine.retry_after_s))
    app.add_exception_handler(RequestValidationError, mapping.validation_error)
    app.add_exception_handler(HTTPException, mapping.http_error)
    app.add_exception_handler(ClientDisconnect, mapping.client_gone)
    app.add_exception_handler(Exception, mapping.unexpected)


def _operations(app: FastAPI, engine: Engine) -> None:
    busy = {503: ERRORS[503]}

    @app.get("/health", tags=["operations"], summary="200 once the models are loaded", responses=busy)
    def health() -> JSONResponse:
        return JSONResponse(native.health(engine.ready), status_code=200 if engine.ready else 503)

    @app.get("/ready", tags=["operations"], summary="200 when models are loaded and the queue has room", responses=busy)
    def ready() -> JSONResponse:
        events = getattr(app.state, "events", None)  # a watcher whose thread died is not ready (restarted meanwhile)
        accepting = engine.accepting and (events is None or events.alive)
        body = native.readiness(accepting, engine.config.detect.model)
        return JSONResponse(body, status_code=200 if accepting else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse,
             responses={401: ERRORS[401]})
    def metrics() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(engine.metrics.render(), media_type=CONTENT_TYPE_LATEST)


async def _form(request: Request) -> FormData:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        return FormData()
    return await request.form()


async def _image(form: FormData, field: str = "image") -> bytes:
    upload = form.get(field)
    if not isinstance(upload, UploadFile):
        raise BadInput(NO_IMAGE)
    return await upload.read()


async def _images(form: FormData) -> list[bytes]:
    uploads = [v for k, v in form.multi_items() if _IMAGE_FIELD.match(k) and isinstance(v, UploadFile)]
    if not uploads:
        raise BadInput(NO_IMAGE)
    return [await u.read() for u in uploads]


def min_confidence(form: FormData, default: float | None) -> float | None:
    raw = form.get("min_confidence")
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadInput(f"min_confidence must be a number between 0 and 1, not {str(raw)[:40]!r}") from None
    if not 0 <= value <= 1:
        raise BadInput(f"min_confidence must be between 0 and 1, not {value}")
    return value


def _userid(form: FormData) -> str:
    userid = form.get("userid")
    if not isinstance(userid, str) or not userid.strip():
        raise BadInput("userid not specified")
    return userid.strip()


class _Clock:
    """Process time from the request's start; inference time around the model calls."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.inference = 0.0

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        t = time.perf_counter()
        try:
            return await run_in_threadpool(fn, *args)
        finally:
            self.inference += time.perf_counter() - t

    def timing(self) -> deepstack.Timing:
        return deepstack.Timing((time.perf_counter() - self.started) * 1000, self.inference * 1000)


def deepstack_router(engine: Engine) -> APIRouter:
    router = APIRouter(prefix="/v1/vision", tags=["DeepStack / CodeProject.AI"])
    user, admin = auth.key_checks(engine.config.server)
    engine.metrics.route_tasks.update({"/v1/vision/detection": DETECT, "/v1/vision/face": FACES,
                                       "/v1/vision/face/recognize": FACES, "/v1/vision/face/register": FACES,
                                       "/v1/vision/face/match": FACES})
    custom = CustomModels(engine)

    @router.post("/detection", dependencies=[user], summary="Objects (DeepStack object detection)",
                 openapi_extra=form_body("image", optional=("min_confidence", "api_key")))
    async def detection(request: Request) -> dict:
        clock, form = _Clock(), await _form(request)
        threshold = min_confidence(form, 0.45)
        data = await _image(form)
        result, _ = await clock.run(engine.detect_bytes, data, "", DetectRequest(min_score=threshold),
                                    engine.deadline())
        return deepstack.detection(result.detections, clock.timing())

    @router.post("/custom/{model}", dependencies=[user], summary="Objects with a named detector from the store",
                 openapi_extra=form_body("image", optional=("min_confidence", "api_key")))
    async def custom_model(model: str, request: Request) -> dict:
        clock, form = _Clock(), await _form(request)
        threshold = min_confidence(form, 0.45)
        result = await clock.run(custom.detect, model, await _image(form), threshold, engine.deadline())
        return deepstack.detection(result.detections, clock.timing())

    _face_routes(router, engine, user, admin)
    return router


def _face_routes(router: APIRouter, engine: Engine, user: Any, admin: Any) -> None:
    from vigil.serve import faces

    @router.post("/face", dependencies=[user], summary="Faces (DeepStack face detection)",
                 openapi_extra=form_body("image", optional=("min_confidence", "api_key")))
    async def face_detection(request: Request) -> dict:
        clock, form = _Clock(), await _form(request)
        threshold = min_confidence(form, 0.0)
        found = await clock.run(faces.detect, engine, await _image(form), engine.deadline())
        return deepstack.faces(found[found.score >= threshold], clock.timing())

    @router.post("/face/recognize", dependencies=[user], summary="Who is in the picture",
                 openapi_extra=form_body("image", optional=("min_confidence", "api_key")))
    async def face_recognize(request: Request) -> dict:
        clock, form = _Clock(), await _form(request)
        threshold = min_confidence(form, 0.0)  # the recogniser's match/unknown distances decide; this only narrows
        found = await clock.run(faces.recognize, engine, await _image(form), engine.deadline())
        return deepstack.recognition(found, clock.timing(), threshold or 0.0)

    @router.post("/face/register", dependencies=[admin], summary="Enrol a person from image, image1..N",
                 openapi_extra=form_body("userid", "image", optional=("image1", "api_key")))
    async def face_register(request: Request) -> dict:
        clock, form = _Clock(), await _form(request)
        userid = _userid(form)
        report = await clock.run(faces.enroll, engine, userid, await _images(form), engine.deadline())
        return deepstack.registered(userid, faces.added(report))

    async def face_list() -> dict:
        return deepstack.face_list(await run_in_threadpool(faces.names, engine))

    for method in ("get", "post"):  # DeepStack clients POST; one operation id each
        router.add_api_route("/face/list", face_list, methods=[method.upper()], dependencies=[user],
                             summary="Enrolled people", operation_id=f"face_list_{method}",
                             openapi_extra=form_body(urlencoded=True) if method == "post" else None)

    @router.post("/face/delete", dependencies=[admin], summary="Forget a person",
                 openapi_extra=form_body("userid", urlencoded=True))
    async def face_delete(request: Request) -> dict:
        userid = _userid(await _form(request))
        return deepstack.face_deleted(userid, await run_in_threadpool(faces.forget, engine, userid))

    @router.post("/face/match", dependencies=[user], summary="Similarity of the faces in image1 and image2",
                 openapi_extra=form_body("image1", "image2"))
    async def face_match(request: Request) -> dict:
        clock, form = _Clock(), await _form(request)
        first, second = await _image(form, "image1"), await _image(form, "image2")
        similarity = await clock.run(faces.match, engine, first, second, engine.deadline())
        return deepstack.match(similarity, clock.timing())
