"""Is some process still writing this file? Linux only, and only for processes this user may inspect (its own, or
all of them as root); elsewhere the answer is "no one we can see", and the settle time alone decides."""

from __future__ import annotations

import os

_WRITE = os.O_WRONLY | os.O_RDWR


def open_for_writing(path: str, proc: str = "/proc") -> bool:
    """True when a visible process holds `path` open for writing."""
    try:
        target = os.stat(path)
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return False
    for pid in pids:
        fds = f"{proc}/{pid}/fd"
        try:
            names = os.listdir(fds)
        except OSError:
            continue  # gone, or not ours to see
        for fd in names:
            try:
                st = os.stat(f"{fds}/{fd}")
                if (st.st_dev, st.st_ino) != (target.st_dev, target.st_ino):
                    continue
                with open(f"{proc}/{pid}/fdinfo/{fd}") as info:
                    flags = next(int(line.split()[1], 8) for line in info if line.startswith("flags:"))
            except (OSError, StopIteration, ValueError):
                continue
            if flags & _WRITE:
                return True
    return False
