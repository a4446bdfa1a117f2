"""Who may see the dashboard: a bearer token or a cookie set by logging in with it.

The token is compared in constant time (as digests, so not even its length leaks), is never
put into a page, a script, a cookie or a log line, and URLs never carry it (they end up in
browser history and proxy logs). The login cookie holds an HMAC derived from the token.
Failed logins are slowed down and, in bursts, refused for a while.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import html
import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from sensorkit.model.settings import is_loopback

log = logging.getLogger(__name__)

COOKIE = "sensorkit_dashboard"
MAX_LOGIN_BODY = 4096
FAILURE_DELAY_S = 0.5
MAX_FAILURES_PER_MINUTE = 20

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sensorkit dashboard: sign in</title>
<style>
body{{font:16px system-ui,sans-serif;background:#10151c;color:#e6edf3;
  display:grid;place-items:center;height:100vh;margin:0}}
form{{background:#1b2430;padding:2em;border-radius:10px;min-width:18em}}
input{{font:inherit;width:100%;box-sizing:border-box;margin:.5em 0 1em;padding:.5em;
  border-radius:6px;border:1px solid #445}}
button{{font:inherit;padding:.5em 1.5em;border-radius:6px;border:0;background:#2f81f7;color:#fff}}
.msg{{color:#ff7b72}}
</style></head>
<body><form method="post" action="/login" id="login">
<h1>sensorkit</h1>
<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<p class="msg" id="message">{message}</p>
<button type="submit">Sign in</button>
</form></body></html>
"""


def login_page(message: str = "", status: int = 401) -> web.Response:
    return web.Response(text=_LOGIN_PAGE.format(message=html.escape(message)), status=status,
                        content_type="text/html")


def same_origin(request: web.Request) -> bool:
    """A browser's Origin, when sent, must be this server (stops cross-site WebSocket hijacking)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == (request.host or "").lower()


def loopback_host(request: web.Request) -> bool:
    """Whether the Host header names this machine (127.0.0.1, localhost, [::1], with any port)."""
    host = (request.host or "").strip().lower()
    if host.startswith("["):
        name = host[1:].split("]", 1)[0]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return is_loopback(name)


class TokenAuth:
    """Checks requests against one token; ``None`` means the dashboard is open (loopback only)."""

    def __init__(self, token: str | None) -> None:
        self.enabled = token is not None
        key = (token or "").encode()
        self._digest = hashlib.sha256(key).digest()
        self._cookie = hmac.new(key, b"sensorkit-dashboard-cookie/1", hashlib.sha256).hexdigest()
        self._failures: collections.deque[float] = collections.deque(maxlen=MAX_FAILURES_PER_MINUTE)
        self.rejected = 0
        self.cookie_name = COOKIE
        """Cookies ignore ports: two dashboards with different tokens on one host share this name,
        so signing in to one signs out of the other (a documented limitation)."""

    def check_token(self, given: str) -> bool:
        return hmac.compare_digest(hashlib.sha256(_raw(given)).digest(), self._digest)

    def authorized(self, request: web.Request) -> bool:
        if not self.enabled:
            return True
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            return self.check_token(header[7:].strip())
        cookie = request.cookies.get(self.cookie_name)
        return cookie is not None and hmac.compare_digest(_raw(cookie), self._cookie.encode())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self.enabled and not loopback_host(request):
            # Open (no token) means loopback only; a foreign Host header is DNS rebinding.
            self.rejected += 1
            raise web.HTTPForbidden(text="sensorkit dashboard: use http://127.0.0.1 or http://localhost")
        if request.path == "/login" or self.authorized(request):
            return await handler(request)
        self.rejected += 1
        if request.method == "GET" and request.path == "/":
            return login_page()
        raise web.HTTPUnauthorized(text="sensorkit dashboard: access token required",
                                   headers={"WWW-Authenticate": 'Bearer realm="sensorkit"'})

    def _throttled(self) -> bool:
        now = time.monotonic()
        return len(self._failures) == self._failures.maxlen and now - self._failures[0] < 60.0

    async def login(self, request: web.Request) -> web.StreamResponse:
        """GET: the sign-in form; POST: check the token, set the cookie, go to the dashboard."""
        if not self.enabled:
            raise web.HTTPSeeOther("/")
        if request.method == "GET":
            return login_page(status=200)
        if not same_origin(request):
            raise web.HTTPForbidden(text="cross-origin sign-in refused")
        if request.content_length is not None and request.content_length > MAX_LOGIN_BODY:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_LOGIN_BODY, actual_size=request.content_length)
        if self._throttled():
            raise web.HTTPTooManyRequests(text="too many failed sign-ins; try again in a minute")
        body = await request.content.read(MAX_LOGIN_BODY + 1)
        if len(body) > MAX_LOGIN_BODY:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_LOGIN_BODY, actual_size=len(body))
        form = _parse_form(body)
        if self.check_token(form.get("token", "")):
            response = web.HTTPSeeOther("/")
            response.set_cookie(self.cookie_name, self._cookie, httponly=True, samesite="Strict", path="/",
                                secure=request.secure)
            raise response
        self._failures.append(time.monotonic())
        self.rejected += 1
        log.warning("dashboard: failed sign-in from %s", request.remote)
        await asyncio.sleep(FAILURE_DELAY_S)
        return login_page("Wrong token.")


def _raw(text: str) -> bytes:
    """The bytes a client sent, whatever they are.

    aiohttp decodes non-UTF-8 header bytes to lone surrogates, which a plain ``encode()``
    refuses (a 500 for any request with such a header).
    """
    return text.encode("utf-8", "surrogatepass")


def _parse_form(body: bytes) -> dict[str, str]:
    from urllib.parse import parse_qs

    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=4)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0] for k, v in fields.items() if v}
