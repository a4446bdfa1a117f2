"""The dashboard's HTTP + WebSocket server (aiohttp) and its coalescing broadcaster.

Browsers never see individual records: ``broadcast_forever`` ticks at ``update_hz`` and
sends every connected browser one message with the latest state of the runners that changed
(:meth:`DashboardState.delta`), encoded once for all. Each browser has a tiny outbox; one that
cannot keep up loses its queued updates and gets a fresh snapshot instead, so a slow tablet
never holds up the server, the other browsers or the pipeline.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import json
import logging
import socket
import time
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiohttp import WSCloseCode, WSMsgType, web

from sensorkit.dashboard.auth import TokenAuth, same_origin
from sensorkit.dashboard.settings import DashboardSettings
from sensorkit.dashboard.state import DashboardState
from sensorkit.errors import ConfigError

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 16 * 1024
MAX_WS_MESSAGE_BYTES = 4096
OUTBOX_SIZE = 4
SEND_TIMEOUT_S = 10.0
PORT_TRIES = 21

_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def static_dir() -> Path:
    return Path(str(resources.files("sensorkit.dashboard.static")))


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


class _Client:
    """One browser: a bounded outbox; overflow turns into a resync (a fresh snapshot)."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.outbox: collections.deque[str] = collections.deque()
        self.resync = True
        self.wake = asyncio.Event()
        self.wake.set()
        self.idle = asyncio.Event()
        """Set while nothing waits to be sent."""
        self.dropped = 0

    def offer(self, text: str) -> None:
        if self.resync:
            return  # the coming snapshot covers it
        if len(self.outbox) >= OUTBOX_SIZE:
            self.outbox.clear()
            self.resync = True
            self.dropped += 1
        else:
            self.outbox.append(text)
        self.idle.clear()
        self.wake.set()


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                          flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise ConfigError(f"dashboard.host = {host!r}: {exc.strerror}") from exc
    ports = [port] if port == 0 else list(range(port, min(port + PORT_TRIES, 65536)))
    for p in ports:
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((addr[0], p, *addr[2:]))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                continue
            raise ConfigError(f"dashboard: cannot listen on {host}:{p}: {exc.strerror}") from exc
        if p != port and port != 0:
            log.warning("dashboard: port %d is taken; using %d", port, p)
        return sock
    raise ConfigError(f"dashboard: ports {port}-{ports[-1]} on {host} are all taken (set dashboard.port)")


class DashboardServer:
    """Serves the page, its scripts, ``/api/snapshot`` and ``/ws``; an async context manager.

    ``async with DashboardServer(settings, state, token=...) as server`` binds and serves;
    run ``broadcast_forever`` in the owner's task group to push updates.
    """

    def __init__(self, settings: DashboardSettings, state: DashboardState, *, token: str | None) -> None:
        if settings.needs_token and token is None:
            raise ConfigError(f"dashboard: listening on {settings.host!r} needs an access token")
        self.settings = settings
        self.state = state
        self.auth = TokenAuth(token)
        self._clients: set[_Client] = set()
        self._runner: web.AppRunner | None = None
        self._cursor = 0
        self._ticks = 0
        self.port = 0
        self.broadcasts = 0
        self.bytes_sent = 0
        self.resyncs = 0
        self.encode_errors = 0

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = self.settings.host
        shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
        shown = f"[{shown}]" if ":" in shown else shown
        return f"http://{shown}:{self.port}/"

    async def __aenter__(self) -> Self:
        if self._runner is not None:
            raise RuntimeError("DashboardServer is not reentrant")
        app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=[self.auth.middleware])
        app.on_response_prepare.append(self._headers)
        app.router.add_get("/", self._index)
        app.router.add_route("*", "/login", self.auth.login)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/api/snapshot", self._snapshot)
        app.router.add_get("/favicon.ico", self._no_icon)
        app.router.add_static("/static/", static_dir(), follow_symlinks=False)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            sock = _bind(self.settings.host, self.settings.port)
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(sock.getsockname()[1])
        extra = " (access token required)" if self.auth.enabled else ""
        log.info("dashboard: %s%s", self.url, extra)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await asyncio.gather(*(c.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")
                               for c in list(self._clients)), return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- broadcasting --------------------------------------------------------------------------

    async def broadcast_forever(self) -> None:
        period_s = 1.0 / self.settings.update_hz
        next_s = time.monotonic()
        while True:
            next_s += period_s
            await asyncio.sleep(max(0.0, next_s - time.monotonic()))
            if time.monotonic() - next_s > period_s:  # fell behind (a busy host): do not burst
                next_s = time.monotonic()
            try:
                self.broadcast_once()
            except Exception:  # a bug must not take the dashboard (or the session's sink) down
                self.encode_errors += 1
                if self.encode_errors in (1, 10, 100) or self.encode_errors % 1000 == 0:
                    log.exception("dashboard: an update failed (%d so far); browsers will resync",
                                  self.encode_errors)
                for client in self._clients:
                    client.resync = True
                    client.wake.set()

    def broadcast_once(self) -> None:
        """Send what changed since the last tick to every browser (system counters about once a second)."""
        self._ticks += 1
        with_system = self._ticks % max(1, round(self.settings.update_hz)) == 0
        if with_system:
            self.state.extra_status["dashboard"] = self.status()
        delta = self.state.delta(self._cursor, with_system=with_system)
        self._cursor = self.state.version
        if delta is None or not self._clients:
            return
        delta["server_unix_s"] = round(time.time(), 3)
        try:
            text = _dumps(delta)
        except (TypeError, ValueError):
            self.encode_errors += 1
            log.exception("dashboard: could not encode an update; browsers will resync")
            for client in self._clients:
                client.resync = True
                client.wake.set()
            return
        self.broadcasts += 1
        for client in self._clients:
            client.offer(text)

    async def drain(self, timeout_s: float) -> None:
        """Wait (up to ``timeout_s``) until every browser's outbox is sent."""
        waits = [c.idle.wait() for c in self._clients if not c.ws.closed]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await asyncio.gather(*waits)

    def status(self) -> dict[str, Any]:
        return {"clients": len(self._clients), "resyncs": self.resyncs,
                "dropped_updates": sum(c.dropped for c in self._clients), "rejected_requests": self.auth.rejected}

    # -- handlers ------------------------------------------------------------------------------

    async def _headers(self, request: web.Request, response: web.StreamResponse) -> None:
        h = response.headers
        h.setdefault("Content-Security-Policy", _CSP)
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        h["Referrer-Policy"] = "same-origin"  # no-referrer would make form posts send "Origin: null"
        h["Cache-Control"] = "no-cache" if request.path.startswith("/static/") else "no-store"

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(static_dir() / "index.html")

    async def _no_icon(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    async def _snapshot(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=self._snapshot_text(), content_type="application/json")

    def _snapshot_text(self) -> str:
        self.state.extra_status["dashboard"] = self.status()
        return _dumps(self.state.snapshot())

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if not same_origin(request):
            raise web.HTTPForbidden(text="cross-origin WebSocket refused")
        if len(self._clients) >= self.settings.max_clients:
            raise web.HTTPServiceUnavailable(text="too many dashboard browsers connected")
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_WS_MESSAGE_BYTES)
        await ws.prepare(request)
        client = _Client(ws)
        self._clients.add(client)
        try:
            async with asyncio.TaskGroup() as tg:
                writer = tg.create_task(self._write(client), name="dashboard-ws-writer")
                await self._read(client)
                writer.cancel()
        finally:
            self._clients.discard(client)
        return ws

    async def _read(self, client: _Client) -> None:
        """Browsers only ask for a resync; anything else is ignored, binary closes the socket."""
        async for msg in client.ws:
            if msg.type is WSMsgType.TEXT:
                try:
                    request = json.loads(msg.data)
                except (ValueError, RecursionError):  # RecursionError: "[[[[..." within the size limit
                    continue
                if isinstance(request, dict) and request.get("type") == "resync":
                    client.resync = True
                    client.wake.set()
            elif msg.type is WSMsgType.BINARY:
                await client.ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"text only")

    async def _write(self, client: _Client) -> None:
        ws = client.ws
        try:
            while not ws.closed:
                await client.wake.wait()
                client.wake.clear()
                if client.resync:
                    client.resync = False
                    client.outbox.clear()
                    self.resyncs += 1
                    text = self._snapshot_text()
                    async with asyncio.timeout(SEND_TIMEOUT_S):
                        await ws.send_str(text)
                    self.bytes_sent += len(text)
                while client.outbox and not client.resync:
                    text = client.outbox.popleft()
                    async with asyncio.timeout(SEND_TIMEOUT_S):
                        await ws.send_str(text)
                    self.bytes_sent += len(text)
                if not client.outbox and not client.resync:
                    client.idle.set()
        except (ConnectionError, TimeoutError, RuntimeError) as exc:
            log.info("dashboard: dropping a browser connection: %s", type(exc).__name__)
            await ws.close(code=WSCloseCode.GOING_AWAY)
