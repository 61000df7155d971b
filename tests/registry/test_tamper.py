"""A model file changed in place, its mtime put back: the sha256 cache must not vouch for it (issue 20, item 13)."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from vigil.errors import ModelIntegrityError
from vigil.registry.face_catalog import BLAZEFACE
from vigil.registry.store import ModelStore
from vigil.runtimes.session import open_session


def _flip_first_bit_keeping_mtime(path) -> None:
    before = path.stat()
    with path.open("r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # what `touch -d` can do; the ctime moves on
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


def test_a_bit_flipped_with_the_mtime_put_back_is_refused_at_load(tmp_path):
    pulled = ModelStore()
    pulled.pull(BLAZEFACE)  # a no-op once the models are pulled
    home = tmp_path / "vigil_home"
    shutil.copytree(pulled.folder(BLAZEFACE), home / "models" / BLAZEFACE)
    store = ModelStore(home)
    model = store.path(BLAZEFACE, "model")  # verified once: its hash is cached
    assert all(s.verified for s in store.status(BLAZEFACE))

    time.sleep(0.01)  # a ctime that cannot equal the copy's
    _flip_first_bit_keeping_mtime(model)
    with pytest.raises(ModelIntegrityError, match="sha256"):
        store.path(BLAZEFACE, "model")
    assert not any(s.verified for s in store.status(BLAZEFACE))

    _flip_first_bit_keeping_mtime(model)  # flipped back: verified again, and the model still loads and runs
    session = open_session(store.path(BLAZEFACE, "model"), "litert")
    assert session is not None and all(s.verified for s in store.status(BLAZEFACE))
