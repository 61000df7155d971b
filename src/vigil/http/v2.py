"""The native JSON API, /v2: everything Vigil does, answered in the seed result format
(`{"image", "labels": [{"id", "name", "score", "box": {xmin, ymin, xmax, ymax}, "face"?, "faceProba"?}]}`).

`POST /v2/<route>` of every registered task is generated from its TaskDef: an `image` file plus the task's options
model as form fields, answered with the task's encoder; the rest (paths, labelling, gallery, models) is written here.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, StrictFloat, ValidationError
from starlette.concurrency import run_in_threadpool

from vigil.errors import BadInput, VigilError
from vigil.execute.executor import DETECT, Executor
from vigil.faces.enroll import Upload
from vigil.faces.gallery.schema import NAME_PATTERN
from vigil.formats import native
from vigil.formats.seed import entries_from_seed, to_seed
from vigil.http import faces
from vigil.http.auth import key_checks
from vigil.http.events import Logs
from vigil.http.openapi import PersonName, StoredName
from vigil.results import ImageResult
from vigil.seed.paths import SeedCalls
from vigil.tasks.base import TaskDef
from vigil.tasks.detect import DetectParams

Image = Annotated[UploadFile, File(description="an image (JPEG, PNG, ...)")]


class ErrorBody(BaseModel):
    """What every /v2 error answers (422 keeps FastAPI's validation detail)."""

    error: str = Field(description="what went wrong, naming the input")
    type: str = Field(description="the error's kind, e.g. BadInput, Overloaded")
    status: int = Field(description="the HTTP status, repeated")


_ERRORS = {400: "bad input (not an image, too many pixels, a bad value)", 401: "missing or wrong api key",
           403: "the task's model is not available (the reason is given)", 413: "the upload is too large",
           415: "not a multipart upload", 500: "internal error or the request timeout passed",
           503: "the task's queue is full: retry after Retry-After seconds"}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody, "description": text}
                                                    for code, text in _ERRORS.items()}


class PathsRequest(BaseModel):
    paths: list[str] = Field(description="image paths on the server, inside the media roots (as detect_objects)")
    min_score: StrictFloat | None = Field(None, ge=0, le=1, description="default: the configured threshold")  # no bool


class Rename(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, description="the new name")


def v2_router(executor: Executor, seed: SeedCalls) -> APIRouter:
    router = APIRouter(prefix="/v2", responses=ERROR_RESPONSES)
    user, admin = key_checks(executor.config.server)
    _path_routes(router, seed, user)
    for task in executor.tasks().values():
        task_route(router, executor, task, user)
    _gallery_routes(router, executor, user, admin)
    _model_routes(router, executor, user, admin)
    return router


def task_route(router: APIRouter, executor: Executor, task: TaskDef, user: Any) -> None:
    """`POST /v2/<route>`: the image and the task's options (form fields) in, the task's encoded answer out."""

    async def run(image: UploadFile, **fields: Any) -> dict[str, Any]:
        data, name = await image.read(), image.filename or ""
        try:
            options = task.options(**{k: v for k, v in fields.items() if v is not None})
        except ValidationError as exc:
            raise BadInput(f"{task.name}: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from None

        def work() -> dict[str, Any]:
            return task.encode(name, executor.run_bytes(task.name, data, options, executor.deadline()))

        return await run_in_threadpool(work)

    # FastAPI reads the signature: the image as a file part, each field of the options model as a form field
    params = [inspect.Parameter("image", inspect.Parameter.KEYWORD_ONLY, annotation=Image)]
    for key, field in task.options.model_fields.items():
        default = inspect.Parameter.empty if field.is_required() else field.default
        form = Form(description=field.description, json_schema_extra=_labels_pattern(executor, task, key))
        params.append(inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[
            (_not_null(field.annotation), *field.metadata, form)]))
    run.__signature__ = inspect.Signature(params, return_annotation=dict[str, Any])  # type: ignore[attr-defined]
    route = task.path.removeprefix("/v2")
    router.add_api_route(route, run, methods=["POST"], dependencies=[user], tags=list(task.tags or (task.name,)),
                         summary=task.summary, name=f"task_{task.name}", operation_id=f"task_{task.name}")
    executor.metrics.route_tasks[task.path] = task.name


def _labels_pattern(executor: Executor, task: TaskDef, key: str) -> dict[str, Any] | None:
    """The detector's `labels` option as its schema states it: comma-separated names of the served model's classes
    (any other name is a 400 naming the close match, so generated clients keep to these)."""
    if task.options is not DetectParams or key != "labels":
        return None
    try:
        names = executor.store.labels(executor.config.detect.model)
    except VigilError:
        return None
    one = "(?:" + "|".join(re.escape(n).replace("\\ ", " ") for n in sorted(names, key=len, reverse=True)) + ")"
    return {"pattern": rf"^\s*{one}\s*(?:,\s*{one}\s*)*$"}


def _not_null(annotation: Any) -> Any:
    """`X | None` declared as plain X: a form field cannot carry null, so an optional one is simply left out (declaring
    it nullable would tell generated clients to send "null", which no number parser takes)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if (isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union) and len(args) == 1:
        return args[0]
    return annotation


def _path_routes(router: APIRouter, seed: SeedCalls, user: Any) -> None:
    executor = seed.executor
    executor.metrics.route_tasks.update({"/v2/detect/paths": DETECT, "/v2/faces/label": executor.labelling_task})

    @router.post("/detect/paths", dependencies=[user], tags=["detect"],
                 summary="Objects in server-side images, one entry per path in order (the seed's detect_objects)")
    async def detect_paths(body: PathsRequest) -> list[dict[str, Any]]:
        results = await run_in_threadpool(seed.detect_paths, body.paths, DetectParams(min_score=body.min_score),
                                          executor.deadline())
        return [to_seed(r) for r in results]

    @router.post("/faces/label", dependencies=[user], tags=["faces"], openapi_extra=_LABEL_BODY,
                 response_model=list[dict[str, Any]],
                 summary="Add face / faceProba to the person labels of detect results (the seed's detect_faces)")
    async def label(request: Request) -> Response:
        limits, deadline = executor.config.limits, executor.deadline()
        body, kind = await request.body(), request.headers.get("content-type", "")
        typed = await run_in_threadpool(_label_entries, kind, body, limits.max_entries, limits.max_labels)
        results = await run_in_threadpool(seed.label_entries, typed, deadline)
        return await run_in_threadpool(lambda: JSONResponse([to_seed(r) for r in results]))


# /v2/faces/label reads its JSON body and writes its answer itself, off the event loop: FastAPI would parse and
# validate 256 entries × 64 labels (1.6 MB) on it, 0.8 s per call on a busy machine, and every other request would
# wait meanwhile
_LABEL_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "array", "items": {"type": "object"}, "description": "the entries detect_objects returned"}}}}}


def _label_entries(kind: str, body: bytes, max_entries: int, max_labels: int) -> list[ImageResult]:
    if kind.split(";")[0].strip().lower() != "application/json":
        raise BadInput("the body must be JSON (Content-Type: application/json): the list detect_objects returned")
    try:
        objects = json.loads(body)
    except ValueError:
        raise BadInput("the body is not valid JSON: send the list detect_objects returned") from None
    return entries_from_seed(objects, max_entries, max_labels)


def _gallery_routes(router: APIRouter, executor: Executor, user: Any, admin: Any) -> None:
    @router.get("/gallery", dependencies=[user], tags=["gallery"], summary="Enrolled people and sample counts")
    async def people() -> list[dict[str, Any]]:
        return native.people(await run_in_threadpool(lambda: faces.gallery(executor).people()))

    # the cap is declared (so generated clients keep to it) and checked by the enrolment itself, whose 400 names it
    most = {"maxItems": executor.config.limits.max_enroll_images}
    logs = Logs(executor)  # absorbed stranger clusters' past events take the enrolled name

    @router.post("/gallery/{name}", dependencies=[admin], tags=["gallery"], summary="Enrol a person from images")
    async def enroll(request: Request, name: PersonName,
                     images: list[UploadFile] = File(min_length=1, description="photos of the person",
                                                     json_schema_extra=most),
                     force: bool = Form(False, description=faces.FORCE),
                     force_query: bool = Query(False, alias="force", description=faces.FORCE)) -> dict[str, Any]:
        data = [Upload(await i.read(), i.filename) for i in images]  # the report names each file
        deadline, forced = executor.deadline(), force or force_query
        report = await run_in_threadpool(
            lambda: faces.enroll(executor, name, data, deadline, forced, logs.get(request)))
        return native.plain(report)

    @router.delete("/gallery/{name}", dependencies=[admin], tags=["gallery"], summary="Forget a person")
    async def remove(name: StoredName) -> dict[str, Any]:
        return native.removed(name, await run_in_threadpool(lambda: int(faces.gallery(executor).remove(name))))

    @router.patch("/gallery/{name}", dependencies=[admin], tags=["gallery"], summary="Rename a person")
    async def rename(name: StoredName, body: Rename) -> dict[str, Any]:
        await run_in_threadpool(lambda: faces.gallery(executor).rename(name, body.name))
        return native.renamed(body.name, name)


def _model_routes(router: APIRouter, executor: Executor, user: Any, admin: Any) -> None:
    @router.get("/models", dependencies=[user], tags=["models"], summary="Models in the store and their state")
    async def models() -> list[dict[str, Any]]:
        return await run_in_threadpool(_model_rows, executor)

    @router.post("/models/{name}/pull", dependencies=[admin], tags=["models"], summary="Fetch and verify a model")
    async def pull(name: str) -> dict[str, Any]:
        folder = await run_in_threadpool(executor.store.pull, name)
        return native.pulled(name, folder)


def _model_rows(executor: Executor) -> list[dict[str, Any]]:
    store = executor.store
    rows = []
    for name in sorted(store.specs):
        present = all(s.present for s in store.status(name))
        rows.append(native.model_row(store.spec(name), present, name == executor.config.detect.model))
    return rows


