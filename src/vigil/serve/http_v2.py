"""The native JSON API, /v2: everything Vigil does, answered in the seed result format
(`{"image", "labels": [{"id", "name", "score", "box": {xmin, ymin, xmax, ymax}, "face"?, "faceProba"?}]}`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Form, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from vigil.formats import native
from vigil.formats.seed import entries_from_seed, to_seed
from vigil.pipeline import DetectRequest
from vigil.results import ImageResult
from vigil.serve import faces
from vigil.serve.engine import Engine
from vigil.serve.http import key_checks
from vigil.serve.openapi import NAME_PATTERN, PersonName

# declared as a plain number (not number-or-null): a form field cannot carry null, so clients must leave it out
Score = Annotated[float, Form(ge=0, le=1, description="drop detections scoring lower (default: configured)")]
Labels = Annotated[str | None, Form(description="comma-separated class names to keep, e.g. person,car")]
Image = Annotated[UploadFile, File(description="an image (JPEG, PNG, ...)")]


class PathsRequest(BaseModel):
    paths: list[str] = Field(description="image paths on the server, inside the media roots (as detect_objects)")
    min_score: float | None = Field(None, ge=0, le=1, description="default: the configured threshold")


class Rename(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, description="the new name")


def _labels(raw: str | None) -> list[str] | None:
    return [s.strip() for s in raw.split(",") if s.strip()] if raw else None


def v2_router(engine: Engine) -> APIRouter:
    router = APIRouter(prefix="/v2")
    user, admin = key_checks(engine)

    @router.post("/detect", dependencies=[user], tags=["detect"], summary="Objects in one uploaded image")
    async def detect(image: Image, min_score: Score = None, labels: Labels = None) -> dict[str, Any]:
        request = DetectRequest(min_score=min_score, labels=_labels(labels))
        result, _ = await run_in_threadpool(engine.detect_bytes, await image.read(), image.filename or "", request,
                                            engine.deadline())
        return to_seed(result)

    @router.post("/detect/paths", dependencies=[user], tags=["detect"],
                 summary="Objects in server-side images, one entry per path in order (the seed's detect_objects)")
    async def detect_paths(body: PathsRequest) -> list[dict[str, Any]]:
        results = await run_in_threadpool(engine.detect_paths, body.paths, DetectRequest(min_score=body.min_score),
                                          engine.deadline())
        return [to_seed(r) for r in results]

    @router.post("/faces/label", dependencies=[user], tags=["faces"],
                 summary="Add face / faceProba to the person labels of detect results (the seed's detect_faces)")
    async def label(entries: Annotated[list[dict[str, Any]], Body()]) -> list[dict[str, Any]]:
        typed = entries_from_seed(entries, engine.config.limits.max_entries, engine.config.limits.max_labels)
        return [to_seed(r) for r in await run_in_threadpool(engine.label_entries, typed, engine.deadline())]

    @router.post("/faces/recognize", dependencies=[user], tags=["faces"], summary="Every face and who it is")
    async def recognize(image: Image) -> dict[str, Any]:
        found = await run_in_threadpool(faces.recognize, engine, await image.read(), engine.deadline())
        return to_seed(ImageResult(image.filename or "", faces.as_labels(found)))

    _gallery_routes(router, engine, user, admin)
    _model_routes(router, engine, user, admin)
    return router


def _gallery_routes(router: APIRouter, engine: Engine, user: Any, admin: Any) -> None:
    @router.get("/gallery", dependencies=[user], tags=["gallery"], summary="Enrolled people and sample counts")
    async def people() -> list[dict[str, Any]]:
        return native.people(await run_in_threadpool(lambda: faces.gallery(engine).people()))

    @router.post("/gallery/{name}", dependencies=[admin], tags=["gallery"], summary="Enrol a person from images")
    async def enroll(name: PersonName,
                     images: Annotated[list[UploadFile], File(min_length=1, description="photos of the person")]
                     ) -> dict[str, Any]:
        data = [await i.read() for i in images]
        return native.plain(await run_in_threadpool(faces.enroll, engine, name, data, engine.deadline()))

    @router.delete("/gallery/{name}", dependencies=[admin], tags=["gallery"], summary="Forget a person")
    async def remove(name: PersonName) -> dict[str, Any]:
        return native.removed(name, await run_in_threadpool(lambda: int(faces.gallery(engine).remove(name))))

    @router.patch("/gallery/{name}", dependencies=[admin], tags=["gallery"], summary="Rename a person")
    async def rename(name: PersonName, body: Rename) -> dict[str, Any]:
        await run_in_threadpool(lambda: faces.gallery(engine).rename(name, body.name))
        return native.renamed(body.name, name)


def _model_routes(router: APIRouter, engine: Engine, user: Any, admin: Any) -> None:
    @router.post("/classify", dependencies=[user], tags=["classify"],
                 summary="Persons in the image, each named by the whole-person classifier ([person] model)")
    async def classify(image: Image, min_score: Score = None) -> dict[str, Any]:
        def work() -> ImageResult:
            request = DetectRequest(min_score=min_score, labels=["person"], keep_pixels=True)
            deadline = engine.deadline()
            result, frame = engine.detect_bytes(data, image.filename or "", request, deadline)
            classifier = engine.classifier
            labelled = engine.run_model(lambda: classifier.label_persons(frame, result.detections,
                                                                         engine.config.person.min_proba), deadline)
            return ImageResult(result.image, labelled, result.width, result.height)

        data = await image.read()
        return to_seed(await run_in_threadpool(work))

    @router.get("/models", dependencies=[user], tags=["models"], summary="Models in the store and their state")
    async def models() -> list[dict[str, Any]]:
        return await run_in_threadpool(_model_rows, engine)

    @router.post("/models/{name}/pull", dependencies=[admin], tags=["models"], summary="Fetch and verify a model")
    async def pull(name: str) -> dict[str, Any]:
        folder = await run_in_threadpool(engine.pipeline.store.pull, name)
        return native.pulled(name, folder)


def _model_rows(engine: Engine) -> list[dict[str, Any]]:
    store = engine.pipeline.store
    rows = []
    for name in sorted(store.specs):
        present = all(s.present for s in store.status(name))
        rows.append(native.model_row(store.spec(name), present, name == engine.config.detect.model))
    return rows


