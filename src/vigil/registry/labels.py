"""The labels Vigil's own logic depends on, named once: the COCO detector's person (whose boxes the face, person and
crowd stages examine) and the presence models' two classes."""

import difflib

from vigil.errors import ConfigError

PERSON = "person"
NON_PERSON = "non_person"

# What a security camera's events are about by default (`[events] labels`): people, vehicles and animals of the COCO
# classes, not a driveway's "tie" or "clock". ALL_LABELS asks for every label the detector knows.
CAMERA_LABELS = (PERSON, "bicycle", "car", "motorcycle", "bus", "truck", "bird", "cat", "dog", "horse")
ALL_LABELS = "all"
# COCO's names where Darknet's coco.names (the YOLO detectors) spells them otherwise
SPELLINGS = {"motorcycle": "motorbike", "airplane": "aeroplane", "couch": "sofa", "dining table": "diningtable",
             "tv": "tvmonitor", "potted plant": "pottedplant"}


def in_detector_terms(wanted: tuple[str, ...], known: tuple[str, ...]) -> tuple[str, ...]:
    """`wanted` labels in the detector's own spelling ("motorcycle" is Darknet's "motorbike"); a label it does not
    know is a ConfigError naming the close matches. Empty `known` (labels not listed): `wanted` as it is."""
    if not known:
        return wanted
    names, found = set(known), []
    for label in wanted:
        spelt = label if label in names else SPELLINGS.get(label, label)
        if spelt not in names:
            close = difflib.get_close_matches(label, sorted(names), n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}?" if close else 'see the model\'s labels, or use "all"'
            raise ConfigError(f"[events] labels: the detector has no label {label!r}; {hint}")
        found.append(spelt)
    return tuple(found)
