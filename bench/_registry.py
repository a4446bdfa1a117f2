"""Every benchmark ``python -m bench`` runs: its arguments (full and ``--quick``) and headline figures.

Each benchmark stays a standalone module (``python -m bench.<name>``) that writes its own
``bench/results/<name>.json``; this table only knows how to call it and which figures of its
JSON to put in the summary, with the target from the issue that asked for it. Extractors read
the JSON defensively: a missing key shows as ``n/a`` instead of breaking the summary, since
each benchmark's owner may reshape their results.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Figure:
    """One row of the summary: a headline figure, its target and whether it is met."""

    label: str
    value: float | str | None
    unit: str = ""
    target: str = ""
    passed: bool | None = None
    """None: informative figure without a target (or not measurable in this run)."""


@dataclass(frozen=True, slots=True)
class Spec:
    """How to run one benchmark and read its figures."""

    name: str
    module: str
    full_args: tuple[str, ...] = ()
    quick_args: tuple[str, ...] = ()
    figures: Callable[[Json], list[Figure]] = field(default=lambda d: headline_figures(d))
    result_name: str = ""
    """JSON file name in bench/results (default ``<name>.json``)."""
    timeout_s: float = 3600.0
    needs: tuple[str, ...] = ()
    """Programs on PATH the benchmark needs (reported as skipped without them)."""
    datasets_flag: bool = False
    """Pass ``--datasets DIR`` (its default is relative to its own file, wrong in a relocated copy)."""
    discovered: bool = False
    """Found in bench/ but not listed here: run full-size only (its quick size is unknown)."""

    @property
    def result_file(self) -> str:
        return self.result_name or f"{self.name}.json"


def dig(d: Any, path: str) -> Any:
    """``d["a"]["b"][0]`` for ``"a.b.0"``; None when any step is missing."""
    for part in path.split("."):
        if isinstance(d, dict):
            d = d.get(part)
        elif isinstance(d, list) and part.lstrip("-").isdigit() and -len(d) <= int(part) < len(d):
            d = d[int(part)]
        else:
            return None
        if d is None:
            return None
    return d


def at_least(label: str, value: Any, target: float, unit: str = "") -> Figure:
    v = _num(value)
    return Figure(label, v, unit, f">= {target:,g}", None if v is None else v >= target)


def at_most(label: str, value: Any, target: float, unit: str = "") -> Figure:
    v = _num(value)
    return Figure(label, v, unit, f"<= {target:,g}", None if v is None else v <= target)


def info(label: str, value: Any, unit: str = "") -> Figure:
    v = _num(value)
    return Figure(label, v if v is not None else (value if isinstance(value, str) else None), unit)


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    return None


def headline_figures(d: Json) -> list[Figure]:
    """Fallback for benchmarks without an extractor: their top-level ``headline*`` entries."""
    out: list[Figure] = []
    for k, v in d.items():
        if not k.startswith("headline"):
            continue
        if isinstance(v, dict):
            out += [info(f"{k2}", v2) for k2, v2 in v.items() if _num(v2) is not None or isinstance(v2, str)]
        else:
            out.append(info(k, v if _num(v) is not None else str(v)))
    return out or [Figure("(no headline in JSON)", None)]


# --------------------------------------------------------------------------- extractors
def _accuracy(d: Json) -> list[Figure]:
    text = str(d.get("headline", ""))
    m = re.match(r"(\d+)/(\d+)", text)
    if not m:
        return [Figure("accuracy targets met", text or None, "", "all")]
    met, total = int(m.group(1)), int(m.group(2))
    return [Figure("accuracy targets met (issue 3 item 8)", f"{met}/{total}", "", "all", met == total)]


def _dsp_speed(d: Json) -> list[Figure]:
    same = d.get("block_sizes_identical")
    return [at_least("DSP lower back acc+gyro 200 Hz", d.get("headline_samples_per_s"), 1_000_000, "samples/s/core"),
            info("RunnerMetrics 3 pods", d.get("runner_metrics_samples_per_s"), "samples/s/core"),
            Figure("block sizes 1..1000 give identical results", "yes" if same else ("no" if same is False else None),
                   "", "yes", None if same is None else bool(same))]


def _simulator(d: Json) -> list[Figure]:
    return [at_least("simulator 3 pods @200 Hz", d.get("headline_x_real_time"), 5000, "x real time/CPU s")]


def _recording(d: Json) -> list[Figure]:
    return [info("recording write, CPU per hour of session", d.get("write_cpu_s"), "s"),
            info("ReplaySource alone", d.get("replay_x_real_time_cpu"), "x real time/CPU s")]


def _replay(d: Json) -> list[Figure]:
    v = d.get("headline_x_real_time", d.get("x_real_time"))
    if v is None:
        v = _first_key_like(d, "x_real_time")
    return [at_least("replay --max 1 h, 3 pods @200 Hz, live blocks", v, 2000, "x real time/CPU s"),
            info("replay on a 1 s grid", d.get("x_real_time_per_cpu_s_1s_grid_replay"), "x real time/CPU s"),
            info("offline analyze", d.get("x_real_time_per_cpu_s_offline_analyze"), "x real time/CPU s")]


def _batch(d: Json) -> list[Figure]:
    v = d.get("speedup_2_cores", d.get("scaling", _first_key_like(d, "speedup")))
    same = d.get("identical_results")
    return [info("batch analysis speed-up 1 -> 2 cores", v, "x"),
            info("batch analysis on 2 cores", d.get("headline_x_real_time_2_cores"), "x real time"),
            Figure("same results on 1 and 2 cores", "yes" if same else ("no" if same is False else None), "", "yes",
                   None if same is None else bool(same))]


def _dashboard(d: Json) -> list[Figure]:
    head = dig(d, "scenarios.0") or {}
    return [info("dashboard CPU, 30 runners, 1 browser", head.get("dashboard_cpu_pct"), "% of a core"),
            info("record -> browser p95", head.get("latency_ms_p95"), "ms")]


def _pipeline(d: Json) -> list[Figure]:
    return [info("runners per core by CPU, live 40 ms blocks", d.get("headline_runners_per_core_cpu"), "runners")]


def _first_key_like(d: Any, fragment: str) -> Any:
    if isinstance(d, dict):
        for k, v in d.items():
            if fragment in k and _num(v) is not None:
                return v
        for v in d.values():
            found = _first_key_like(v, fragment)
            if found is not None:
                return found
    return None


def _live(d: Json) -> list[Figure]:
    return [at_least("live runners per core (p99 <= 50 ms beyond look-ahead)", d.get("runners_per_core"), 200,
                     "runners"),
            info("CPU-bound estimate (runners a whole core carries)", d.get("cpu_estimate_runners"), "runners")]


def _memory(d: Json) -> list[Figure]:
    flat = d.get("flat")
    return [at_most("peak RSS, 3-hour marathon at max speed", d.get("peak_rss_mb"), 150, "MB"),
            Figure("RSS flat (last third vs first third growth)", d.get("growth_mb"), "MB", "<= 10",
                   None if flat is None else bool(flat))]


def _peers(d: Json) -> list[Figure]:
    out: list[Figure] = []
    for row in d.get("summary", []):
        out.append(info(f"{row.get('tool')}: {row.get('what')}", row.get("value"), row.get("unit", "")))
    return out or headline_figures(d)


def _compiled(d: Json) -> list[Figure]:
    return [info("RSS a numba kernel would add (why there is none)", d.get("added_mb"), "MB")]


def _influx(d: Json) -> list[Figure]:
    need = (d.get("runners") or 30) * (d.get("pods_per_runner") or 3) * (d.get("rate_hz") or 200.0)
    return [at_least("InfluxDB 1.x sustained raw IMU", dig(d, "sustained_v1_influxd_1_6.points_per_s"), need,
                     "points/s"),
            at_least("VictoriaMetrics (v2 API) sustained", dig(d, "sustained_v2_victoriametrics.points_per_s"), need,
                     "points/s")]


def _ble(d: Json) -> list[Figure]:
    streams = d.get("stream") or []
    lost = sum(int(s.get("lost_samples", 0)) for s in streams[:1])
    return [at_most("reconnect after re-appearing, median", dig(d, "reconnect.median_s"), 2.0, "s"),
            at_most("lost samples, 3 pods 208 Hz MTU 247", lost if streams else None, 0, "samples"),
            info("alignment |error| p95", dig(d, "alignment.abs_error_ms_p95"), "ms")]


def _cues_latency(d: Json) -> list[Figure]:
    return [at_most("cue -> audio start p99, beyond look-ahead",
                    dig(d, "headline.audio_start_beyond_lookahead_p99_ms"), 100, "ms"),
            at_most("cue -> MQTT publish p99, beyond look-ahead",
                    dig(d, "headline.mqtt_publish_beyond_lookahead_p99_ms"), 100, "ms"),
            info("metrics look-ahead before a cue p99", dig(d, "headline.metrics_lookahead_p99_ms"), "ms"),
            info("cue trigger -> audio start p99, look-ahead included", dig(d, "headline.audio_start_p99_ms"), "ms")]


def _cues_detection(d: Json) -> list[Figure]:
    h = d.get("headline") or {}
    return [at_most("fatigue detection delay, simulator (max)", h.get("simulator_max_detection_delay_s"), 60, "s"),
            at_most("false cues per hour, steady simulator", h.get("simulator_false_per_hour"), 1, "/h"),
            at_most("missed drifts, simulator", h.get("simulator_missed"), 0)]


def _soak(d: Json) -> list[Figure]:
    problems = d.get("problems")
    out = [Figure("problems found (loss, leaks, growth, errors)", len(problems) if isinstance(problems, list) else None,
                  "", "0", None if not isinstance(problems, list) else not problems)]
    if d.get("rss_growth_pct") is not None:
        out.append(info("RSS growth over the soak", d.get("rss_growth_pct"), "%"))
    return out


def _phone_ingest(d: Json) -> list[Figure]:
    return [info("one 100 Hz Sensor Logger phone", d.get("core_pct_per_100hz_sensorlogger_phone"), "% of a core")]


def _phone_fuzz(d: Json) -> list[Figure]:
    res = d.get("results") or []
    ok = sum(bool(r.get("passed")) for r in res)
    cases = d.get("cases_per_property") or max((int(r.get("cases", 0)) for r in res), default=0)
    return [Figure(f"phone parsers surviving {cases} cases each", f"{ok}/{len(res)}", "", "all",
                   bool(res) and ok == len(res))]


SPECS: tuple[Spec, ...] = (
    Spec("accuracy", "bench.accuracy", (), ("--sim-s", "30"), _accuracy, datasets_flag=True),
    Spec("dsp_speed", "bench.dsp_speed", (), ("--seconds", "30", "--repeats", "1", "--ahrs-rates", "25"), _dsp_speed),
    Spec("simulator_speed", "bench.simulator_speed", (), ("--seconds", "120", "--repeats", "1"), _simulator),
    Spec("recording_io", "bench.recording_io", (), ("--minutes", "3"), _recording),
    Spec("replay_speed", "bench.replay_speed", (), ("--quick",), _replay),
    Spec("batch_analysis", "bench.batch_analysis", (), ("--quick",), _batch),
    Spec("live_capacity", "bench.live_capacity", (), ("--quick",), _live),
    Spec("memory_marathon", "bench.memory_marathon", (), ("--quick",), _memory),
    Spec("peers", "bench.peers", (), ("--quick",), _peers),
    Spec("compiled_kernels", "bench.compiled_kernels", (), ("--runs", "1"), _compiled),
    Spec("influx_throughput", "bench.influx_throughput", (), ("--seconds", "3", "--runners", "5", "--repeats", "1"),
         _influx, needs=("influxd",)),
    Spec("ble_throughput", "bench.ble_throughput", (), ("--seconds", "3", "--reconnects", "2"), _ble),
    Spec("cues_latency", "bench.cues_latency", (), ("--seconds", "8"), _cues_latency),
    Spec("cues_detection", "bench.cues_detection", (), ("--quick",), _cues_detection),
    Spec("pipeline_cost", "bench.pipeline_cost", (), ("--quick",), _pipeline),
    Spec("dashboard_load", "bench.dashboard_load", (), ("--seconds", "3"), _dashboard),
    Spec("simulator_realism", "bench.simulator_realism", (), datasets_flag=True),
    Spec("soak_influx_outage", "bench.soak_influx_outage", (), ("--down-min", "0.25", "--up-s", "5", "--after-s", "10"),
         needs=("influxd",)),
    Spec("soak_marathon", "bench.soak_marathon", (), ("--hours", "0.05"), _soak),
    Spec("soak_runners", "bench.soak_runners", (), ("--runners", "3", "--minutes", "0.5"), _soak),
    Spec("soak_ble_storm", "bench.soak_ble_storm", (), ("--minutes", "0.5"), _soak),
    Spec("phone_ingest", "bench.phone_ingest", (), ("--seconds", "10"), _phone_ingest),
    # The 100,000-case fuzz run takes ~1.5 CPU hours: run it on its own (see docs/performance.md).
    Spec("phone_fuzz", "bench.phone_fuzz", ("--cases", "2000"), ("--cases", "50"), _phone_fuzz),
    # The >= 100,000-case run per property takes hours: `python -m bench.fuzz_all` on its own.
    Spec("fuzz_all", "bench.fuzz_all", ("--cases", "2000"), ("--cases", "50")),
)


NOT_BENCHMARKS = frozenset({"dashboard_screenshot", "soak_common"})
"""Modules in bench/ that are tools or helpers, not benchmarks (the screenshot rewrites docs/img)."""


def select(specs: Iterable[Spec], only: Iterable[str] | None) -> list[Spec]:
    """The specs named in ``only`` (exact names or comma-separated lists), in registry order."""
    specs = list(specs)
    if not only:
        return specs
    wanted = {n.strip() for item in only for n in item.split(",") if n.strip()}
    unknown = wanted - {s.name for s in specs}
    if unknown:
        raise KeyError(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: "
                       f"{', '.join(s.name for s in specs)}")
    return [s for s in specs if s.name in wanted]
