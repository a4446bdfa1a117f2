"""Live phone sources against emulated apps speaking the real protocols on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import numpy as np
import pytest

from sensorkit.errors import ConfigError
from sensorkit.model import Gap, PhoneWear, Placement, SampleBlock, SensorHealth, SpeedSample
from sensorkit.pipeline.clock import HostClock
from sensorkit.sources.base import Source
from sensorkit.sources.phone import (
    HyperImuSettings,
    PhyphoxSettings,
    SensorLoggerHttpSettings,
    build_phone_source,
)
from sensorkit.sources.phone.source_base import PhoneSourceBase
from tests.support.phone_apps import (
    FakePhyphox,
    HyperImuPhone,
    SensorLoggerPhone,
    motion,
    push_http,
    send_tcp,
    send_udp,
)

Driver = Callable[[PhoneSourceBase], Awaitable[Any]]


async def run_source(source: PhoneSourceBase, drive: Driver, settle_s: float = 0.8) -> tuple[list, Any]:
    """Enter the source, consume its items while ``drive`` plays the phone, then stop."""
    items: list = []
    async with source:
        async def consume() -> None:
            async for item in source.items():
                items.append(item)

        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(consume())
            result = await drive(source)
            await asyncio.sleep(settle_s)  # the hold window passes; everything is released
            task.cancel()
    return items, result


def samples(items: list) -> SampleBlock:
    return SampleBlock.concat([i for i in items if isinstance(i, SampleBlock)])


def check_aligned(block: SampleBlock, truth_s: list[float], skip_s: float = 1.0) -> None:
    """Every sample arrived once, in order, on the host timeline, with the true values."""
    truth = np.asarray(truth_s)
    assert len(block) == truth.size
    assert np.all(np.diff(block.time_s) > 0)
    settled = truth >= truth[0] + skip_s
    err_ms = np.abs(block.time_s - truth)[settled] * 1e3
    assert np.percentile(err_ms, 95) < 5.0, f"alignment error p95 {np.percentile(err_ms, 95):.1f} ms"
    assert err_ms.max() < 20.0
    acc, gyr = motion(truth)
    np.testing.assert_allclose(block.acc_g, acc, atol=1e-4)
    assert block.gyr_dps is not None
    np.testing.assert_allclose(block.gyr_dps, gyr, atol=3.0)  # resampled onto acc ticks


def http_settings(**kw: Any) -> SensorLoggerHttpSettings:
    base: dict[str, Any] = {"app": "sensorlogger_http", "runner": "ann", "port": 0, "wear": "pocket"}
    return SensorLoggerHttpSettings.model_validate(base | kw)


# -- Sensor Logger over HTTP -------------------------------------------------------------------


async def test_sensorlogger_http_push_is_aligned_ordered_and_deduplicated() -> None:
    clock = HostClock()
    source = build_phone_source(http_settings(), clock)
    assert isinstance(source, Source)
    info = source.sensors[0]
    assert (info.sensor_id, info.placement, info.phone_wear) == ("ann/phone", Placement.PHONE, PhoneWear.POCKET)
    phone = SensorLoggerPhone(clock)

    async def drive(src: PhoneSourceBase) -> list[int]:
        url = src.url  # type: ignore[attr-defined]
        return await push_http(phone, url, duration_s=2.2, shuffle=True, duplicate_every=4)

    items, statuses = await run_source(source, drive)
    assert set(statuses) == {200}
    check_aligned(samples(items), phone.truth_s)
    st = source.stats()
    assert st.aligner.duplicate_messages > 0  # re-sent messages were recognised
    assert st.aligner.late_samples == 0  # overtaken messages were merged in order
    assert not [i for i in items if isinstance(i, Gap)]
    speeds = [i for i in items if isinstance(i, SpeedSample)]
    assert len(speeds) >= 2 and all(s.source == "gps" for s in speeds)
    assert speeds[-1].speed_mps == pytest.approx(3.0, rel=0.05)
    assert speeds[-1].distance_m is not None and speeds[-1].distance_m > 2.0
    assert st.aligner.samples_out == len(phone.truth_s)
    health = [i for i in items if isinstance(i, SensorHealth)]
    assert health and 0 < health[-1].samples <= len(phone.truth_s)
    assert any(h.connected for h in health) and health[-1].battery_pct == pytest.approx(81.0)
    assert health[-1].clock_residual_ms is not None


async def test_sensorlogger_ios_signs_and_gravity_are_converted() -> None:
    clock = HostClock()
    source = build_phone_source(http_settings(platform="ios"), clock)
    phone = SensorLoggerPhone(clock, platform="ios", gps_origin=None)
    items, _ = await run_source(source, lambda s: push_http(phone, s.url, 2.0))  # type: ignore[attr-defined]
    check_aligned(samples(items), phone.truth_s)


async def test_http_token_is_required_when_configured_and_never_logged(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    secret = "s3cr3t-phone-token-1234"
    monkeypatch.setenv("SK_PHONE_TOKEN", secret)
    clock = HostClock()
    source = build_phone_source(http_settings(token_env="SK_PHONE_TOKEN"), clock)
    phone = SensorLoggerPhone(clock, gps_origin=None)

    async def drive(src: PhoneSourceBase) -> tuple[list[int], list[int], int]:
        url = src.url  # type: ignore[attr-defined]
        denied = await push_http(phone, url, 0.5)
        wrong = await push_http(phone, url, 0.5, token="not-the-token")
        body = json.dumps(phone.next_message())
        async with aiohttp.ClientSession() as http, http.post(url + "?token=" + secret, data=body) as r:
            query_status = r.status
        return denied, wrong, query_status

    _, (denied, wrong, query_status) = await run_source(source, drive)
    assert set(denied) == {401} and set(wrong) == {401}
    assert query_status == 200
    assert source.stats().rejected["bad token"] == len(denied) + len(wrong)
    assert secret not in caplog.text


def test_endpoints_off_loopback_need_a_token_or_allowlist() -> None:
    with pytest.raises(ValueError, match="token"):
        http_settings(host="0.0.0.0")
    assert http_settings(host="0.0.0.0", token_file="/run/secrets/phone").host == "0.0.0.0"
    with pytest.raises(ValueError, match="allowed_senders"):
        HyperImuSettings.model_validate({"app": "hyperimu", "runner": "ann", "host": "0.0.0.0"})


async def test_missing_token_file_fails_at_open() -> None:
    source = build_phone_source(http_settings(token_file="/nonexistent/token"), HostClock())
    with pytest.raises(ConfigError):
        async with source:
            pass


async def test_hostile_http_input_is_rejected_counted_and_survived() -> None:
    clock = HostClock()
    settings = http_settings(max_body_bytes=64 * 1024, max_messages_per_s=20, burst_messages=40)
    source = build_phone_source(settings, clock)
    phone = SensorLoggerPhone(clock, gps_origin=None)
    sample_message = json.dumps(SensorLoggerPhone(clock, gps_origin=None).next_message()).encode()
    hostile: list[tuple[str, bytes]] = [
        ("oversized", b"{" + b" " * (100 * 1024) + b"}"),
        ("garbage", bytes(range(256)) * 4),
        ("truncated", sample_message[:-40]),
        ("wrong types", json.dumps({"messageId": "abc", "payload": "x"}).encode()),
        ("bad values", json.dumps({"messageId": 1, "payload": [{"name": "accelerometer", "time": -5,
                                                                 "values": {"x": "a"}}]}).encode()),
        ("nested", b"[" * 20_000 + b"]" * 20_000),
        ("not an object", b"[1, 2, 3]"),
        ("nan", b'{"messageId": 1, "payload": [{"name": "gyroscope", "time": 1, "values": {"x": NaN}}]}'),
    ]

    async def drive(src: PhoneSourceBase) -> dict[str, Any]:
        url = src.url  # type: ignore[attr-defined]
        codes: dict[str, Any] = {}
        async with aiohttp.ClientSession() as http:
            for name, body in hostile:
                async with http.post(url, data=body) as r:
                    codes[name] = r.status
            flood = await asyncio.gather(*[http.post(url, data=b"{}") for _ in range(100)])
            codes["flood"] = [r.status for r in flood]
            for r in flood:
                r.release()
        await asyncio.sleep(0.5)  # the rate limit refills
        codes["after"] = await push_http(phone, url, 1.5)
        return codes

    items, codes = await run_source(source, drive)
    assert codes["oversized"] == 413
    for name in ("garbage", "truncated", "wrong types", "bad values", "nested", "not an object"):
        assert codes[name] == 400, name
    assert codes["nan"] == 200  # valid message; the NaN reading is skipped and counted
    assert 429 in codes["flood"]
    assert set(codes["after"]) == {200}
    rejected = source.stats().rejected
    assert rejected["too large"] == 1 and rejected["malformed"] >= 6 and rejected["rate limited"] > 0
    assert rejected["invalid readings"] >= 1
    # the service kept working: the good data after the attack came through intact
    block = samples(items)
    assert len(block) > 100 and np.all(np.diff(block.time_s) > 0)


async def test_port_in_use_is_a_clear_source_error() -> None:
    clock = HostClock()
    first = build_phone_source(http_settings(), clock)
    async with first:
        second = build_phone_source(http_settings(port=first.port), clock)  # type: ignore[attr-defined]
        with pytest.raises(Exception, match="cannot listen"):
            async with second:
                pass


# -- phyphox remote access ---------------------------------------------------------------------


def phyphox_settings(url: str, **kw: Any) -> PhyphoxSettings:
    return PhyphoxSettings.model_validate({"app": "phyphox", "runner": "bob", "url": url} | kw)


async def test_phyphox_poller_reads_incremental_buffers_across_a_pause() -> None:
    clock = HostClock()
    async with FakePhyphox(clock) as app:
        source = build_phone_source(phyphox_settings(app.url, poll_interval_s=0.05, start_measurement=True),
                                    clock)

        async def drive(src: PhoneSourceBase) -> None:
            await asyncio.sleep(1.5)
            app.pause()
            await asyncio.sleep(0.8)
            app.start()
            await asyncio.sleep(1.0)
            app.pause()

        items, _ = await run_source(source, drive)
    assert app.requests > 20
    block = samples(items)
    check_aligned(block, app.truth_s)
    gaps = [i for i in items if isinstance(i, Gap)]
    assert len(gaps) == 1 and gaps[0].end_s - gaps[0].start_s == pytest.approx(0.8, abs=0.1)
    assert source.aligner.counters.clock_jumps == 0  # /time maps the pause onto the phone clock


async def test_phyphox_without_time_endpoint_and_with_a_garbage_answer() -> None:
    clock = HostClock()
    async with FakePhyphox(clock, with_time_endpoint=False) as app:
        app.start()
        source = build_phone_source(phyphox_settings(app.url, poll_interval_s=0.05), clock)

        async def drive(src: PhoneSourceBase) -> None:
            await asyncio.sleep(0.8)
            app.garbage = b'{"buffer": {"acc_time": {"buffer": ["x"]}}'
            await asyncio.sleep(1.2)
            app.pause()

        items, _ = await run_source(source, drive)
    assert source.stats().rejected["malformed"] == 1
    block = samples(items)
    # joining a running measurement: only what was sampled after the first poll is fetched
    truth = [t for t in app.truth_s if t > block.time_s[0] - 0.005]
    check_aligned(block, truth)


async def test_phyphox_unreachable_is_retried_and_reported_disconnected() -> None:
    clock = HostClock()
    source = build_phone_source(phyphox_settings("http://127.0.0.1:9", health_interval_s=0.2,
                                                 reconnect_max_s=0.2), clock)
    items, _ = await run_source(source, lambda s: asyncio.sleep(1.0), settle_s=0.0)
    health = [i for i in items if isinstance(i, SensorHealth)]
    assert health and not any(h.connected for h in health)
    assert source.reconnects >= 2


# -- HyperIMU over UDP and TCP -----------------------------------------------------------------


def hyperimu_settings(**kw: Any) -> HyperImuSettings:
    return HyperImuSettings.model_validate({"app": "hyperimu", "runner": "cat", "port": 0} | kw)


async def test_hyperimu_udp_stream_with_garbage_datagrams() -> None:
    clock = HostClock()
    source = build_phone_source(hyperimu_settings(), clock)
    phone = HyperImuPhone(clock)
    garbage = [b"\xff\xfe\x00garbage", b"1,2,3\r\n", b"1700000000000,a,b,c,d,e,f\r\n", b"", b"," * 5000,
               b"1700000000000,1,2,3,4,5,inf\r\n"]
    items, sent = await run_source(source, lambda s: send_udp(phone, s.port, 2.0, extra=garbage))  # type: ignore[attr-defined]
    assert sent == len(phone.truth_s)
    check_aligned(samples(items), phone.truth_s)
    assert source.stats().rejected["malformed"] >= 4


async def test_hyperimu_tcp_stream_and_an_overlong_line() -> None:
    clock = HostClock()
    source = build_phone_source(hyperimu_settings(transport="tcp", max_line_bytes=256), clock)
    phone = HyperImuPhone(clock)

    async def drive(src: PhoneSourceBase) -> int:
        port = src.port  # type: ignore[attr-defined]
        with pytest.raises((ConnectionError, OSError)):
            await send_tcp(HyperImuPhone(clock), port, 0.5, extra=b"9" * 5000)
        phone.grid.next_k = 0  # type: ignore[union-attr]
        return await send_tcp(phone, port, 2.0)

    items, _ = await run_source(source, drive)
    assert source.stats().rejected["too large"] == 1
    block = samples(items)
    truth = [t for t in phone.truth_s if t >= block.time_s[0] - 0.005]
    check_aligned(block, truth)


async def test_hyperimu_without_timestamps_counts_samples_at_the_nominal_rate() -> None:
    clock = HostClock()
    source = build_phone_source(hyperimu_settings(timestamp=False), clock)
    phone = HyperImuPhone(clock, timestamp=False)
    items, _ = await run_source(source, lambda s: send_udp(phone, s.port, 2.5))  # type: ignore[attr-defined]
    block = samples(items)
    assert len(block) == len(phone.truth_s)
    err_ms = np.abs(block.time_s - np.asarray(phone.truth_s))[200:] * 1e3
    assert np.median(err_ms) < 10.0  # arrival-fitted: honest but coarser than phone timestamps


async def test_hyperimu_sender_outside_the_allowlist_is_refused() -> None:
    clock = HostClock()
    source = build_phone_source(hyperimu_settings(allowed_senders=["10.0.0.0/8"]), clock)
    phone = HyperImuPhone(clock)
    items, _ = await run_source(source, lambda s: send_udp(phone, s.port, 0.5), settle_s=0.2)  # type: ignore[attr-defined]
    assert not [i for i in items if isinstance(i, SampleBlock)]
    assert source.stats().rejected["sender not allowed"] == len(phone.truth_s)


# -- in a real session ---------------------------------------------------------------------------


async def test_phone_source_runs_in_a_session_and_flushes_on_stop() -> None:
    """The pipeline cannot tell a phone from a pod: items reach the sinks; stop drains the hold."""
    from sensorkit.model import RunnerInfo, SessionInfo
    from sensorkit.pipeline.session import Session
    from tests.support.sources import CollectSink

    clock = HostClock()
    source = build_phone_source(http_settings(runner="gil"), clock)
    info = SessionInfo("s", clock.start_unix_s, (RunnerInfo("gil"),), tuple(source.sensors), "test")
    sink = CollectSink(queue_size=1024)
    stop = asyncio.Event()
    phone = SensorLoggerPhone(clock, gps_origin=None)

    async def play() -> None:
        await asyncio.sleep(0.2)
        await push_http(phone, source.url, 1.5)  # type: ignore[attr-defined]
        stop.set()

    async with asyncio.TaskGroup() as tg:
        tg.create_task(play())
        stats = await Session(info, [source], {}, [sink]).run(stop)
    assert not stats.errors
    block = SampleBlock.concat([i for i in sink.items if isinstance(i, SampleBlock)])
    # everything pushed before the stop arrived, including what was still in the hold window
    assert len(block) == len(phone.truth_s) and sink.flushed


async def test_hyperimu_tcp_refuses_connections_beyond_the_limit() -> None:
    clock = HostClock()
    source = build_phone_source(hyperimu_settings(transport="tcp", max_connections=1), clock)

    async def drive(src: PhoneSourceBase) -> bytes:
        port = src.port  # type: ignore[attr-defined]
        _, first = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.1)
        reader, second = await asyncio.open_connection("127.0.0.1", port)
        data = await asyncio.wait_for(reader.read(), 2.0)  # the server hangs up on the second
        for w in (first, second):
            w.close()
        return data

    _, data = await run_source(source, drive, settle_s=0.1)
    assert data == b""
    assert source.stats().rejected["too many connections"] == 1
