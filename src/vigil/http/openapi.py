"""What /openapi.json declares beyond FastAPI's defaults, so clients generated from it work: the error answers every
route may give (from the middlewares and the error mapping), the DeepStack routes' form bodies (read by hand, hence
undeclared otherwise), and the constraints the server enforces on names."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from vigil.faces.gallery.schema import NAME_PATTERN, STORED_NAME_PATTERN
from vigil.formats.events import SSE_MESSAGE_SCHEMA

_ERROR = {"application/json": {"schema": {
    "type": "object", "additionalProperties": True,
    "properties": {"error": {"type": "string"}, "success": {"type": "boolean"}, "type": {"type": "string"},
                   "status": {"type": "integer"}, "code": {"type": "integer"}, "detail": {}}}}}
_WHY = {400: "bad input (not an image, a bad value, a count over a [limits] cap)", 401: "missing or wrong key",
        403: "the route's model is not available on this server", 404: "no such model, person or file",
        408: "the body did not arrive within [server] body_timeout_s",
        409: "the name is already taken", 413: "body over [limits] max_bytes",
        422: "the body does not match this schema", 500: "internal error or timeout (DeepStack's answer)",
        503: "busy: retry after Retry-After seconds"}
ERRORS: dict[int | str, dict[str, Any]] = {code: {"description": why, "content": _ERROR} for code, why in _WHY.items()}

# Gallery names: the one rule of faces.gallery.schema.person_name for a new name; a name already stored is found as
# it is (a gallery from before the rule may hold others, and they must stay manageable)
PersonName = Annotated[str, Path(pattern=NAME_PATTERN, description="a person's name (letters, digits, space . ' - _)")]
StoredName = Annotated[str, Path(pattern=STORED_NAME_PATTERN, description="a person's name as stored")]

# A time filter (formats.events.parse_time): epoch seconds, an age such as 30m, or an RFC 3339 date-time; the server
# also reads other ISO 8601 forms, the schema names the ones a client can count on
_SECONDS_OR_AGE = r"^(-?[0-9]{1,12}(\.[0-9]{1,6})?|[0-9]{1,9}(\.[0-9]{1,6})?[smhd])$"
TIME_SCHEMA = {"anyOf": [{"type": "string", "pattern": _SECONDS_OR_AGE},
                         {"type": "string", "format": "date-time", "maxLength": 40}]}
# Text bound for a store never holds NUL (answered 400, as every store refuses it: db.sql_schema.plain_text); declared
# only, so the answer stays that 400
TEXT_SCHEMA = {"pattern": "^[^\\x00]*$"}
JPEG_ANSWER: dict[int | str, dict[str, Any]] = {200: {"description": "a JPEG", "content": {
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}}
IMAGE_ANSWER: dict[int | str, dict[str, Any]] = {200: {"description": "an image as the camera wrote it", "content": {
    "image/*": {"schema": {"type": "string", "format": "binary"}}}}}
# The stream as OpenAPI 3.2 describes one (read by schemathesis and other tools on 3.1 documents too): `itemSchema`
# is each message, an object whose `data` is a change as JSON; `schema` the stream as a whole, a sequence of them
SSE_ANSWER: dict[int | str, dict[str, Any]] = {200: {
    "description": "Server-Sent Events until the stream's time is up: one message per new, updated or ended event",
    "content": {"text/event-stream": {"itemSchema": SSE_MESSAGE_SCHEMA,
                                      "schema": {"type": "array", "items": SSE_MESSAGE_SCHEMA}}}}}

# Row ids (samples, clusters, events): SQLite integers, so a number past 64 bits is a 422, not an overflow
RowId = Annotated[int, Path(ge=1, le=2**63 - 1, description="a row id")]

_IMAGE = {"type": "string", "format": "binary", "description": "an image (JPEG, PNG, ...)"}
_FIELDS: dict[str, dict[str, Any]] = {
    "image": _IMAGE, "image1": _IMAGE, "image2": _IMAGE,
    "min_confidence": {"type": "number", "minimum": 0, "maximum": 1, "description": "drop answers scoring lower"},
    "userid": {"type": "string", "pattern": NAME_PATTERN, "description": "the person's name"},
    "stored userid": {"type": "string", "pattern": STORED_NAME_PATTERN, "description": "a name in the gallery"},
    "api_key": {"type": "string", "description": "the key, as DeepStack clients send it (or X-API-Key / Bearer)"},
}


def form_body(*required: str, optional: tuple[str, ...] = ("api_key",), urlencoded: bool = False) -> dict[str, Any]:
    """openapi_extra for a DeepStack route that reads its form itself ("stored userid": the userid field of a route
    that finds a person, as stored)."""
    fields = {f.split()[-1]: _FIELDS[f] for f in (*required, *optional)}
    schema = {"type": "object", "properties": fields, "required": [f.split()[-1] for f in required]}
    kinds = ["multipart/form-data"] + (["application/x-www-form-urlencoded"] if urlencoded else [])
    return {"requestBody": {"required": bool(required), "content": {k: {"schema": schema} for k in kinds}}}
