"""``BlePodSource``: the pods of one runner as one :class:`~sensorkit.sources.base.Source`.

Each pod runs in its own task (find, connect, stream, reconnect) in the source's task
group; a health ticker publishes a :class:`~sensorkit.model.SensorHealth` per pod about once
a second, connected or not. Items of all pods leave through one bounded channel: a slow
pipeline holds the decoders back, and the only place data is ever dropped is the per-pod
edge queue, where it is counted.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Self

from pydantic import ValidationError

from sensorkit.ble.backend import PLATFORM, BleBackend
from sensorkit.ble.errors import wrap_ble_error
from sensorkit.ble.pod import PodRunner
from sensorkit.ble.profiles import PROFILES
from sensorkit.ble.settings import BleSettings, PodSettings, RunnerPods
from sensorkit.errors import AdapterError, ConfigError
from sensorkit.model import SensorInfo, SourceItem
from sensorkit.pipeline.channel import Channel, OverflowPolicy
from sensorkit.pipeline.clock import HostClock

log = logging.getLogger(__name__)


def sensor_info(runner: str, pod: PodSettings) -> SensorInfo:
    """What the session learns about a pod before it is found (profile facts when configured)."""
    info = PROFILES[pod.profile].info if pod.profile else None
    rate = pod.rate_hz or (info.default_rate_hz if info else 100.0)
    if info and info.rates_hz:
        rate = min(info.rates_hz, key=lambda r: abs(r - rate))
    return SensorInfo(
        sensor_id=f"{runner}/{pod.placement.value}",
        runner=runner,
        placement=pod.placement,
        sampling_rate_hz=float(rate),
        device=info.title if info else "BLE pod",
        address=pod.address,
        has_gyro=info.has_gyro if info else True,
        acc_range_g=pod.acc_range_g,
        gyr_range_dps=pod.gyr_range_dps,
    )


async def probe_adapter(backend: BleBackend, timeout_s: float = 5.0) -> None:
    """Fail fast and clearly when there is no Bluetooth: start and stop a scan."""
    scanner = backend.make_scanner()
    try:
        async with asyncio.timeout(timeout_s):
            await scanner.start()
            await scanner.stop()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        err = wrap_ble_error(exc, "start scanning")
        if isinstance(err, AdapterError):
            raise err from exc
        log.warning("Bluetooth adapter probe: %s", err)


class BlePodSource:
    """All BLE pods of one runner. ``backend`` is the only thing tests change."""

    def __init__(
        self,
        runner: str,
        pods: Sequence[PodSettings],
        clock: HostClock,
        *,
        backend: BleBackend | None = None,
        settings: BleSettings | None = None,
        out_queue_size: int = 256,
        seed: int | None = None,
        probe: bool = True,
    ) -> None:
        if not pods:
            raise ConfigError(f"runner {runner!r}: no BLE pods configured")
        try:
            RunnerPods(runner=runner, pods=list(pods))  # placements must be unique
        except ValidationError as exc:
            raise ConfigError(f"runner {runner!r}: {exc.errors()[0]['msg']}") from exc
        self.runner = runner
        self.clock = clock
        self.backend = backend or PLATFORM
        self.settings = settings or BleSettings()
        self._probe = probe
        self._infos = [sensor_info(runner, p) for p in pods]
        self._out: Channel[SourceItem] = Channel(f"ble:{runner}", out_queue_size, OverflowPolicy.BLOCK)
        rng = random.Random(seed)
        self.pods = [
            PodRunner(
                info,
                pod,
                backend=self.backend,
                clock=clock,
                settings=self.settings,
                out=self._out,
                rng=random.Random(rng.random()),
            )
            for info, pod in zip(self._infos, pods, strict=True)
        ]
        self._tg: asyncio.TaskGroup | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def sensors(self) -> Sequence[SensorInfo]:
        return self._infos

    async def __aenter__(self) -> Self:
        if self._tg is not None:
            raise RuntimeError("BlePodSource is not reentrant")
        if self._probe:
            await probe_adapter(self.backend)
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        for pod in self.pods:
            self._tasks.append(self._tg.create_task(pod.run(), name=f"ble-pod:{pod.sensor.sensor_id}"))
        self._tasks.append(self._tg.create_task(self._health(), name=f"ble-health:{self.runner}"))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        tg, self._tg = self._tg, None
        for t in self._tasks:
            t.cancel()
        self._tasks.clear()
        if tg is not None:
            await tg.__aexit__(exc_type, exc, tb)
        self._out.close()

    async def _health(self) -> None:
        while True:
            await asyncio.sleep(self.settings.health_interval_s)
            for pod in self.pods:
                await self._out.send(pod.health())

    async def items(self) -> AsyncIterator[SourceItem]:
        try:
            async for item in self._out:
                yield item
        except asyncio.CancelledError:
            # The session is stopping: hand over what was already accepted, then close the
            # hole of every pod that is away right now, so the recording says where it went.
            for item in self._out.receive_nowait():
                yield item
            for pod in self.pods:
                gap = pod.end_gap()
                if gap is not None:
                    yield gap
            raise


def build_ble_sources(
    runners: Mapping[str, Sequence[PodSettings]] | Iterable[RunnerPods],
    clock: HostClock,
    backend: BleBackend | None = None,
    settings: BleSettings | None = None,
) -> list[BlePodSource]:
    """One :class:`BlePodSource` per runner that has pods (the coordinator's factory)."""
    if isinstance(runners, Mapping):
        entries = [RunnerPods(runner=name, pods=list(pods)) for name, pods in runners.items()]
    else:
        entries = list(runners)
    return [BlePodSource(e.runner, e.pods, clock, backend=backend, settings=settings) for e in entries if e.pods]
