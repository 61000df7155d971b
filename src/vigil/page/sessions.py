"""Browser sessions for the web page: the key is typed once, the browser then holds an opaque session cookie.

The cookie is `HttpOnly` and `SameSite=Strict`; the server keeps, per session, the key it stands for (so the usual
key checks decide what the session may do) and a CSRF token. Changes (any method but GET/HEAD/OPTIONS) made with the
cookie must also send that token in `X-CSRF-Token` (the page reads it from the non-HttpOnly `vigil_csrf` cookie:
double submit, checked against the server's copy). Requests that bring a key themselves never look at the cookie, so
API clients are unaffected. Sessions live in memory: a restart asks for the key again.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from fastapi import Request

from vigil.errors import Unauthorized

COOKIE = "vigil_session"
CSRF_COOKIE = "vigil_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Session:
    key: str
    csrf: str
    admin: bool
    expires: float


class Sessions:
    def __init__(self, ttl_s: float = 12 * 3600, limit: int = 1000) -> None:
        """At most `limit` sessions per role (admin, use); a role's oldest goes first."""
        self.ttl_s, self.limit = ttl_s, limit
        self._open: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, key: str, admin: bool) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(key, secrets.token_urlsafe(24), admin, time.time() + self.ttl_s)
        with self._lock:
            self._drop_expired()
            same = [t for t, s in self._open.items() if s.admin == admin]  # oldest first (insertion order)
            for old in same[:max(0, len(same) - self.limit + 1)]:  # a role's limit: use logins never evict admins
                del self._open[old]
            self._open[token] = session
        return token, session

    def close(self, token: str) -> None:
        with self._lock:
            self._open.pop(token, None)

    def find(self, request: Request) -> Session | None:
        token = request.cookies.get(COOKIE, "")
        with self._lock:
            session = self._open.get(token) if token else None
        if session is None or session.expires < time.time():
            return None
        return session

    def keys(self, request: Request) -> list[str]:
        """The key behind the request's session cookie, if any; a change without the right CSRF token is refused."""
        session = self.find(request)
        if session is None:
            return []
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not (sent and hmac.compare_digest(sent.encode(), session.csrf.encode())):
                raise Unauthorized("a change made with the session cookie needs its X-CSRF-Token header")
        return [session.key]

    def _drop_expired(self) -> None:
        now = time.time()
        for token in [t for t, s in self._open.items() if s.expires < now]:
            del self._open[token]
