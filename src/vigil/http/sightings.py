"""Sightings over HTTP (vigil.faces.sightings): /v2/faces/visits, /v2/faces/search, a sighting's face crop, and
forgetting an identity. Faces of people are personal data: every route needs the admin key when keys are set."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from vigil.execute.executor import FACES, Executor
from vigil.faces.search import search
from vigil.faces.sightings import Sightings, Who
from vigil.faces.visits import split, summarise
from vigil.formats import sightings as wire
from vigil.http import faces
from vigil.http.auth import key_checks
from vigil.http.events import Logs, query_time
from vigil.http.openapi import JPEG_ANSWER, TIME_SCHEMA, RowId

WHO = r"^(cluster:)?[0-9]{1,18}$|^(name:)?[\w][\w .'-]{0,199}$"


def sightings_router(executor: Executor) -> APIRouter:
    router = APIRouter(prefix="/v2/faces", tags=["sightings"])
    _, admin = key_checks(executor.config.server)
    config = executor.config
    base = config.events.public_url or f"http://{config.server.host}:{config.server.port}"
    stores: dict[int, Sightings] = {}
    logs = Logs(executor)

    def store() -> Sightings:
        gallery = faces.gallery(executor)
        return stores.setdefault(id(gallery), Sightings(gallery))

    @router.get("/visits", dependencies=[admin], summary="Visits per person and stranger cluster, most recent first")
    async def visits(since: Annotated[str | None, Query(description="epoch s, ISO 8601 or age: 7d",
                                                        json_schema_extra=TIME_SCHEMA)] = None) -> list[dict[str, Any]]:
        start = query_time(since)

        def work() -> list[dict[str, Any]]:
            return wire.visits_json(summarise(split(store().rows(since=start), config.faces.visit_gap_s)), base)

        return await run_in_threadpool(work)

    @router.post("/search", dependencies=[admin], summary="When and where each face of a photo was seen")
    async def find(image: Annotated[UploadFile, File(description="a photo of the face(s) to look for")]
                   ) -> dict[str, Any]:
        data = await image.read()

        def work() -> dict[str, Any]:
            deadline = executor.deadline()
            frame = executor.decode(data, full_size=True)
            found, seen = executor.call(FACES, "search_faces", frame, deadline=deadline)
            return wire.search_json(search(store(), found, config.faces.match_distance), seen, base)

        return await run_in_threadpool(work)

    @router.get("/sightings/{sighting_id}/face.jpg", dependencies=[admin], response_class=Response,
                responses=JPEG_ANSWER, summary="The face crop kept with a sighting")
    async def face(sighting_id: RowId) -> Response:
        return Response(await run_in_threadpool(lambda: store().crop(sighting_id)), media_type="image/jpeg")

    @router.delete("/identities/{who}", dependencies=[admin],
                   summary="Forget a person or stranger cluster: sightings, crops, samples, embeddings")
    async def forget(request: Request, who: Annotated[str, Path(
            pattern=WHO, description="a name (name:12 for digits), or a cluster: 12 or cluster:12")]) -> dict[str, Any]:
        identity = Who.parse(who)

        def work() -> dict[str, Any]:
            removed = store().forget(identity)
            log = logs.get(request)  # then its face events and their snapshots
            removed["events"] = log.forget_face(identity.name, identity.cluster) if log is not None else 0
            return {**wire.identity(identity), **removed}

        return await run_in_threadpool(work)

    return router

