"""Export (extras "train" for ONNX, "edge" for LiteRT): fp32 ONNX, int8 ONNX, int8 LiteRT, C array, Edge TPU."""
