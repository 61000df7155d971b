"""The labels Vigil's own logic depends on, named once: the COCO detector's person (whose boxes the face, person and
crowd stages examine) and the presence models' two classes."""

PERSON = "person"
NON_PERSON = "non_person"
