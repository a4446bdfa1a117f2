"""Browser and live-session helpers for the dashboard tests, benches and the README screenshot.

* :func:`fast_fatigue_session` - simulated runners through the real pipeline (DSP, metrics, cue
  engine) at accelerated speed, with runner1's form fading early and a short cue warm-up, so
  an alert appears within seconds instead of after 20 minutes.
* :func:`in_thread` - runs a session on its own event loop in a thread, as a separate
  ``sensorkit`` process would: the pipeline's DSP work then cannot stall the test's own loop
  (which drives the browser).
* :func:`chromium` - headless Chromium from the Debian package, driven by Playwright (never a
  browser download).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import sensorkit
from sensorkit.alerts import AlertsSettings, build_cue_engine
from sensorkit.metrics import RunnerMetrics
from sensorkit.model import RunnerInfo, SessionInfo
from sensorkit.pipeline.clock import HostClock
from sensorkit.pipeline.contracts import Sink
from sensorkit.pipeline.session import Session
from sensorkit.sources.simulator import FatigueProfile, SimulatorSource, demo_runners

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]

FAST_ALERTS: dict[str, Any] = {
    "settle_s": 2.0, "warmup_s": 15.0, "min_warmup_samples": 10, "ewma_tau_s": 4.0, "resume_settle_s": 5.0,
    "min_gap_s": 0.0, "max_cues_per_minute": 10,
    "rules": {"fatigue": {"min_duration_s": 4.0, "cooldown_s": 60.0, "expiry_s": 600.0},
              "trunk_lean": {"min_duration_s": 4.0, "cooldown_s": 60.0, "expiry_s": 600.0},
              "overstride": {"min_duration_s": 4.0, "cooldown_s": 60.0, "expiry_s": 600.0},
              "impact": {"min_duration_s": 4.0, "cooldown_s": 60.0, "expiry_s": 600.0}},
}
"""Cue settings for tests: baseline from 15 s of running after 2 s, faults after 4 s."""


def fast_fatigue_session(sinks: Callable[[SessionInfo], Sequence[Sink]], *, runners: int = 3, speed: float = 8.0,
                         duration_s: float = 240.0, fatigue_onset_s: float = 22.0, fatigue_ramp_s: float = 10.0,
                         seed: int = 0, alerts: dict[str, Any] | None = None,
                         names: Sequence[str] | None = None, fatigue: bool = True) -> Session:
    """A live simulated session of ``runners`` runners whose runner1 fades from ``fatigue_onset_s``.

    ``sinks(info)`` builds the session's sinks (as the composition root does, from its info).

    The fatigue drift is the simulator's (lean +6 deg, cadence -6 %, impact +30 %, contact
    +10 %), reached ``fatigue_ramp_s`` after the onset; the cue engine runs with
    :data:`FAST_ALERTS` so its baseline is ready ~25 s into the run (5 s standing first), and
    runner1 fades (score > 50, cues) about 35-40 s into it. ``alerts`` overrides keys of
    :data:`FAST_ALERTS`; ``names`` renames the runners (as another gateway's would be);
    ``fatigue=False`` keeps the first runner fresh too.
    """
    configs = demo_runners(runners, duration_s=duration_s, seed=seed, fatigue_onset_s=fatigue_onset_s)
    drift = FatigueProfile(onset_s=fatigue_onset_s, ramp_s=fatigue_ramp_s, trunk_lean_deg=6.0,
                           cadence_pct=-6.0, impact_pct=30.0, contact_time_pct=10.0) if fatigue else None
    configs[0] = dataclasses.replace(configs[0], runner=dataclasses.replace(configs[0].runner, fatigue=drift))
    for i, name in enumerate(names or ()):
        configs[i] = dataclasses.replace(configs[i], runner=dataclasses.replace(configs[i].runner, name=name))
    clock = HostClock()
    sources = [SimulatorSource(c, speed=speed) for c in configs]
    sensors = tuple(s for src in sources for s in src.sensors)
    names = list(dict.fromkeys(s.runner for s in sensors))
    info = SessionInfo("dashboard-test", clock.start_unix_s, tuple(RunnerInfo(n) for n in names), sensors,
                       sensorkit.__version__, {"mode": "demo"})
    cues = AlertsSettings.model_validate({**FAST_ALERTS, **(alerts or {})})
    stages = {n: [RunnerMetrics(RunnerInfo(n), info.sensors_of(n)), build_cue_engine(n, cues)] for n in names}
    return Session(info, sources, stages, sinks(info))


async def poll_until(pred: Callable[[], Any], what: str, timeout_s: float = 120.0) -> None:
    """Poll ``pred`` (state in another thread or process has no event to wait on)."""
    for _ in range(int(timeout_s / 0.05)):
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout_s} s: {what}")


@asynccontextmanager
async def in_thread(session: Session, *, stop_timeout_s: float = 120.0) -> AsyncIterator[Session]:
    """Run ``session`` on its own event loop in a thread; on exit stop it (drain, flush) and join.

    A failure inside the session is raised here.
    """
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def main() -> None:
        try:
            loop.run_until_complete(session.run(stop))
        except BaseException as exc:
            failure.append(exc)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=main, name="session", daemon=True)
    thread.start()
    try:
        yield session
    finally:
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between: nothing to stop
                loop.call_soon_threadsafe(stop.set)
        await asyncio.to_thread(thread.join, stop_timeout_s)
        if thread.is_alive():
            raise AssertionError(f"the session did not stop within {stop_timeout_s} s")
    if failure:
        raise failure[0]


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A headless Chromium (Debian's) under Playwright's async API; yields the Browser."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()
