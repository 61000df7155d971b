"""FastAPI app. This is the minimal core surface (health and detection); the serving issue adds the
DeepStack face routes, auth, batching and metrics on top of it."""

from __future__ import annotations

import time

from fastapi import FastAPI, File, Form, UploadFile
from fastapi.responses import JSONResponse

from vigil.errors import BadInput
from vigil.formats.seed import to_seed
from vigil.pipeline import DetectRequest, Pipeline


def create_app(pipeline: Pipeline) -> FastAPI:
    app = FastAPI(title="Vigil", version="0.1.0", description="Self-hosted vision for security cameras")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/ready")
    def ready() -> JSONResponse:
        loaded = pipeline._detector is not None
        return JSONResponse({"ready": loaded}, status_code=200 if loaded else 503)

    @app.post("/v1/vision/detection")
    async def deepstack_detection(image: UploadFile | None = File(None), min_confidence: float = Form(0.45)):
        started = time.perf_counter()
        if image is None:
            return JSONResponse({"success": False, "error": "No valid image file was found"}, status_code=400)
        result, _ = pipeline.detect(await image.read(), image.filename or "", DetectRequest(min_score=min_confidence))
        if result.error:
            return JSONResponse({"success": False, "error": result.error}, status_code=400)
        predictions = [{"label": label["name"], "confidence": label["score"],
                        **{f"{k[0]}_{k[1:]}": round(v) for k, v in label["box"].items()}}
                       for label in to_seed(result)["labels"]]
        ms = (time.perf_counter() - started) * 1000
        return {"success": True, "predictions": predictions, "duration": 0, "inferenceMs": round(ms),
                "processMs": round(ms)}

    @app.post("/v2/detect")
    async def detect(image: UploadFile = File(...), min_score: float | None = Form(None)) -> JSONResponse:
        if min_score is not None and not 0 <= min_score <= 1:
            raise BadInput("min_score must be within [0, 1]")
        result, _ = pipeline.detect(await image.read(), image.filename or "", DetectRequest(min_score=min_score))
        return JSONResponse(to_seed(result), status_code=400 if result.error else 200)

    return app
