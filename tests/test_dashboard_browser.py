"""The dashboard in a real browser (Debian's headless Chromium driven by Playwright).

Against live simulated sessions of 3 runners at 8x real time (runner1's form fades from 22 s
of data time; the cue engine's baseline is ready after ~25 s), each on its own event loop
in a thread as a separate process would be: tiles appear, values change, the
fatigue drift raises an alert that shows on the page, the token is enforced, and in team mode
the same happens through a real mosquitto broker (two gateways' MqttSinks -> broker -> the
``sensorkit dashboard`` command -> browser). Screenshots are kept in test-artifacts/.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sensorkit.dashboard import DashboardSettings, build_dashboard_sink
from sensorkit.dashboard.sink import DashboardSink
from sensorkit.model import SessionInfo
from sensorkit.mqtt import MqttSettings, build_mqtt_sink
from sensorkit.pipeline.contracts import Sink
from sensorkit.pipeline.session import Session
from tests.support.browser import chromium, fast_fatigue_session, in_thread, poll_until
from tests.support.servers import Mosquitto

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

TOKEN = "browser-test-token-0123456789"
UI_TIMEOUT_MS = 120_000  # a loaded 2-core machine: generous, never asserted as a timing
VIEWPORT = {"width": 1400, "height": 1000}

ALL_NUMBERS = "() => [...document.querySelectorAll('.tile .num')].map(e => e.textContent).join('|')"


async def expect_live_dashboard(page: Any, artifacts_dir: Path, *, gateway: str | None = None) -> None:
    """Tiles for the 3 runners, changing values, runner1 fading with a visible cue."""
    tiles = page.locator(".tile")
    await page.wait_for_function("() => document.querySelectorAll('.tile').length === 3", timeout=UI_TIMEOUT_MS)
    assert sorted(await tiles.evaluate_all("ts => ts.map(t => t.dataset.runner)")) == ["runner1", "runner2",
                                                                                      "runner3"]
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.tile [data-key=cadence]')].every(e => /^\\d+$/.test(e.textContent))",
        timeout=UI_TIMEOUT_MS)
    before = await page.evaluate(ALL_NUMBERS)
    await page.wait_for_function(f"prev => ({ALL_NUMBERS})() !== prev", arg=before, timeout=UI_TIMEOUT_MS)
    await page.screenshot(path=str(artifacts_dir / "1-running.png"))
    if gateway is not None:
        assert await page.locator('.tile[data-runner="runner2"] .gateway').text_content() == f"@{gateway}"

    fading = page.locator('.tile[data-runner="runner1"][data-fatigue="fading"]')
    await fading.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    alert = page.locator('#cues li[data-runner="runner1"]').first
    await alert.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    assert (await alert.locator(".text").text_content() or "").strip()
    assert await page.locator('.tile[data-runner="runner1"] .last-cue').text_content()
    assert re.match(r"fatigue \d+", await fading.locator(".fatigue-badge").text_content() or "")
    for steady in ("runner2", "runner3"):
        assert await page.locator(f'.tile[data-runner="{steady}"]').get_attribute("data-fatigue") != "fading"
    await page.wait_for_timeout(1500)  # let the charts draw once more for the picture
    await page.screenshot(path=str(artifacts_dir / "2-alert.png"))


async def expect_detail_view(page: Any, artifacts_dir: Path, *, queues: bool) -> None:
    await page.locator('.tile[data-runner="runner1"] a.name').click()
    await page.locator("#detail").wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    assert await page.locator("#detail-name").text_content() == "runner1"
    await page.wait_for_function("() => document.querySelectorAll('#sensors tbody tr').length === 3",
                                 timeout=UI_TIMEOUT_MS)
    assert await page.locator("#sensors tbody td.down").count() == 0
    assert await page.locator("#detail-charts canvas").count() >= 5
    assert await page.locator("#components li").count() >= 4
    if queues:
        await page.locator("#queues tbody tr", has_text="runner:runner1").wait_for(timeout=UI_TIMEOUT_MS)
        await page.locator("#system", has_text="queues: max fill").wait_for(timeout=UI_TIMEOUT_MS)
    await page.wait_for_timeout(1000)
    await page.screenshot(path=str(artifacts_dir / "3-detail.png"), full_page=True)
    await page.locator("a.back").click()
    await page.locator("#overview").wait_for(state="visible", timeout=UI_TIMEOUT_MS)


async def test_a_live_session_behind_a_token(artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SK_DASH_TOKEN", TOKEN)
    settings = DashboardSettings(port=0, token_env="SK_DASH_TOKEN")
    sinks: list[DashboardSink] = []
    sessions: list[Session] = []

    def make_sinks(info: SessionInfo) -> list[Sink]:  # as the composition root does, with the session's counters
        sinks.append(build_dashboard_sink(settings, info, stats=lambda: sessions[0].stats()))
        return list(sinks)

    async with chromium() as browser:  # started before the session keeps the event loop busy
        page = await browser.new_page(viewport=VIEWPORT)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sessions.append(fast_fatigue_session(make_sinks, duration_s=900.0))
        async with in_thread(sessions[0]):
            server = sinks[0].server
            await poll_until(lambda: server.port, "the server listens")
            response = await page.goto(server.url)
            assert response is not None and response.status == 401
            assert TOKEN not in await page.content()
            await page.fill("#token", "not-the-token-at-all")
            await page.click("button[type=submit]")
            await page.locator("#message", has_text="Wrong token").wait_for(timeout=UI_TIMEOUT_MS)
            await page.fill("#token", TOKEN)
            await page.click("button[type=submit]")
            await expect_live_dashboard(page, artifacts_dir)
            await expect_detail_view(page, artifacts_dir, queues=True)
            html = await page.content()
            scripts = await page.evaluate("() => [...document.scripts].map(s => s.src).join(' ')")
            assert TOKEN not in html and TOKEN not in scripts
            cookie = (await page.context.cookies())[0]
            assert cookie["httpOnly"] and TOKEN not in cookie["value"]
    assert not errors, errors


async def _stderr_lines(stream: asyncio.StreamReader, lines: list[str]) -> None:
    while line := await stream.readline():
        lines.append(line.decode(errors="replace"))


@pytest.mark.servers
async def test_team_mode_through_a_real_broker(artifacts_dir: Path, mosquitto: Mosquitto,
                                               monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Two gateways (MqttSink, TLS + password) -> mosquitto -> `sensorkit dashboard --mqtt` -> browser."""
    monkeypatch.setenv("SK_MQTT_PW", mosquitto.password)
    central = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sensorkit", "dashboard", "--port", "0", "--title", "track session",
        "--mqtt", f"mqtts://{mosquitto.username}@127.0.0.1:{mosquitto.tls_port}/club",
        "--mqtt-ca-file", str(mosquitto.ca_file), "--mqtt-password-env", "SK_MQTT_PW",
        cwd=tmp_path, stderr=asyncio.subprocess.PIPE)
    log: list[str] = []
    assert central.stderr is not None
    reader = asyncio.create_task(_stderr_lines(central.stderr, log))

    def gateway(name: str) -> Callable[[SessionInfo], list[Sink]]:
        settings = MqttSettings(enabled=True, host="127.0.0.1", port=mosquitto.tls_port, tls=True,
                                ca_file=mosquitto.ca_file, username=mosquitto.username,
                                password_env="SK_MQTT_PW", topic_prefix="club", gateway=name)

        def make_sinks(info: SessionInfo) -> list[Sink]:
            sink = build_mqtt_sink(settings, info)
            assert sink is not None
            return [sink]
        return make_sinks

    def stale(runner: str) -> str:
        return f"() => document.querySelector('.tile[data-runner=\"{runner}\"]').dataset.stale === 'true'"

    try:
        await poll_until(lambda: any("dashboard: http://" in line for line in log) or central.returncode is not None,
                         "the dashboard command listens")
        assert central.returncode is None, "".join(log)
        url = next(m.group(0) for line in log if (m := re.search(r"http://\S+", line)))
        async with chromium() as browser:
            page = await browser.new_page(viewport=VIEWPORT)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            response = await page.goto(url)
            assert response is not None and response.status == 200
            # 4x, not 8x: a gateway's MqttSink publishes one QoS 0 message per event-loop turn, and
            # an 8x session on a loaded host leaves it too few turns (metrics lag, none are lost).
            squad = fast_fatigue_session(gateway("gw-a"), runners=2, duration_s=900.0, speed=4.0)
            solo = fast_fatigue_session(gateway("gw-b"), runners=1, duration_s=900.0, speed=4.0, seed=2,
                                        names=["runner3"], fatigue=False)
            async with in_thread(squad):
                async with in_thread(solo):
                    await expect_live_dashboard(page, artifacts_dir, gateway="gw-a")
                    assert await page.locator('.tile[data-runner="runner3"] .gateway').text_content() == "@gw-b"
                    await page.locator("#system", has_text="gw-a (online)").wait_for(timeout=UI_TIMEOUT_MS)
                    await page.locator("#system", has_text="gw-b (online)").wait_for(timeout=UI_TIMEOUT_MS)
                # gw-b went offline: its runner greys out, gw-a's runners stay live.
                await page.wait_for_function(stale("runner3"), timeout=UI_TIMEOUT_MS)
                await page.locator("#system", has_text="gw-b (offline)").wait_for(timeout=UI_TIMEOUT_MS)
                assert not await page.evaluate(stale("runner1"))
                await page.screenshot(path=str(artifacts_dir / "3-one-gateway-offline.png"))
            await page.wait_for_function(stale("runner1"), timeout=UI_TIMEOUT_MS)
            await page.screenshot(path=str(artifacts_dir / "4-all-offline.png"))
            assert mosquitto.password not in await page.content()
            assert not errors, errors
    finally:
        if central.returncode is None:
            central.terminate()
        await asyncio.wait_for(central.wait(), 60)
        await asyncio.wait_for(reader, 10)
    assert central.returncode == 0, "".join(log)
    assert mosquitto.password not in "".join(log)
