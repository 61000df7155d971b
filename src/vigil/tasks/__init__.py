"""One wrapper per task: preprocess → infer → postprocess → a typed result."""
