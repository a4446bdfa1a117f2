"""The v2 write API (influxdb-client, asyncio) against a real VictoriaMetrics, read back via export.

VictoriaMetrics keeps milliseconds and 12 significant digits of numbers: field ``f`` of
measurement ``m`` becomes the metric ``m_f``, tags become labels, booleans become 1/0; string
fields are left out by ``numeric_fields_only``.
"""

from __future__ import annotations

import itertools

import pytest

from sensorkit.store.influx import InfluxSettings, InfluxSink
from sensorkit.store.influx.errors import InfluxAuthError, InfluxNotFound, InfluxUnavailable, InfluxUnreachable
from tests.support.influx_data import expected_points, make_info, make_items
from tests.support.influx_readback import vm_points, write_items
from tests.support.servers import free_port

pytestmark = pytest.mark.servers
_session = (f"vm-{i}" for i in itertools.count())


def v2(server, tmp_path, **kw) -> InfluxSettings:
    return InfluxSettings(enabled=True, api="v2", url=server.url, org="club", bucket="runs",
                          spool_dir=tmp_path / "spool", numeric_fields_only=True, **kw)


def as_vm_samples(want: dict) -> dict:
    """The schema's points as VictoriaMetrics stores them (metric per field, ms, numbers only)."""
    out = {}
    for (measurement, tags, ts), fields in want.items():
        for name, value in fields.items():
            if isinstance(value, str):
                continue
            out[(f"{measurement}_{name}", tags, ts // 1_000_000)] = float(value)
    return out


async def test_a_session_reads_back_sample_for_sample_via_export(victoria_metrics, tmp_path) -> None:
    info = make_info(session_id=next(_session))
    items = make_items(info, duration_s=4.0)
    sink = InfluxSink(v2(victoria_metrics, tmp_path, raw_imu="full", batch_points=700), info)
    await write_items(sink, items)
    want = as_vm_samples(expected_points(info, items))
    got = vm_points(victoria_metrics, f'{{session="{info.session_id}"}}', len(want))
    got = {(m, tuple(t for t in tags if t[0] != "db"), ts): v for (m, tags, ts), v in got.items()}
    assert set(got) == set(want)
    assert all(got[k] == pytest.approx(want[k], rel=1e-11, abs=0) for k in want)
    numeric = [f for f in expected_points(info, items).values()
               if any(not isinstance(v, str) for v in f.values())]
    assert sink.stats().points_written == len(numeric)  # events and markers have text fields only


async def test_a_refused_token_is_a_clear_start_up_error(
        victoria_metrics_auth, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SK_TEST_TOKEN", "wrong-token")
    settings = v2(victoria_metrics_auth, tmp_path, token_env="SK_TEST_TOKEN")
    with pytest.raises(InfluxAuthError, match="refused our credentials"):
        async with InfluxSink(settings, make_info()):
            pass


async def test_an_unresolvable_host_is_a_clear_start_up_error(tmp_path) -> None:
    settings = InfluxSettings(enabled=True, url="http://tsdb.invalid:8086", spool_dir=tmp_path)
    with pytest.raises(InfluxUnreachable, match="cannot resolve"):
        async with InfluxSink(settings, make_info()):
            pass


async def test_nothing_listening_is_an_error_when_required(tmp_path) -> None:
    settings = InfluxSettings(enabled=True, url=f"http://127.0.0.1:{free_port()}", spool_dir=tmp_path,
                              require_server_at_start=True)
    with pytest.raises(InfluxUnavailable, match="cannot connect"):
        async with InfluxSink(settings, make_info()):
            pass


# No InfluxDB 2.x server can be installed here, so the start-up check's reading of the 2.x
# buckets API is exercised against a small aiohttp stand-in that answers like InfluxDB 2.7
# does (status codes and JSON bodies as documented for GET /api/v2/buckets).
@pytest.fixture
async def influxdb2_stand_in():
    from aiohttp import web

    async def buckets(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Token good-token":
            return web.json_response({"code": "unauthorized", "message": "unauthorized access"}, status=401)
        if request.query.get("org") != "club":
            return web.json_response(
                {"code": "not found", "message": f'organization name "{request.query.get("org")}" not found'},
                status=404)
        names = [n for n in ("runs", "other") if n == request.query.get("name")]
        return web.json_response({"buckets": [{"name": n, "retentionRules": []} for n in names]})

    app = web.Application()
    app.router.add_get("/api/v2/buckets", buckets)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("token, org, bucket, error, message", [
    ("good-token", "club", "runs", None, ""),
    ("bad-token", "club", "runs", InfluxAuthError, "refused our credentials"),
    ("good-token", "club", "nope", InfluxNotFound, "bucket 'nope' does not exist"),
    ("good-token", "clubb", "runs", InfluxNotFound, 'organization name "clubb" not found'),
])
async def test_the_v2_start_up_check_reads_influxdb2_answers(
        influxdb2_stand_in, tmp_path, monkeypatch, token, org, bucket, error, message) -> None:
    from sensorkit.store.influx.v2 import V2Writer

    monkeypatch.setenv("SK_TEST_TOKEN", token)
    settings = InfluxSettings(url=influxdb2_stand_in, org=org, bucket=bucket, token_env="SK_TEST_TOKEN")
    async with V2Writer(settings) as writer:
        if error is None:
            await writer.check()
        else:
            with pytest.raises(error, match=message):
                await writer.check()
