"""The ASGI middlewares alone, with a hand-driven app: admission and the body limit."""

from __future__ import annotations

import asyncio
import json

from vigil.http.middleware import Admission, BodyLimit


class App:
    """Answers 200 once released; records the body it read."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _scope(path: str, length: int | None = None) -> dict:
    headers = [(b"content-length", str(length).encode())] if length is not None else []
    return {"type": "http", "method": "POST", "path": path, "headers": headers}


async def _call(app, scope, chunks: list[bytes]) -> list[dict]:
    sent, pending = [], list(chunks)

    async def receive():
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent


def test_admission_refuses_beyond_the_limit_and_keeps_health_open():
    async def scenario():
        inner = App()
        app = Admission(inner, limit=1, retry_after_s=3)
        first = asyncio.create_task(_call(app, _scope("/v1/vision/detection"), [b"x"]))
        await asyncio.sleep(0.01)
        refused = await _call(app, _scope("/v1/vision/detection"), [b"y"])
        health = asyncio.create_task(_call(app, _scope("/health"), [b""]))
        await asyncio.sleep(0.01)
        inner.release.set()
        return await first, refused, await health, inner.bodies

    first, refused, health, bodies = asyncio.run(scenario())
    assert first[0]["status"] == 200 and health[0]["status"] == 200
    assert refused[0]["status"] == 503 and (b"retry-after", b"3") in refused[0]["headers"]
    assert json.loads(refused[1]["body"])["success"] is False
    assert bodies == [b"x", b""]  # the refused request never reached the app


def test_body_limit_answers_413_for_a_declared_oversize_body():
    async def scenario():
        inner = App()
        inner.release.set()
        app = BodyLimit(inner, max_bytes=10, drain_bytes=100)
        return await _call(app, _scope("/v2/detect", 50), [b"a" * 25, b"b" * 25]), inner.bodies

    sent, bodies = asyncio.run(scenario())
    assert sent[0]["status"] == 413 and json.loads(sent[1]["body"])["type"] == "TooLarge"
    assert bodies == []
