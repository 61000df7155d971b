"""The folder watcher: new image files under the watched folders become queued frames, each with its camera.

watchdog (inotify on Linux, imported only when `[watch] dirs` is set) reports a file when its writer closes it
(IN_CLOSE_WRITE) or renames it into place, so a half-written file is never read. Where no close event comes (a
polling observer), a file counts as complete once its size and mtime have not changed for the settle time. A new folder
is the one gap in inotify: a file written and closed in it before its watch was added (ZoneMinder's first alarm frame
of an event, in the event's new folder) gives no close event, so files appearing in a folder younger than
FRESH_WINDOW_S count as complete after FRESH_SETTLE_S of stable size, unless a process we can see (our own user's,
or any as root) still has the file open for writing: then its close, which inotify now reports, decides.

Frames wait in a bounded queue per camera, and all cameras together in a bounded total; when either is full the
oldest frame (of that camera, or of all) is dropped and counted.

A file whose name is not UTF-8 cannot be logged as processed, so it is skipped with a warning. A failure in one file
never stops the watcher's threads; should one die anyway, `alive` turns false (the service's readiness) and
`revive` starts it again and catches up on what it missed.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vigil.config.events import WatchConfig
from vigil.events.openfiles import open_for_writing

log = logging.getLogger(__name__)
INOTIFY_FALLBACK_S = 10.0  # with inotify, a file in an older folder that never reports its close: a safety net
FRESH_WINDOW_S = 2.0  # a folder this young may hold files written before inotify watched it
FRESH_SETTLE_S = 0.3  # ... which count as complete after this long unchanged
TICK_S = 0.2
QUEUE_TOTAL = 64  # frames waiting across all cameras (~5 s of work at 10 frames/s)


@dataclass(frozen=True)
class Frame:
    path: str
    camera: str
    mtime: float
    seen: float  # time.time() when the watcher found the file complete


class CameraNamer:
    """The camera of a path: the pattern's `camera` group on the path relative to its watched folder, or the first
    folder below the watched folder (ZoneMinder's monitor id); a file matching neither gets the default camera."""

    def __init__(self, roots: list[Path], pattern: str, default: str) -> None:
        self.roots = [str(Path(r).resolve()) for r in roots]
        self.default = default
        self.pattern = re.compile(pattern) if pattern else None
        if self.pattern is not None and "camera" not in self.pattern.groupindex:
            raise ValueError(f"[watch] camera_pattern {pattern!r} has no (?P<camera>...) group")

    def root_of(self, path: str) -> str | None:
        return next((r for r in self.roots if path.startswith(r.rstrip("/") + "/")), None)

    def camera(self, path: str) -> str:
        root = self.root_of(path)
        relative = path[len(root) + 1:] if root else path
        if self.pattern is not None:
            match = self.pattern.search(relative)
            return match.group("camera") if match and match.group("camera") else self.default
        parts = relative.split("/")
        return parts[0] if len(parts) > 1 and parts[0] else self.default


class FrameQueue:
    """Bounded per camera; `get` serves cameras in turn so a busy camera cannot starve a quiet one."""

    def __init__(self, per_camera: int, on_drop: Callable[[Frame], None], total: int = QUEUE_TOTAL) -> None:
        self.per_camera, self.on_drop, self.total = per_camera, on_drop, total
        self._size = 0
        self._queues: dict[str, deque[Frame]] = {}
        self._turn: deque[str] = deque()
        self._ready = threading.Condition()

    def put(self, frame: Frame) -> None:
        dropped = None
        with self._ready:
            queue = self._queues.setdefault(frame.camera, deque())
            if len(queue) >= self.per_camera:
                dropped = queue.popleft()
            elif self._size >= self.total:
                dropped = self._pop_oldest()
            else:
                self._size += 1
            queue.append(frame)
            if frame.camera not in self._turn:
                self._turn.append(frame.camera)
            self._ready.notify()
        if dropped is not None:
            self.on_drop(dropped)

    def get(self, timeout: float) -> Frame | None:
        with self._ready:
            if not self._turn and not self._ready.wait_for(lambda: bool(self._turn), timeout):
                return None
            camera = self._turn.popleft()
            queue = self._queues[camera]
            frame = queue.popleft()
            self._size -= 1
            if queue:
                self._turn.append(camera)
            return frame

    def _pop_oldest(self) -> Frame:
        """The frame found longest ago, across cameras (under the lock)."""
        camera = min((q[0].seen, c) for c, q in self._queues.items() if q)[1]
        queue = self._queues[camera]
        frame = queue.popleft()
        if not queue:
            self._turn.remove(camera)
        return frame

    def __len__(self) -> int:
        with self._ready:
            return self._size


class FolderWatcher:
    def __init__(self, config: WatchConfig, queue: FrameQueue, processed: Callable[[str, float], bool],
                 newest_processed: Callable[[str], float | None],
                 camera_gone: Callable[[str], None] = lambda camera: None) -> None:
        self.config, self.queue = config, queue
        self.namer = CameraNamer(config.dirs, config.camera_pattern, config.default_camera)
        self._processed, self._newest, self._camera_gone = processed, newest_processed, camera_gone
        self._extensions = tuple(e.lower() for e in config.extensions)
        self._pending: dict[str, tuple[int, float, float, float]] = {}  # path → size, mtime, last change, settle
        self._fresh: dict[str, float] = {}  # folder → monotonic time it appeared
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._observer: Any = None
        self._settle_s = config.settle_s
        self._thread: threading.Thread | None = None

    def start(self) -> FolderWatcher:
        from watchdog.observers import Observer

        for root in self.namer.roots:
            if not os.path.isdir(root):
                raise FileNotFoundError(f"[watch] dirs: {root} is not a folder")
        self._observer = self._observe(Observer())
        self._thread = threading.Thread(target=self._settle_guarded, name="vigil-watch-settle", daemon=True)
        self._thread.start()
        for root in self.namer.roots:
            self._catch_up(root)
        log.info("watching folders", extra={"dirs": self.namer.roots, "observer": type(self._observer).__name__})
        return self

    def _observe(self, observer: Any) -> Any:
        if "Inotify" in type(observer).__name__:
            self._settle_s = max(self._settle_s, INOTIFY_FALLBACK_S)  # close events are the rule, this the fallback
        for root in self.namer.roots:
            observer.schedule(_handler(self), root, recursive=True)
        observer.start()
        return observer

    @property
    def alive(self) -> bool:
        """Both threads running (the observer's and the settle loop): what readiness reports."""
        threads = (self._observer, self._thread)
        return not self._stop.is_set() and all(t is not None and t.is_alive() for t in threads)

    def revive(self) -> bool:
        """Restart a thread that died, then queue what it missed; True when something was restarted."""
        if self.alive or self._stop.is_set() or self._thread is None:
            return False
        log.error("a watcher thread died; restarting it", extra={"dirs": self.namer.roots})
        if not self._observer.is_alive():
            self._observer = self._observe(type(self._observer)())
        if not self._thread.is_alive():
            self._thread = threading.Thread(target=self._settle_guarded, name="vigil-watch-settle", daemon=True)
            self._thread.start()
        for root in self.namer.roots:
            self._catch_up(root)
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
        if self._thread is not None:
            self._thread.join(5)

    # --- from the observer thread ------------------------------------------------------------------------------
    def is_frame(self, path: str) -> bool:
        return path.lower().endswith(self._extensions) and not os.path.basename(path).startswith(".")

    def complete(self, path: str) -> None:
        """The writer closed the file (or renamed it into place): queue it now."""
        with self._lock:
            self._pending.pop(path, None)
        self._offer(path)

    def changed(self, path: str) -> None:
        """Created or written, not yet closed: a candidate for the settle-time fallback."""
        now = time.monotonic()
        with self._lock:
            born = self._fresh.get(os.path.dirname(path))
            settle = FRESH_SETTLE_S if born is not None and now - born < FRESH_WINDOW_S else self._settle_s
            self._pending[path] = (-1, -1.0, now, settle)

    def folder_created(self, path: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._fresh = {p: t for p, t in self._fresh.items() if now - t < FRESH_WINDOW_S}
            self._fresh[path] = now

    def folder_deleted(self, path: str) -> None:
        root = self.namer.root_of(path)
        if root and self.namer.pattern is None and "/" not in path[len(root) + 1:]:
            self._camera_gone(os.path.basename(path))

    def _offer(self, path: str) -> None:
        try:
            path.encode()
        except UnicodeEncodeError:  # bytes that are not UTF-8 (os.fsdecode's surrogates): the log cannot hold it
            log.warning("watched file skipped: its name is not UTF-8",
                        extra={"path": os.fsencode(path).decode(errors="backslashreplace")})
            return
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return  # gone again (a temporary file renamed away)
        if self._processed(path, mtime):
            return
        self.queue.put(Frame(path, self.namer.camera(path), mtime, time.time()))

    def _settle_guarded(self) -> None:
        while not self._stop.is_set():
            try:
                self._settle_loop()
            except Exception:  # e.g. the log briefly unreadable: one pass fails, the loop goes on
                log.exception("the watcher's settle pass failed")
                self._stop.wait(TICK_S)

    def _settle_loop(self) -> None:
        while not self._stop.wait(TICK_S):
            now = time.monotonic()
            ready = []
            with self._lock:
                for path, (size, mtime, since, settle) in list(self._pending.items()):
                    try:
                        st = os.stat(path)
                    except OSError:
                        del self._pending[path]
                        continue
                    if (st.st_size, st.st_mtime) != (size, mtime):
                        self._pending[path] = (st.st_size, st.st_mtime, now, settle)
                    elif now - since >= settle and st.st_size > 0:
                        del self._pending[path]
                        ready.append((path, settle))
            for path, settle in ready:
                if open_for_writing(path):  # a paused writer: look again later (or its close event comes first)
                    with self._lock:
                        self._pending.setdefault(path, (-1, -1.0, time.monotonic(), settle))
                    continue
                self._offer(path)

    def _catch_up(self, root: str) -> None:
        """Frames written while Vigil was down (newer than the newest one processed below `root`) are queued."""
        newest = self._newest(root)
        if newest is None:
            return  # first start: the folder's history is not news
        for folder, _, files in os.walk(root):
            for name in files:
                path = os.path.join(folder, name)
                if self.is_frame(path):
                    try:
                        if os.stat(path).st_mtime >= newest:
                            self._offer(path)
                    except OSError:
                        continue


def _handler(watcher: FolderWatcher) -> Any:
    """A watchdog handler feeding `watcher` (built here so watchdog is imported only when a folder is watched)."""
    from watchdog.events import FileSystemEventHandler

    class Handler(FileSystemEventHandler):
        def dispatch(self, event: Any) -> None:
            try:
                super().dispatch(event)
            except Exception:  # one file must not end the observer's thread
                log.exception("a watched file event failed", extra={"path": os.fsencode(event.src_path).decode(
                    errors="backslashreplace")})

        def on_closed(self, event: Any) -> None:
            if not event.is_directory and watcher.is_frame(event.src_path):
                watcher.complete(event.src_path)

        def on_moved(self, event: Any) -> None:
            if not event.is_directory and watcher.is_frame(event.dest_path):
                watcher.complete(event.dest_path)

        def on_created(self, event: Any) -> None:
            if event.is_directory:
                watcher.folder_created(event.src_path)
            elif watcher.is_frame(event.src_path):
                watcher.changed(event.src_path)

        def on_modified(self, event: Any) -> None:
            if not event.is_directory and watcher.is_frame(event.src_path):
                watcher.changed(event.src_path)

        def on_deleted(self, event: Any) -> None:
            if event.is_directory:
                watcher.folder_deleted(event.src_path)

    return Handler()
