"""Sensor Logger HTTP push: an aiohttp endpoint the phone posts its JSON batches to.

Point the app's "HTTP Push" URL at ``http://<this host>:<port><path>``. Every request is
checked in this order, cheapest first, and answered at once (the app does not wait for
processing): token (401), rate (429), size (413, enforced by aiohttp while reading),
JSON schema (400), device filter (403), queue room (503). Rejections are counted per reason
and logged without flooding; the token may come as ``Authorization: Bearer <t>`` or, for
apps that only let you set a URL, as ``?token=<t>`` (aiohttp's access log is off, so the
URL is never logged).
"""

from __future__ import annotations

import logging

from aiohttp import web

from sensorkit.errors import DecodeError, SourceError
from sensorkit.pipeline.clock import HostClock
from sensorkit.sources.phone.ingest import TokenBucket, load_token, token_matches
from sensorkit.sources.phone.sensorlogger import decode_message
from sensorkit.sources.phone.settings import SensorLoggerHttpSettings
from sensorkit.sources.phone.source_base import PhoneSourceBase

log = logging.getLogger(__name__)


def request_token(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("X-Sensorkit-Token") or request.query.get("token")


class SensorLoggerHttpSource(PhoneSourceBase):
    """One phone pushing to its own endpoint (one port per phone)."""

    settings: SensorLoggerHttpSettings

    def __init__(self, settings: SensorLoggerHttpSettings, clock: HostClock) -> None:
        super().__init__(settings, clock, queue_size=settings.queue_messages)
        self._bucket = TokenBucket(settings.max_messages_per_s, settings.burst_messages)
        self._token: str | None = None
        self._runner: web.AppRunner | None = None
        self.port: int = settings.port

    @property
    def url(self) -> str:
        """Where the phone should post (without the token)."""
        return f"http://{self.settings.host}:{self.port}{self.settings.path}"

    async def _open(self) -> None:
        s = self.settings
        self._token = load_token(s.token_env, s.token_file, f"phone {self.info.sensor_id}")
        app = web.Application(client_max_size=s.max_body_bytes)
        app.router.add_post(s.path, self._handle)
        app.router.add_get(s.path, self._probe)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, s.host, s.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise SourceError(f"{self.info.sensor_id}: cannot listen on {s.host}:{s.port}: "
                              f"{exc.strerror or exc}") from exc
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("%s: Sensor Logger HTTP push endpoint %s%s", self.info.sensor_id, self.url,
                 " (token required)" if self._token else "")

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _probe(self, request: web.Request) -> web.Response:
        """GET answers 200 so a user can check the address from the phone's browser."""
        if not token_matches(self._token, request_token(request)):
            return web.Response(status=401, text="token required\n")
        return web.Response(text=f"sensorkit: POST Sensor Logger data here for {self.info.sensor_id}\n")

    async def _handle(self, request: web.Request) -> web.Response:
        arrival = self.clock.now_s()
        peer = request.remote
        try:
            return await self._handle_checked(request, arrival, peer)
        except Exception:  # a bug here must cost one message, never the endpoint
            self.rejects.reject("internal error", "see the exception in the log", peer)
            log.exception("%s: failed to handle a push", self.info.sensor_id)
            return web.Response(status=500, text="internal error\n")

    async def _handle_checked(self, request: web.Request, arrival: float, peer: str | None) -> web.Response:
        s = self.settings
        if not token_matches(self._token, request_token(request)):
            self.rejects.reject("bad token", "missing or wrong token", peer)
            return web.Response(status=401, text="token required\n")
        if not self._bucket.allow():
            self.rejects.reject("rate limited", f"more than {s.max_messages_per_s}/s", peer)
            return web.Response(status=429, text="too many requests\n")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self.rejects.reject("too large", f"body over {s.max_body_bytes} bytes", peer)
            return web.Response(status=413, text="request too large\n")
        try:
            batch, skipped = decode_message(body, platform=s.platform, max_readings=s.max_readings)
        except DecodeError as exc:
            self.rejects.reject("malformed", str(exc), peer)
            return web.Response(status=400, text=f"bad message: {exc}\n")
        if skipped:
            self.rejects.reject("invalid readings", f"{skipped} readings skipped", peer)
        if s.device_id is not None and batch.device_id != s.device_id:
            self.rejects.reject("other device", f"deviceId {batch.device_id!r}", peer)
            return web.Response(status=403, text="unexpected deviceId\n")
        if not self._accept(batch, arrival, peer):
            return web.Response(status=503, text="busy\n")
        return web.json_response({"status": "ok"})
