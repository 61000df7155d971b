"""Numeric pieces shared by several model wrappers (letterbox, NMS, YOLO and SSD decoding)."""
