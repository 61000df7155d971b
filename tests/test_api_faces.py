"""The flat facade's face verbs."""

from __future__ import annotations

import pytest

import vigil.api as vigil
from vigil.config.settings import VigilConfig
from vigil.errors import BadInput
from vigil.registry.samples import sample_path


def test_enroll_then_recognize(tmp_path):
    vigil.executor(VigilConfig(store={"data_dir": tmp_path}))
    assert vigil.enroll("Obama", [sample_path("obama.jpg")]).samples == 1
    assert list(vigil.recognize(sample_path("obama2.jpg")).data["name"]) == ["Obama"]
    assert list(vigil.recognize(sample_path("biden.jpg")).data["name"]) == ["unknown"]
    with pytest.raises(BadInput):
        vigil.recognize(b"not an image")
