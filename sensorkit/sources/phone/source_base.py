"""What every live phone source shares: identity, the timing stage, health and the ingest queue.

Push sources (HTTP, UDP, TCP) end their callbacks at the edge: validate, stamp the arrival
time, put the batch on a bounded queue (full: dropped and counted) and return. ``_run()``
drains that queue through the :class:`PhoneAligner`. Pull sources (phyphox, MQTT) override
``_run()`` with their own loop and call :meth:`_process` themselves; no source starts a task
that outlives its loop.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from sensorkit.model import Placement, SensorInfo, SourceItem
from sensorkit.pipeline.channel import Channel, ChannelStats, OverflowPolicy
from sensorkit.pipeline.clock import HostClock
from sensorkit.sources.phone.aligner import AlignerCounters, AlignerSettings, PhoneAligner
from sensorkit.sources.phone.batch import PhoneBatch
from sensorkit.sources.phone.gps import GpsSettings
from sensorkit.sources.phone.ingest import RejectLog
from sensorkit.sources.phone.settings import AnyPhoneSettings

__all__ = ["AnyPhoneSettings", "PhoneSourceBase", "PhoneSourceStats", "aligner_settings", "phone_sensor_info"]

DEVICE_NAMES = {
    "sensorlogger_http": "Sensor Logger (HTTP push)",
    "sensorlogger_mqtt": "Sensor Logger (MQTT)",
    "phyphox": "phyphox (remote access)",
    "hyperimu": "HyperIMU",
}


def phone_sensor_info(settings: AnyPhoneSettings) -> SensorInfo:
    """The :class:`SensorInfo` a phone source declares (for building the SessionInfo)."""
    return SensorInfo(settings.sensor_id, settings.runner, Placement.PHONE, settings.sampling_rate_hz,
                      device=DEVICE_NAMES[settings.app], has_gyro=settings.has_gyro, has_mag=settings.has_mag,
                      phone_wear=settings.wear)


def aligner_settings(settings: AnyPhoneSettings) -> AlignerSettings:
    gps = GpsSettings(max_speed_mps=settings.max_gps_speed_mps, max_accuracy_m=settings.max_gps_accuracy_m)
    return AlignerSettings(hold_s=settings.hold_s, gps=gps)


@dataclass(frozen=True, slots=True)
class PhoneSourceStats:
    """Counters for status pages and tests."""

    aligner: AlignerCounters
    rejected: dict[str, int]
    queue: ChannelStats
    reconnects: int


class PhoneSourceBase:
    """Base of the live phone sources; subclasses open their endpoint in ``_open``."""

    def __init__(self, settings: AnyPhoneSettings, clock: HostClock,
                 align: AlignerSettings | None = None, queue_size: int = 256) -> None:
        self.settings = settings
        self.clock = clock
        self.info = phone_sensor_info(settings)
        self.aligner = PhoneAligner(self.info, align or aligner_settings(settings))
        self.rejects = RejectLog(self.info.sensor_id)
        self._ingest: Channel[tuple[PhoneBatch, float]] = Channel(
            f"phone:{self.info.sensor_id}", queue_size, OverflowPolicy.DROP_NEWEST)
        self._last_data_s = -math.inf
        self._next_health_s = 0.0
        self._battery_pct: float | None = None
        self.reconnects = 0
        self._entered = False

    @property
    def sensors(self) -> Sequence[SensorInfo]:
        return [self.info]

    def stats(self) -> PhoneSourceStats:
        return PhoneSourceStats(self.aligner.counters, dict(self.rejects.counts), self._ingest.stats(),
                                self.reconnects)

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError(f"{self.info.sensor_id}: a phone source can be entered only once")
        self._entered = True
        await self._open()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._ingest.close()
        await self._close()

    async def _open(self) -> None:
        """Bind servers / check settings; raise :class:`SourceError` if impossible."""

    async def _close(self) -> None:
        """Release what ``_open`` took."""

    # -- the edge --------------------------------------------------------------------------

    def _accept(self, batch: PhoneBatch, arrival_s: float, peer: str | None = None) -> bool:
        """Queue one decoded message (called from callbacks); False if it was dropped."""
        device_filter = getattr(self.settings, "device_id", None)
        if device_filter is not None and batch.device_id != device_filter:
            self.rejects.reject("other device", f"deviceId {batch.device_id!r}", peer)
            return False
        if self._ingest.closed:
            return False
        if not self._ingest.send_nowait((batch, arrival_s)):
            self.rejects.reject("queue full", "processing is behind; message dropped", peer)
            return False
        return True

    # -- the loop --------------------------------------------------------------------------

    def _process(self, batch: PhoneBatch, arrival_s: float) -> list[SourceItem]:
        self._last_data_s = arrival_s
        if batch.battery_pct is not None:
            self._battery_pct = batch.battery_pct
        return self.aligner.add(batch, arrival_s)

    def _periodic(self) -> list[SourceItem]:
        now = self.clock.now_s()
        out = self.aligner.tick(now)
        if now >= self._next_health_s:
            self._next_health_s = now + self.settings.health_interval_s
            connected = now - self._last_data_s < self.settings.stale_after_s
            out.append(self.aligner.health(now, connected, decode_errors=self.rejects.total,
                                           queue_drops=self._ingest.stats().dropped,
                                           reconnects=self.reconnects, battery_pct=self._battery_pct))
        return out

    @property
    def _tick_s(self) -> float:
        return min(0.1, self.settings.hold_s / 2, self.settings.health_interval_s)

    async def items(self) -> AsyncIterator[SourceItem]:
        """Everything the phone sends, aligned; on stop, what is still held is flushed first.

        The session stops a source by cancelling the task iterating it. Samples accepted but
        still in the reorder window would be lost, so the cancellation is caught once here:
        queued messages are processed, the window is flushed and yielded, and the
        cancellation goes on (the consumer takes these last items, then ends).
        """
        try:
            async for item in self._run():
                yield item
        except asyncio.CancelledError:
            out: list[SourceItem] = []
            for batch, arrival in self._ingest.receive_nowait():
                out += self._process(batch, arrival)
            out += self.aligner.flush()
            for item in out:
                yield item
            raise

    async def _run(self) -> AsyncIterator[SourceItem]:
        """Drain the ingest queue through the timing stage until the source is closed."""
        while True:
            out: list[SourceItem] = []
            try:
                async with asyncio.timeout(self._tick_s):
                    batch, arrival = await self._ingest.receive()
                out += self._process(batch, arrival)
                for batch, arrival in self._ingest.receive_nowait():
                    out += self._process(batch, arrival)
            except TimeoutError:
                pass
            except StopAsyncIteration:
                for item in self.aligner.flush():
                    yield item
                return
            out += self._periodic()
            for item in out:
                yield item
