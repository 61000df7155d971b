"""`vigil export RUN_DIR --to onnx,onnx-int8,litert-int8,c-array[,edgetpu]`: every form from one trained run,
each with a manifest; then (optionally) registered in the model store."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
from safetensors.torch import load_file

from vigil.errors import BadInput
from vigil.export import carray, manifest
from vigil.export.quantize import calibration_pixels, quantize_onnx
from vigil.registry.specs import InputSpec, ModelSpec
from vigil.runtimes.session import open_session
from vigil.tasks.classify import PersonClassifier

log = logging.getLogger(__name__)
FORMS = tuple(manifest.FORMS)


def parse_forms(text: str) -> list[str]:
    forms = [f.strip() for f in text.split(",") if f.strip()]
    unknown = [f for f in forms if f not in FORMS]
    if unknown or not forms:
        raise BadInput(f"unknown export form(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMS)}")
    return forms


def _model(run_dir: Path):
    from vigil.train.archs import TransferNet
    from vigil.train.weights import arch

    info = manifest.run_info(run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    backbone = arch(info["arch"]).build(info["size"], config.get("width", 1.0), _channels(run_dir))
    model = TransferNet(backbone, len(info["labels"]))
    model.load_state_dict(load_file(str(run_dir / "model.safetensors")))
    return model.eval()


def _channels(run_dir: Path) -> int:
    return 1 if json.loads((run_dir / "config.json").read_text()).get("gray") else 3


def export_fp32(run_dir: Path) -> ModelSpec:
    """The servable fp32 ONNX of a finished run and its manifests (`<name>` and `<name>.fp32`): the last step of
    `vigil train classify`, and the base every other form is made from. Training itself never imports export."""
    if not (run_dir / "model.safetensors").is_file():
        raise BadInput(f"{run_dir} is not a finished training run (no model.safetensors)")
    from vigil.export.onnx import to_onnx
    from vigil.train.weights import arch, pixel_norm

    info = manifest.run_info(run_dir)
    gray = _channels(run_dir) == 1
    to_onnx(_model(run_dir), info["size"], _path(run_dir, "onnx"), 1 if gray else 3)
    mean, std = pixel_norm(arch(info["arch"]), gray)
    size = info["size"]
    spec = InputSpec(width=size, height=size, layout="NCHW", colour="GRAY" if gray else "RGB", dtype="float32",
                     mean=mean, std=std, resize="stretch")
    fp32 = manifest.form_spec(run_dir, "onnx", info["name"], spec, tuple(info["labels"]))
    manifest.write_manifests(run_dir, {"onnx": fp32})
    return fp32


def export_run(run_dir: Path, forms: list[str], int8_io: bool = False, c_symbol: str | None = None) -> dict:
    """int8_io: the LiteRT model's output is int8 too (its input always is); c_symbol: the C array's name
    (default g_<model name>_model; `g_person_detect_model_data` gives TFLite Micro's example names)."""
    if not (run_dir / "model.safetensors").is_file():
        raise BadInput(f"{run_dir} is not a finished training run (no model.safetensors)")
    info = manifest.run_info(run_dir)
    labels, base = tuple(info["labels"]), info["name"]
    fp32 = manifest.read_forms(run_dir).get("onnx")
    if fp32 is None or "onnx" in forms or not _path(run_dir, "onnx").is_file():
        fp32 = export_fp32(run_dir)
    pixels = calibration_pixels(run_dir)
    specs, report = {"onnx": fp32}, {"run_dir": str(run_dir.resolve()), "forms": {}}
    report["forms"]["onnx"] = _file(_path(run_dir, "onnx"))
    if "onnx-int8" in forms:
        quantize_onnx(_path(run_dir, "onnx"), _path(run_dir, "onnx-int8"), pixels, fp32.input)
        specs["onnx-int8"] = manifest.form_spec(run_dir, "onnx-int8", base, fp32.input, labels)
        report["forms"]["onnx-int8"] = _file(_path(run_dir, "onnx-int8"))
    tflite = _path(run_dir, "litert-int8")
    if {"litert-int8", "c-array", "edgetpu"} & set(forms):
        specs["litert-int8"], report["forms"]["litert-int8"] = _litert(run_dir, info, pixels, tflite, int8_io)
    if "c-array" in forms:
        symbol = c_symbol or f"g_{base}_model"
        header, source = carray.to_c_array(tflite, run_dir / manifest.FORMS["c-array"].file, symbol=symbol)
        report["forms"]["c-array"] = {"header": str(header), "source": str(source), "bytes": tflite.stat().st_size,
                                      "symbol": carray.c_name(symbol)}
    if "darknet" in forms:
        from vigil.export.darknet import to_darknet

        cfg, weights = to_darknet(_model(run_dir), info["size"], _channels(run_dir),
                                  run_dir / manifest.FORMS["darknet"].file)
        report["forms"]["darknet"] = {"cfg": str(cfg), "path": str(weights), "bytes": weights.stat().st_size}
    if "edgetpu" in forms:
        report["forms"]["edgetpu"] = _edgetpu(run_dir, tflite, specs, base, labels)
    _measure(run_dir, specs, pixels[:32], report)
    report["serving_default"] = _serving_default(report["forms"])
    manifest.write_manifests(run_dir, specs, report["serving_default"])
    report["models"] = sorted({*(s.name for s in specs.values()), base})
    (run_dir / "export.json").write_text(json.dumps(report, indent=2))
    return report


def _seconds_per_crop(classifier: PersonClassifier, crops: list[np.ndarray]) -> float:
    start = time.perf_counter()
    for crop in crops:
        classifier.classify([crop])
    return (time.perf_counter() - start) / len(crops)


def _serving_default(forms: dict) -> str:
    """The int8 ONNX when present, unless measured slower than fp32 here (the issue: measure, then pick).
    LiteRT stays opt-in by name: its files take one crop a call, the ONNX forms a frame's crops at once."""
    int8, fp32 = forms.get("onnx-int8"), forms["onnx"]
    if int8 and int8["ms_per_crop_1_thread"] <= fp32["ms_per_crop_1_thread"] * 1.05:
        return "onnx-int8"
    return "onnx"


def _litert(run_dir: Path, info: dict, pixels: np.ndarray, tflite: Path, int8_io: bool
            ) -> tuple[ModelSpec, dict]:
    import cv2

    from vigil.export import litert
    from vigil.train.weights import arch, pixel_norm

    gray = _channels(run_dir) == 1
    mean, std = pixel_norm(arch(info["arch"]), gray)
    if gray:  # the calibration images as the model sees them: one channel, converted as serving converts
        pixels = np.stack([cv2.cvtColor(p, cv2.COLOR_RGB2GRAY)[:, :, None] for p in pixels])
    litert.to_litert_int8(_model(run_dir), pixels, mean, std, tflite)
    if int8_io:
        litert.int8_io(tflite)
    spec = litert.litert_input_spec(tflite, mean, std, "GRAY" if gray else "RGB")
    named = manifest.form_spec(run_dir, "litert-int8", info["name"], spec, tuple(info["labels"]))
    return named, {**_file(tflite), "ops": litert.op_counts(tflite), "input": spec.dtype,
                   "output": litert.output_dtype(tflite)}


def _edgetpu(run_dir: Path, tflite: Path, specs: dict, base: str, labels: tuple[str, ...]) -> dict:
    from vigil.export.edgetpu import compile_edgetpu

    result = compile_edgetpu(tflite)
    if result.compiled is not None:
        specs["edgetpu"] = manifest.form_spec(run_dir, "edgetpu", base, specs["litert-int8"].input,
                                              labels)
    return {"compiled": str(result.compiled) if result.compiled else None, "message": result.message,
            "command": result.command}


def _path(run_dir: Path, form: str) -> Path:
    return run_dir / manifest.FORMS[form].file


def _file(path: Path) -> dict:
    return {"path": str(path), "bytes": path.stat().st_size}


def _measure(run_dir: Path, specs: dict[str, ModelSpec], pixels: np.ndarray, report: dict) -> None:
    """Latency per crop (one crop per call, as serving sees a lone person) of each runnable form; written into
    the manifests' `speed` so `vigil models list` shows it."""
    for form, spec in list(specs.items()):
        if form == "edgetpu":
            continue
        classifier = PersonClassifier(spec, open_session(run_dir / spec.files["model"].name, spec.runtime, 1),
                                      spec.labels)
        crops = list(pixels)
        classifier.classify(crops[:2])
        ms = min(_seconds_per_crop(classifier, crops) for _ in range(3)) * 1000  # best of 3: other jobs add noise
        specs[form] = spec.model_copy(update={"speed": f"{ms:.2f} ms/crop (1 thread, {run_dir.name})"})
        report["forms"][form]["ms_per_crop_1_thread"] = round(ms, 3)
