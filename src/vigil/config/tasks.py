"""Settings of the tasks: each built-in task's section (TaskDef.section names it) and per-model thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from vigil.config.section import Section
from vigil.registry.catalog import DEFAULT_DETECTOR
from vigil.registry.face_catalog import BLAZEFACE, DLIB_HOG, DLIB_RESNET, FACE_DETECTORS, FACE_EMBEDDERS
from vigil.registry.presence_catalog import DEFAULT_PRESENCE


class ModelThresholds(Section):
    min_score: float = Field(0.4, ge=0, le=1, title="Minimum score", description="drop detections scoring lower")
    labels: list[str] = Field(default_factory=list, title="Allowed labels", description="keep only these; empty: all")
    min_area: float = Field(0.0, ge=0, title="Minimum box area", description="drop boxes smaller than this (px²)")


class DetectAlias(Section):
    """A name Blue Iris / CodeProject.AI callers use for a custom model: a store detector and the labels it keeps."""

    model: str = Field("", title="Model", description="a detector in the store (empty: [detect] model)")
    labels: list[str] = Field(default_factory=list, title="Labels", description="keep only these; empty: all")


# both COCO spellings: Darknet's names say motorbike, others motorcycle (an alias keeps the labels its model has)
_PEOPLE_AND_VEHICLES = ["person", "bicycle", "car", "motorbike", "motorcycle", "bus", "truck"]
_ANIMALS = ["bird", "cat", "dog", "horse", "sheep", "cow", "bear"]
# CodeProject.AI's model names as Blue Iris offers them, answered by the configured detector with a label filter
DEFAULT_ALIASES: dict[str, DetectAlias] = {
    "ipcam-general": DetectAlias(labels=_PEOPLE_AND_VEHICLES),
    "ipcam-combined": DetectAlias(labels=_PEOPLE_AND_VEHICLES + _ANIMALS),
    "ipcam-animal": DetectAlias(labels=_ANIMALS),
    "ipcam-dark": DetectAlias(labels=_PEOPLE_AND_VEHICLES),
}


class DetectConfig(Section):
    model: str = Field(DEFAULT_DETECTOR, title="Detector", description="model name in the store")
    input_size: int = Field(512, ge=32, multiple_of=32, title="Input size",
                            description="network input, long side (512: recall 0.91 on small people, 416: faster)")
    rect: bool = Field(True, title="Rectangular input", description="shrink the short side to the frame's aspect")
    precision: Literal["int8", "fp32"] = Field("int8", title="Precision",
                                               description="int8 (calibrated at pull, ~2x faster on VNNI CPUs) or fp32")
    iou: float = Field(0.45, gt=0, le=1, title="NMS IoU", description="overlap above which boxes suppress")
    threads: int = Field(0, ge=0, title="Threads", description="inference threads (0: all cores)")
    presence_gate: float = Field(0.0, ge=0, lt=1, title="Presence gate",
                                 description="skip the detector on frames whose presence person score is below this "
                                             "(0: off; it missed people on the measured frames, see README)")
    aliases: dict[str, DetectAlias] = Field(
        default_factory=lambda: dict(DEFAULT_ALIASES), title="Custom model aliases",
        description="/v1/vision/custom/<name> names: a store detector and a label filter; yours are added to the "
                    "built-in ipcam-general, ipcam-combined, ipcam-animal and ipcam-dark (same name: yours wins)")
    profile: Literal["fast", "second_look"] = Field(
        "second_look", title="Profile",
        description="fast: one pass over the frame; second_look: then a closer look, at most `look_windows` "
                    "windows, where the first pass saw small or doubtful people (see README)")
    look_windows: int = Field(4, ge=0, le=16, title="Second-look windows",
                              description="the most windows one frame gets a second look at (the cost cap)")
    look_side: int = Field(256, ge=64, le=1024, multiple_of=32, title="Second-look input",
                           description="network input side of each second-look window")
    look_zoom: float = Field(3.0, ge=1, le=8, title="Second-look zoom",
                             description="how much closer a window looks than the first pass")
    look_score: float = Field(0.015, gt=0, le=1, title="Second-look score",
                              description="first-pass person candidates down to this score get a second look")
    look_decode: float = Field(1.0, ge=1, le=4, title="Second-look decode",
                               description="decode frames at this many times the input size, for detail to zoom into")

    @model_validator(mode="after")
    def _builtin_aliases(self) -> DetectConfig:
        self.aliases = {**DEFAULT_ALIASES, **self.aliases}
        return self


class PresenceConfig(Section):
    model: str = Field(DEFAULT_PRESENCE, title="Presence model", description="model name in the store (task presence)")
    min_score: float = Field(0.5, ge=0, le=1, title="Person score",
                             description="person is true when the model's person score is at least this")


RecognizeBy = Literal["face_gallery", "face_classifier", "person_classifier"]


class RecognizeConfig(Section):
    """Who is this person: the one choice every front end (detect_faces, /v2/faces/label) follows."""

    by: RecognizeBy = Field("face_gallery", title="Recognise by",
                            description="face_gallery: faces matched against the enrolled gallery (open set); "
                                        "face_classifier: faces named by the seed's trained SVM/XGBoost "
                                        "(`vigil faces train`); person_classifier: whole-person crops named by "
                                        "person_model")
    person_model: str = Field("", title="Person classifier model",
                              description="store name of a trained whole-person classifier (`vigil export RUN "
                                          "--to onnx-int8` registers it); serves /v2/classify and by = "
                                          "\"person_classifier\"")


class PersonConfig(Section):
    min_proba: float = Field(0.8, ge=0, le=1, title="Minimum probability",
                             description="below this the person is not recognised: face = null (seed minProba)")
    threads: int = Field(0, ge=0, title="Threads", description="inference threads (0: all cores)")


class FacesConfig(Section):
    detector: str = Field(BLAZEFACE, title="Face detector",
                          description=f"model name: {', '.join(FACE_DETECTORS)} (default: best measured)")
    fallback: str = Field(DLIB_HOG, title="Fallback detector",
                          description="run when the detector finds no face in a small image (crops); '' = off")
    fallback_max_pixels: int = Field(300_000, ge=0, title="Fallback size",
                                     description="only images up to this many pixels get the fallback detector")
    embedder: str = Field(DLIB_RESNET, title="Face embedder",
                          description=f"model name of the 128-d embedder: {', '.join(FACE_EMBEDDERS)} (a gallery "
                                      "keeps its own: see README)")
    min_score: float = Field(0.6, ge=0, le=1, title="Face score", description="drop face detections scoring lower")
    min_face: int = Field(20, ge=1, title="Minimum face", description="faces narrower than this (px) give face: null")
    focus_threshold: float = Field(200.0, ge=0, title="Focus threshold",
                                   description="variance of the Laplacian below which a face is too blurry (seed: 200)")
    num_jitters: int = Field(1, ge=0, le=500, title="Jitters",
                             description="embeddings averaged per face when recognising (seed: 10-500; 0/1: one)")
    enroll_jitters: int = Field(10, ge=0, le=500, title="Enrolment jitters",
                                description="embeddings averaged per face when enrolling (offline, so steadier)")
    upsample: int = Field(1, ge=0, le=3, title="HOG upsample", description="dlib detectors: image doublings")
    tile: int = Field(256, ge=0, title="Tile size",
                      description="BlazeFace also searches overlapping tiles of at least this side (0: never)")
    match_distance: float = Field(0.5, gt=0, title="Match distance",
                                  description="embedding distance at or below which a face gets the person's name")
    unknown_distance: float = Field(0.6, gt=0, title="Unknown distance",
                                    description="distance above which a face is a stranger; between: uncertain")
    same_face_distance: float = Field(0.15, ge=0, title="Same face distance",
                                      description="enrolment: a face this close to one of the person's samples is "
                                                  "the same face again (a re-saved copy) and adds no sample")
    min_proba: float = Field(0.6, ge=0, le=1, title="Minimum probability",
                             description="classifier mode: face is null below this class probability (seed 0.6-0.9)")
    cluster_distance: float = Field(0.5, gt=0, title="Stranger cluster distance",
                                    description="strangers closer than this join one provisional person")
    record_strangers: bool = Field(True, title="Record strangers",
                                   description="file faces that match nobody into provisional clusters to name later")
    sightings: bool = Field(True, title="Keep sightings",
                            description="keep every recognised or stranger face a watched camera shows (embedding, "
                                        "face crop, time, camera, event) for visits and face search; bounded by "
                                        "[events] retention_days and max_sightings")
    max_sightings: int = Field(200_000, ge=1, title="Most sightings",
                               description="beyond this many sightings the oldest are deleted (~6 KB each)")
    visit_gap_s: float = Field(300.0, gt=0, title="Visit gap",
                               description="a person or stranger not seen on a camera for longer than this starts a "
                                           "new visit there (and a returning stranger is announced)")
    gallery: Path | str | None = Field(None, title="Gallery", description="SQLite file (default <data_dir>/"
                                       "gallery.sqlite3), or a postgresql:// URL shared by many servers (scale extra)")
    classifier: Path | None = Field(None, title="Classifier",
                                    description="trained classifier folder (default <data_dir>/face_classifier)")
    threads: int = Field(0, ge=0, title="Threads", description="inference threads (0: all cores)")
    gate: str = Field("", title="Face gate",
                      description="face / non-face classifier (store name, labels face + nonface) checking each face "
                                  "candidate before embedding; '' = off")
    gate_min: float = Field(0.3, ge=0, le=1, title="Gate minimum",
                            description="candidates whose gate face probability is below this are dropped (0.3: "
                                        "no true face lost in benchmarks/bench_face_gate.py)")

    @model_validator(mode="after")
    def _ordered(self) -> FacesConfig:
        if self.unknown_distance < self.match_distance:
            raise ValueError("unknown_distance must be at least match_distance")
        return self


class CrowdConfig(Section):
    density_model: str = Field("", title="Density model",
                               description="store name of a crowd density model (`vigil train crowd` + `vigil models "
                                           "add`); empty: the detector count everywhere")
    level_model: Path | None = Field(None, title="Level classifier",
                                     description="folder written by `vigil train crowd-level`; unset: every scene "
                                                 "goes to the density model when one is set")
    density_side: int = Field(0, ge=0, multiple_of=16, title="Density input side",
                              description="long side (px) frames are resized to for the density model (0: the side "
                                          "it was trained at, where people have the sizes it learned)")
    tiling: Literal["auto", "always", "never"] = Field(
        "auto", title="Tiling",
        description="detector tiles: auto = when people look small and the detector has no second look ([detect] "
                    "profile)")
    tile_grid: int = Field(2, ge=1, le=6, title="Tile grid", description="tiles per side (2: four tiles)")
    tile_overlap: float = Field(0.2, ge=0, lt=0.9, title="Tile overlap", description="fraction shared by neighbours")
    small_person: float = Field(0.15, gt=0, le=1, title="Small person",
                                description="auto tiling when the median person box is shorter than this fraction "
                                            "of the frame height")
    min_score: float = Field(0.4, ge=0, le=1, title="Person score", description="detector score kept for counting")
    threads: int = Field(0, ge=0, title="Threads", description="inference threads (0: all cores)")
