"""InfluxDB 1.x (real influxd 1.6.7) through the v1 mode: every point back, and clear start-up errors."""

from __future__ import annotations

import itertools
import logging

import pytest

from sensorkit.errors import StoreError
from sensorkit.store.influx import InfluxSettings, InfluxSink
from sensorkit.store.influx.errors import (
    InfluxAuthError,
    InfluxNotFound,
    InfluxUnavailable,
    InfluxUnreachable,
)
from sensorkit.store.influx.v1 import V1Writer
from tests.support.influx_data import expected_points, make_info, make_items
from tests.support.influx_readback import influx_points, write_items
from tests.support.servers import free_port

pytestmark = pytest.mark.servers
_db = (f"sk_{i}" for i in itertools.count())


def v1(server, tmp_path, **kw) -> InfluxSettings:
    return InfluxSettings(enabled=True, api="v1", url=server.url, spool_dir=tmp_path / "spool",
                          **({"database": "sensorkit"} | kw))


@pytest.fixture
def db(influxd) -> str:
    name = next(_db)
    influxd.query(f'CREATE DATABASE "{name}"')
    return name


@pytest.mark.parametrize("batch_points", [5000, 97])
async def test_a_session_reads_back_point_for_point_with_influxql(
        influxd, db, tmp_path, batch_points) -> None:
    info = make_info()
    items = make_items(info)
    settings = v1(influxd, tmp_path, database=db, raw_imu="full", batch_points=batch_points)
    sink = InfluxSink(settings, info)
    await write_items(sink, items)
    want = expected_points(info, items)
    got = influx_points(influxd, db)
    assert set(got) == set(want)
    for key, fields in want.items():
        assert got[key] == fields, key  # exact floats, ints, bools and strings
    s = sink.stats()
    assert s.points_written == len(want) and s.points_spooled == 0 and s.spool_points == 0
    assert s.items_dropped_at_queue == 0 and s.server_up


async def test_downsampled_raw_imu_keeps_every_record_and_fewer_samples(influxd, db, tmp_path) -> None:
    info = make_info()
    items = make_items(info, duration_s=4.0)
    await write_items(InfluxSink(v1(influxd, tmp_path, database=db, raw_imu="downsampled",
                                    raw_imu_rate_hz=5.0), info), items)
    got = influx_points(influxd, db)
    want = expected_points(info, items, raw_imu="off")
    assert {k: v for k, v in got.items() if k[0] != "imu"} == want
    imu = [k for k in got if k[0] == "imu"]
    assert len(imu) == len(info.sensors) * 4 * 5  # 5 Hz for 4 s per sensor


async def test_a_retention_policy_is_honoured(influxd, db, tmp_path) -> None:
    influxd.query(f'CREATE RETENTION POLICY "short" ON "{db}" DURATION 30d REPLICATION 1')
    info = make_info()
    items = make_items(info, duration_s=1.0)
    await write_items(InfluxSink(v1(influxd, tmp_path, database=db, retention_policy="short",
                                    raw_imu="off"), info), items)
    assert influx_points(influxd, db) == {}  # nothing in the default policy
    got = influxd.query('SELECT count(*) FROM "short"."rolling"', db=db)["results"][0]
    assert got["series"][0]["values"][0][1:]  # rolling points landed in "short"


async def test_wrong_password_is_a_clear_start_up_error(influxd_auth, tmp_path, monkeypatch) -> None:
    influxd_auth.query('CREATE DATABASE "authdb"')
    monkeypatch.setenv("SK_TEST_PW", "not-the-password")
    sink = InfluxSink(v1(influxd_auth, tmp_path, database="authdb", username="admin",
                         password_env="SK_TEST_PW"), make_info())
    with pytest.raises(InfluxAuthError, match="refused our credentials"):
        async with sink:
            pass


async def test_right_password_writes(influxd_auth, tmp_path, monkeypatch) -> None:
    influxd_auth.query('CREATE DATABASE "authdb2"')
    monkeypatch.setenv("SK_TEST_PW", influxd_auth.admin_password)
    info = make_info()
    items = make_items(info, duration_s=1.0)
    await write_items(InfluxSink(v1(influxd_auth, tmp_path, database="authdb2", username="admin",
                                    password_env="SK_TEST_PW", raw_imu="off"), info), items)
    assert len(influx_points(influxd_auth, "authdb2")) == len(expected_points(info, items, raw_imu="off"))


async def test_missing_database_is_a_clear_start_up_error(influxd, tmp_path) -> None:
    with pytest.raises(InfluxNotFound, match=r"database 'no_such_db' does not exist.*CREATE DATABASE"):
        async with InfluxSink(v1(influxd, tmp_path, database="no_such_db"), make_info()):
            pass


async def test_missing_retention_policy_is_a_clear_start_up_error(influxd, db, tmp_path) -> None:
    with pytest.raises(InfluxNotFound, match="retention policy 'nope' does not exist"):
        async with InfluxSink(v1(influxd, tmp_path, database=db, retention_policy="nope"), make_info()):
            pass


async def test_a_host_that_does_not_resolve_is_a_clear_start_up_error(tmp_path) -> None:
    settings = InfluxSettings(enabled=True, api="v1", url="http://influx.invalid:8086", spool_dir=tmp_path)
    with pytest.raises(InfluxUnreachable, match="cannot resolve the host name"):
        async with InfluxSink(settings, make_info()):
            pass


async def test_nothing_listening_fails_only_when_the_server_is_required(tmp_path, caplog) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    strict = InfluxSettings(enabled=True, api="v1", url=url, spool_dir=tmp_path, require_server_at_start=True)
    with pytest.raises(InfluxUnavailable, match="cannot connect"):
        async with InfluxSink(strict, make_info()):
            pass
    caplog.set_level(logging.WARNING)
    relaxed = strict.model_copy(update={"require_server_at_start": False})
    async with InfluxSink(relaxed, make_info()) as sink:
        assert not sink.stats().server_up
    assert "spools to" in caplog.text
    assert issubclass(InfluxUnavailable, StoreError)


async def test_influxql_helper_reports_query_errors(influxd, db, tmp_path) -> None:
    async with V1Writer(v1(influxd, tmp_path, database=db)) as w:
        with pytest.raises(StoreError, match="rejected"):
            await w.query("SELEC nonsense")


@pytest.mark.parametrize("answer", ["<html>it works</html>", "[" * 5000, '{"results": "no"}', "{}"])
async def test_a_web_server_that_is_not_influxdb_is_a_clear_start_up_error(tmp_path, answer) -> None:
    from aiohttp import web

    async def anything(request: web.Request) -> web.Response:
        return web.Response(text=answer, content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    settings = InfluxSettings(enabled=True, api="v1", url=f"http://127.0.0.1:{port}", database="sensorkit",
                              spool_dir=tmp_path / "spool")
    try:
        async with V1Writer(settings) as writer:
            with pytest.raises((InfluxUnreachable, InfluxNotFound), match=r"127\.0\.0\.1"):
                await writer.check()
    finally:
        await runner.cleanup()
