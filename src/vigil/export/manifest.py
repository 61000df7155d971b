"""Model manifests for a run folder's exported forms, and their registration in the model store.

Each form is a store model: `<name>` is the serving default (the int8 ONNX when present, else fp32), and
`<name>.fp32`, `<name>.int8`, `<name>.litert`, `<name>.edgetpu` name each form explicitly. Files are PathSources
pointing into the run folder with their sha256, so `pull` copies and verifies them like any other model.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from vigil.errors import ModelIntegrityError
from vigil.registry.specs import InputSpec, ModelFile, ModelSpec, PathSource
from vigil.registry.store import ModelStore, contained, sha256_of


@dataclass(frozen=True)
class Form:
    """One export form: its file in the run folder and, for a servable form, its manifest."""

    file: str
    suffix: str | None = None  # the store name is `<run name><suffix>`; None: not a servable model
    format: str = ""
    runtime: str = ""


FORMS = {  # the one table of export forms, in the order `vigil export --to` lists them
    "onnx": Form("model.onnx", ".fp32", "onnx", "onnxruntime"),
    "onnx-int8": Form("model.int8.onnx", ".int8", "onnx", "onnxruntime"),
    "litert-int8": Form("model.int8.tflite", ".litert", "tflite", "litert"),
    "c-array": Form("model_int8"),  # .h + .cc for TFLM, not a store model
    "edgetpu": Form("model.int8_edgetpu.tflite", ".edgetpu", "tflite", "litert"),
    "darknet": Form("model"),  # model.cfg + model.weights in darknet's layout, not a store model
}
SERVING_ORDER = ("onnx-int8", "onnx")  # the issue: the int8 ONNX by default when present (export measures first)


def run_info(run_dir: Path) -> dict:
    config = json.loads((run_dir / "config.json").read_text())
    split = json.loads((run_dir / "split.json").read_text())
    return {"name": config["name"], "arch": config["arch"], "size": config["size"], "labels": split["labels"]}


def form_spec(run_dir: Path, form: str, base: str, input_spec: InputSpec, labels: tuple[str, ...],
              speed: str = "") -> ModelSpec:
    """The manifest of one servable form of the run named `base` (named `<base><suffix>`)."""
    entry = FORMS[form]
    path = (run_dir / entry.file).resolve()
    return ModelSpec(
        name=f"{base}{entry.suffix}", task="classify", format=entry.format, runtime=entry.runtime, input=input_spec,
        labels=labels,
        files={"model": ModelFile(name=entry.file, sha256=sha256_of(path), size=path.stat().st_size,
                                  sources=(PathSource(path=str(path)),))},
        licence="your own training run; backbone weights under their own licence (see `vigil models list`)",
        description=f"person classifier ({form}) trained in {run_dir.resolve()}", speed=speed,
    )


def read_forms(run_dir: Path) -> dict[str, ModelSpec]:
    """form -> manifest of every servable form the run folder has a manifest for."""
    base = run_info(run_dir)["name"]
    forms = {}
    for form, entry in FORMS.items():
        path = run_dir / "manifests" / f"{base}{entry.suffix}.json"
        if entry.suffix and path.is_file():
            forms[form] = ModelSpec.model_validate_json(path.read_text())
    return forms


def write_manifests(run_dir: Path, specs: dict[str, ModelSpec], default_form: str | None = None) -> list[Path]:
    """specs: form -> spec (with its explicit name). Adds the serving default (`default_form`, else the first of
    SERVING_ORDER present) under the plain name."""
    folder = run_dir / "manifests"
    folder.mkdir(exist_ok=True)
    base = run_info(run_dir)["name"]
    written = []
    for spec in specs.values():
        written.append(_write(folder, spec))
    form = default_form or next((f for f in SERVING_ORDER if f in specs), None)
    default = specs.get(form) if form else None
    if default is not None:
        written.append(_write(folder, default.model_copy(update={"name": base})))
    return written


def _write(folder: Path, spec: ModelSpec) -> Path:
    path = contained(folder, f"{spec.name}.json")  # the run's name comes from its config: never a path
    path.write_text(spec.model_dump_json(indent=2, exclude_defaults=False))
    return path


def register(run_dir: Path, home: Path) -> list[str]:
    """Copy the run's manifests into `$VIGIL_HOME/manifests` and pull each (copy + sha256 check) into the cache."""
    target = home / "manifests"
    target.mkdir(parents=True, exist_ok=True)
    names = []
    for manifest in sorted((run_dir / "manifests").glob("*.json")):
        try:  # validated before it is copied: a bad manifest must not land in (and break) the store
            spec = ModelSpec.model_validate_json(manifest.read_text())
        except ValueError as exc:
            raise ModelIntegrityError(f"{manifest}: invalid model manifest: {str(exc)[:400]}") from None
        shutil.copyfile(manifest, contained(target, f"{spec.name}.json"))
        names.append(spec.name)
    store = ModelStore(home)
    for name in names:
        store.pull(name)
    return names
