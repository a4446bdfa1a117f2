"""One pod for the whole session: find it, connect, start its protocol, stream, and reconnect.

The outer loop chooses its backoff by what went wrong (:class:`sensorkit.ble.errors.Backoff`);
a protocol error (the device refuses what we ask, or is not the configured device) ends
the pod's attempts since retrying cannot help, and is logged once. Counters are kept for
the health records the source publishes about once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from typing import Any

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from sensorkit.ble.assembler import PodAssembler
from sensorkit.ble.backend import BleBackend
from sensorkit.ble.errors import Backoff, wrap_ble_error
from sensorkit.ble.link import PodLink, RawPacket
from sensorkit.ble.profiles import PROFILES, detect_from_services
from sensorkit.ble.profiles.base import PodDriver, SpeedReading, StreamFormat
from sensorkit.ble.settings import BleSettings, PodSettings
from sensorkit.errors import DecodeError, ProtocolError, SensorkitError, SensorUnavailableError
from sensorkit.model import Gap, SensorHealth, SensorInfo, SourceItem, SpeedSample
from sensorkit.pipeline.channel import Channel, ChannelClosed
from sensorkit.pipeline.clock import HostClock

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PodCounters:
    connected: bool = False
    packets: int = 0
    decode_errors: int = 0
    queue_drops: int = 0
    reconnects: int = 0
    connections: int = 0
    battery_pct: float | None = None
    failed: str | None = None
    """Why the pod gave up for this session (a protocol error), else None."""
    profile: str | None = None
    mtu: int | None = None


class PodRunner:
    """Owns one configured pod; :meth:`run` only returns on a protocol error (or is cancelled)."""

    def __init__(
        self,
        sensor: SensorInfo,
        pod: PodSettings,
        *,
        backend: BleBackend,
        clock: HostClock,
        settings: BleSettings,
        out: Channel[SourceItem],
        rng: random.Random | None = None,
    ) -> None:
        self.sensor = sensor
        self.pod = pod
        self.backend = backend
        self.clock = clock
        self.settings = settings
        self.out = out
        self.rng = rng or random.Random()
        self.counters = PodCounters()
        self.assembler = PodAssembler(sensor.sensor_id, reorder_depth=settings.reorder_depth)
        self.backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s)
        self.streaming = asyncio.Event()
        """Set while samples flow (tests and benches wait on it)."""

    # -- outer loop -------------------------------------------------------------------------

    async def run(self) -> None:
        attempt = 0
        while True:
            error: BaseException | None = None
            try:
                streamed = await self._session()
                if streamed:
                    attempt = 0
            except asyncio.CancelledError:
                raise
            except ProtocolError as exc:
                self.counters.failed = str(exc)
                log.error("%s: %s; giving up on this pod for the session", self.pod.label, exc)
                return
            except SensorkitError as exc:
                error = exc
                log.warning("%s: %s", self.pod.label, exc)
            except Exception as exc:  # a bug must not end the pod's attempts
                error = exc
                log.exception("%s: unexpected failure", self.pod.label)
            self.counters.connected = False
            self.streaming.clear()
            delay = self.backoff.delay_s(error, attempt, self.rng)
            attempt += 1
            log.info("%s: retrying in %.1f s", self.pod.label, delay)
            await asyncio.sleep(delay)

    async def _find(self) -> BLEDevice:
        pod = self.pod
        wanted_address = pod.address.lower() if pod.address else None

        def match(d: BLEDevice, ad: AdvertisementData) -> bool:
            if wanted_address is not None:
                return bool(d.address.lower() == wanted_address)
            name = ad.local_name or d.name or ""
            return bool(pod.name) and name.startswith(pod.name or "")

        extra: dict[str, Any] = {} if self.backend.scanner is None else {"backend": self.backend.scanner}
        try:
            timeout = self.settings.scan_timeout_s
            device = await BleakScanner.find_device_by_filter(match, timeout=timeout, **extra)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise wrap_ble_error(exc, f"scan for {pod.label}") from exc
        if device is None:
            raise SensorUnavailableError(f"{pod.label}: not seen within {self.settings.scan_timeout_s:.0f} s")
        return device

    async def _session(self) -> bool:
        """One connection, from search to link loss. True if samples flowed."""
        device = await self._find()
        link = PodLink(
            device,
            backend=self.backend,
            clock=self.clock,
            label=self.pod.label,
            queue_size=self.settings.queue_size,
            connect_timeout_s=self.settings.connect_timeout_s,
            on_drop=self._on_drop,
        )
        async with link:
            try:
                async with asyncio.timeout(self.settings.setup_timeout_s):
                    driver, fmt = await self._start(link)
            except TimeoutError as exc:
                raise SensorUnavailableError(f"{self.pod.label}: setup timed out") from exc
            try:
                await self._stream(link, driver, fmt)
            except asyncio.CancelledError:
                # Shutting down: nobody may be reading any more, so never wait for room.
                for item in self.assembler.stop(self.clock.now_s()):
                    with contextlib.suppress(asyncio.QueueFull, ChannelClosed):
                        self.out.send_nowait(item)
                await self._stop_device(link, driver)
                raise
            for item in self.assembler.stop(self.clock.now_s()):
                await self.out.send(item)
            if link.lost.is_set():
                log.warning("%s: link lost; reconnecting (the hole is recorded as a gap)", self.pod.label)
            else:
                await self._stop_device(link, driver)
        return True

    async def _stop_device(self, link: PodLink, driver: PodDriver) -> None:
        """Tell the device to stop streaming; best effort, the link may be going."""
        if link.lost.is_set():
            return
        try:
            async with asyncio.timeout(2.0):
                await driver.stop(link)
        except Exception as e:
            log.debug("%s: stop: %s", self.pod.label, e)

    async def _start(self, link: PodLink) -> tuple[PodDriver, StreamFormat]:
        profile = self.pod.profile or detect_from_services(link.name or self.pod.name, link.service_uuids())
        if profile is None:
            raise ProtocolError(f"{self.pod.label}: no supported profile among its services")
        driver = PROFILES[profile](self.pod.stream_request())
        fmt = await driver.start(link)
        c = self.counters
        c.profile, c.mtu = profile, link.mtu
        if c.connections:
            c.reconnects += 1
        c.connections += 1
        c.connected = True
        c.battery_pct = await link.battery_pct() or c.battery_pct
        self.assembler.start(fmt)
        log.info(
            "%s: streaming %s (%s)",
            self.pod.label,
            profile,
            ", ".join(f"{k} {v.rate_hz:g} Hz" for k, v in fmt.streams.items()),
        )
        return driver, fmt

    # -- inner loop -------------------------------------------------------------------------

    def _on_drop(self, _packet: RawPacket) -> None:
        self.counters.queue_drops += 1

    async def _stream(self, link: PodLink, driver: PodDriver, fmt: StreamFormat) -> None:
        next_battery = self.clock.now_s() + self.settings.battery_interval_s
        async for pkt in link.stream():
            try:
                decoded = driver.decode(pkt.uuid, pkt.data)
            except DecodeError as exc:
                self.counters.decode_errors += 1
                if self.counters.decode_errors in (1, 10, 100) or self.counters.decode_errors % 1000 == 0:
                    log.warning(
                        "%s: skipped malformed packet (%d so far): %s",
                        self.pod.label,
                        self.counters.decode_errors,
                        exc,
                    )
                continue
            self.counters.packets += 1
            for item in decoded:
                if isinstance(item, SpeedReading):
                    await self.out.send(self._speed(item, pkt.arrival_s))
                    continue
                for out in self.assembler.push(item, pkt.arrival_s):
                    await self.out.send(out)
                self.streaming.set()
            if pkt.arrival_s >= next_battery:
                next_battery = pkt.arrival_s + self.settings.battery_interval_s
                self.counters.battery_pct = await link.battery_pct() or self.counters.battery_pct

    def _speed(self, r: SpeedReading, arrival_s: float) -> SpeedSample:
        self.streaming.set()
        cadence = float(r.cadence_per_min) * (2.0 if self.pod.cadence_per_stride else 1.0)
        return SpeedSample(
            self.sensor.sensor_id,
            arrival_s,
            r.speed_mps,
            cadence,
            r.stride_length_m,
            r.distance_m,
            source="rsc",
        )

    def end_gap(self) -> Gap | None:
        """At session end: the gap of a pod that is disconnected now (None while it streams)."""
        return None if self.counters.connected else self.assembler.end_gap(self.clock.now_s())

    # -- health -----------------------------------------------------------------------------

    def health(self) -> SensorHealth:
        c, s = self.counters, self.assembler.stats
        return SensorHealth(
            runner=self.sensor.runner,
            sensor_id=self.sensor.sensor_id,
            placement=self.sensor.placement,
            time_s=self.clock.now_s(),
            connected=c.connected,
            packets=c.packets,
            samples=s.samples,
            lost_samples=s.lost_samples,
            gaps=s.gaps,
            reconnects=c.reconnects,
            decode_errors=c.decode_errors,
            queue_drops=c.queue_drops,
            battery_pct=c.battery_pct,
            clock_residual_ms=self.assembler.clock_residual_ms(),
        )
