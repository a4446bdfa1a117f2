"""The dashboard's model, server, security and team feed, without a browser.

The server is a real aiohttp server on a free loopback port, spoken to by a real HTTP and
WebSocket client; the team feed is handed raw MQTT topics and payloads as a broker would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sensorkit.cli.dashboard import mqtt_from_url
from sensorkit.config import Config, parse_config
from sensorkit.dashboard import DashboardSettings, build_dashboard_sink
from sensorkit.dashboard.server import OUTBOX_SIZE, DashboardServer, _Client
from sensorkit.dashboard.sink import DashboardSink
from sensorkit.dashboard.state import DashboardState
from sensorkit.dashboard.team import MqttFeed
from sensorkit.errors import ConfigError
from sensorkit.model import (
    Cue,
    CueKind,
    FatigueState,
    MarkerKind,
    Placement,
    PostureSample,
    RollingMetrics,
    RunnerInfo,
    SensorHealth,
    SessionInfo,
    SessionMarker,
)
from sensorkit.model.settings import is_loopback
from sensorkit.mqtt import MqttSettings
from sensorkit.mqtt.schema import (
    GatewayStatusPayload,
    Kind,
    RunnerStatusPayload,
    SensorStatus,
    gateway_topic,
    payload_of,
    runner_topic,
)
from sensorkit.pipeline.channel import OverflowPolicy
from sensorkit.pipeline.contracts import Sink

TOKEN = "test-token-0123456789abcdef"
START = 1_700_000_000.0


def rolling(runner: str, t: float, cadence: float = 172.0, **kw: Any) -> RollingMetrics:
    return RollingMetrics(runner, t, 10.0, 28, cadence_spm=cadence, contact_time_ms=240.0, impact_g=2.5,
                          trunk_lean_deg=7.0, rearfoot_pct=80.0, midfoot_pct=20.0, forefoot_pct=0.0, **kw)


def health(runner: str, t: float, **kw: Any) -> SensorHealth:
    return SensorHealth(runner, f"{runner}/lower_back", Placement.LOWER_BACK, t, True, **kw)


def cue(runner: str, t: float, text: str = "Stand tall") -> Cue:
    return Cue(runner, t, CueKind.TRUNK_LEAN, text, 4, t + 15, t, "trunk_lean_deg", 11.0, 7.0)


# -- the model -------------------------------------------------------------------------------


def test_records_become_tiles_history_and_a_cue_feed() -> None:
    state = DashboardState(DashboardSettings())
    for t in range(5):
        state.observe(rolling("ann", float(t), cadence=170.0 + t), START)
        state.observe(FatigueState("ann", t + 0.5, 20.0 + t, True, {"cadence_spm": 10.0}), START)
    state.observe(PostureSample("ann", 4.9, 8.25), START)
    state.observe(health("ann", 4.0, battery_pct=81.0, lost_samples=3), START)
    state.observe(cue("ann", 4.5), START)
    snap = state.snapshot()
    (ann,) = snap["runners"]
    assert ann["tile"]["cadence_spm"] == 174.0 and ann["tile"]["live_lean_deg"] == 8.2
    assert ann["tile"]["fatigue"]["score"] == 24.0 and ann["tile"]["fatigue"]["level"] == "ok"
    assert ann["sensors"][0]["battery_pct"] == 81.0 and ann["sensors"][0]["lost_samples"] == 3
    assert [row[0] for row in ann["history"]] == [int(START) + t for t in range(5)]
    assert ann["history"][0] == [int(START), 170.0, 240.0, 2.5, 7.0, 20.0]  # one row per second
    assert ann["tile"]["last_cue"]["text"] == "Stand tall" and snap["cues"][0]["runner"] == "ann"
    json.dumps(snap, allow_nan=False)  # what the browser gets is strict JSON


def test_fatigue_levels_follow_the_configured_scores() -> None:
    state = DashboardState(DashboardSettings(watch_score=30, fading_score=50))
    levels = []
    for score, ready in [(80.0, False), (10.0, True), (35.0, True), (50.0, True)]:
        state.fatigue_state("ann", START, score, ready, {})
        levels.append(state.runners["ann"].fatigue["level"])  # type: ignore[index]
    assert levels == ["warmup", "ok", "watch", "fading"]


def test_history_is_bounded_by_data_time_and_a_delta_carries_only_what_changed() -> None:
    state = DashboardState(DashboardSettings(history_s=60))
    for t in range(600):
        state.observe(rolling("ann", float(t)), START)
        state.observe(rolling("bob", float(t)), START)
    assert len(state.runners["ann"].history) <= 61
    since = state.version
    state.observe(rolling("bob", 600.0, cadence=181.0), START)
    delta = state.delta(since, with_system=False)
    assert delta is not None and [r["name"] for r in delta["runners"]] == ["bob"]
    assert delta["runners"][0]["history"] == [[int(START) + 600, 181.0, 240.0, 2.5, 7.0, None]]
    assert "sensors" not in delta["runners"][0]  # unchanged parts are not resent
    assert state.delta(state.version, with_system=False) is None


def test_not_a_number_never_reaches_the_browser() -> None:
    state = DashboardState()
    state.observe(RollingMetrics("ann", 1.0, 10.0, 3, cadence_spm=float("nan"), impact_g=float("inf")), START)
    tile = state.snapshot()["runners"][0]["tile"]
    assert tile["cadence_spm"] is None and tile["impact_g"] is None


def test_runner_count_is_capped_and_the_rest_counted() -> None:
    state = DashboardState(DashboardSettings(max_runners=2))
    for name in ["a", "b", "c", "d", "c"]:
        state.observe(rolling(name, 1.0), START)
    assert list(state.runners) == ["a", "b"] and state.system()["ignored_runners"] == 2


def test_a_session_marker_stops_a_runner() -> None:
    state = DashboardState()
    state.observe(SessionMarker("ann", 0.0, MarkerKind.START, "s"), START)
    assert not state.runners["ann"].stopped
    state.observe(SessionMarker("ann", 9.0, MarkerKind.STOP, "s"), START)
    assert state.runners["ann"].stopped


def test_a_slow_browser_gets_a_fresh_snapshot_instead_of_a_growing_queue() -> None:
    client = _Client(ws=None)  # type: ignore[arg-type]
    client.resync = False
    for i in range(OUTBOX_SIZE):
        client.offer(f"update {i}")
    assert len(client.outbox) == OUTBOX_SIZE and not client.resync
    client.offer("one too many")
    assert not client.outbox and client.resync and client.dropped == 1
    client.offer("covered by the snapshot")
    assert not client.outbox


# -- settings and security defaults ----------------------------------------------------------


def test_loopback_needs_no_token_but_any_other_address_does(monkeypatch: pytest.MonkeyPatch) -> None:
    assert all(is_loopback(h) for h in ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
    assert not any(is_loopback(h) for h in ["0.0.0.0", "::", "192.168.1.10", "coach-laptop"])
    assert DashboardSettings().token() is None
    with pytest.raises(ConfigError, match="needs an access token"):
        DashboardSettings(host="0.0.0.0").token()
    monkeypatch.setenv("SK_DASH_TOKEN", "short")
    with pytest.raises(ConfigError, match="too short") as exc:
        DashboardSettings(host="0.0.0.0", token_env="SK_DASH_TOKEN").token()
    assert "short" not in str(exc.value).replace("too short", "")  # the token is never echoed
    monkeypatch.setenv("SK_DASH_TOKEN", TOKEN)
    assert DashboardSettings(host="0.0.0.0", token_env="SK_DASH_TOKEN").token() == TOKEN


def test_the_token_can_come_from_a_file(tmp_path: Path) -> None:
    f = tmp_path / "token"
    f.write_text(TOKEN + "\n")
    assert DashboardSettings(token_file=f).token() == TOKEN


def test_the_dashboard_section_of_the_config() -> None:
    assert Config().dashboard.active(demo=True) and not Config().dashboard.active(demo=False)
    cfg = parse_config({"dashboard": {"enabled": True, "port": 9000, "update_hz": 2}})
    assert cfg.dashboard.active(demo=False) and cfg.dashboard.port == 9000
    with pytest.raises(ConfigError, match=r"dashboard\.update_hz"):
        parse_config({"dashboard": {"update_hz": 1.0}})  # the page updates at 2 Hz at least
    with pytest.raises(ConfigError, match="unknown key"):
        parse_config({"dashboard": {"token": "inline secrets are not a thing"}})


def test_the_sink_never_slows_the_pipeline() -> None:
    info = SessionInfo("s", START, (RunnerInfo("ann"),), (), "test")
    sink = build_dashboard_sink(DashboardSettings(port=0), info)
    assert isinstance(sink, Sink) and isinstance(sink, DashboardSink)
    assert sink.policy is OverflowPolicy.DROP_OLDEST
    assert not any(issubclass(t, bytes) for t in sink.accepts)
    assert list(sink.state.runners) == ["ann"]


# -- the server ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serving(token: str | None = None, **kw: Any) -> AsyncIterator[DashboardServer]:
    settings = DashboardSettings(port=0, **kw)
    state = DashboardState(settings, title="test")
    async with DashboardServer(settings, state, token=token) as server:
        yield server


async def test_on_loopback_without_a_token_the_page_script_and_snapshot_are_served() -> None:
    async with serving() as server, aiohttp.ClientSession() as http:
        server.state.observe(rolling("ann", 1.0), START)
        async with http.get(server.url) as r:
            assert r.status == 200 and "sensorkit" in await r.text()
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
            assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Cache-Control"] == "no-store"
        for path in ["static/app.js", "static/uPlot.iife.min.js", "static/app.css", "static/uPlot.min.css"]:
            async with http.get(server.url + path) as r:
                assert r.status == 200, path
        async with http.get(server.url + "api/snapshot") as r:
            snap = await r.json()
        assert snap["type"] == "snapshot" and snap["runners"][0]["name"] == "ann"
        async with http.get(server.url + "static/../settings.py") as r:
            assert r.status in (403, 404)


async def test_an_open_dashboard_answers_only_to_loopback_host_names() -> None:
    async with serving() as server, aiohttp.ClientSession() as http:
        for host, status in [("evil.example", 403), (f"evil.example:{server.port}", 403), ("192.168.1.7", 403),
                             (f"localhost:{server.port}", 200), (f"127.0.0.1:{server.port}", 200), ("[::1]", 200)]:
            async with http.get(server.url + "api/snapshot", headers={"Host": host}) as r:
                assert r.status == status, host  # DNS rebinding cannot reach an open dashboard


async def test_with_a_token_every_request_needs_it_and_the_token_never_appears(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with serving(token=TOKEN) as server, aiohttp.ClientSession() as http:
        for path in ["", "static/app.js", "api/snapshot", "static/uPlot.iife.min.js"]:
            async with http.get(server.url + path) as r:
                assert r.status == 401, path
                assert TOKEN not in await r.text()
        with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
            await http.ws_connect(server.url + "ws")
        assert exc.value.status == 401
        for wrong in ["Bearer nope", f"Bearer {TOKEN}x", TOKEN, f"Basic {TOKEN}"]:
            async with http.get(server.url + "api/snapshot", headers={"Authorization": wrong}) as r:
                assert r.status == 401, wrong
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with http.get(server.url + "api/snapshot", headers=auth) as r:
            assert r.status == 200 and TOKEN not in await r.text()
        async with http.ws_connect(server.url + "ws", headers=auth) as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
        async with http.get(server.url + "api/snapshot", headers={**auth, "Host": "evil.example"}) as r:
            assert r.status == 200  # with a token, the token is the gate
    assert server.auth.rejected >= 8
    assert "dashboard: http://127.0.0.1:" in caplog.text and TOKEN not in caplog.text


async def test_signing_in_sets_a_cookie_that_opens_the_page_and_the_websocket() -> None:
    jar = aiohttp.CookieJar(unsafe=True)  # accept cookies from an IP address, as browsers do
    async with serving(token=TOKEN) as server, aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.post(server.url + "login", data={"token": "wrong-token-wrong-token"}) as r:
            assert r.status == 401 and "Wrong token" in await r.text()
        assert not http.cookie_jar.filter_cookies(server.url)
        async with http.post(server.url + "login", data={"token": TOKEN}, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/"
            cookie = r.cookies["sensorkit_dashboard"]
        assert TOKEN not in cookie.value and cookie["httponly"] and cookie["samesite"] == "Strict"
        async with http.get(server.url) as r:
            assert r.status == 200 and TOKEN not in await r.text()
        async with http.ws_connect(server.url + "ws") as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "snapshot"


async def test_oversized_input_and_cross_site_websockets_are_refused() -> None:
    async with serving(token=TOKEN) as server, aiohttp.ClientSession() as http:
        async with http.post(server.url + "login", data={"token": "x" * 10_000}) as r:
            assert r.status == 413
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
            await http.ws_connect(server.url + "ws", headers={**auth, "Origin": "http://evil.example"})
        assert exc.value.status == 403
        async with http.ws_connect(server.url + "ws", headers=auth) as ws:
            await ws.receive_json(timeout=10)
            await ws.send_str("x" * 100_000)
            msg = await ws.receive(timeout=10)
            while msg.type is aiohttp.WSMsgType.TEXT:
                msg = await ws.receive(timeout=10)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


async def test_junk_from_a_browser_is_ignored_and_the_socket_keeps_serving() -> None:
    async with serving() as server, aiohttp.ClientSession() as http, http.ws_connect(server.url + "ws") as ws:
        assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
        before = server.resyncs
        for junk in ["[" * 4000, "not json", "null", '{"type": ["resync"]}', '"resync"']:
            await ws.send_str(junk)  # "[" * 4000: json raises RecursionError, not ValueError
        await ws.send_str('{"type": "resync"}')
        assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
        assert server.resyncs == before + 1  # only the real request; the junk asked for nothing


async def test_browsers_beyond_the_limit_are_refused() -> None:
    async with (serving(max_clients=1) as server, aiohttp.ClientSession() as http,
                http.ws_connect(server.url + "ws") as first):
        await first.receive_json(timeout=10)
        with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
            await http.ws_connect(server.url + "ws")
        assert exc.value.status == 503


async def test_updates_are_coalesced_to_the_latest_state_per_runner() -> None:
    async with serving() as server, aiohttp.ClientSession() as http, http.ws_connect(server.url + "ws") as ws:
        assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
        for i in range(1000):  # a burst between two ticks
            server.state.observe(PostureSample("ann", i / 100, 5.0 + i / 1000), START)
            server.state.observe(PostureSample("bob", i / 100, 3.0), START)
        server.broadcast_once()
        update = await ws.receive_json(timeout=10)
        assert update["type"] == "update"
        tiles = {r["name"]: r["tile"] for r in update["runners"]}
        assert tiles["ann"]["live_lean_deg"] == 6.0 and tiles["bob"]["live_lean_deg"] == 3.0
        server.broadcast_once()  # nothing changed: nothing is sent
        server.state.observe(cue("bob", 10.0, "Land softer"), START)
        server.broadcast_once()
        update = await ws.receive_json(timeout=10)
        assert [r["name"] for r in update["runners"]] == ["bob"]
        assert [c["text"] for c in update["cues"]] == ["Land softer"]


async def test_a_port_in_use_moves_to_the_next_free_one(caplog: pytest.LogCaptureFixture) -> None:
    async with serving() as first:
        settings = DashboardSettings(port=first.port)
        caplog.set_level(logging.INFO)
        async with DashboardServer(settings, DashboardState(), token=None) as second:
            assert second.port != first.port
    assert "is taken" in caplog.text


# -- team mode: the MQTT feed ------------------------------------------------------------------


def feed_for(state: DashboardState, **kw: Any) -> MqttFeed:
    return MqttFeed(MqttSettings(enabled=True, topic_prefix="club", **kw), state, max_payload_bytes=4096)


def test_gateway_payloads_fill_the_team_view() -> None:
    state = DashboardState(mode="team")
    feed = feed_for(state)
    rm = payload_of(rolling("ann", 12.0), session_id="s", start_unix_s=START)
    feed.handle(runner_topic("ann", Kind.METRICS, "club"), rm.to_json())
    fatigue = payload_of(FatigueState("ann", 12.0, 63.0, True, {"trunk_lean_deg": 90.0}), start_unix_s=START)
    feed.handle(runner_topic("ann", Kind.FATIGUE, "club"), fatigue.to_json())
    c = payload_of(cue("ann", 13.0), session_id="s", start_unix_s=START).to_json()
    feed.handle(runner_topic("ann", Kind.CUE, "club"), c)
    feed.handle(runner_topic("ann", Kind.CUE, "club"), c)  # QoS 1 duplicate
    status = RunnerStatusPayload(runner="ann", gateway="pi-7", state="online", unix_s=START + 13,
                                 sensors=[SensorStatus(sensor_id="ann/lower_back", placement=Placement.LOWER_BACK,
                                                       time_s=13.0, connected=True, battery_pct=55.0)])
    feed.handle(runner_topic("ann", Kind.STATUS, "club"), status.to_json())
    ann = state.snapshot()["runners"][0]
    assert ann["tile"]["cadence_spm"] == 172.0 and ann["tile"]["fatigue"]["level"] == "fading"
    assert ann["gateway"] == "pi-7" and ann["online"] and ann["sensors"][0]["battery_pct"] == 55.0
    assert len(state.cues) == 1 and state.cues[0]["unix_s"] == START + 13.0
    assert not feed.rejected and feed.messages == 5

    will = GatewayStatusPayload(gateway="pi-7", state="offline", runners=["ann"])
    feed.handle(gateway_topic("pi-7", "club"), will.to_json())
    assert not state.runners["ann"].online  # its gateway vanished
    system = state.system()["mqtt"]
    assert system["gateways"]["pi-7"]["online"] is False and system["broker"] == "mqtt://127.0.0.1:1883"


def test_whatever_a_broker_delivers_is_dropped_and_counted_never_raised() -> None:
    state = DashboardState(mode="team")
    feed = feed_for(state)
    good = payload_of(rolling("ann", 1.0), start_unix_s=START).to_json()
    feed.handle("club/v1/runner/ann/metrics", b"{not json")
    feed.handle("club/v1/runner/ann/metrics", b"x" * 10_000)
    feed.handle("club/v1/runner/ann/bogus", good)
    feed.handle("other/v1/runner/ann/metrics", good)
    feed.handle("club/v1/runner/bob/metrics", good)  # payload names another runner
    feed.handle("club/v1/runner/ann/fatigue", good)  # metrics on the fatigue topic
    feed.handle("club/v1/runner/ann/metrics", b"")  # a cleared retained message
    feed.handle("club/v1/runner/ann/metrics", json.dumps({"schema": "sensorkit.metrics/1", "runner": "ann"}).encode())
    assert not state.runners
    assert feed.rejected == {"invalid payload": 2, "too large": 1, "unknown topic": 2,
                             "payload does not match topic": 2}


def test_the_broker_password_never_reaches_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SK_MQTT_PW", "hunter2-hunter2")
    settings = MqttSettings(enabled=True, username="coach", password_env="SK_MQTT_PW")
    state = DashboardState(mode="team")
    MqttFeed(settings, state, password=settings.password())
    text = json.dumps(state.snapshot())
    assert "hunter2" not in text and "coach" not in text


# -- the command -------------------------------------------------------------------------------


def test_broker_urls() -> None:
    base = MqttSettings()
    s = mqtt_from_url("mqtts://coach@broker.club.org:8884/club", base)
    assert (s.host, s.port, s.tls, s.username, s.topic_prefix) == ("broker.club.org", 8884, True, "coach", "club")
    assert mqtt_from_url("mqtt://10.0.0.2", base).port_or_default() == 1883
    with pytest.raises(ConfigError, match="password in the URL"):
        mqtt_from_url("mqtt://coach:hunter2@broker", base)
    for bad in ["http://broker", "mqtt://", "mqtt://host:99999"]:
        with pytest.raises(ConfigError):
            mqtt_from_url(bad, base)


def test_the_command_refuses_to_listen_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "sensorkit", "dashboard", "--host", "0.0.0.0", "--port", "0"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "needs an access token" in out.stderr and "Traceback" not in out.stderr


async def test_a_browser_fed_while_records_stream_ends_up_with_the_latest_state() -> None:
    async with (serving(update_hz=20) as server, aiohttp.ClientSession() as http,
                http.ws_connect(server.url + "ws") as ws):
        view: dict[str, float] = {}
        received = 0

        async def read() -> None:
            nonlocal received
            async for msg in ws:
                data = json.loads(msg.data)
                received += 1
                for r in data["runners"]:
                    view[r["name"]] = r["tile"]["cadence_spm"]

        reader = asyncio.create_task(read())
        ticker = asyncio.create_task(server.broadcast_forever())
        for i in range(200):
            for r in range(30):
                server.state.observe(rolling(f"r{r:02d}", float(i), cadence=150.0 + i / 10), START)
            await asyncio.sleep(0.001)
        ticker.cancel()
        server.broadcast_once()
        await server.drain(timeout_s=10)
        await asyncio.sleep(0.2)
        reader.cancel()
    assert view == {f"r{r:02d}": 169.9 for r in range(30)}
    assert received < 200 * 30  # never one message per record


# -- wiring ------------------------------------------------------------------------------------


def test_the_demo_serves_the_dashboard_by_default_and_prints_where(tmp_path: Path) -> None:
    cfg = tmp_path / "demo.toml"
    cfg.write_text("[simulator]\nrunners = 1\nduration_s = 20\n[recording]\nenabled = false\n"
                   "[audio]\nenabled = false\n[dashboard]\nport = 0\n")
    out = subprocess.run([sys.executable, "-m", "sensorkit", "demo", "--config", str(cfg), "--speed", "max",
                          "--no-terminal"], cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    assert "dashboard: http://127.0.0.1:" in out.stderr


def test_a_session_bound_beyond_loopback_without_a_token_does_not_start() -> None:
    from sensorkit.compose import Mode, assemble

    cfg = parse_config({"simulator": {"runners": 1}, "recording": {"enabled": False},
                        "audio": {"enabled": False}, "dashboard": {"host": "0.0.0.0"}})
    with pytest.raises(ConfigError, match="needs an access token"):
        assemble(cfg, Mode.DEMO, terminal=False)
    assembly = assemble(cfg, Mode.RUN, terminal=False, dashboard=False)  # run: off unless enabled
    assert not any(isinstance(s, DashboardSink) for s in assembly.sinks)


@pytest.mark.servers
async def test_a_refused_broker_login_is_a_clear_error_at_start_and_a_missing_broker_is_retried(
        mosquitto: Any) -> None:
    from sensorkit.errors import PublishError

    settings = MqttSettings(enabled=True, host="127.0.0.1", port=mosquitto.tls_port, tls=True,
                            ca_file=mosquitto.ca_file, username=mosquitto.username, connect_timeout_s=10)
    with pytest.raises(PublishError, match="refused") as exc:
        async with MqttFeed(settings, DashboardState(mode="team"), password="wrong-password-123"):
            pass
    assert "wrong-password-123" not in str(exc.value)
    async with MqttFeed(settings, DashboardState(mode="team"), password=mosquitto.password) as feed:
        assert feed._client is not None  # subscribed
    from tests.support.servers import free_port

    down = MqttSettings(enabled=True, host="127.0.0.1", port=free_port(), connect_timeout_s=2)
    state = DashboardState(mode="team")
    async with MqttFeed(down, state) as feed:
        assert not feed.connected and "not reachable" in feed.last_error
        assert state.system()["mqtt"]["connected"] is False
