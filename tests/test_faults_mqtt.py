"""MQTT broker restart seen from the coach's side: the team dashboard's subscription.

The gateway's side (MqttSink: reconnect, resume, expired cues dropped) is
tests/test_mqtt_broker.py::test_broker_restart_mid_session_reconnects_resumes_and_drops_expired_cues,
and the phone's MQTT source is tests/test_phone_mqtt.py::test_broker_restart_is_survived.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiomqtt
import pytest

from sensorkit.dashboard.state import DashboardState
from sensorkit.dashboard.team import MqttFeed
from sensorkit.model import RollingMetrics
from sensorkit.mqtt import MqttSettings
from sensorkit.mqtt.schema import Kind, payload_of, runner_topic
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.servers

START = time.time()


async def until(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):  # a hang guard, not a timing assertion
        while not check():  # noqa: ASYNC110 - polls state that another task owns
            await asyncio.sleep(0.05)


async def publish_metrics(port: int, t: float) -> None:
    """One gateway message: rolling metrics of runner ann at data time ``t``."""
    record = RollingMetrics("ann", t, 10.0, 28, cadence_spm=160.0 + t)
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.publish(runner_topic("ann", Kind.METRICS, "club"),
                             payload_of(record, start_unix_s=START).to_json(), qos=1)


def cadence(state: DashboardState) -> float | None:
    runners = state.snapshot()["runners"]
    return runners[0]["tile"]["cadence_spm"] if runners else None


async def test_the_team_dashboard_rides_out_a_broker_restart(
        mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    settings = MqttSettings(enabled=True, port=mosquitto.port, topic_prefix="club",
                            reconnect_min_s=0.2, reconnect_max_s=0.5)
    state = DashboardState(mode="team")
    feed = MqttFeed(settings, state)
    async with feed, asyncio.TaskGroup() as tg:
        reader = tg.create_task(feed.run())
        await until(lambda: feed.connected)
        await publish_metrics(mosquitto.port, 1.0)
        await until(lambda: cadence(state) == 161.0)

        mosquitto.restart()  # in-flight connections are cut; nothing is retained (no persistence)
        await until(lambda: feed.connects >= 2 and feed.connected)
        await publish_metrics(mosquitto.port, 2.0)
        await until(lambda: cadence(state) == 162.0)
        shown = state.system()["mqtt"]  # what the page's status block says
        reader.cancel()
    assert not feed.rejected
    assert shown["connected"] is True and shown["connects"] == feed.connects >= 2
    assert any("dashboard:" in r.getMessage() and "retrying" in r.getMessage() for r in caplog.records)
