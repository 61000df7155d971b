"""Typed errors. Each front end maps these to its own status codes in one place."""

import time


class VigilError(Exception):
    """Base class for every error Vigil raises on purpose."""

    status = 500


class BadInput(VigilError):
    """The caller sent something unusable: a non-image, a path outside the media roots, a bad value."""

    status = 400


class Conflict(BadInput):
    """The change clashes with what is there (a name already taken): retry with another value, not the same."""

    status = 409


class MatchesAnother(Conflict):
    """The face being enrolled already matches another person (at the match distance): enrolled only when the
    caller insists (`--force`, `force=true`). `matches` names that person."""

    status = 409

    def __init__(self, message: str, matches: str) -> None:
        super().__init__(message)
        self.matches = matches


class NotFound(VigilError):
    """A named thing (model, person, file) does not exist."""

    status = 404


class ModelIntegrityError(VigilError):
    """A model file is missing, corrupt, or does not match its recorded sha256."""

    status = 500


class Overloaded(VigilError):
    """The work queue is full; the caller should retry later."""

    status = 503


class StoreUnavailable(Overloaded):
    """A database the route needs cannot be reached now (a PostgreSQL gallery gone away): 503, retry later."""


class ConfigError(VigilError):
    """The configuration file or environment holds an unknown key or a bad value."""

    status = 500


class TooLarge(BadInput):
    """An upload is larger than the configured limit."""

    status = 413


class Unauthorized(VigilError):
    """A key is needed for this call and the one sent is missing or wrong."""

    status = 401


class NotActivated(VigilError):
    """The endpoint exists but its model is not available on this server (DeepStack's 403)."""

    status = 403


class TimedOut(VigilError):
    """The request waited longer than the configured per-request timeout (DeepStack answers 500)."""

    status = 500


def check_deadline(deadline: float | None, doing: str) -> None:
    """Raise TimedOut once `deadline` (time.monotonic) has passed: loops over caller-sized input call this each
    round, so work its caller abandoned stops instead of holding a worker."""
    if deadline is not None and time.monotonic() > deadline:
        raise TimedOut(f"{doing}: past the request's deadline, abandoned")


class SlowBody(BadInput):
    """The client did not send its whole request body within [server] body_timeout_s."""

    status = 408
