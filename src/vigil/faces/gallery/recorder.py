"""Strangers are filed by one background thread, off the request path: a gallery held locked by another writer
delays the filing, never a recognition. A failure is logged; a full backlog drops the newest sightings (logged)."""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
BACKLOG = 256  # sightings waiting to be filed


class StrangerRecorder:
    def __init__(self, gallery: Any, cluster_distance: float) -> None:
        self.gallery, self.cluster_distance = gallery, cluster_distance
        self._queue: queue.Queue = queue.Queue(BACKLOG)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def record(self, embedding: np.ndarray, thumbnail: bytes, source: str) -> Future:
        """Queue a sighting; the future gives its cluster id once filed (-1 when dropped or failed)."""
        self._ensure_thread()
        filed: Future = Future()
        try:
            self._queue.put_nowait((np.array(embedding, np.float32), thumbnail, source, filed))
        except queue.Full:
            log.warning("stranger not recorded: backlog full", extra={"source": source, "backlog": BACKLOG})
            filed.set_result(-1)
        return filed

    @staticmethod
    def cluster_of(filed: Future, wait_s: float) -> int:
        try:
            return int(filed.result(timeout=wait_s))
        except FutureTimeout:
            return -1

    def wait(self) -> None:
        """Until everything recorded so far is filed (tests, CLI)."""
        self._queue.join()

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="strangers", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            embedding, thumbnail, source, filed = self._queue.get()
            try:
                filed.set_result(self.gallery.add_stranger(embedding, thumbnail, source, self.cluster_distance))
            except Exception:
                log.exception("recording a stranger failed", extra={"source": source})
                filed.set_result(-1)
            finally:
                self._queue.task_done()
