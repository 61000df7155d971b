"""The watcher's faces become sightings (vigil.faces.sightings), and a stranger cluster that starts a new visit on a
camera after an earlier one is announced as returning (MQTT `<prefix>/<camera>/face/returning`).

Every face that was checked (size, focus) and is either a person or a filed stranger cluster is kept, with the id of
the face event it belongs to; uncertain faces are not (a guess is not a sighting). Visits are bursts of alarm frames
per camera (vigil.faces.visits); a watched face's sighting has the id of the person track it was on (null when on
none). A live camera's person track is one sighting (its best face, with `track_id`, filed when the track's event
ends, from the feed's thread).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from vigil.config.settings import VigilConfig
from vigil.errors import VigilError
from vigil.faces.matcher import UNCERTAIN, UNKNOWN
from vigil.faces.recognizer import thumbnail
from vigil.faces.sightings import NewSighting, Sightings, Who
from vigil.faces.visits import split
from vigil.formats import sightings as wire
from vigil.formats.events import FACE
from vigil.results import Detections

log = logging.getLogger(__name__)
DAY_S = 86400.0


class SightingKeeper:
    def __init__(self, config: VigilConfig, gallery: Any, publisher: Any, base_url: str) -> None:
        self.store = Sightings(gallery)
        self.gap_s, self.publisher, self.base_url = config.faces.visit_gap_s, publisher, base_url
        self.retention_s, self.keep = config.events.retention_days * DAY_S, config.faces.max_sightings
        self._last: dict[int, float] = {}  # cluster → its last sighting filed by this process
        self._cameras: set[str] = set()

    def observe(self, camera: str, t: float, faces: Detections, event_of: Any) -> list[dict[str, Any]]:
        """File this frame's faces; returns the returning-stranger messages sent. `event_of(name, cluster)` gives the
        open face event (or None)."""
        rows = [self._row(camera, t, faces, i, event_of) for i in range(len(faces))]
        rows = [r for r in rows if r is not None]
        if not rows:
            return []
        starting = {r.cluster_id for r in rows if r.cluster_id is not None and self._away(r.cluster_id, t)}
        try:
            self.store.add(rows)
        except VigilError as exc:  # e.g. the gallery locked past its timeout: the events go on without sightings
            log.warning("sightings not kept", extra={"camera": camera, "error": str(exc)})
            return []
        for r in rows:
            if r.cluster_id is not None:
                self._last[r.cluster_id] = t
        self._discover(camera)
        return [m for m in (self._returning(c, camera, t, rows) for c in sorted(starting)) if m is not None]

    def _row(self, camera: str, t: float, faces: Detections, i: int, event_of: Any) -> NewSighting | None:
        name, chip = str(faces.data["name"][i]), faces.data.get("chip", np.full(len(faces), None))[i]
        cluster, person = int(faces.data["cluster_id"][i]), int(faces.data["person_id"][i])
        if name == UNCERTAIN or chip is None or "embedding" not in faces.data:
            return None
        if (name == UNKNOWN and cluster < 0) or (name != UNKNOWN and person < 0):
            return None  # a stranger not filed (backlog, cap), or a classifier name with no gallery person
        event = event_of(name, cluster if name == UNKNOWN else None)
        track = int(faces.data["track_id"][i]) if "track_id" in faces.data else -1  # once tracks exist
        return NewSighting(t, camera, faces.data["embedding"][i], None if name == UNKNOWN else person,
                           cluster if name == UNKNOWN else None, event.id if event is not None and event.id else None,
                           track if track >= 0 else None, thumbnail(chip),
                           float(faces.data.get("face_quality", np.zeros(len(faces)))[i]))

    def _away(self, cluster: int, t: float) -> bool:
        """Not seen on any camera for longer than the visit gap: its next sighting is a return (walking from one
        camera to the next is one stay, not a return)."""
        last = self._last.get(cluster)
        if last is None:
            last = max((r.seen for r in self.store.rows(who=Who(cluster=cluster)) if r.seen <= t), default=None)
        return last is None or t - last > self.gap_s

    def _returning(self, cluster: int, camera: str, t: float, rows: list[NewSighting]) -> dict[str, Any] | None:
        history = self.store.rows(who=Who(cluster=cluster))
        if not history or min(r.seen for r in history) >= t:
            return None  # its first visit: the unknown-face message says so
        visits = split(history, self.gap_s)
        mine = [r for r in history if r.seen == t and r.camera == camera]
        event_id = next((r.event_id for r in rows if r.cluster_id == cluster and r.event_id), None)
        message = wire.returning_payload(camera, cluster, len(visits), min(r.seen for r in history), t, event_id,
                                         mine[-1].id if mine else None, self.base_url)
        if self.publisher is not None:
            self.publisher.returning(camera, message)
        log.info("returning stranger", extra={"camera": camera, "cluster": cluster, "visits": len(visits)})
        return message

    def _discover(self, camera: str) -> None:
        if camera not in self._cameras and self.publisher is not None:
            self.publisher.discover_faces(camera)
        self._cameras.add(camera)

    def prune(self, now: float) -> int:
        """Retention: sightings older than [events] retention_days, then the oldest beyond [faces] max_sightings."""
        return self.store.prune(now - self.retention_s, self.keep)


def event_finder(builder: Any, camera: str) -> Any:
    """`event_of(name, cluster)` over the builder's open face events of one camera."""
    return lambda name, cluster: builder.open_event((camera, FACE, name, cluster))
