"""Live views of a session: the terminal table, and the web dashboard for coaches.

The web dashboard (aiohttp; WebSocket updates coalesced per runner at ``update_hz``) runs
inside a session as a sink (:func:`build_dashboard_sink`) or stand-alone in team mode on top
of an MQTT broker (:func:`run_team_dashboard`). Settings: :class:`DashboardSettings`
(section ``[dashboard]``). Heavy imports (aiohttp) happen only when a dashboard is built.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sensorkit.dashboard.settings import DashboardSettings

if TYPE_CHECKING:
    from collections.abc import Callable

    from sensorkit.dashboard.sink import DashboardSink
    from sensorkit.model import SessionInfo
    from sensorkit.mqtt.settings import MqttSettings
    from sensorkit.pipeline.session import SessionStats


def build_dashboard_sink(settings: DashboardSettings, info: SessionInfo, *,
                         stats: Callable[[], SessionStats] | None = None, title: str | None = None) -> DashboardSink:
    """The dashboard sink for one session (reads the token now: a missing one fails before anything starts)."""
    from sensorkit.dashboard.sink import DashboardSink

    return DashboardSink(settings, start_unix_s=info.start_unix_s, title=title or info.session_id,
                         runners=[r.name for r in info.runners], stats=stats, token=settings.token())


async def run_team_dashboard(settings: DashboardSettings, mqtt: MqttSettings, stop: asyncio.Event, *,
                             title: str = "team") -> None:
    """Serve a dashboard of every runner on the broker until ``stop`` is set (``sensorkit dashboard``)."""
    from sensorkit.dashboard.server import DashboardServer
    from sensorkit.dashboard.state import DashboardState
    from sensorkit.dashboard.team import MqttFeed

    token = settings.token()
    password = mqtt.password()
    mqtt.tls_context()  # unreadable TLS files fail here, clearly
    state = DashboardState(settings, title=title, mode="team")
    server = DashboardServer(settings, state, token=token)
    feed = MqttFeed(mqtt, state, password=password, max_payload_bytes=settings.mqtt_max_payload_bytes)
    async with server, feed, asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(server.broadcast_forever(), name="dashboard-broadcast"),
                 tg.create_task(feed.run(), name="dashboard-mqtt")]
        await stop.wait()
        for task in tasks:
            task.cancel()


__all__ = ["DashboardSettings", "build_dashboard_sink", "run_team_dashboard"]
