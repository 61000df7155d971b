"""The reader for a source by its form: a stream URL (rtsp://, http(s)://), a folder of frames, or a video file."""

from __future__ import annotations

import re
from pathlib import Path

from vigil.errors import BadInput
from vigil.sources.frames import FolderSource, Source

STREAM = re.compile(r"^(rtsp|rtsps|rtmp|https?)://", re.I)


def open_source(source: str, fps: float | None = None, retries: int | None = 3, duration_s: float | None = None
                ) -> Source:
    """The reader for `source`: a stream URL, a folder, or a video file. BadInput when it is none of them.
    `fps` is a folder's frame rate; `retries`/`duration_s` bound a stream (None: reconnect for ever, read for ever)."""
    if STREAM.match(source):
        from vigil.sources.video import StreamSource

        return StreamSource(source, retries=retries, duration_s=duration_s)
    path = Path(source).expanduser()
    if path.is_dir():
        return FolderSource(path, fps)
    if not path.is_file():
        raise BadInput(f"{source}: no such file, folder or stream URL (rtsp://, http://, https://)")
    from vigil.sources.video import VideoSource

    return VideoSource(path)
