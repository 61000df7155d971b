"""The event service: watched frames → the pipeline (objects, then faces where a person is) → events → the log, the
SSE hub and MQTT. Runs inside `vigil serve` when `[watch] dirs` is set, or alone as `vigil watch`.

Each camera's frames are tracked (events/watch_tracks.py): one object event per track, carrying `track_id`, never
one per frame or per label; faces make identity events per name or stranger cluster (events/builder.py), each with
the person track it was on. Live cameras' events (events/camera_feed.py) are stored and published here too.

One worker thread takes frames from the bounded queue (the pipeline's detector already uses every core); a timer
ends events whose hold time ran out and applies retention.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from vigil.config.settings import VigilConfig
from vigil.errors import VigilError
from vigil.events.builder import EventBuilder, face_sightings
from vigil.events.hub import EventHub
from vigil.events.location import open_event_log
from vigil.events.pictures import LastFrame, snapshot, thumbnail_jpeg
from vigil.events.sightings import SightingKeeper, event_finder
from vigil.events.watch_scenes import WatchScenes
from vigil.events.watch_tracks import WatchTracks, with_track_ids
from vigil.events.watcher import FolderWatcher, Frame, FrameQueue
from vigil.execute.executor import FACES, Executor, has_person
from vigil.execute.frameskip import FrameSkip, frame_number
from vigil.formats.events import FACE
from vigil.imaging.images import DecodedImage
from vigil.registry.labels import PERSON, in_detector_terms
from vigil.results import Detections, Event, EventChange, Track
from vigil.tasks.base import get
from vigil.tasks.detect import DetectParams
from vigil.tracks.scene import outside_masks

if TYPE_CHECKING:
    from vigil.events.camera_feed import FeedRunner

log = logging.getLogger(__name__)
CLUSTER_WAIT_S = 5.0  # a stranger event carries its cluster id: the watcher (off the request path) waits for it
EXPIRE_EVERY_S = 0.25
RETENTION_EVERY_S = 600.0
PEOPLE_EVERY_S = 2.0  # how often Home Assistant's person sensors are checked against the gallery (renames, deletes)

class _Metrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        registry = registry or CollectorRegistry()
        self.frames = Counter("vigil_watch_frames", "Watched frames by outcome (processed, skipped, error)",
                              ["camera", "outcome"], registry=registry)
        self.dropped = Counter("vigil_watch_dropped", "Frames dropped because a camera's queue was full", ["camera"],
                               registry=registry)
        self.events = Counter("vigil_events", "Events opened", ["camera", "label"], registry=registry)
        self.late = Counter("vigil_watch_late", "Frames older than their camera's last tracked frame (tracked at "
                            "its time)", ["camera"], registry=registry)
        self.queued = Gauge("vigil_watch_queue", "Frames waiting to be processed", registry=registry)
        self.latency = Histogram("vigil_watch_seconds", "From a file found complete to its events published",
                                 buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30), registry=registry)


class EventService:
    def __init__(self, config: VigilConfig, executor: Executor, registry: CollectorRegistry | None = None,
                 feeds: FeedRunner | None = None) -> None:
        """`feeds`: where the live cameras run (events/camera_feed.py: FeedRunner); threads of this process unless
        the caller says otherwise (`vigil serve --ray`: Ray actors)."""
        self.config, self.executor = config, executor
        self.feed_runner = feeds
        self.base_url = config.events.public_url or f"http://{config.server.host}:{config.server.port}"
        self.log = open_event_log(config.events_location())
        self.builder = EventBuilder(config.events.hold_s)
        self.labels = in_detector_terms(config.events.wanted(), _detector_labels(config, executor))
        self.hub = EventHub()
        self.metrics = _Metrics(registry)
        self.tracks = WatchTracks(config.events.hold_s, config.watch.track_gap_s, self.labels, config.cameras,
                                  lambda camera: self.metrics.late.labels(camera).inc())
        self.skip = FrameSkip(config.watch.frames_to_skip)
        self.queue = FrameQueue(config.watch.queue_per_camera, self._dropped)
        self.metrics.queued.set_function(lambda: len(self.queue))
        self.publisher: Any = None
        if config.mqtt.host:
            from vigil.events.publisher import MqttPublisher

            self.publisher = MqttPublisher(config.mqtt, self.base_url)
        self.scenes = WatchScenes(config.cameras, config.events.hold_s, config.mqtt.topic_prefix, self.publisher)
        self.watcher = FolderWatcher(config.watch, self.queue, self.log.processed, self.log.newest_processed,
                                     self.camera_gone) if config.watch.dirs else None
        self._cameras = self.log.cameras()
        self._people: set[str] = set()
        self._faces_ok = config.watch.faces
        self.sightings: SightingKeeper | None = None  # made on the first face, over the faces task's gallery
        self._sightings_lock = threading.Lock()  # the event worker and the live cameras' threads file sightings
        self.latest: dict[str, dict[str, dict[str, Any]]] = {}  # camera -> task -> its last answer ([watch] tasks)
        self.last_frames: dict[str, LastFrame] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.feeds: list[Any] = []  # [cameras.<name>] with a source, each tracked live (events/camera_feed.py)

    # --- life cycle ----------------------------------------------------------------------------------------------
    def start(self) -> EventService:
        self.log.end_open(time.time())
        self.log.prune(self.config.events.retention_days, self.config.events.retention_mb)
        if self.publisher is not None:
            self.publisher.start()
            for camera, labels in self._cameras.items():
                self.publisher.discover(camera, labels, set())
                self.publisher.zero_counts(camera, labels)  # a process that died left its last counts retained
            self._people = self.log.people()  # renamed or deleted while Vigil was down: cleared by the first check
            self._check_people()
        for target, name in ((self._work, "vigil-events-worker"), (self._tick, "vigil-events-timer")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.watcher is not None:
            self.watcher.start()
        if any(camera.source for camera in self.config.cameras.values()):
            self._start_feeds()
        return self

    def _start_feeds(self) -> None:
        from vigil.events.camera_feed import FeedOutputs, ThreadFeeds  # PyAV and the tracker: only with cameras

        send = self.publisher.send if self.publisher is not None else lambda *_: None
        discover = self.publisher.discover_feed if self.publisher is not None else None
        if self.feed_runner is None:
            self.feed_runner = ThreadFeeds()
        outputs = FeedOutputs(send, self._track_changes, discover, self._track_sighting)
        self.feeds = self.feed_runner.start(self.config, self.executor, outputs)

    def stop(self) -> None:
        """Stop watching, finish the frame in hand, end the open events (counts back to 0), say offline."""
        if self.watcher is not None:
            self.watcher.stop()
        if self.feed_runner is not None:
            self.feed_runner.stop()
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        self._emit(self.builder.end_all(time.time()) + self.tracks.end_all())
        self.scenes.stop()
        if self.publisher is not None:
            self.publisher.stop()
        self.log.close()

    def _work(self) -> None:
        while not self._stop.is_set():
            frame = self.queue.get(timeout=0.5)
            if frame is None:
                continue
            try:
                self.process(frame)
            except Exception:  # one bad frame must not stop the watcher
                self.metrics.frames.labels(frame.camera, "error").inc()
                log.exception("could not process a watched frame", extra={"path": frame.path})

    @property
    def alive(self) -> bool:
        """The worker, the timer and the watcher's threads all running (readiness); the timer revives the watcher."""
        watching = self.watcher is None or self.watcher.alive
        return watching and bool(self._threads) and all(t.is_alive() for t in self._threads)

    def _tick(self) -> None:
        pruned = checked = time.monotonic()
        while not self._stop.wait(EXPIRE_EVERY_S):
            if self.watcher is not None:
                self.watcher.revive()
            self.expire(time.time())
            if time.monotonic() - checked >= PEOPLE_EVERY_S:
                checked = time.monotonic()
                self._check_people()
            if time.monotonic() - pruned >= RETENTION_EVERY_S:
                pruned = time.monotonic()
                self.log.prune(self.config.events.retention_days, self.config.events.retention_mb)
                if self.sightings is not None:
                    self.sightings.prune(time.time())

    def expire(self, now: float) -> list[EventChange]:
        """End the events (track and face) not seen for `hold_s` before `now`: stored, streamed, published."""
        changes = self.builder.expire(now) + self.tracks.expire(now)
        self._emit(changes)
        self.scenes.expire(now)
        return changes

    def _dropped(self, frame: Frame) -> None:
        self.metrics.dropped.labels(frame.camera).inc()
        log.warning("frame dropped: the camera's queue is full", extra={"camera": frame.camera, "path": frame.path})

    # --- one frame -----------------------------------------------------------------------------------------------
    def process(self, frame: Frame) -> list[EventChange]:
        if self.log.processed(frame.path, frame.mtime):
            return []
        analysed = self._analyse(frame)
        if analysed is None:
            self.log.mark_processed(frame.path, frame.mtime)
            return []
        objects, faces, pixels = analysed
        self._note_frame(frame, pixels)
        # the hold time counts from when Vigil saw the frame, so a backlog cannot split one event into several
        now = time.time()
        reused = pixels is None  # frame skip: the last analysed frame's detections
        tracks, changes = self.tracks.observe(frame.camera, frame.mtime, now, None if reused else objects, frame.path)
        faces = with_track_ids(faces, tracks)
        if not reused:
            self.scenes.observe(frame.camera, frame.mtime, pixels, tracks, self.tracks.forgotten(frame.camera))
        changes, shown = self._face_events(frame, now, faces, tracks, changes)
        snapshots = self._snapshots(changes, frame.path, objects, faces, pixels)
        self.log.save([c for c in changes if c.type != "end"], snapshots, processed=(frame.path, frame.mtime),
                      shown=shown)
        if faces is not None and not reused:
            self._keep_sightings(frame.camera, now, faces)
        self._discover(frame.camera, shown)
        self._emit(changes)
        self.metrics.latency.observe(max(0.0, time.time() - frame.seen))
        return changes

    def _face_events(self, frame: Frame, now: float, faces: Detections | None, tracks: list[Track],
                     changes: list[EventChange]) -> tuple[list[EventChange], list[Event]]:
        """The frame's identity events after its track events; the open events the frame shows."""
        seen = face_sightings(faces)
        changes = changes + self.builder.observe(frame.camera, now, seen, frame.path)
        return changes, self.tracks.shown(frame.camera, tracks) + self.builder.shown(frame.camera, seen)

    def _note_frame(self, frame: Frame, pixels: np.ndarray | None) -> None:
        before = self.last_frames.get(frame.camera)
        thumbnail = thumbnail_jpeg(pixels) if pixels is not None else before.thumbnail if before else None
        self.last_frames[frame.camera] = LastFrame(time.time(), frame.path, thumbnail)

    def _analyse(self, frame: Frame) -> tuple[Detections, Detections | None, np.ndarray | None] | None:
        number = frame_number(os.path.basename(frame.path))
        reused = self.skip.reuse_at(frame.camera, number) if number is not None else None
        if reused is not None:
            self.metrics.frames.labels(frame.camera, "skipped").inc()
            return (*reused, None)
        try:
            decoded = self.executor.decode(Path(frame.path), full_size=True)
            objects, faces = self.executor.detect_frame(decoded, DetectParams(), self.executor.deadline()), None
            if frame.camera in self.config.cameras:  # the folder camera's masks, [cameras.<name>] masks
                objects = outside_masks(objects, self.config.cameras[frame.camera].masks)
        except VigilError as exc:
            self.metrics.frames.labels(frame.camera, "error").inc()
            log.warning("watched file is not a usable image", extra={"path": frame.path, "error": str(exc)})
            return None
        if self._faces_ok and has_person(objects):
            faces = self._recognize(decoded, frame.path)
        self._other_tasks(frame.camera, decoded)
        if number is not None:
            self.skip.remember_at(frame.camera, number, (objects, faces))
        self.metrics.frames.labels(frame.camera, "processed").inc()
        return objects, faces, decoded.pixels

    def _recognize(self, decoded: Any, path: str) -> Detections | None:
        try:
            executor = self.executor
            return executor.call(FACES, "recognize", decoded, path, CLUSTER_WAIT_S, deadline=executor.deadline())
        except VigilError as exc:  # e.g. face models not pulled: objects keep working, faces are off until restart
            log.error("face recognition is off for the watcher", extra={"error": str(exc)})
            self._faces_ok = False
            return None

    def _track_sighting(self, camera: str, now: float, face: Detections, event: Any) -> None:
        """A live camera's person track, ended: its best face is one sighting (with `track_id`), of its event."""
        self._keep_sightings(camera, now, face, lambda _name, _cluster: event)

    def _keep_sightings(self, camera: str, now: float, faces: Detections, event_of: Any = None) -> None:
        """Every checked face becomes a sighting in the gallery's database ([faces] sightings)."""
        with self._sightings_lock:
            if self.sightings is None and self.config.faces.sightings and len(faces):
                gallery = getattr(self.executor.recognizer, "gallery", None)
                if gallery is not None:
                    self.sightings = SightingKeeper(self.config, gallery, self.publisher, self.base_url)
                    self.sightings.prune(now)  # what outlived retention while Vigil was down
            if self.sightings is not None:
                self.sightings.observe(camera, now, faces, event_of or event_finder(self.builder, camera))

    def _other_tasks(self, camera: str, decoded: DecodedImage) -> None:
        """`[watch] tasks` beyond detect and faces: each one's answer on this frame, kept as the camera's latest and
        published as its state (MQTT `<prefix>/<camera>/<task>`). One that fails is logged; the frame goes on."""
        for name in self.config.watch.tasks:
            try:
                task = get(name)
                result = self.executor.run(name, decoded, task.options(), self.executor.deadline())
            except VigilError as exc:
                self.metrics.frames.labels(camera, "error").inc()
                log.warning("watched frame: a task failed", extra={"task": name, "camera": camera, "error": str(exc)})
                continue
            state = task.encode(camera, result)
            self.latest.setdefault(camera, {})[name] = state
            if self.publisher is not None:
                self.publisher.state(camera, name, state)

    def _snapshots(self, changes: list[EventChange], path: str, objects: Detections, faces: Detections | None,
                   pixels: np.ndarray | None) -> dict[int, bytes]:
        """One annotated JPEG of this frame for each event it is now the best frame of."""
        wanted = [c.event for c in changes if c.type != "end" and c.event.source == path]
        if not wanted or pixels is None or not self.config.events.snapshots:
            return {}
        jpeg = snapshot(pixels, objects, faces)
        return {id(e): jpeg for e in wanted}

    def _discover(self, camera: str, shown: list[Event]) -> None:
        if not shown:  # no event: a camera gets Home Assistant entities once it has made one
            return
        labels = {e.label for e in shown if e.label != FACE} | {PERSON}
        people = {e.name for e in shown if e.label == FACE and e.cluster_id is None and e.name} - self._people
        known = self._cameras.get(camera)
        if known is not None and labels <= known and not people:
            return
        self._cameras[camera] = (known or set()) | labels
        self._people |= people
        self.log.note_camera(camera, self._cameras[camera])
        if self.publisher is not None:
            self.publisher.discover(camera, self._cameras[camera], people)

    def _check_people(self) -> None:
        """People with a Home Assistant sensor who are no longer in the gallery (renamed, deleted, here or by
        another process) lose it: config and retained state cleared."""
        if self.publisher is None or not self._people:
            return
        try:
            gallery = self.executor.recognizer.gallery
            names = None if gallery is None else {p.name for p in gallery.people()}
        except VigilError:  # faces not available: nothing to compare with
            return
        if names is None:
            return
        for name in sorted(self._people - names):
            self.publisher.forget_person(name)
            log.info("person gone from the gallery: Home Assistant sensor removed", extra={"person": name})
        self._people &= names

    def _track_changes(self, changes: list[EventChange]) -> None:
        """A camera feed's events (one per track): stored, then streamed and published like the watcher's."""
        self.log.save([c for c in changes if c.type != "end"])
        self._emit(changes)

    def _emit(self, changes: list[EventChange], retained: bool = True) -> None:
        if not changes:
            return
        if any(c.type == "end" for c in changes):
            self.log.save([c for c in changes if c.type == "end"])
        # listeners get copies: the builder keeps changing its open events while an SSE client is still writing
        changes = [EventChange(c.type, replace(c.event)) for c in changes]
        for change in changes:
            if change.type == "new":
                self.metrics.events.labels(change.event.camera, change.event.label).inc()
        self.hub.publish(changes)
        if self.publisher is not None:
            self.publisher.publish(changes, retained)

    def camera_gone(self, camera: str) -> None:
        """The camera's folder was deleted: end its open events (nothing retained for it again), forget it, and
        take its device's sensors and retained states out of Home Assistant."""
        self._emit(self.builder.end_camera(camera, time.time()) + self.tracks.end_camera(camera), retained=False)
        self.last_frames.pop(camera, None)
        self.scenes.gone(camera)
        labels = self._cameras.pop(camera, None)
        if labels is None:
            return
        self.log.forget_camera(camera)
        if self.publisher is not None:
            self.publisher.forget_camera(camera, labels, self.config.watch.tasks)
        log.info("camera gone", extra={"camera": camera})


def _detector_labels(config: VigilConfig, executor: Executor) -> tuple[str, ...]:
    try:
        return executor.store.labels(config.detect.model)
    except (VigilError, OSError):  # not pulled yet: the detector's own load says so
        return ()

