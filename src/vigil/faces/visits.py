"""Visits: consecutive sightings of one identity (a person or a stranger cluster) on one camera. A gap longer than
`[faces] visit_gap_s` between two sightings starts a new visit, even within one track (or one burst of alarm frames,
until tracks exist). A visit is represented by its best face (vigil.faces.best), not its first frame.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from vigil.faces.sightings import SightingRow, Who


@dataclass
class Visit:
    who: Who
    camera: str
    start: float
    end: float
    sightings: int = 1
    best: int = 0  # the sighting id of the visit's best face
    best_quality: float = -1.0
    events: list[int] = field(default_factory=list)  # event ids, in order, each once


@dataclass(frozen=True)
class Summary:
    """Everything known about one identity's visits."""

    who: Who
    visits: list[Visit]

    @property
    def first_seen(self) -> float:
        return min(v.start for v in self.visits)

    @property
    def last_seen(self) -> float:
        return max(v.end for v in self.visits)

    @property
    def cameras(self) -> list[str]:
        return sorted({v.camera for v in self.visits})

    @property
    def best(self) -> Visit:
        return max(self.visits, key=lambda v: (v.best_quality, v.end))


def split(rows: Iterable[SightingRow], gap_s: float) -> list[Visit]:
    """Visits of every identity and camera, oldest first."""
    streams: dict[tuple[Who, str], list[SightingRow]] = defaultdict(list)
    for row in rows:
        streams[(row.who, row.camera)].append(row)
    visits = []
    for (who, camera), seen in streams.items():
        current: Visit | None = None
        for row in sorted(seen, key=lambda r: (r.seen, r.id)):
            if current is None or row.seen - current.end > gap_s:
                current = Visit(who, camera, row.seen, row.seen, 0)
                visits.append(current)
            _extend(current, row)
    return sorted(visits, key=lambda v: (v.start, v.camera))


def _extend(visit: Visit, row: SightingRow) -> None:
    visit.end = max(visit.end, row.seen)
    visit.sightings += 1
    if row.quality > visit.best_quality:
        visit.best, visit.best_quality = row.id, row.quality
    if row.event_id is not None and row.event_id not in visit.events:
        visit.events.append(row.event_id)


def summarise(visits: Iterable[Visit]) -> list[Summary]:
    """One summary per identity, most recently seen first."""
    by_who: dict[Who, list[Visit]] = defaultdict(list)
    for visit in visits:
        by_who[visit.who].append(visit)
    return sorted((Summary(who, vs) for who, vs in by_who.items()), key=lambda s: -s.last_seen)

