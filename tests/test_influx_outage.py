"""A live session survives InfluxDB being killed for over 30 s: zero loss, every series in time order."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from sensorkit.pipeline.channel import Channel
from sensorkit.store.influx import InfluxSink
from tests.support.influx_data import expected_points, feed_live, make_info, make_items
from tests.support.influx_readback import influx_points
from tests.test_influx_sink import RecordingWriter, settings_for

pytestmark = [pytest.mark.servers, pytest.mark.slow]

SESSION_S = 44.0
KILL_AT_S = 5.0
DOWN_S = 32.0


@pytest.mark.timeout(180)
async def test_influxd_killed_for_32_s_mid_session_loses_nothing(influxd_private, tmp_path, caplog) -> None:
    influxd_private.query('CREATE DATABASE "outage"')
    info = make_info(runners=("alice", "bob", "carol"))
    items = make_items(info, duration_s=SESSION_S)
    settings = settings_for(influxd_private, tmp_path, "outage", raw_imu="full", batch_points=2000,
                            flush_interval_s=0.5, retry_initial_s=0.2, retry_max_s=2.0, queue_size=5000)
    writer = RecordingWriter(settings)
    sink = InfluxSink(settings, info, writer=writer)
    channel = Channel("sink:influx", sink.queue_size, sink.policy)
    caplog.set_level(logging.WARNING)
    timeline: dict[str, float] = {}

    async def live_feed() -> None:
        await feed_live(items, channel, sink.accepts)

    async def outage() -> None:
        await asyncio.sleep(KILL_AT_S)
        influxd_private.stop(kill=True)
        timeline["killed"] = time.monotonic()
        await asyncio.sleep(DOWN_S)
        timeline["spooled_while_down"] = sink.stats().spool_points
        await asyncio.to_thread(influxd_private.start)
        timeline["restarted"] = time.monotonic()

    async with sink, asyncio.TaskGroup() as tg:
        tg.create_task(live_feed())
        tg.create_task(outage())
        tg.create_task(sink.consume(channel))

    assert timeline["restarted"] - timeline["killed"] >= 30.0
    assert timeline["spooled_while_down"] > 0
    want = expected_points(info, items)
    got = influx_points(influxd_private, "outage")
    missing = set(want) - set(got)
    assert not missing, f"{len(missing)} points lost, e.g. {sorted(missing)[:3]}"
    assert got == want
    s = sink.stats()
    assert s.points_written == len(want) and s.spool_points == 0 and s.pending_points == 0
    assert s.points_dropped_spool_full == 0 and s.items_dropped_at_queue == 0 and s.points_rejected == 0
    assert s.write_failures > 0 and s.points_spooled > 0
    for series, stamps in writer.series.items():
        assert stamps == sorted(stamps), f"{series} reached the server out of order"
    assert "answers again; draining" in caplog.text
