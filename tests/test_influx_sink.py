"""InfluxSink around a real influxd: down at start, refused batches, full spool, inside a Session."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import urllib.request
from typing import Any, Self

import numpy as np
import pytest

from sensorkit.model import BusItem, Placement, Record, RollingMetrics, RunnerInfo, SampleBlock, SessionInfo
from sensorkit.pipeline.channel import Channel, OverflowPolicy
from sensorkit.pipeline.session import Session
from sensorkit.store.influx import InfluxSettings, InfluxSink
from sensorkit.store.influx.v1 import V1Writer
from tests.support.influx_data import expected_points, make_info, make_items
from tests.support.influx_readback import influx_points, write_items
from tests.support.sources import ListSource, ramp_blocks, sensor

pytestmark = pytest.mark.servers
_db = (f"sink_{i}" for i in itertools.count())


SERIES = re.compile(r"((?:[^ \\]|\\.)*) ")
"""Measurement and tags: everything up to the first unescaped space."""


class FlakyWriter:
    """The real V1Writer, except that its first ``fail`` writes raise a non-store error (a client bug)."""

    def __init__(self, settings: InfluxSettings, fail: int) -> None:
        self.inner = V1Writer(settings)
        self.target = self.inner.target
        self.fail = fail

    async def __aenter__(self) -> Self:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.inner.__aexit__(*exc)

    async def check(self) -> None:
        await self.inner.check()

    async def write(self, data: bytes) -> None:
        if self.fail:
            self.fail -= 1
            raise ValueError("simulated client bug")
        await self.inner.write(data)


class RecordingWriter:
    """The real V1Writer, remembering the timestamps of each series in the order they were accepted."""

    def __init__(self, settings: InfluxSettings) -> None:
        self.inner = V1Writer(settings)
        self.target = self.inner.target
        self.series: dict[str, list[int]] = {}
        self.failures = 0

    async def __aenter__(self) -> Self:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.inner.__aexit__(*exc)

    async def check(self) -> None:
        await self.inner.check()

    async def write(self, data: bytes) -> None:
        try:
            await self.inner.write(data)
        except Exception:
            self.failures += 1
            raise
        for line in data.decode().splitlines():
            series = SERIES.match(line)
            assert series is not None, line
            self.series.setdefault(series.group(1), []).append(int(line.rsplit(" ", 1)[1]))


def settings_for(server, tmp_path, db: str, **kw) -> InfluxSettings:
    base: dict[str, Any] = {"enabled": True, "api": "v1", "url": server.url, "database": db,
                            "spool_dir": tmp_path / "spool", "retry_initial_s": 0.05, "retry_max_s": 0.5,
                            "flush_interval_s": 0.1}
    return InfluxSettings(**(base | kw))


async def test_a_server_down_at_start_is_spooled_for_and_drained_in_order_when_it_comes(
        influxd_private, tmp_path, caplog) -> None:
    db = next(_db)
    influxd_private.query(f'CREATE DATABASE "{db}"')
    influxd_private.stop()
    info = make_info()
    items = make_items(info, duration_s=3.0)
    settings = settings_for(influxd_private, tmp_path, db, raw_imu="full", batch_points=300)
    writer = RecordingWriter(settings)
    sink = InfluxSink(settings, info, writer=writer)
    caplog.set_level(logging.WARNING)

    async def bring_back_later() -> None:
        while sink.stats().spool_batches < 3:  # noqa: ASYNC110 - polling the sink's counters
            await asyncio.sleep(0.05)
        await asyncio.to_thread(influxd_private.start)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(bring_back_later())
        tg.create_task(write_items(sink, items, pace_s=0.01))
    assert "spools to" in caplog.text and "answers again" in caplog.text
    want = expected_points(info, items)
    assert influx_points(influxd_private, db) == want
    s = sink.stats()
    assert s.points_spooled > 0 and s.write_failures > 0 and s.spool_points == 0
    assert s.points_written == len(want) and s.points_dropped_spool_full == 0
    for stamps in writer.series.values():
        assert stamps == sorted(stamps)  # every series reached the server in time order


async def test_a_batch_the_server_refuses_is_kept_aside_and_the_rest_goes_on(
        influxd, tmp_path, caplog) -> None:
    db = next(_db)
    influxd.query(f'CREATE DATABASE "{db}"')
    info = make_info()
    # A field of another type already in the shard: InfluxDB refuses the conflicting points (HTTP 400).
    conflict = f'rolling,runner=x cadence_spm="text" {int(info.start_unix_s) * 10**9}\n'.encode()
    urllib.request.urlopen(f"{influxd.url}/write?db={db}", data=conflict).close()  # noqa: ASYNC210
    items = make_items(info, duration_s=2.0)
    rolling = [x for x in items if isinstance(x, RollingMetrics)]
    others = [x for x in items if not isinstance(x, RollingMetrics | SampleBlock)]
    sink = InfluxSink(settings_for(influxd, tmp_path, db, raw_imu="off", batch_points=100000), info)
    caplog.set_level(logging.ERROR)
    await write_items(sink, rolling)
    s = sink.stats()
    assert s.points_rejected == len(rolling) and s.points_written == 0
    rejected = list((sink._spool.path / "rejected").glob("*.lp"))
    assert len(rejected) == 1 and rejected[0].read_bytes().count(b"\n") == len(rolling)
    assert "not retried" in caplog.text
    sink2 = InfluxSink(settings_for(influxd, tmp_path, db, raw_imu="off"), info)
    await write_items(sink2, others)  # the queue is not blocked by the refused batch
    assert sink2.stats().points_written == len(expected_points(info, others))


async def test_a_full_spool_drops_loudly_and_every_point_is_accounted_for(tmp_path, caplog) -> None:
    from tests.support.servers import free_port

    info = make_info()
    items = make_items(info, duration_s=3.0)
    settings = InfluxSettings(enabled=True, api="v1", url=f"http://127.0.0.1:{free_port()}",
                              spool_dir=tmp_path, spool_max_mb=0.05, raw_imu="full", batch_points=200,
                              retry_initial_s=0.05, retry_max_s=0.1, shutdown_drain_s=0.2,
                              flush_interval_s=0.05)
    sink = InfluxSink(settings, info)
    caplog.set_level(logging.ERROR)
    await write_items(sink, items, pace_s=0.001)
    s = sink.stats()
    assert s.points_dropped_spool_full > 0 and "DROPPED" in caplog.text
    assert s.points_written == 0
    assert s.spool_points + s.points_dropped_spool_full == s.points_encoded
    assert s.spool_bytes <= 0.05e6
    # The spooled points are still on disk for the next start.
    again = InfluxSink(settings, info)
    async with again:
        assert again.stats().spool_points == s.spool_points


class EveryBlockMakesRolling:
    """A stand-in metrics stage: one RollingMetrics per sample block (so records flow too)."""

    def __init__(self, runner: str) -> None:
        self.runner = runner

    def update(self, item: BusItem) -> list[Record]:
        if isinstance(item, SampleBlock):
            last = float(item.acc_g[-1, 0])
            return [RollingMetrics(self.runner, item.end_s, 10.0, len(item), cadence_spm=last)]
        return []

    def finish(self) -> list[Record]:
        return []


async def test_inside_a_session_every_sample_and_record_arrives(influxd, tmp_path) -> None:
    db = next(_db)
    influxd.query(f'CREATE DATABASE "{db}"')
    runners = ["r1", "r2", "r3"]
    infos = [sensor(r, Placement.LOWER_BACK, 100.0) for r in runners]
    info = SessionInfo("sess-pipeline", make_info().start_unix_s,
                       tuple(RunnerInfo(r) for r in runners),
                       tuple(infos), "test")
    sources = [ListSource([s], ramp_blocks(s, 40, 10)) for s in infos]
    sink = InfluxSink(settings_for(influxd, tmp_path, db, raw_imu="full"), info)
    session = Session(info, sources, {r: [EveryBlockMakesRolling(r)] for r in runners}, [sink])
    await session.run()
    got = influx_points(influxd, db)
    for s in infos:
        imu = sorted((ts, f["ax"]) for (m, tags, ts), f in got.items()
                     if m == "imu" and ("sensor", s.sensor_id) in tags)
        assert [ax for _, ax in imu] == list(np.arange(400.0))  # the ramp, complete and in time order
    assert sum(1 for k in got if k[0] == "rolling") == 3 * 40
    assert sum(1 for k in got if k[0] == "markers") == 3 * 2  # start and stop per runner
    assert sink.stats().items_dropped_at_queue == 0


async def test_an_unexpected_client_error_keeps_the_batch_and_retries(influxd, tmp_path, caplog) -> None:
    db = next(_db)
    influxd.query(f'CREATE DATABASE "{db}"')
    info = make_info()
    items = make_items(info, duration_s=1.0)
    settings = settings_for(influxd, tmp_path, db, raw_imu="full")
    sink = InfluxSink(settings, info, writer=FlakyWriter(settings, fail=2))
    caplog.set_level(logging.ERROR)
    await write_items(sink, items)
    assert influx_points(influxd, db) == expected_points(info, items)
    s = sink.stats()
    assert s.write_failures == 2 and s.points_dropped_spool_full == 0 and s.spool_points == 0
    assert "simulated client bug" in caplog.text


async def test_a_cancelled_session_spools_what_the_sink_had_accepted(tmp_path) -> None:
    from tests.support.servers import free_port

    info = make_info()
    items = [x for x in make_items(info, duration_s=2.0)]
    settings = InfluxSettings(enabled=True, api="v1", url=f"http://127.0.0.1:{free_port()}",
                              spool_dir=tmp_path, raw_imu="full", retry_initial_s=5.0, flush_interval_s=60)
    sink = InfluxSink(settings, info)
    channel: Channel[BusItem] = Channel("sink:influx", 100_000, OverflowPolicy.DROP_NEWEST)
    for item in items:
        if isinstance(item, sink.accepts):
            channel.send_nowait(item)
    async with sink:
        consume = asyncio.ensure_future(sink.consume(channel))
        while sink.stats().items_accepted < len(items):  # noqa: ASYNC110 - polling the sink's counters
            await asyncio.sleep(0.01)
        consume.cancel()
        with pytest.raises(asyncio.CancelledError):
            await consume
    s = sink.stats()
    assert s.points_encoded == len(expected_points(info, items))
    assert s.spool_points == s.points_encoded and s.points_written == 0


async def test_a_hung_server_never_stalls_the_session_and_accepted_points_reach_the_disk(tmp_path) -> None:
    import socket

    from tests.support.sources import CollectSink

    with socket.socket() as hole:  # accepts connections (kernel backlog) and never answers
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        url = f"http://127.0.0.1:{hole.getsockname()[1]}"
        runners = [f"r{i}" for i in range(4)]
        infos = [sensor(r, Placement.LOWER_BACK, 200.0) for r in runners]
        info = SessionInfo("hung", make_info().start_unix_s, tuple(RunnerInfo(r) for r in runners),
                           tuple(infos), "test")
        sources = [ListSource([s], ramp_blocks(s, 300, 8)) for s in infos]
        settings = InfluxSettings(enabled=True, api="v1", url=url, spool_dir=tmp_path, raw_imu="full",
                                  timeout_s=0.3, queue_size=50, max_pending_points=500, batch_points=200,
                                  retry_initial_s=0.05, retry_max_s=0.2, shutdown_drain_s=0.5)
        influx = InfluxSink(settings, info)
        collect = CollectSink(accepts=(SampleBlock,), policy=OverflowPolicy.BLOCK, queue_size=64)
        await Session(info, sources, {}, [influx, collect]).run()
    assert len(collect.items) == 4 * 300  # the BLOCK sink got everything: nothing waited on InfluxDB
    s = influx.stats()
    assert s.write_failures > 0 and s.points_written == 0
    assert s.spool_points == s.points_encoded  # every point the sink took is on disk
    assert s.points_dropped_spool_full == 0
    # What it could not take was dropped at its own queue and counted, not silently lost.
    assert s.items_accepted + s.items_dropped_at_queue == 4 * 300 + 4 * 2  # blocks + start/stop markers


async def test_write_rights_revoked_mid_session_are_reported_loudly_and_nothing_is_lost(
        influxd_auth, tmp_path, caplog, monkeypatch) -> None:
    db = next(_db)
    influxd_auth.query(f'CREATE DATABASE "{db}"')
    influxd_auth.query(f"CREATE USER \"{db}_w\" WITH PASSWORD 'pw-{db}'")
    influxd_auth.query(f'GRANT ALL ON "{db}" TO "{db}_w"')
    monkeypatch.setenv("SK_TEST_PW", f"pw-{db}")
    info = make_info()
    items = make_items(info, duration_s=2.0)
    settings = settings_for(influxd_auth, tmp_path, db, raw_imu="full", batch_points=200,
                            username=f"{db}_w", password_env="SK_TEST_PW")
    sink = InfluxSink(settings, info)
    caplog.set_level(logging.WARNING)

    async def revoke_then_grant() -> None:
        while sink.stats().points_written == 0:  # noqa: ASYNC110 - mid-session: after the first writes
            await asyncio.sleep(0.01)
        await asyncio.to_thread(influxd_auth.query, f'REVOKE ALL ON "{db}" FROM "{db}_w"')
        while sink.stats().spool_batches < 2:  # noqa: ASYNC110 - polling the sink's counters
            await asyncio.sleep(0.02)
        await asyncio.to_thread(influxd_auth.query, f'GRANT ALL ON "{db}" TO "{db}_w"')

    async with asyncio.TaskGroup() as tg:
        tg.create_task(write_items(sink, items, pace_s=0.005))
        tg.create_task(revoke_then_grant())
    assert "points are kept in the spool until this is fixed" in caplog.text
    assert influx_points(influxd_auth, db) == expected_points(info, items)
    s = sink.stats()
    assert s.write_failures > 0 and s.spool_points == 0 and s.points_dropped_spool_full == 0

