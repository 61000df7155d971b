"""The one person-name rule (faces.gallery.schema.person_name) as a table, and a folder tree with one folder outside
it refused before anything is enrolled (the web page, /v1, /v2 and the CLI all pass through it)."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.conftest import fixture_image
from vigil.errors import BadInput
from vigil.faces.enroll import enroll_tree
from vigil.faces.gallery.schema import NAME_PATTERN, STORED_NAME_PATTERN, person_name


@pytest.mark.parametrize(("name", "stored_as"), [
    ("alice", "alice"), ("  Bob Smith  ", "Bob Smith"), ("O'Brien-Lee Jr.", "O'Brien-Lee Jr."), ("李娜", "李娜"),
    ("user_2", "user_2"), ("x" * 200, "x" * 200),
    ("0*", BadInput), ("-x", BadInput), (".hidden", BadInput), ("a/b", BadInput), ("ann (2)", BadInput),
    ("a\x00b", BadInput), ("", BadInput), ("   ", BadInput), ("x" * 201, BadInput), (None, BadInput),
])
def test_the_name_rule(name, stored_as):
    if stored_as is BadInput:
        with pytest.raises(BadInput, match="invalid person name"):
            person_name(name)
    else:
        assert person_name(name) == stored_as and re.fullmatch(NAME_PATTERN, stored_as)
        assert re.fullmatch(STORED_NAME_PATTERN, stored_as)  # every new name is also a name routes can find


def test_a_tree_with_a_folder_outside_the_rule_enrols_nothing(tmp_path):
    for folder in ("alice", "bo+b"):
        (tmp_path / folder).mkdir()
        shutil.copyfile(fixture_image("messi5.jpg"), tmp_path / folder / "1.jpg")
    with pytest.raises(BadInput, match=re.escape("'bo+b'")):
        enroll_tree(None, tmp_path)  # refused before the recogniser (none here) is ever asked for a face
