"""The best face of each person track, recognised once, not on every frame.

The faces task looks for a face in the head of a person's box only when the box is at least `min_person` pixels
tall, and at most every `look_every` analysed frames per track, so the cost stays bounded however long the track
lives. Each look scores the face it finds by vigil.faces.best (size × sharpness × frontal pose); the track keeps
the best one (its frame, box, score and the crop it was found in). That crop is recognised (`recognize`, which also
files a stranger's cluster) when the track ends, or, on a live camera, as soon as it is found, so an event gets its
name while the person is still there; after that only a best face `improve` times better than the one last
recognised is recognised again (then, or when the track ends). Every call goes through the one executor's faces
task: no second model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from vigil.config.cameras import CameraConfig
from vigil.errors import NotActivated, VigilError
from vigil.execute.executor import FACES, Executor
from vigil.imaging.images import DecodedImage
from vigil.ops.nms import iou_matrix
from vigil.registry.labels import PERSON
from vigil.results import Detections, Track, TrackFace, TrackReport
from vigil.sources.frames import Frame, Source
from vigil.tracks.pipeline import TrackOptions, track_source

log = logging.getLogger(__name__)
LOOK_EVERY = 3  # analysed frames between two looks for one track's face
MIN_PERSON_PX = 96  # a person box shorter than this shows no face worth a look
IMPROVE = 1.25  # a live track's best face is recognised again when it scores this many times the last one
CLUSTER_WAIT_S = 5.0  # a stranger's cluster is filed before the track's name is given (off the request path)
FORGET_S = 300.0  # a track unseen this long is forgotten here too (a live camera's quiet tracks never end an event)


@dataclass
class _State:
    track: Track
    looked: int = -(10**9)  # the analysed frame of the last look
    crop: np.ndarray | None = None  # the head region that holds the best face
    origin: tuple[int, int] = (0, 0)  # where the crop lies in the frame
    recognised: float = 0.0  # the score of the face last recognised (0: none yet)
    found: Detections | None = None  # what the last recognition found (one face, in frame pixels, with track_id)


class TrackFaces:
    def __init__(self, executor: Executor, source: str, look_every: int = LOOK_EVERY,
                 min_person: float = MIN_PERSON_PX, improve: float = IMPROVE) -> None:
        self.executor, self.source = executor, source
        self.look_every, self.min_person, self.improve = max(1, look_every), min_person, improve
        self.looks = 0  # calls to the faces task's best_face (how much the feature cost)
        self.recognitions = 0
        self.off = False  # the faces task is not available (models not pulled): faces are off for this source
        self._analysed = 0
        self._state: dict[int, _State] = {}

    def observe(self, frame: Frame, seen: list[Track]) -> list[Track]:
        """Look for the faces that are due on this analysed frame; the tracks whose best face improved by
        `improve` over the one last recognised (a live camera recognises them now)."""
        self._analysed += 1
        self._state = {i: s for i, s in self._state.items() if frame.time_s - s.track.last_time < FORGET_S}
        better: list[Track] = []
        if self.off:
            return better
        for track in seen:
            _, _, box, _ = track.boxes[-1]
            if track.label != PERSON or track.boxes[-1][0] != frame.index or box[3] - box[1] < self.min_person:
                continue
            state = self._state.setdefault(track.id, _State(track))
            if self._analysed - state.looked < self.look_every:
                continue
            state.looked = self._analysed
            if self._look(frame, state, box) and track.face is not None \
                    and track.face.score >= self.improve * state.recognised:
                better.append(track)
        return better

    def _look(self, frame: Frame, state: _State, box: tuple[float, ...]) -> bool:
        """True when this frame's face is the track's best so far."""
        h, w = frame.pixels.shape[:2]
        x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
        x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
        head = frame.pixels[y0:min(y1, y0 + max(x1 - x0, (y1 - y0) // 3))]
        crop = np.ascontiguousarray(head[:, x0:x1])
        if crop.size == 0:
            return False
        self.looks += 1
        try:
            found = self.executor.call(FACES, "best_face", crop, deadline=self.executor.deadline())
        except NotActivated as exc:
            log.error("%s: faces of tracks are off (%s)", self.source, exc)
            self.off = True
            return False
        except VigilError as exc:
            log.warning("%s: a track's face was not looked for (%s)", self.source, exc)
            return False
        track = state.track
        if found is None or (track.face is not None and found[1] <= track.face.score):
            return False
        face_box = tuple(round(float(v) + d, 1) for v, d in zip(found[0], (x0, y0, x0, y0), strict=True))
        known = track.face  # who the track was recognised as stays until a better face is recognised
        track.face = TrackFace(frame.index, frame.time_s, face_box, round(found[1], 4),
                               known.name if known else None, known.cluster_id if known else None)
        state.crop, state.origin = crop, (x0, y0)
        return True

    def recognise(self, track: Track) -> Detections | None:
        """Who the track's best face is (named on `track.face`); the face as found, in frame pixels, with data
        `track_id` (for its sighting); what was found before when the best face is not `improve` times better than the
        one last recognised. None when it has no face."""
        state = self._state.get(track.id)
        if state is None or state.crop is None or track.face is None:
            return None
        if state.recognised and track.face.score < self.improve * state.recognised:
            return state.found
        crop = state.crop
        self.recognitions += 1
        try:
            faces = self.executor.call(FACES, "recognize", DecodedImage(crop, crop.shape[1], crop.shape[0]),
                                       self.source, CLUSTER_WAIT_S, deadline=self.executor.deadline())
        except VigilError as exc:
            log.warning("%s: track %d's face was not recognised (%s)", self.source, track.id, exc)
            return None
        state.recognised = track.face.score
        if not len(faces):
            return None
        x0, y0 = state.origin
        xyxy = faces.xyxy + np.array([x0, y0, x0, y0], np.float32)
        i = int(np.argmax(iou_matrix(np.array([track.face.box], np.float32), xyxy)[0]))
        one = faces[[i]]
        state.found = Detections(xyxy[[i]], one.score, one.class_id,
                                 {**one.data, "track_id": np.array([track.id], np.int64)})
        name, cluster = str(one.data["name"][0]), int(one.data["cluster_id"][0])
        track.face.name, track.face.cluster_id = name, cluster if cluster >= 0 else None
        return state.found

    def ended(self, track_id: int) -> tuple[Track, Detections] | None:
        """A track that ended: its best face recognised if it was not yet, and forgotten; (track, face found)."""
        state = self._state.get(track_id)
        if state is None:
            return None
        found = self.recognise(state.track)
        del self._state[track_id]
        return (state.track, found) if found is not None else None

    def finish(self, tracks: list[Track]) -> None:
        """The end of a recorded source: every person track's best face recognised once."""
        for track in tracks:
            if track.id in self._state:
                self.ended(track.id)


def track_with_faces(executor: Executor, source: Source, camera: CameraConfig, options: TrackOptions) -> TrackReport:
    """`track_source` with each person track's best face, recognised once after the source ends (`--faces`)."""
    looking = TrackFaces(executor, source.name)
    report = track_source(executor, source, camera, options, lambda frame, _s, seen, _l: looking.observe(frame, seen))
    looking.finish(report.tracks)
    return report
