"""The model cache: pull files from their sources, check sha256 on pull and on load, convert once.

Layout under `$VIGIL_HOME/models/<name>/`: the model's files by their declared names, plus
`derived.json` recording the sha256 of anything converted at pull (e.g. darknet → ONNX), so a
converted file is checked on load just like a downloaded one.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from vigil.errors import ModelIntegrityError, NotFound
from vigil.registry import fetch
from vigil.registry.catalog import builtin_specs
from vigil.registry.fetch import sha256_of
from vigil.registry.specs import SAFE_NAME, ModelFile, ModelSpec

log = logging.getLogger(__name__)
DERIVED = "derived.json"
INT8 = "model.int8.onnx"
_DERIVED_FILES = {"onnx": "model.onnx", "onnx_int8": INT8}


def default_home() -> Path:
    """$VIGIL_HOME, else ~/.cache/vigil: the one definition of the default model cache."""
    return Path(os.environ.get("VIGIL_HOME", "~/.cache/vigil")).expanduser()


@dataclass(frozen=True)
class FileStatus:
    role: str
    path: Path
    present: bool
    verified: bool


class ModelStore:
    def __init__(self, home: Path | None = None, extra_specs: list[ModelSpec] | None = None) -> None:
        self.home = home or default_home()
        self.specs: dict[str, ModelSpec] = {s.name: s for s in [*builtin_specs(), *(extra_specs or [])]}
        for spec in _load_user_manifests(self.home / "manifests"):
            self.specs[spec.name] = spec

    def spec(self, name: str) -> ModelSpec:
        try:
            return self.specs[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self.specs), n=3, cutoff=0.4)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(self.specs))}"
            raise NotFound(f"unknown model {name!r}{hint}") from None

    def folder(self, name: str) -> Path:
        """The model's folder, refused (NotFound) unless it resolves inside $VIGIL_HOME/models."""
        return contained(self.home / "models", name)

    def pull(self, name: str) -> Path:
        """Make every file of `name` present and verified; convert if the spec asks. Returns the folder."""
        spec = self.spec(name)
        for role, file in spec.files.items():
            self._pull_file(spec, role, file)
        if spec.convert:
            self._convert(spec)
        if spec.quantize:
            self._ensure_int8(name)
        return self.folder(name)

    def _pull_file(self, spec: ModelSpec, role: str, file: ModelFile) -> None:
        target = contained(self.home / "models", spec.name, file.name)
        if target.is_file() and sha256_of(target) == file.sha256:
            return
        errors = []
        for source in file.sources:
            part = fetch.temporary_path(target.parent, file.name)
            try:
                fetch.fetch(source, part, self.home / "downloads")
                got = sha256_of(part)
                if got != file.sha256:
                    raise ModelIntegrityError(f"sha256 {got[:12]}… != expected {file.sha256[:12]}…")
                part.replace(target)  # atomic: a half-written file never carries the final name
                log.info("%s: %s ready from %s", spec.name, file.name, source.describe())
                return
            except (NotFound, ModelIntegrityError, OSError) as exc:
                errors.append(f"{source.describe()}: {exc}")
            finally:
                part.unlink(missing_ok=True)
        raise NotFound(f"{spec.name}: could not get {role} file {file.name}: " + "; ".join(errors))

    def _convert(self, spec: ModelSpec) -> None:
        folder = self.folder(spec.name)
        out = folder / "model.onnx"
        record = self._derived(spec.name)
        if out.is_file() and record.get("recipe") == _recipe(spec) and record.get(out.name) == sha256_of(out):
            return
        part = fetch.temporary_path(folder, out.name)
        try:
            _CONVERTERS[spec.convert](spec, folder, part)
            part.replace(out)
        finally:
            part.unlink(missing_ok=True)
        self._record(spec.name, {out.name: sha256_of(out), "recipe": _recipe(spec)}, replace=True)

    def _ensure_int8(self, name: str) -> None:
        """Quantize at pull only when the int8 file is missing, corrupt, made from an older fp32 file, or with weight
        bits wrong for this CPU (a cache made on a VNNI machine, used on one without), so a user's own calibration
        (`vigil models quantize`) survives later pulls."""
        from vigil.registry.quantize import has_vnni

        record, out = self._derived(name), self.folder(name) / INT8
        fresh = record.get("int8_source") == record.get("model.onnx") and \
            record.get("int8_weights", "8-bit") == _weight_bits(has_vnni())
        if out.is_file() and fresh and record.get(INT8) == sha256_of(out):
            return
        self.quantize(name)

    def quantize(self, name: str, calibration: list[Path] | None = None) -> Path:
        """Make `model.int8.onnx`, calibrated on `calibration` images or the spec's declared calibration files."""
        from vigil.registry.quantize import calibration_tensors, has_vnni, quantize_onnx

        spec = self.spec(name)
        folder = self.folder(name)
        out = folder / INT8
        images = calibration or [self.path(name, role) for role in spec.calibration_roles]
        part = fetch.temporary_path(folder, INT8)
        try:
            quantize_onnx(self.path(name, spec.artifact_role), part, "images", calibration_tensors(spec, images))
            part.replace(out)
        finally:
            part.unlink(missing_ok=True)
        source = self._derived(name).get("model.onnx", "")
        self._record(name, {INT8: sha256_of(out), "int8_source": source, "int8_weights": _weight_bits(has_vnni()),
                            "int8_calibration": ", ".join(p.name for p in images)})
        return out

    def _record(self, name: str, values: dict[str, str], replace: bool = False) -> None:
        record = {} if replace else self._derived(name)
        path = self.folder(name) / DERIVED
        part = fetch.temporary_path(path.parent, DERIVED)
        part.write_text(json.dumps({**record, **values}, indent=2))
        part.replace(path)

    def _derived(self, name: str) -> dict[str, str]:
        path = self.folder(name) / DERIVED
        return json.loads(path.read_text()) if path.is_file() else {}

    def path(self, name: str, role: str) -> Path:
        """The verified path of one file of an already pulled model (sha256 checked now)."""
        spec = self.spec(name)
        if role in _DERIVED_FILES and (spec.convert or spec.quantize):
            file = _DERIVED_FILES[role]
            target, expected = self.folder(name) / file, self._derived(name).get(file)
        else:
            if role not in spec.files:
                raise NotFound(f"{name} has no {role} file")
            target, expected = self.folder(name) / spec.files[role].name, spec.files[role].sha256
        if not target.is_file() or expected is None:
            raise NotFound(f"{name}: {target.name} is not in the cache (looked in {target.parent}); run "
                           f"`vigil models pull {name}` with this [store] home")
        got = sha256_of(target)
        if got != expected:
            raise ModelIntegrityError(
                f"{name}: {target} has sha256 {got[:12]}…, expected {expected[:12]}…; the file is corrupt or was "
                f"replaced. Delete it and run `vigil models pull {name}`."
            )
        return target

    def status(self, name: str) -> list[FileStatus]:
        spec = self.spec(name)
        out = []
        for role, file in spec.files.items():
            target = self.folder(name) / file.name
            out.append(FileStatus(role, target, target.is_file(),
                                  target.is_file() and sha256_of(target) == file.sha256))
        derived = [("onnx", "model.onnx")] if spec.convert else []
        derived += [("onnx_int8", INT8)] if spec.quantize else []
        for role, file in derived:
            target = self.folder(name) / file
            ok = target.is_file() and self._derived(name).get(file) == sha256_of(target)
            out.append(FileStatus(role, target, target.is_file(), ok))
        return out

    def labels(self, name: str) -> tuple[str, ...]:
        spec = self.spec(name)
        if spec.labels:
            return spec.labels
        if spec.labels_file:
            text = self.path(name, spec.labels_file).read_text()
            return tuple(line.strip() for line in text.splitlines() if line.strip())
        return ()


def _darknet(spec: ModelSpec, folder: Path, out: Path) -> None:
    from vigil.registry.darknet import darknet_to_onnx

    darknet_to_onnx(folder / spec.files["cfg"].name, folder / spec.files["weights"].name, out, spec.cfg_overrides)


def _dlib_resnet(spec: ModelSpec, folder: Path, out: Path) -> None:
    from vigil.registry.dlib_onnx import dlib_resnet_to_onnx

    dlib_resnet_to_onnx(folder / spec.files["model"].name, out)


def _unused_inputs(spec: ModelSpec, folder: Path, out: Path) -> None:
    from vigil.registry.onnx_graph import without_unused_inputs

    without_unused_inputs(folder / spec.files["model"].name, out)


_CONVERTERS = {"darknet_to_onnx": _darknet, "dlib_resnet_to_onnx": _dlib_resnet,
               "onnx_without_unused_inputs": _unused_inputs}


def contained(base: Path, *parts: str) -> Path:
    """base/parts…, refused unless every part is a safe name and the resolved target stays inside base
    (a symlinked component pointing out is refused too)."""
    target = base.joinpath(*parts)
    for part in parts:
        if not re.fullmatch(SAFE_NAME, part):
            raise NotFound(f"{part[:80]!r} is not a valid model or file name")
    if not target.resolve().is_relative_to(base.resolve()):
        raise NotFound(f"{'/'.join(parts)[:120]} resolves outside {base.name}/")
    return target


def _recipe(spec: ModelSpec) -> str:
    """What a converted file was made from: inputs, corrections and converter version. A change converts again."""
    if spec.convert == "onnx_without_unused_inputs":
        from vigil.registry.onnx_graph import CONVERTER_VERSION as GRAPH_VERSION

        parts = [spec.files["model"].sha256, f"onnx_without_unused_inputs {GRAPH_VERSION}"]
    elif spec.convert == "dlib_resnet_to_onnx":
        from vigil.registry.dlib_onnx import CONVERTER_VERSION as DLIB_VERSION

        parts = [spec.files["model"].sha256, f"dlib_resnet_to_onnx {DLIB_VERSION}"]
    else:
        from vigil.registry.darknet import CONVERTER_VERSION

        parts = [spec.files["cfg"].sha256, spec.files["weights"].sha256,
                 json.dumps(spec.cfg_overrides, sort_keys=True), str(CONVERTER_VERSION)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _load_user_manifests(folder: Path) -> list[ModelSpec]:
    """User-supplied models: one JSON manifest a file, validated like the built-in ones."""
    if not folder.is_dir():
        return []
    specs = []
    for path in sorted(folder.glob("*.json")):
        try:
            specs.append(ModelSpec.model_validate_json(path.read_text()))
        except ValueError as exc:
            raise ModelIntegrityError(f"{path}: invalid model manifest: {exc}") from None
    return specs


def _weight_bits(vnni: bool) -> str:
    """How many bits the int8 detector's weights use on this CPU (registry/quantize.py: has_vnni)."""
    return "8-bit" if vnni else "7-bit"
