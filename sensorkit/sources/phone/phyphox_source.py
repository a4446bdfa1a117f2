"""phyphox remote access: sensorkit polls the phone's web server for new buffer values.

On connect it reads ``/config`` (which buffers hold which sensor) and ``/time`` (experiment
time -> phone clock), then polls ``/get`` with each time buffer's last seen value as the
threshold, so every answer carries only new samples. A new phyphox session (another
experiment loaded) re-reads the layout; a (re)started measurement re-reads ``/time``.
Connections are not kept alive: phyphox's small HTTP server misbehaves with keep-alive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp

from sensorkit.errors import DecodeError
from sensorkit.model import SourceItem
from sensorkit.pipeline.clock import HostClock
from sensorkit.sources.phone.phyphox_protocol import (
    DEFAULT_LAYOUT,
    Layout,
    TimeMap,
    extract,
    get_query,
    layout_from_config,
    parse_get,
    parse_time,
)
from sensorkit.sources.phone.settings import PhyphoxSettings
from sensorkit.sources.phone.source_base import PhoneSourceBase

log = logging.getLogger(__name__)


class TooLargeError(Exception):
    """The answer exceeded ``max_response_bytes``."""


class PhyphoxSource(PhoneSourceBase):
    """Polls one phone running phyphox with remote access enabled."""

    settings: PhyphoxSettings

    def __init__(self, settings: PhyphoxSettings, clock: HostClock) -> None:
        super().__init__(settings, clock)
        self._base = settings.url.rstrip("/")
        self._http: aiohttp.ClientSession | None = None
        self._layout: Layout | None = None
        self._time_map = TimeMap()
        self._thresholds: dict[str, float | None] = {}
        self._session: str | None = None
        self._measuring = False
        self.connected = False

    async def _open(self) -> None:
        s = self.settings
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True, limit=2),
            timeout=aiohttp.ClientTimeout(total=s.timeout_s))

    async def _close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _fetch(self, path: str, params: list[tuple[str, str]] | None = None) -> tuple[int, bytes]:
        assert self._http is not None, "source not entered"
        limit = self.settings.max_response_bytes
        async with self._http.get(self._base + path, params=params) as resp:
            body = await resp.content.read(limit + 1)
            if len(body) > limit:
                raise TooLargeError(f"{path}: answer over {limit} bytes")
            return resp.status, body

    async def _discover(self) -> None:
        status, body = await self._fetch("/config")
        if status == 200:
            self._layout = layout_from_config(body)
        else:
            log.warning("%s: phyphox /config answered %d; assuming the default buffer names",
                        self.info.sensor_id, status)
            self._layout = DEFAULT_LAYOUT
        self._thresholds = dict.fromkeys(self._layout.time_buffers)
        await self._read_time()
        if self.settings.start_measurement:
            await self._fetch("/control", [("cmd", "start")])
            # we started it: fetch everything from experiment time 0, not just what is new
            self._thresholds = dict.fromkeys(self._layout.time_buffers, -1.0)
        log.info("%s: phyphox at %s: %s", self.info.sensor_id, self._base,
                 ", ".join(f"{b.channel.value}<-{b.t}" for b in self._layout.sets))

    async def _read_time(self) -> None:
        status, body = await self._fetch("/time")
        self._time_map = parse_time(body) if status == 200 else TimeMap()

    async def _poll(self) -> list[SourceItem]:
        if self._layout is None:
            await self._discover()
        assert self._layout is not None
        status, body = await self._fetch("/get", get_query(self._layout, self._thresholds))
        arrival = self.clock.now_s()
        if status != 200:
            raise DecodeError(f"/get answered HTTP {status}")
        resp = parse_get(body)
        self.connected = True
        if self._session is not None and resp.status.session != self._session:
            log.info("%s: new phyphox session; re-reading the experiment", self.info.sensor_id)
            self._session = resp.status.session
            self._layout = None
            return []
        self._session = resp.status.session
        if resp.status.measuring and not self._measuring:
            await self._read_time()
        self._measuring = resp.status.measuring
        batch = extract(resp, self._layout, self._thresholds, self._time_map)
        if not batch.channels and not batch.fixes:
            return []
        return self._process(batch, arrival)

    async def _run(self) -> AsyncIterator[SourceItem]:
        s = self.settings
        backoff_s = s.poll_interval_s
        while True:
            started = self.clock.now_s()
            out: list[SourceItem] = []
            try:
                out += await self._poll()
                backoff_s = s.poll_interval_s
                wait_s = s.poll_interval_s - (self.clock.now_s() - started)
            except (aiohttp.ClientError, TimeoutError, DecodeError, TooLargeError) as exc:
                if self.connected or self.reconnects == 0:
                    log.warning("%s: phyphox at %s: %s; retrying", self.info.sensor_id, self._base,
                                exc or type(exc).__name__)
                if isinstance(exc, DecodeError):
                    self.rejects.reject("malformed", str(exc))
                elif isinstance(exc, TooLargeError):
                    self.rejects.reject("too large", str(exc))
                self.connected = False
                self.reconnects += 1  # thresholds are kept: the next answer resumes where we were
                wait_s = backoff_s
                backoff_s = min(2 * backoff_s, s.reconnect_max_s)
            out += self._periodic()
            for item in out:
                yield item
            await asyncio.sleep(max(0.0, wait_s))
