"""The composition root: turns a validated config into a running :class:`Session`.

``demo``, ``run`` and ``replay`` differ only in where samples come from; the stages and sinks
are the same, which is what makes a replay reproduce the live run.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pydantic import ValidationError

import sensorkit
from sensorkit.alerts import build_cue_engine
from sensorkit.alerts.audio import build_audio_sink
from sensorkit.ble.source import build_ble_sources
from sensorkit.config.schema import Config
from sensorkit.dashboard import build_dashboard_sink
from sensorkit.dashboard.terminal import TerminalView
from sensorkit.errors import ConfigError
from sensorkit.metrics import RunnerMetrics
from sensorkit.model import RunnerInfo, SensorInfo, SessionInfo
from sensorkit.mqtt.sink import MqttSink
from sensorkit.pipeline.clock import HostClock
from sensorkit.pipeline.contracts import RecordStage, Sink
from sensorkit.pipeline.session import Session, SessionStats
from sensorkit.sources.base import Source
from sensorkit.sources.phone.factory import build_phone_source
from sensorkit.sources.replay import ReplaySource, replay_block_s
from sensorkit.store.influx.sink import InfluxSink
from sensorkit.store.recording import RecordingReader
from sensorkit.store.recording.sink import RecordingSink

log = logging.getLogger(__name__)


class Mode(StrEnum):
    DEMO = "demo"
    RUN = "run"
    REPLAY = "replay"


class _SessionStats:
    """Lets sinks built before the session read its counters once it exists."""

    def __init__(self) -> None:
        self.session: Session | None = None

    def __call__(self) -> SessionStats:
        return self.session.stats() if self.session is not None else SessionStats()


@dataclass
class Assembly:
    """Everything a session is made of, before it runs (tests inspect it)."""

    info: SessionInfo
    sources: list[Source]
    stages: dict[str, list[RecordStage]]
    sinks: list[Sink]
    clock: HostClock
    recording_path: Path | None = None
    stats: _SessionStats = field(default_factory=_SessionStats)
    wake_quantum_s: float = 0.0
    """The event loop's poll quantum (:mod:`sensorkit.pipeline.wakeups`): live sessions only."""
    coalesce_s: float = 0.0
    """The longest block a runner that fell behind joins its backlog into (``Session``)."""

    def session(self) -> Session:
        """The session, built once; sinks that show counters read this one."""
        if self.stats.session is None:
            self.stats.session = Session(self.info, self.sources, self.stages, self.sinks,
                                         coalesce_s=self.coalesce_s)
        return self.stats.session


def session_id(cfg: Config, start_unix_s: float) -> str:
    return f"{cfg.session.name}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(start_unix_s))}"


def _live_sources(cfg: Config, mode: Mode, speed: float, clock: HostClock) -> list[Source]:
    sources: list[Source] = []
    if cfg.simulator is not None:
        sources += cfg.simulator.sources(speed=speed, clock=clock if speed == 1.0 else None)
    if mode is Mode.RUN:
        sources += build_ble_sources({r.name: r.pods for r in cfg.runners}, clock, settings=cfg.ble)
        sources += [build_phone_source(p, clock) for r in cfg.runners for p in r.phones]
    if not sources:
        raise ConfigError("nothing to run: configure [[runners]] with pods or phones, or a [simulator] section")
    return sources


def _runner_infos(cfg: Config, sensors: Sequence[SensorInfo]) -> tuple[RunnerInfo, ...]:
    configured = {r.name: RunnerInfo(r.name, r.body_mass_kg, r.shoe) for r in cfg.runners}
    names = list(dict.fromkeys(s.runner for s in sensors))
    return tuple(configured.get(n, RunnerInfo(n)) for n in names)


def assemble(cfg: Config, mode: Mode, *, speed: float = 1.0, replay: Path | None = None,
             clock: HostClock | None = None, terminal: bool | None = None,
             record: bool | None = None, dashboard: bool | None = None) -> Assembly:
    """Build sources, per-runner stages and sinks for ``mode`` from ``cfg``.

    ``speed`` paces simulated and replayed sources (``math.inf``: as fast as possible);
    ``terminal``/``record``/``dashboard`` override the config's switches (None keeps them).
    """
    clock = clock or HostClock()
    if mode is Mode.REPLAY:
        if replay is None:
            raise ConfigError("replay needs a recording")
        reader = RecordingReader(replay)
        recorded = reader.info
        info = SessionInfo(f"replay-{recorded.session_id}", recorded.start_unix_s, recorded.runners,
                           recorded.sensors, sensorkit.__version__,
                           {**recorded.notes, "replay_of": str(replay)})
        sources: list[Source] = [ReplaySource(reader, speed=speed,
                                                block_s=replay_block_s(speed, cfg.metrics.stale_s))]
    else:
        sources = _live_sources(cfg, mode, speed, clock)
        sensors = tuple(s for src in sources for s in src.sensors)
        info = SessionInfo(session_id(cfg, clock.start_unix_s), clock.start_unix_s,
                           _runner_infos(cfg, sensors), sensors, sensorkit.__version__, {"mode": mode.value})
    real_time = speed == 1.0 and mode is not Mode.REPLAY
    stages: dict[str, list[RecordStage]] = {
        r.name: [RunnerMetrics(r, info.sensors_of(r.name), cfg.metrics), build_cue_engine(r.name, cfg.alerts)]
        for r in info.runners
    }
    sinks: list[Sink] = []
    recording_path = None
    if cfg.recording.enabled if record is None else record:
        sink = RecordingSink.from_settings(cfg.recording, info, config=cfg.model_dump(mode="json"))
        recording_path = sink.path
        sinks.append(sink)
    audio = build_audio_sink(cfg.audio, cfg.alerts, clock=clock.now_s if real_time else None)
    if audio is not None:
        sinks.append(audio)
    if cfg.influx.enabled:
        sinks.append(InfluxSink(cfg.influx, info))
    assembly = Assembly(info, sources, stages, sinks, clock, recording_path,
                        wake_quantum_s=cfg.session.wake_quantum_ms / 1e3 if real_time else 0.0,
                        coalesce_s=cfg.metrics.invariant_block_s)
    stats = assembly.stats
    if cfg.mqtt.enabled:
        sinks.append(MqttSink(cfg.mqtt, runners=[r.name for r in info.runners], session_id=info.session_id,
                              start_unix_s=info.start_unix_s, clock=clock.now_s if real_time else None,
                              password=cfg.mqtt.password(),
                              queue_stats=lambda: stats().channels))
    if cfg.dashboard.active(mode is Mode.DEMO) if dashboard is None else dashboard:
        sinks.append(build_dashboard_sink(cfg.dashboard, info, stats=stats))
    if cfg.terminal.enabled if terminal is None else terminal:
        sinks.append(TerminalView(cfg.terminal.refresh_hz, stats=stats, title=f"sensorkit {info.session_id}"))
    return assembly


def replay_config(recording: Path, cfg: Config, explicit: Set[str] = frozenset()) -> Config:
    """``cfg`` with the recorded run's processing settings ([metrics], [alerts]) unless in ``explicit``.

    Sinks (recording, servers, views) always come from ``cfg``, so a replay never publishes to
    the live run's broker by surprise; processing comes from the recording, so the replay's
    metrics and cues are the live run's.
    """
    stored = RecordingReader(recording).config
    try:
        recorded = Config.model_validate(stored) if stored else None
    except ValidationError as exc:
        log.warning("the recording's config does not validate with this version (%d errors); replaying "
                    "with the current settings, metrics may differ from the live run", exc.error_count())
        return cfg
    if recorded is None:
        return cfg
    return cfg.model_copy(update={k: getattr(recorded, k) for k in ("metrics", "alerts") if k not in explicit})


def parse_speed(text: str) -> float:
    """``"1"``, ``"30"``, ``"max"`` -> a pacing factor (``math.inf`` for max)."""
    if text.lower() in {"max", "inf"}:
        return math.inf
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"--speed {text!r}: expected a number or 'max'") from None
    if not value > 0:
        raise ConfigError(f"--speed {text!r}: must be > 0")
    return value
