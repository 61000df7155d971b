"""What /openapi.json declares beyond FastAPI's defaults, so clients generated from it work: the error answers every
route may give (from the middlewares and the error mapping), the DeepStack routes' form bodies (read by hand, hence
undeclared otherwise), and the constraints the server enforces on names."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

_ERROR = {"application/json": {"schema": {
    "type": "object", "additionalProperties": True,
    "properties": {"error": {"type": "string"}, "success": {"type": "boolean"}, "type": {"type": "string"},
                   "status": {"type": "integer"}, "code": {"type": "integer"}, "detail": {}}}}}
_WHY = {400: "bad input (not an image, a bad value, a count over a [limits] cap)", 401: "missing or wrong key",
        403: "the route's model is not available on this server", 404: "no such model, person or file",
        408: "the body did not arrive within [server] body_timeout_s", 413: "body over [limits] max_bytes",
        422: "the body does not match this schema", 500: "internal error or timeout (DeepStack's answer)",
        503: "busy: retry after Retry-After seconds"}
ERRORS: dict[int | str, dict[str, Any]] = {code: {"description": why, "content": _ERROR} for code, why in _WHY.items()}

# Gallery names: what faces/gallery accepts (1-200 characters, no slashes or NUL), minus names a URL cannot carry
NAME_PATTERN = r"^[\w][\w .'-]{0,199}$"
PersonName = Annotated[str, Path(pattern=NAME_PATTERN, description="a person's name (letters, digits, space . ' - _)")]

_IMAGE = {"type": "string", "format": "binary", "description": "an image (JPEG, PNG, ...)"}
_FIELDS: dict[str, dict[str, Any]] = {
    "image": _IMAGE, "image1": _IMAGE, "image2": _IMAGE,
    "min_confidence": {"type": "number", "minimum": 0, "maximum": 1, "description": "drop answers scoring lower"},
    "userid": {"type": "string", "pattern": NAME_PATTERN, "description": "the person's name"},
    "api_key": {"type": "string", "description": "the key, as DeepStack clients send it (or X-API-Key / Bearer)"},
}


def form_body(*required: str, optional: tuple[str, ...] = ("api_key",), urlencoded: bool = False) -> dict[str, Any]:
    """openapi_extra for a DeepStack route that reads its form itself."""
    fields = {f: _FIELDS[f] for f in (*required, *optional)}
    schema = {"type": "object", "properties": fields, "required": list(required)}
    kinds = ["multipart/form-data"] + (["application/x-www-form-urlencoded"] if urlencoded else [])
    return {"requestBody": {"required": bool(required), "content": {k: {"schema": schema} for k in kinds}}}
