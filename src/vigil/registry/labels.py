"""The labels Vigil's own logic depends on, named once: the COCO detector's person (whose boxes the face, person and
crowd stages examine) and the presence models' two classes."""

PERSON = "person"
NON_PERSON = "non_person"

# What a security camera's events are about by default (`[events] labels`): people, vehicles and animals of the COCO
# classes, not a driveway's "tie" or "clock". ALL_LABELS asks for every label the detector knows.
CAMERA_LABELS = (PERSON, "bicycle", "car", "motorcycle", "bus", "truck", "bird", "cat", "dog", "horse")
ALL_LABELS = "all"
