"""The README's dashboard screenshot: 3 simulated runners, runner1 fading, its cues on the page.

A live session (simulator -> DSP -> metrics -> cue engine -> dashboard) at 4x real time with
the tests' fast fatigue scenario (a longer warm-up, a later onset), photographed by headless
Chromium once runner1's tile is red, its cues are in the feed and the charts show the drift.

    python -m bench.dashboard_screenshot [--out docs/img/dashboard.png]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from sensorkit.dashboard import DashboardSettings, build_dashboard_sink
from sensorkit.dashboard.sink import DashboardSink
from sensorkit.model import SessionInfo
from sensorkit.pipeline.contracts import Sink
from sensorkit.pipeline.session import Session
from tests.support.browser import chromium, fast_fatigue_session, in_thread, poll_until

OUT = Path(__file__).parents[1] / "docs" / "img" / "dashboard.png"


async def main(out: Path, data_s: float) -> None:
    sinks: list[DashboardSink] = []
    sessions: list[Session] = []

    def make_sinks(info: SessionInfo) -> list[Sink]:
        sinks.append(build_dashboard_sink(DashboardSettings(port=0), info, stats=lambda: sessions[0].stats(),
                                          title="track session"))
        return list(sinks)

    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 760}, device_scale_factor=1)
        # A longer warm-up and later onset than the tests' (a steadier baseline: no false alarms
        # on the steady runners), at 4x so the pipeline keeps up and its queues look like a live run.
        sessions.append(fast_fatigue_session(make_sinks, duration_s=900.0, speed=4.0, fatigue_onset_s=80.0,
                                             alerts={"settle_s": 5.0, "warmup_s": 60.0, "min_warmup_samples": 40}))
        async with in_thread(sessions[0]):
            sink = sinks[0]
            await poll_until(lambda: sink.server.port, "the server listens")
            await page.goto(sink.url)
            await page.locator('.tile[data-runner="runner1"][data-fatigue="fading"]').wait_for(timeout=300_000)
            await page.locator('#cues li[data-runner="runner1"]').first.wait_for(timeout=300_000)
            start = sessions[0].info.start_unix_s
            await poll_until(lambda: (sink.state.runners["runner1"].unix_s or start) - start >= data_s,
                             f"{data_s} s of data", timeout_s=600)
            await page.wait_for_timeout(1200)  # one more chart redraw
            out.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--data-s", type=float, default=150.0, help="seconds of data time before the picture")
    a = p.parse_args()
    asyncio.run(main(a.out, a.data_s))
