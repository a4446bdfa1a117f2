"""DashboardSink: the web dashboard inside a local session (``demo``, ``run``, ``replay``).

It only files records into :class:`DashboardState` (no awaiting per record) on a DROP_OLDEST
channel, so the dashboard can never slow the pipeline down; the server's broadcaster, owned
by ``consume``'s task group, pushes coalesced updates to browsers at a fixed rate.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable, Sequence
from types import TracebackType
from typing import Any, Self

from sensorkit.dashboard.server import DashboardServer
from sensorkit.dashboard.settings import DashboardSettings
from sensorkit.dashboard.state import DashboardState
from sensorkit.model import (
    BusItem,
    Cue,
    FatigueState,
    PostureSample,
    RollingMetrics,
    SensorHealth,
    SessionMarker,
    StepMetrics,
)
from sensorkit.pipeline.channel import ChannelStats, OverflowPolicy
from sensorkit.pipeline.session import SessionStats

YIELD_EVERY = 256
"""Records handled before giving the event loop back, so a backlog cannot starve the server."""


def session_status_row(c: ChannelStats) -> dict[str, Any]:
    return {"name": c.name, "fill": c.fill, "maxsize": c.maxsize, "max_fill": c.max_fill, "dropped": c.dropped,
            "policy": c.policy.value}


def session_status(stats: SessionStats) -> dict[str, Any]:
    """The pipeline's queue fills/drops, survived errors and catch-ups, as the page shows them."""
    return {"queues": [session_status_row(c) for c in stats.channels], "errors": dict(stats.errors),
            "blocks_joined": stats.coalesced}


class DashboardSink:
    """A Sink serving the dashboard for one session; see :func:`sensorkit.dashboard.build_dashboard_sink`."""

    name = "dashboard"
    accepts: tuple[type, ...] = (RollingMetrics, PostureSample, FatigueState, Cue, SensorHealth, StepMetrics,
                                 SessionMarker)
    policy = OverflowPolicy.DROP_OLDEST
    queue_size = 4096

    def __init__(self, settings: DashboardSettings, *, start_unix_s: float, title: str = "sensorkit",
                 runners: Sequence[str] = (), stats: Callable[[], SessionStats] | None = None,
                 token: str | None = None) -> None:
        self.start_unix_s = start_unix_s
        self._stats = stats
        self.state = DashboardState(settings, title=title, mode="local", system=self._system)
        for name in runners:
            self.state.runner(name)
        self.server = DashboardServer(settings, self.state, token=token)
        self.records = 0

    @property
    def url(self) -> str:
        return self.server.url

    def _system(self) -> dict[str, Any]:
        return session_status(self._stats()) if self._stats is not None else {}

    async def __aenter__(self) -> Self:
        await self.server.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.server.__aexit__(exc_type, exc, tb)

    async def _queues_forever(self) -> None:
        """Once a second, each runner's input queue (``runner:<name>``) goes to its detail view."""
        while self._stats is not None:
            for c in self._stats().channels:
                if c.name.startswith("runner:"):
                    self.state.runner_queues(c.name[len("runner:"):], [session_status_row(c)])
            await asyncio.sleep(1.0)

    async def consume(self, items: AsyncIterable[BusItem]) -> None:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(self.server.broadcast_forever(), name="dashboard-broadcast"),
                     tg.create_task(self._queues_forever(), name="dashboard-queues")]
            try:
                async for item in items:
                    self.state.observe(item, self.start_unix_s)
                    self.records += 1
                    if self.records % YIELD_EVERY == 0:
                        await asyncio.sleep(0)
            finally:
                for task in tasks:
                    task.cancel()
        self.server.broadcast_once()  # the final state reaches the browsers before the server stops
        await self.server.drain(timeout_s=1.0)
