"""Cue latency through a real pipeline and a real broker: trigger -> audio start and -> MQTT.

Two live sessions on the host clock (HostClock; sources stamp arrivals like BLE callbacks):

* ``scripted``: 10 runners (ticks staggered over the second) whose 1 Hz RollingMetrics are
  scripted from tiny live sample blocks (a stage emits the record when the block arrives),
  through CueEngine, AudioSink (WAV files; this host has no sound card) and MqttSink to a real
  mosquitto, plus a subscriber.
* ``simulator``: 8 simulated runners at real time through the real DSP (RunnerMetrics) and
  the same cue engine, sinks and broker; fatigue starts after the (shortened) warm-up.

Latency = host time of the event - ``Cue.trigger_time_s`` (the host time of the metric record
that fired the cue). That includes the metrics' look-ahead: a RollingMetrics for second k is
released once every step up to k is final (block invariance, ~one step plus the detectors'
look-ahead), so the headline, like ``bench.live_capacity``'s, is the delay beyond it: from the
arrival of the block that released the trigger (its end on the real-time host clock) to audio
start and to the MQTT hand-over; the look-ahead is reported beside it. Engine settings are
shortened (no minimum duration, 5 s cooldowns, no cap) so that hundreds of cues flow (~100x a
real session's cue rate, in bursts of up to five per runner); the path a cue takes is the
production one. Sessions run on the CLI's live event loop (``[session] wake_quantum_ms``).

    python -m bench.cues_latency [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiomqtt
import numpy as np

from sensorkit.alerts import AlertsSettings, CueEngine
from sensorkit.alerts.audio import AudioSettings, build_audio_sink
from sensorkit.config.schema import SessionSettings
from sensorkit.model import (
    BusItem,
    Cue,
    Placement,
    Record,
    RollingMetrics,
    RunnerInfo,
    SampleBlock,
    SensorInfo,
    SessionInfo,
    SourceItem,
)
from sensorkit.mqtt import MqttSettings, MqttSink
from sensorkit.mqtt.schema import CuePayload, Kind, decode, subscription
from sensorkit.pipeline.clock import HostClock
from sensorkit.pipeline.contracts import RecordStage
from sensorkit.pipeline.session import Session
from sensorkit.pipeline.wakeups import loop_factory
from tests.support.servers import ManagedProcess, free_port, require_binary

RESULTS = Path(__file__).parent / "results" / "cues_latency.json"
KINDS = ("trunk_lean", "overstride", "impact", "asymmetry", "fatigue")


def fast_settings(warmup_s: float = 10.0, settle_s: float = 0.0, cooldown_s: float = 5.0) -> AlertsSettings:
    return AlertsSettings.model_validate({
        "settle_s": settle_s, "warmup_s": warmup_s, "min_warmup_samples": 5, "ewma_tau_s": 1.0,
        "max_cues_per_minute": 1000, "min_gap_s": 0.0,
        "rules": {k: {"min_duration_s": 0.0, "cooldown_s": cooldown_s, "repeat_backoff": 1.0} for k in KINDS}})


class TimedCueEngine(CueEngine):
    """Notes the host time at which each cue leaves the engine, and the data its trigger waited for.

    A stage sees the input block before the records made from it, so the last block seen when a
    cue is made is the one that released the triggering record: its end minus the trigger's time
    is the look-ahead the metrics took (RollingMetrics wait until every step up to their second
    is final), and on a real-time source that block's end is also its arrival on the host clock.
    """

    def __init__(self, runner: str, settings: AlertsSettings, clock: HostClock, made: dict[int, float],
                 data_end: dict[int, float] | None = None) -> None:
        super().__init__(runner, settings)
        self._clock, self._made = clock, made
        self._data_end = {} if data_end is None else data_end
        self._last_end_s = float("nan")

    def update(self, item: BusItem) -> list[Record]:
        if isinstance(item, SampleBlock) and len(item):
            self._last_end_s = item.end_s
        out = super().update(item)
        for r in out:
            if isinstance(r, Cue):
                self._made[id(r)] = self._clock.now_s()
                self._data_end[id(r)] = self._last_end_s
        return out


class TickSource:
    """Tiny sample blocks every ``period_s``, stamped with the host clock on arrival."""

    def __init__(self, infos: Sequence[SensorInfo], clock: HostClock, period_s: float = 0.02) -> None:
        self._infos, self._clock, self._period_s = list(infos), clock, period_s

    @property
    def sensors(self) -> Sequence[SensorInfo]:
        return self._infos

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        return None

    async def items(self) -> AsyncIterator[SourceItem]:
        while True:
            await asyncio.sleep(self._period_s)
            for info in self._infos:
                yield SampleBlock(info.sensor_id, np.array([self._clock.now_s()]), np.array([[0.0, 0.0, 1.0]]))


class ScriptedRolling:
    """Emits a 1 Hz RollingMetrics when a block arrives; form drifts from ``drift_s`` on."""

    def __init__(self, runner: str, drift_s: float, seed: int, phase_s: float = 0.0) -> None:
        self.runner, self.drift_s = runner, drift_s
        self._next = 1.0 + phase_s
        self._rng = np.random.default_rng(seed)

    def update(self, item: BusItem) -> list[Record]:
        if not isinstance(item, SampleBlock) or item.end_s < self._next:
            return []
        self._next += 1.0
        t = item.end_s
        d = 1.0 if t >= self.drift_s else 0.0
        n = self._rng.standard_normal(4) * 0.01
        return [RollingMetrics(self.runner, t, 10.0, 28, cadence_spm=170.0 * (1 - 0.05 * d + n[0]),
                               contact_time_ms=250.0 * (1 + 0.08 * d), impact_g=3.0 * (1 + 0.25 * d + n[1]),
                               trunk_lean_deg=8.0 + 5 * d + n[2], balance_left_pct=50.0 + 8 * d + n[3],
                               rearfoot_pct=70.0, speed_mps=3.2)]

    def finish(self) -> list[Record]:
        return []


class Subscriber:
    """A coach's view: host time at which each cue arrives from the broker."""

    def __init__(self, port: int, clock: HostClock) -> None:
        self.port, self.clock = port, clock
        self.received: dict[tuple[str, float, str], float] = {}
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with aiomqtt.Client("127.0.0.1", self.port, protocol=aiomqtt.ProtocolVersion.V5) as c:
            for topic in subscription(kind=Kind.CUE):
                await c.subscribe(topic, qos=1)
            self.ready.set()
            async for m in c.messages:
                now = self.clock.now_s()
                p = decode(m.payload)
                if isinstance(p, CuePayload):
                    self.received[(p.runner, p.time_s, p.kind.value)] = now


async def loop_lag(clock: HostClock, lags: list[float], period_s: float = 0.01) -> None:
    """How late the event loop wakes a 10 ms sleeper: CPU starvation shows up here."""
    while True:
        t = clock.now_s()
        await asyncio.sleep(period_s)
        lags.append(clock.now_s() - t - period_s)


def percentiles_ms(x: list[float]) -> dict[str, float]:
    if not x:
        return {"n": 0}
    a = np.asarray(x) * 1000.0
    return {"n": int(a.size), "p50_ms": round(float(np.percentile(a, 50)), 2),
            "p90_ms": round(float(np.percentile(a, 90)), 2), "p99_ms": round(float(np.percentile(a, 99)), 2),
            "max_ms": round(float(a.max()), 2)}


async def run_session(name: str, info: SessionInfo, sources: list[Any], stages: dict[str, list[RecordStage]],
                      clock: HostClock, port: int, wav_dir: Path, seconds: float,
                      made: dict[int, float], data_end: dict[int, float]) -> dict[str, Any]:
    audio = build_audio_sink(AudioSettings(output="wav", wav_dir=wav_dir, max_wav_files=200,
                                           cache_dir=wav_dir.parent / "cache"), AlertsSettings(),
                             clock=clock.now_s)
    assert audio is not None
    mqtt = MqttSink(MqttSettings(enabled=True, port=port, gateway=f"bench-{name}"),
                    runners=[r.name for r in info.runners], session_id=info.session_id,
                    start_unix_s=info.start_unix_s, clock=clock.now_s)
    sub = Subscriber(port, clock)
    cpu0 = time.process_time()
    session = Session(info, sources, stages, [audio, mqtt])
    stop = asyncio.Event()
    lags: list[float] = []
    async with asyncio.TaskGroup() as tg:
        lag_task = tg.create_task(loop_lag(clock, lags))
        sub_task = tg.create_task(sub.run())
        await sub.ready.wait()
        run = tg.create_task(session.run(stop))
        await asyncio.sleep(seconds)
        stop.set()
        stats = await run
        await asyncio.sleep(0.5)
        sub_task.cancel()
        lag_task.cancel()
    audio_lat = [d.started_s - d.cue.trigger_time_s for d in audio.deliveries if d.started_s is not None]
    mqtt_lat = [d.published_s - d.cue.trigger_time_s for d in mqtt.deliveries if d.published_s is not None]
    cues = [d.cue for d in mqtt.deliveries]
    recv_lat = [sub.received[k] - c.trigger_time_s for c in cues
                if (k := (c.runner, c.time_s, c.kind.value)) in sub.received]
    engine_lat = [made[id(d.cue)] - d.cue.trigger_time_s for d in mqtt.deliveries if id(d.cue) in made]
    queued_lat = [d.queued_s - d.cue.trigger_time_s for d in mqtt.deliveries if d.queued_s is not None]
    # The sinks' own share: from the cue leaving the engine to audio start / MQTT hand-over.
    audio_own = [d.started_s - made[id(d.cue)] for d in audio.deliveries
                 if d.started_s is not None and id(d.cue) in made]
    mqtt_own = [d.sent_s - made[id(d.cue)] for d in mqtt.deliveries if d.sent_s is not None and id(d.cue) in made]
    sent_lat = [d.sent_s - d.cue.trigger_time_s for d in mqtt.deliveries if d.sent_s is not None]
    # Beyond the metrics' look-ahead: from the arrival of the block that released the trigger.
    lookahead = [data_end[id(d.cue)] - d.cue.trigger_time_s for d in mqtt.deliveries if id(d.cue) in data_end]
    audio_beyond = [d.started_s - data_end[id(d.cue)] for d in audio.deliveries
                    if d.started_s is not None and id(d.cue) in data_end]
    mqtt_beyond = [d.sent_s - data_end[id(d.cue)] for d in mqtt.deliveries
                   if d.sent_s is not None and id(d.cue) in data_end]
    return {
        "session": name, "runners": len(info.runners), "seconds": seconds,
        "cues_made": stats.items.get("Cue", 0), "audio_stats": audio.stats().__repr__(),
        "mqtt_stale": mqtt.cues_stale, "session_errors": dict(stats.errors),
        "event_loop_lag": percentiles_ms(lags), "process_cpu_s": round(time.process_time() - cpu0, 1),
        "engine": percentiles_ms(engine_lat), "mqtt_sink_intake": percentiles_ms(queued_lat),
        "audio_sink_only": percentiles_ms(audio_own), "mqtt_sink_only": percentiles_ms(mqtt_own),
        "mqtt_handed_to_client": percentiles_ms(sent_lat), "audio_start": percentiles_ms(audio_lat),
        "mqtt_publish_ack": percentiles_ms(mqtt_lat), "mqtt_subscriber": percentiles_ms(recv_lat),
        "metrics_lookahead": percentiles_ms(lookahead), "audio_start_beyond_lookahead": percentiles_ms(audio_beyond),
        "mqtt_handed_beyond_lookahead": percentiles_ms(mqtt_beyond),
    }


async def scripted(port: int, tmp: Path, seconds: float) -> dict[str, Any]:
    clock = HostClock()
    runners = [f"r{i:02d}" for i in range(10)]
    infos = [SensorInfo(f"{r}/lower_back", r, Placement.LOWER_BACK, 50.0) for r in runners]
    info = SessionInfo("bench-scripted", clock.start_unix_s, tuple(RunnerInfo(r) for r in runners),
                       tuple(infos), "bench")
    made: dict[int, float] = {}
    data_end: dict[int, float] = {}
    stages: dict[str, list[RecordStage]] = {
        r: [ScriptedRolling(r, 12.0 + i, i, phase_s=i / len(runners)),
            TimedCueEngine(r, fast_settings(), clock, made, data_end)]
        for i, r in enumerate(runners)}
    return await run_session("scripted", info, [TickSource(infos, clock)], stages, clock, port,
                             tmp / "scripted" / "wav", seconds, made, data_end)


async def simulated(port: int, tmp: Path, seconds: float) -> dict[str, Any]:
    from sensorkit.metrics import RunnerMetrics
    from sensorkit.sources.simulator import (
        FatigueProfile,
        RunnerProfile,
        SimulationConfig,
        SimulatorSource,
        default_pods,
    )

    clock = HostClock()
    n = 8
    onset_s = 40.0
    cfgs = [SimulationConfig(RunnerProfile(name=f"sim{i}", fatigue=FatigueProfile(onset_s=onset_s, ramp_s=10.0)),
                             default_pods(), seconds + 5, seed=i) for i in range(n)]
    sources = [SimulatorSource(c, speed=1.0, clock=clock) for c in cfgs]
    info = SessionInfo("bench-sim", clock.start_unix_s, tuple(RunnerInfo(c.runner.name) for c in cfgs),
                       tuple(s for src in sources for s in src.sensors), "bench")
    made: dict[int, float] = {}
    data_end: dict[int, float] = {}
    stages: dict[str, list[RecordStage]] = {
        r.name: [RunnerMetrics(r, info.sensors_of(r.name)),
                 TimedCueEngine(r.name, fast_settings(warmup_s=15.0, settle_s=15.0, cooldown_s=3.0), clock, made,
                                data_end)]
        for r in info.runners}
    return await run_session("simulator", info, list(sources), stages, clock, port, tmp / "sim" / "wav",
                             seconds, made, data_end)


def start_broker(workdir: Path, nodelay: bool) -> tuple[ManagedProcess, int]:
    """A plain mosquitto; ``set_tcp_nodelay`` is what docs/mqtt.md recommends for cue latency."""
    import getpass

    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"user {getpass.getuser()}\npersistence false\nset_tcp_nodelay {str(nodelay).lower()}\n"
                    f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    proc = ManagedProcess([require_binary("mosquitto"), "-c", str(conf)], [port], workdir, workdir / "log")
    proc.start()
    return proc, port


def _run(session: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """On the event loop the CLI uses for live sessions (its poll quantum included)."""
    with asyncio.Runner(loop_factory=loop_factory(SessionSettings().wake_quantum_ms / 1e3)) as runner:
        return runner.run(session)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each live session")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        results = []
        for nodelay in (True, False):
            broker, port = start_broker(tmp / f"mosquitto-{nodelay}", nodelay)
            try:
                for r in (_run(scripted(port, tmp, args.seconds)),
                          _run(simulated(port, tmp, max(args.seconds, 75.0)))):
                    r["broker_tcp_nodelay"] = nodelay
                    results.append(r)
            finally:
                broker.stop()
    print(f"{'session':10s} {'nodelay':7s} {'path':22s} {'n':>5s} {'p50 ms':>8s} {'p90 ms':>8s} {'p99 ms':>8s} "
          f"{'max ms':>8s}")
    for r in results:
        for path in ("event_loop_lag", "engine", "audio_start", "audio_sink_only", "mqtt_sink_intake",
                     "mqtt_handed_to_client", "mqtt_sink_only", "mqtt_publish_ack", "mqtt_subscriber",
                     "metrics_lookahead", "audio_start_beyond_lookahead", "mqtt_handed_beyond_lookahead"):
            p = r[path]
            if p.get("n"):
                print(f"{r['session']:10s} {r['broker_tcp_nodelay']!s:7s} {path:22s} {p['n']:5d} "
                      f"{p['p50_ms']:8.2f} {p['p90_ms']:8.2f} "
                      f"{p['p99_ms']:8.2f} {p['max_ms']:8.2f}")
    def worst(path: str, rs: list[dict[str, Any]]) -> float:
        return float(max(r[path].get("p99_ms", 0.0) for r in rs))

    tuned = [r for r in results if r["broker_tcp_nodelay"]]
    headline = {"audio_start_p99_ms": worst("audio_start", results),
                "audio_sink_only_p99_ms": worst("audio_sink_only", results),
                "mqtt_sink_only_p99_ms": worst("mqtt_sink_only", results),
                "mqtt_publish_p99_ms": worst("mqtt_handed_to_client", results),
                "metrics_lookahead_p99_ms": worst("metrics_lookahead", results),
                "audio_start_beyond_lookahead_p99_ms": worst("audio_start_beyond_lookahead", results),
                "mqtt_publish_beyond_lookahead_p99_ms": worst("mqtt_handed_beyond_lookahead", results),
                "mqtt_subscriber_p99_ms_nodelay_broker": worst("mqtt_subscriber", tuned),
                "mqtt_puback_p99_ms_nodelay_broker": worst("mqtt_publish_ack", tuned),
                "mqtt_puback_p99_ms_default_broker": worst("mqtt_publish_ack",
                                                           [r for r in results if not r["broker_tcp_nodelay"]])}
    print("\nheadline (p99, worst session; target <= 100 ms beyond the metrics' look-ahead): releasing block -> "
          f"audio start {headline['audio_start_beyond_lookahead_p99_ms']:.1f} ms; -> MQTT publish "
          f"{headline['mqtt_publish_beyond_lookahead_p99_ms']:.1f} ms; the look-ahead itself (trigger time -> that "
          f"block's end, data time) p99 {headline['metrics_lookahead_p99_ms']:.1f} ms")
    print("including the look-ahead: trigger -> audio start "
          f"{headline['audio_start_p99_ms']:.1f} ms; -> MQTT publish {headline['mqtt_publish_p99_ms']:.1f} ms; "
          f"-> coach's subscriber {headline['mqtt_subscriber_p99_ms_nodelay_broker']:.1f} ms "
          f"(broker with set_tcp_nodelay true); sinks' own share (cue made -> audio start / MQTT publish): "
          f"{headline['audio_sink_only_p99_ms']:.1f} / {headline['mqtt_sink_only_p99_ms']:.1f} ms")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        import os
        load = os.getloadavg()
    RESULTS.write_text(json.dumps({"sessions": results, "headline": headline,
                                   "load_average": list(load)}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
