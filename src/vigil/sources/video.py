"""Video files and RTSP/HTTP(S) streams through PyAV (FFmpeg), the only module that imports `av`.

A file is read packet by packet: a packet that does not decode is one dropped frame, counted and logged, and the
frames after it still come; a file whose index is broken is read in stream order, which needs no index. A stream
that drops is reopened with back-off (0.5 s, doubling, at most 30 s); each drop is counted and logged, and
`on_drop`/`on_online` let a camera publish it. A reconnect never looks
like time going back: its times are the stream's timestamps counted from when the connection's first frame
arrived.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from vigil.errors import BadInput
from vigil.sources.frames import Frame, Source

log = logging.getLogger(__name__)
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.5, 30.0
OPEN_TIMEOUT_S, READ_TIMEOUT_S = 5.0, 5.0


def _av():
    try:
        import av
    except ImportError as exc:
        raise BadInput("reading videos and streams needs PyAV: pip install 'vigil[tracks]'") from exc
    av.logging.set_level(av.logging.PANIC)  # FFmpeg's own chatter: Vigil logs what matters itself
    return av


class VideoSource(Source):
    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path
        self.rate: float | None = None  # frames a second, known once the file is open

    def frames(self) -> Iterator[Frame]:
        av = _av()
        try:
            container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError) as exc:
            raise BadInput(f"{self.path}: not a readable video: {exc}") from None
        with container:
            if not container.streams.video:
                raise BadInput(f"{self.path}: has no video stream")
            yield from self._decode(av, container, container.streams.video[0])

    def _decode(self, av, container, stream) -> Iterator[Frame]:
        rate = self.rate = float(stream.average_rate or stream.guessed_rate or 25)
        index = decoded = 0
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as exc:
                    self.counters.drop(f"frame {index}: does not decode ({exc}); dropped", self.name)
                    index += 1
                    continue
                for frame in frames:
                    when = frame.time if frame.time is not None else index / rate
                    yield Frame(index, float(when), frame.to_ndarray(format="rgb24"))
                    index, decoded = index + 1, decoded + 1
        except av.error.FFmpegError as exc:  # the container itself breaks off
            self.counters.note(f"{self.name}: reading stopped after frame {index}: {exc}")
        if decoded == 0:
            raise BadInput(f"{self.path}: no frame could be decoded (a truncated or corrupt video?)")
        if stream.frames and index < stream.frames:
            self.counters.note(f"{self.name}: ends after {index} of the {stream.frames} frames its header announces "
                               f"(truncated?)")


class StreamSource(Source):
    def __init__(self, url: str, retries: int | None = 3, duration_s: float | None = None,
                 on_drop: Callable[[str], None] | None = None, on_online: Callable[[], None] | None = None) -> None:
        """`retries`: failed opens in a row before giving up (None: never); `duration_s`: stop after this long."""
        super().__init__(url)
        self.url, self.retries, self.duration_s = url, retries, duration_s
        self.on_drop, self.on_online = on_drop, on_online
        self.connected = False

    def frames(self) -> Iterator[Frame]:
        av = _av()
        start = time.monotonic()
        failures, delay, index = 0, BACKOFF_FIRST_S, 0
        while self.duration_s is None or time.monotonic() - start < self.duration_s:
            try:
                container = av.open(self.url, options=self._options(), timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S))
            except (av.error.FFmpegError, OSError) as exc:
                failures += 1
                self.counters.note(f"{self.url}: cannot connect ({exc}); attempt {failures}")
                if self.retries is not None and failures > self.retries:
                    self._give_up(failures, exc)
                    return
                time.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            failures, delay = 0, BACKOFF_FIRST_S
            self.counters.reconnects += int(self.connected)
            self.connected = True
            if self.on_online:
                self.on_online()
            with container:
                for frame in self._read(av, container, start):
                    yield Frame(index, frame[0], frame[1])
                    index += 1
                    if self.duration_s is not None and time.monotonic() - start >= self.duration_s:
                        return
            self.counters.drops += 1
            self.counters.note(f"{self.url}: the stream dropped (drop {self.counters.drops}); reconnecting")
            if self.on_drop:
                self.on_drop(self.url)

    def _options(self) -> dict[str, str]:
        return {"rtsp_transport": "tcp"} if self.url.lower().startswith("rtsp") else {}

    def _read(self, av, container, start: float) -> Iterator[tuple[float, object]]:
        """(time, pixels) per frame: the stream's own timestamps, from when its first frame arrived on this
        connection (a burst of buffered frames keeps its spacing; a reconnect starts from its arrival)."""
        last_pts = None
        first: tuple[float, float] | None = None
        try:
            for packet in container.demux(video=0):
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError as exc:
                    self.counters.drop(f"a frame does not decode ({exc}); dropped", self.name)
                    continue
                for frame in decoded:
                    if frame.pts is not None and last_pts is not None and frame.pts <= last_pts:
                        self.counters.drop(f"frame pts {frame.pts} is not after {last_pts}: out of order, dropped",
                                           self.name)
                        continue
                    last_pts = frame.pts if frame.pts is not None else last_pts
                    arrived = time.monotonic() - start
                    if frame.time is None:
                        yield arrived, frame.to_ndarray(format="rgb24")
                        continue
                    if first is None:
                        first = (arrived, frame.time)
                    yield first[0] + frame.time - first[1], frame.to_ndarray(format="rgb24")
        except (av.error.FFmpegError, OSError) as exc:
            self.counters.note(f"{self.url}: read failed: {exc}")

    def _give_up(self, failures: int, exc: Exception) -> None:
        message = f"{self.url}: gave up after {failures} failed connection attempts: {exc}"
        if not self.connected:
            raise BadInput(message)
        self.counters.note(message)
