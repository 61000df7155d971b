"""Edge TPU compilation: Coral's `edgetpu_compiler` (x86-64 Debian package from Coral's own apt repository, not
on the package registries this project can reach) when it is on PATH; otherwise the command to run elsewhere."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

COMPILER = "edgetpu_compiler"


@dataclass(frozen=True)
class EdgeTpuResult:
    compiled: Path | None
    message: str
    command: str


def compile_edgetpu(tflite: Path) -> EdgeTpuResult:
    out_dir = tflite.parent
    command = f"{COMPILER} -s -o {out_dir} {tflite}"
    exe = shutil.which(COMPILER)
    if exe is None:
        return EdgeTpuResult(None, f"{COMPILER} is not on PATH here (Coral ships it only for x86-64 Debian/Ubuntu, "
                             "from Coral's apt repository). Run this where it is installed, then copy "
                             f"{tflite.stem}_edgetpu.tflite back into {out_dir}:", command)
    done = subprocess.run([exe, "-s", "-o", str(out_dir), str(tflite)], capture_output=True, text=True)
    compiled = out_dir / f"{tflite.stem}_edgetpu.tflite"
    if done.returncode != 0 or not compiled.is_file():
        return EdgeTpuResult(None, f"{COMPILER} failed: {(done.stderr or done.stdout).strip()[-500:]}", command)
    return EdgeTpuResult(compiled, done.stdout.strip()[-500:], command)
