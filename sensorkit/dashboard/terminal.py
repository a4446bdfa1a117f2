"""A live per-runner table in the terminal, fed from the bus like any other sink.

It keeps only the latest value per runner, so it may drop items when the terminal is slow
(DROP_OLDEST): the view is never allowed to slow the pipeline down.
"""

from __future__ import annotations

import collections
import time
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from sensorkit.model import (
    BusItem,
    Cue,
    FatigueState,
    PostureSample,
    RollingMetrics,
    SensorHealth,
    SessionMarker,
    StepMetrics,
)
from sensorkit.pipeline.channel import OverflowPolicy
from sensorkit.pipeline.session import SessionStats


@dataclass
class RunnerView:
    rolling: RollingMetrics | None = None
    lean_deg: float | None = None
    fatigue: FatigueState | None = None
    last_step: StepMetrics | None = None
    health: dict[str, SensorHealth] = field(default_factory=dict)
    stopped: bool = False


def _fmt(v: float | None, spec: str = ".0f") -> str:
    return "-" if v is None else format(v, spec)


def _field(record: Any, name: str) -> float | None:
    return None if record is None else getattr(record, name)


def _clock(t: float) -> str:
    return f"{int(t // 60):02d}:{int(t % 60):02d}"


class TerminalView:
    """Sink rendering one row per runner and the latest cues."""

    name = "terminal"
    accepts: tuple[type, ...] = (RollingMetrics, PostureSample, FatigueState, Cue, SensorHealth,
                                 StepMetrics, SessionMarker)
    policy = OverflowPolicy.DROP_OLDEST
    queue_size = 512

    def __init__(self, refresh_hz: float = 2.0, console: Console | None = None,
                 stats: Callable[[], SessionStats] | None = None, title: str = "sensorkit") -> None:
        self.console = console or Console()
        if console is None and not self.console.is_terminal:
            self.console = Console(width=150)  # a log or a pipe: do not squeeze the table to 80 columns
        self.refresh_s = 1.0 / refresh_hz
        self.runners: dict[str, RunnerView] = collections.defaultdict(RunnerView)
        self.cues: collections.deque[Cue] = collections.deque(maxlen=6)
        self._stats = stats
        self._title = title
        self._live: Live | None = None
        self._last_render = 0.0
        self._last_plain = -1e9
        self._data_time = 0.0

    async def __aenter__(self) -> Self:
        if self.console.is_terminal:
            self._live = Live(self.render(), console=self.console, auto_refresh=False, transient=False)
            self._live.__enter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.update(self.render(), refresh=True)
            self._live.__exit__(None, None, None)
        else:
            self.console.print(self.render())

    def update(self, item: BusItem) -> None:
        runner = getattr(item, "runner", None)
        if runner is None:
            return
        view = self.runners[runner]
        self._data_time = max(self._data_time, getattr(item, "time_s", 0.0))
        if isinstance(item, RollingMetrics):
            view.rolling = item
        elif isinstance(item, PostureSample):
            view.lean_deg = item.trunk_lean_deg
        elif isinstance(item, FatigueState):
            view.fatigue = item
        elif isinstance(item, StepMetrics):
            view.last_step = item
        elif isinstance(item, SensorHealth):
            view.health[item.sensor_id] = item
        elif isinstance(item, Cue):
            self.cues.append(item)
        elif isinstance(item, SessionMarker):
            view.stopped = item.kind == "stop"

    async def consume(self, items: AsyncIterable[BusItem]) -> None:
        async for item in items:
            self.update(item)
            now = time.monotonic()
            if self._live is not None and now - self._last_render >= self.refresh_s:
                self._last_render = now
                self._live.update(self.render(), refresh=True)
            elif self._live is None and self._data_time - self._last_plain >= 60.0:
                # Not a terminal (a pipe, a log): one plain line per runner each minute of data.
                self._last_plain = self._data_time
                for name, v in sorted(self.runners.items()):
                    self.console.print(self._plain_line(name, v), highlight=False)

    def _plain_line(self, name: str, v: RunnerView) -> str:
        r = v.rolling
        return (f"[{_clock(self._data_time)}] {name}: cadence {_fmt(_field(r, 'cadence_spm'))} spm, "
                f"contact {_fmt(_field(r, 'contact_time_ms'))} ms, impact {_fmt(_field(r, 'impact_g'), '.1f')} g, "
                f"lean {_fmt(v.lean_deg, '.1f')} deg, fatigue {_fmt(_field(v.fatigue, 'score'))}")

    def render(self) -> Group:
        table = Table(title=f"{self._title}  {_clock(self._data_time)}", expand=False)
        for col, justify in [("runner", "left"), ("cadence\nspm", "right"), ("contact\nms", "right"),
                             ("flight\nms", "right"), ("impact\ng", "right"), ("strike\nR/M/F %", "center"),
                             ("lean\ndeg", "right"), ("balance\nL %", "right"), ("speed\nm/s", "right"),
                             ("fatigue", "right"), ("sensors", "left")]:
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for name, v in sorted(self.runners.items()):
            r = v.rolling
            strike = "-" if r is None or r.rearfoot_pct is None else (
                f"{r.rearfoot_pct:.0f}/{_fmt(r.midfoot_pct)}/{_fmt(r.forefoot_pct)}")
            fat = v.fatigue
            fat_txt = Text("-" if fat is None else (f"{fat.score:.0f}" if fat.baseline_ready else "warm-up"))
            if fat is not None and fat.baseline_ready and fat.score >= 50:
                fat_txt.stylize("bold red")
            table.add_row(name + (" (stopped)" if v.stopped else ""), _fmt(_field(r, "cadence_spm")),
                          _fmt(_field(r, "contact_time_ms")), _fmt(_field(r, "flight_time_ms")),
                          _fmt(_field(r, "impact_g"), ".1f"), strike, _fmt(v.lean_deg, ".1f"),
                          _fmt(_field(r, "balance_left_pct"), ".1f"), _fmt(_field(r, "speed_mps"), ".2f"), fat_txt,
                          self._health_text(v))
        parts: list[Any] = [table]
        if self.cues:
            cue_lines = Text()
            for c in self.cues:
                cue_lines.append(f"{_clock(c.time_s)} {c.runner}: ", style="dim")
                cue_lines.append(f"{c.text}\n", style="bold yellow")
            parts.append(cue_lines)
        if self._stats is not None:
            st = self._stats()
            drops = sum(c.dropped for c in st.channels)
            fill = max((c.fill / c.maxsize for c in st.channels), default=0.0)
            errs = sum(st.errors.values())
            line = f"queues: max fill {fill:.0%}, drops {drops}; errors survived {errs}"
            if st.coalesced:
                line += f"; backlog taken in larger blocks: {st.coalesced} joined"
            parts.append(Text(line, style="dim"))
        return Group(*parts)

    @staticmethod
    def _health_text(v: RunnerView) -> str:
        if not v.health:
            return "-"
        hs = list(v.health.values())
        up = sum(h.connected for h in hs)
        text = f"{up}/{len(hs)} up"
        lost = sum(h.lost_samples for h in hs)
        if lost:
            text += f", lost {lost}"
        batteries = [h.battery_pct for h in hs if h.battery_pct is not None]
        if batteries:
            text += f", batt {min(batteries):.0f}%"
        return text
