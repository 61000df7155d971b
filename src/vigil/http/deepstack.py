"""The DeepStack / CodeProject.AI routes (/v1/vision).

The /v1/vision routes read their multipart form themselves (image, image1..N, userid, min_confidence, api_key), as
DeepStack clients send them, and answer in DeepStack's shape (formats/deepstack.py). The native API is in http/v2.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from vigil.errors import BadInput, NotActivated
from vigil.execute.executor import CLASSIFY, DETECT, FACES, Executor
from vigil.formats import deepstack
from vigil.http import auth
from vigil.http.custom import CustomModels
from vigil.http.openapi import form_body
from vigil.tasks.detect import DetectParams

_IMAGE_FIELD = re.compile(r"^image\d*$")
NO_IMAGE = "No valid image file was found"


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


def deepstack_router(executor: Executor) -> APIRouter:
    router = APIRouter(prefix="/v1/vision", tags=["DeepStack / CodeProject.AI"])
    user, admin = auth.key_checks(executor.config.server)
    executor.metrics.route_tasks.update({"/v1/vision/detection": DETECT, "/v1/vision/face": FACES,
                                       "/v1/vision/face/recognize": FACES, "/v1/vision/face/register": FACES,
                                       "/v1/vision/face/match": FACES, "/v1/vision/scene": CLASSIFY})
    custom = CustomModels(executor)

    @router.post("/detection", dependencies=[user], summary="Objects (DeepStack object detection)",
                 openapi_extra=form_body("image", optional=("min_confidence", "api_key")))
    async def detection(request: Request) -> dict:
        clock, form = _Clock(), await _form(request)
        threshold = min_confidence(form, 0.45)
        data = await _image(form)
        result, _ = await clock.run(executor.detect_bytes, data, "", DetectParams(min_score=threshold),
                                    executor.deadline())
        return deepstack.detection(result.detections, clock.timing())

    async def custom_list() -> dict:
        return deepstack.custom_list(await run_in_threadpool(custom.names))

    for method in ("get", "post"):  # Blue Iris POSTs; declared before /custom/{model}, which would take "list"
        router.add_api_route("/custom/list", custom_list, methods=[method.upper()], dependencies=[user],
                             summary="Custom models and aliases (CodeProject.AI)", operation_id=f"custom_list_{method}",
                             openapi_extra=form_body(urlencoded=True) if method == "post" else None)

    @router.post("/scene", dependencies=[user], summary="Scene label (CodeProject.AI), from the classify task's model",
                 openapi_extra=form_body("image", optional=("api_key",)))
    async def scene(request: Request) -> dict:
        clock, form = _Clock(), await _form(request)
        label, confidence = await clock.run(_scene, executor, await _image(form), executor.deadline())
        return deepstack.scene(label, confidence, clock.timing())

    @router.post("/custom/{model}", dependencies=[user], summary="Objects with a named detector from the store",
                 openapi_extra=form_body("image", optional=("min_confidence", "api_key")))
    async def custom_model(model: str, request: Request) -> dict:
        clock, form = _Clock(), await _form(request)
        threshold = min_confidence(form, 0.45)
        result = await clock.run(custom.detect, model, await _image(form), threshold, executor.deadline())
        return deepstack.detection(result.detections, clock.timing())

    _face_routes(router, executor, user, admin)
    return router


def _scene(executor: Executor, data: bytes, deadline: float) -> tuple[str, float]:
    """The whole image through the classify task's model (the only whole-image classifier Vigil serves)."""
    if not executor.tasks()[CLASSIFY].available(executor.config):
        raise NotActivated("scene classification needs the classify task: set [recognize] person_model to a "
                           "classifier in the store")
    frame = executor.decode_for(CLASSIFY, data, full_size=True)
    return executor.call(CLASSIFY, "scene", frame, deadline=deadline)


def _face_routes(router: APIRouter, executor: Executor, user: Any, admin: Any) -> None:
    from vigil.http import faces
    from vigil.http.events import Logs

    logs = Logs(executor)  # register: absorbed stranger clusters' past events take the name

    @router.post("/face", dependencies=[user], summary="Faces (DeepStack face detection)",
                 openapi_extra=form_body("image", optional=("min_confidence", "api_key")))
    async def face_detection(request: Request) -> dict:
        clock, form = _Clock(), await _form(request)
        threshold = min_confidence(form, 0.0)
        found = await clock.run(faces.detect, executor, await _image(form), executor.deadline())
        return deepstack.faces(found[found.score >= threshold], clock.timing())

    @router.post("/face/recognize", dependencies=[user], summary="Who is in the picture",
                 openapi_extra=form_body("image", optional=("min_confidence", "api_key")))
    async def face_recognize(request: Request) -> dict:
        clock, form = _Clock(), await _form(request)
        threshold = min_confidence(form, 0.0)  # the recogniser's match/unknown distances decide; this only narrows
        found = await clock.run(faces.recognize, executor, await _image(form), executor.deadline())
        return deepstack.recognition(found, clock.timing(), threshold or 0.0)

    @router.post("/face/register", dependencies=[admin], summary="Enrol a person from image, image1..N",
                 openapi_extra=form_body("userid", "image", optional=("image1", "api_key")))
    async def face_register(request: Request) -> dict:
        clock, form = _Clock(), await _form(request)
        userid = _userid(form)
        images, log = await _images(form), await run_in_threadpool(logs.get, request)
        report = await clock.run(faces.enroll, executor, userid, images, executor.deadline(), True, log)
        return deepstack.registered(userid, faces.added(report), faces.warning(report))

    async def face_list() -> dict:
        return deepstack.face_list(await run_in_threadpool(faces.names, executor))

    for method in ("get", "post"):  # DeepStack clients POST; one operation id each
        router.add_api_route("/face/list", face_list, methods=[method.upper()], dependencies=[user],
                             summary="Enrolled people", operation_id=f"face_list_{method}",
                             openapi_extra=form_body(urlencoded=True) if method == "post" else None)

    @router.post("/face/delete", dependencies=[admin], summary="Forget a person",
                 openapi_extra=form_body("stored userid", urlencoded=True))
    async def face_delete(request: Request) -> dict:
        userid = _userid(await _form(request))
        return deepstack.face_deleted(userid, await run_in_threadpool(faces.forget, executor, userid))

    @router.post("/face/match", dependencies=[user], summary="Similarity of the faces in image1 and image2",
                 openapi_extra=form_body("image1", "image2"))
    async def face_match(request: Request) -> dict:
        clock, form = _Clock(), await _form(request)
        first, second = await _image(form, "image1"), await _image(form, "image2")
        similarity = await clock.run(faces.match, executor, first, second, executor.deadline())
        return deepstack.match(similarity, clock.timing())
