"""schemathesis against the running server's own /openapi.json (admin key): every operation, every check, a few
examples each (time-bounded by the example count). No 5xx, no undocumented status code, no schema-valid request
rejected. (Driven by hand rather than through schemathesis' pytest plugin, which does not load under this pytest.)
Positive mode only: negative multipart cases are mostly not negative on the wire (a number is sent as its digits);
wrong content types and non-file fields are covered by test_hardening_server.py."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.conftest import fixture_image
from tests.faces.test_gallery_postgres import fresh_schema
from tests.serve import server as harness
from tests.serve.server import ADMIN_KEY

pytestmark = pytest.mark.integration
AUTH = {"X-API-Key": ADMIN_KEY}
EXAMPLES = int(os.environ.get("VIGIL_SCHEMA_EXAMPLES", "4"))  # `make fuzz-schema`: 30, on both galleries
BACKENDS = os.environ.get("VIGIL_SCHEMA_BACKENDS", "sqlite").split(",")  # and postgresql (VIGIL_TEST_POSTGRES)
FACE = fixture_image("messi5.jpg").read_bytes()


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory, store, face_models):
    """The real `vigil serve`, its event stream cut to a second or two ([events] stream_s), so each stream example
    ends by itself as an EventSource connection does, instead of running the default five minutes. With
    "postgresql" its gallery (and so its event log) is a schema of its own on the PostgreSQL test server."""
    extra = "[events]\nstream_s = 2.0\n"
    with _gallery(request.param) as location:
        if location:
            extra += f'[faces]\ngallery = "{location}"\n'
        running = harness.start(tmp_path_factory.mktemp("fuzz"), extra=extra)
        yield running
        assert running.stop() == 0, running.log_tail()


@contextlib.contextmanager
def _gallery(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        yield ""  # the default: <data_dir>/gallery.sqlite3
        return
    assert backend == "postgresql", f"VIGIL_SCHEMA_BACKENDS names sqlite and postgresql, not {backend!r}"
    with fresh_schema("vigil_fuzz") as location:
        yield location


@schemathesis.hook
def map_body(context, body):
    """A schema can say "binary", not "a photo": image fields get a real photo with a face, so schema-valid requests
    are ones the server can accept (everything else in the body stays generated)."""
    if isinstance(body, dict):
        for key, value in body.items():
            if key.startswith("image"):
                body[key] = [FACE] * max(1, len(value)) if isinstance(value, list) else FACE
    return body


def _exercise(operation) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case) -> None:
        case.call_and_validate(headers=AUTH, timeout=30)

    run()


def test_every_operation_answers_as_documented(server):
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", headers=AUTH, timeout=10)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            _exercise(operation)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # schemathesis raises a group; collect every operation's, then fail once
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
