"""What `demo`, `run` and `replay` share: run an assembled session until done or signalled."""

from __future__ import annotations

import asyncio
import logging
import sys

from sensorkit.compose import Assembly
from sensorkit.pipeline.gc_pauses import freeze_startup_objects
from sensorkit.pipeline.session import SessionStats
from sensorkit.pipeline.signals import run_with_signals
from sensorkit.pipeline.wakeups import loop_factory

log = logging.getLogger("sensorkit")


def execute(assembly: Assembly) -> int:
    """Run the session; print where the recording went and what was survived. Exit code 0 on success."""

    async def main(stop: asyncio.Event) -> SessionStats:
        freeze_startup_objects()  # one session per process: keep full collections short
        return await assembly.session().run(stop)

    with asyncio.Runner(loop_factory=loop_factory(assembly.wake_quantum_s)) as runner:
        stats = runner.run(run_with_signals(main))
    _summary(assembly, stats)
    return 0


def _summary(assembly: Assembly, stats: SessionStats) -> None:
    lines = [f"session {assembly.info.session_id}: {len(assembly.info.runners)} runner(s), "
             f"{len(assembly.info.sensors)} sensor(s)"]
    steps = stats.items.get("StepMetrics", 0)
    cues = stats.items.get("Cue", 0)
    lines.append(f"  {steps} steps, {cues} cues")
    if assembly.recording_path is not None:
        lines.append(f"  recording: {assembly.recording_path}")
    drops = {c.name: c.dropped for c in stats.channels if c.dropped}
    if drops:
        lines.append(f"  live-view drops (by policy): {drops}")
    if stats.errors:
        lines.append(f"  errors survived: {dict(stats.errors)}")
    if stats.coalesced:
        lines.append(f"  {stats.coalesced} queued blocks were joined to the one before them to take a backlog "
                     "faster (same records; at real time this means the host fell behind)")
    print("\n".join(lines), file=sys.stderr)
