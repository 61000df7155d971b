"""A PostgreSQL gallery whose database goes away under a running `vigil serve` (issue 20, item 8), on the real test
server: a database of its own is dropped (its connections terminated) and created again empty. Without a restart,
/ready turns 503 within 3 s, face routes answer 503 naming the database within 5 s, and once the database is back the
migrations rerun and face routes work again within 20 s. The event log on such a database does the same."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

from tests.faces.test_gallery_postgres import SERVER
from tests.serve import server as harness
from tests.serve.server import ADMIN_KEY, API_KEY
from tests.serve.test_faces_server import photos  # noqa: F401 - the fixture
from tests.test_hardening2_store import _events
from vigil.errors import StoreUnavailable
from vigil.events.location import open_event_log
from vigil.events.log import EventQuery

pytestmark = [pytest.mark.integration, pytest.mark.slow]
KEY = {"X-API-Key": API_KEY}
ADMIN = {"X-API-Key": ADMIN_KEY}


def _admin(sql: str) -> None:
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def database() -> Iterator[tuple[str, str]]:
    """A database of its own on the test server: its name and URL."""
    name = f"vigil_gone_{os.getpid()}"
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _admin(f"CREATE DATABASE {name}")
    yield name, urlsplit(SERVER)._replace(path=f"/{name}").geturl()
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _within(seconds: float, check: Callable[[], bool], what: str) -> float:
    """How long `check()` took to hold, polled; fails past `seconds`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"{what} not within {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - started


def _recognise(server, image: bytes) -> requests.Response:
    return requests.post(f"{server.url}/v1/vision/face/recognize", headers=KEY, files={"image": image}, timeout=30)


def test_the_gallery_database_goes_away_and_comes_back_without_a_restart(
        tmp_path, store, face_models, database, photos):  # noqa: F811 - fixtures imported above
    name, url = database
    served = harness.start(tmp_path, extra=f'[faces]\ngallery = "{url}"\n')
    try:
        enrol = requests.post(f"{served.url}/v1/vision/face/register", headers=ADMIN, data={"userid": "messi"},
                              files={"image": photos["messi"]}, timeout=60)
        assert enrol.status_code == 200, enrol.text
        _admin(f"DROP DATABASE {name} WITH (FORCE)")  # terminates its connections, the server's included
        unready = _within(3, lambda: requests.get(f"{served.url}/ready", timeout=2).status_code == 503, "/ready 503")
        for reply in (requests.get(f"{served.url}/v2/gallery", headers=KEY, timeout=6),
                      _recognise(served, photos["messi mirrored"])):
            assert reply.status_code == 503 and name in reply.text and reply.headers["retry-after"], reply.text
        assert requests.get(f"{served.url}/health", timeout=2).status_code == 200  # alive, only not ready

        _admin(f"CREATE DATABASE {name}")  # back, and empty
        back = _within(20, lambda: requests.get(f"{served.url}/v2/gallery", headers=KEY, timeout=6).status_code == 200,
                       "the gallery back")
        print(f"/ready 503 after {unready:.2f} s; the gallery back {back:.2f} s after the database")  # -s shows it
        assert requests.get(f"{served.url}/v2/gallery", headers=KEY, timeout=6).json() == []  # migrated afresh
        assert requests.get(f"{served.url}/ready", timeout=2).status_code == 200
        enrol = requests.post(f"{served.url}/v1/vision/face/register", headers=ADMIN, data={"userid": "messi"},
                              files={"image": photos["messi"]}, timeout=60)
        assert enrol.status_code == 200, enrol.text
        found = _recognise(served, photos["messi mirrored"])
        assert [p["userid"] for p in found.json()["predictions"]] == ["messi"], found.text
    finally:
        assert served.stop() == 0, served.log_tail()


def test_the_event_log_database_goes_away_and_comes_back(database):
    name, url = database
    log = open_event_log(url)
    try:
        _events(log, 1)
        assert len(log.query(EventQuery())) == 1
        _admin(f"DROP DATABASE {name} WITH (FORCE)")
        for _ in range(2):  # the lost connection, then the database still missing when migrating again
            with pytest.raises(StoreUnavailable, match=name):
                log.query(EventQuery())
        _admin(f"CREATE DATABASE {name}")
        assert log.query(EventQuery()) == []  # migrated afresh on the first call after its return
        _events(log, 1)
        assert len(log.query(EventQuery())) == 1
    finally:
        log.close()
