"""Gallery and stranger routes the web page needs beyond /v2/gallery: who is in a photo (with known / unknown /
uncertain), enrolment of one photo with its outcome (and the face to take when it shows several), sample and stranger
thumbnails, deleting or rejecting a sample, naming, merging or dismissing a stranger cluster.

Thumbnails are faces, so they need the admin key as every gallery change does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import cv2
import numpy as np
import simplejpeg
from fastapi import APIRouter, Body, File, Form, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from vigil.errors import BadInput
from vigil.events.log import EventLog
from vigil.execute.executor import FACES, Executor
from vigil.faces.enroll import Upload
from vigil.faces.gallery.schema import NAME_PATTERN
from vigil.formats import page
from vigil.http import auth, faces
from vigil.http.events import Logs
from vigil.http.openapi import JPEG_ANSWER, PersonName, RowId
from vigil.imaging import images

Image = Annotated[UploadFile, File(description="an image (JPEG, PNG, ...)")]
_NUMBER = r" *-?[0-9]{1,9}(\.[0-9]{1,6})? *"
BOX_PATTERN = rf"^{_NUMBER}(,{_NUMBER}){{3}}$"  # what _box reads: four finite numbers
# a plain string (left out when absent: a form field cannot carry null); the pattern is declared, _box checks it
# with its own clear 400
Box = Annotated[str, Form(json_schema_extra={"pattern": BOX_PATTERN}, description="the face to enrol, 'x0,y0,x1,y1' "
                          "in image pixels (default: the only usable face; a photo with several is answered 'choose')")]
JPEG = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}


def gallery_router(executor: Executor, recent: Any) -> APIRouter:
    router = APIRouter(prefix="/v2", tags=["web page"])
    user, admin = auth.key_checks(executor.config.server)
    logs = Logs(executor)  # enrolment: absorbed stranger clusters' past events take the name

    @router.post("/ui/faces", dependencies=[user], summary="Every face with box, name, state and similarity")
    async def who(image: Image) -> list[dict[str, Any]]:
        data = await image.read()
        found = await run_in_threadpool(faces.recognize, executor, data, executor.deadline())
        rows = page.faces(found)
        recent.add(image.filename or "page", rows, await run_in_threadpool(_snapshot, data))
        return rows

    @router.post("/ui/enroll/{name}", dependencies=[admin], summary="Enrol one photo; its outcome and faces")
    async def enroll_one(request: Request, name: PersonName, image: Image,
                         box: Box = None,  # type: ignore[assignment]
                         force: bool = Form(False, description=faces.FORCE)) -> dict[str, Any]:
        data, picked = await image.read(), _box(box)

        def work() -> dict[str, Any]:
            return _enroll_one(executor, logs.get(request), name, image.filename or "photo", data, picked, force)

        return await run_in_threadpool(work)

    @router.get("/ui/people", dependencies=[admin], summary="Everyone in the gallery with their sample ids")
    async def people() -> list[dict[str, Any]]:
        return await run_in_threadpool(_people, executor)

    _sample_routes(router, executor, admin)
    _stranger_routes(router, executor, admin, logs)
    return router


def _sample_routes(router: APIRouter, executor: Executor, admin: Any) -> None:
    @router.get("/samples/{sample_id}/face.jpg", dependencies=[admin], summary="A sample's aligned face (JPEG)",
                response_class=Response, responses=JPEG_ANSWER)
    async def sample_face(sample_id: RowId) -> Response:
        return Response(await _gallery_call(executor, lambda g: g.thumbnail(sample_id)), media_type="image/jpeg",
                        headers=JPEG)

    @router.delete("/samples/{sample_id}", dependencies=[admin], summary="Delete one sample")
    async def delete_sample(sample_id: RowId) -> dict[str, Any]:
        return {"id": sample_id, "name": await _gallery_call(executor, lambda g: g.delete_sample(sample_id))}

    @router.post("/samples/{sample_id}/reject", dependencies=[admin],
                 summary="Not this person: the sample becomes a negative of its person")
    async def reject_sample(sample_id: RowId) -> dict[str, Any]:
        return {"id": sample_id, "not": await _gallery_call(executor, lambda g: g.reject_sample(sample_id, "web"))}


def _stranger_routes(router: APIRouter, executor: Executor, admin: Any, logs: Logs) -> None:
    @router.get("/strangers", dependencies=[admin], summary="Clusters of unknown faces, most sighted first")
    async def strangers() -> list[dict[str, Any]]:
        return await _gallery_call(executor, lambda g: [page.cluster(c, g.cluster_faces(c.id)) for c in g.unknowns()])

    @router.get("/strangers/faces/{face_id}/face.jpg", dependencies=[admin], summary="One stranger face (JPEG)",
                response_class=Response, responses=JPEG_ANSWER)
    async def stranger_face(face_id: RowId) -> Response:
        return Response(await _gallery_call(executor, lambda g: g.stranger_thumbnail(face_id)),
                        media_type="image/jpeg", headers=JPEG)

    @router.post("/strangers/{cluster_id}/name", dependencies=[admin],
                 summary="Name a cluster: a new person, or merged into an existing one")
    async def name_cluster(request: Request, cluster_id: RowId,
                           name: str = Body(embed=True, pattern=NAME_PATTERN)) -> dict[str, Any]:
        moved = await _gallery_call(executor, lambda g: g.name_cluster(cluster_id, name.strip()))
        await run_in_threadpool(_relabel, logs.get, request, cluster_id, name.strip())
        return {"cluster": cluster_id, "name": name.strip(), "samples": moved}

    @router.delete("/strangers/{cluster_id}", dependencies=[admin], summary="Dismiss a cluster")
    async def dismiss(cluster_id: RowId) -> dict[str, Any]:
        removed = await _gallery_call(executor, lambda g: g.dismiss_cluster(cluster_id))
        return {"cluster": cluster_id, "removed": removed}


async def _gallery_call(executor: Executor, call: Callable[[Any], Any]) -> Any:
    return await run_in_threadpool(lambda: call(faces.gallery(executor)))


def _box(raw: str | None) -> list[float] | None:
    if not raw:
        return None
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not all(np.isfinite(values)):
        raise BadInput(f"box must be 'x0,y0,x1,y1' (four numbers), not {raw[:60]!r}")
    return values


def _snapshot(data: bytes, width: int = 160) -> bytes:
    """A small JPEG of an uploaded picture for the Events view."""
    frame = images.decode(data, fit=(2 * width, 2 * width))  # a reduced JPEG decode where possible
    h, w = frame.pixels.shape[:2]
    small = cv2.resize(frame.pixels, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    return simplejpeg.encode_jpeg(np.ascontiguousarray(small), quality=80, colorspace="RGB")


def _people(executor: Executor) -> list[dict[str, Any]]:
    gallery = faces.gallery(executor)
    return [page.person(p, gallery.samples(p.name)) for p in gallery.people()]


def _relabel(log_for: Any, request: Request, cluster_id: int, name: str) -> None:
    """A named cluster's past face events carry the name from now on, as after `vigil faces name`."""
    log = log_for(request)
    if log is not None:
        log.relabel_cluster(cluster_id, name)


def _enroll_one(executor: Executor, log: EventLog | None, name: str, file: str, data: bytes,
                box: list[float] | None, force: bool = False) -> dict[str, Any]:
    """One photo: its faces with their quality, then added / duplicate / no face / too small / blurry, or
    'choose' when it shows several usable faces and no box says which."""
    frame = executor.decode(data, full_size=True)
    deadline = executor.deadline()
    checks = executor.call(FACES, "detect", frame.pixels, deadline=deadline)
    rows = page.face_checks(checks, frame.scale)
    usable = [c for c in checks if c.quality == "ok"]
    outcome = _refusal(checks, usable, box)
    if outcome is None:
        box = box if box is not None else list(np.asarray(usable[0].xyxy) / frame.scale)
        report = faces.enrolled(executor, log, name, [Upload(data, file)], box, deadline, force)  # refusals name it
        if report.conflict() is not None:  # 409 with `matches`: the page asks, then resubmits with force
            raise report.conflict()
        outcome = "added" if report.added else "duplicate" if report.skipped else "no face"
    return page.enrolled(file, outcome, rows, frame.width, frame.height)


def _refusal(checks: list[Any], usable: list[Any], box: list[float] | None) -> str | None:
    if not checks:
        return "no face"
    if not usable:
        return "too small" if any(c.quality == "small" for c in checks) else "blurry"
    if box is None and len(usable) > 1:
        return "choose"
    return None
