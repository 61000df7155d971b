"""Edge TPU compilation is delegated to Coral's compiler; here only the hand-off is checked, with a stand-in
executable (the real one is not installable on this machine: see the export test for the message users get)."""

from __future__ import annotations

import os
import stat

import pytest

from vigil.export.edgetpu import compile_edgetpu

STAND_IN = """#!/bin/sh
# edgetpu_compiler -s -o OUT_DIR MODEL: writes OUT_DIR/<stem>_edgetpu.tflite like the real one
out="$3"; model="$4"; stem=$(basename "$model" .tflite)
{exit_code}
cp "$model" "$out/${{stem}}_edgetpu.tflite"; echo "Model compiled successfully"
"""


@pytest.mark.parametrize("exit_code, compiled", [("", True), ("echo 'unsupported op' >&2; exit 1", False)])
def test_compiler_on_path_is_run_with_the_model(tmp_path, monkeypatch, exit_code, compiled):
    tools = tmp_path / "bin"
    tools.mkdir()
    compiler = tools / "edgetpu_compiler"
    compiler.write_text(STAND_IN.format(exit_code=exit_code))
    compiler.chmod(compiler.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    model = tmp_path / "model.int8.tflite"
    model.write_bytes(b"TFL3 model bytes")
    result = compile_edgetpu(model)
    if compiled:
        assert result.compiled == tmp_path / "model.int8_edgetpu.tflite"
        assert result.compiled.read_bytes() == model.read_bytes() and "compiled successfully" in result.message
    else:
        assert result.compiled is None and "unsupported op" in result.message
