"""Runs benchmarks as child processes and gathers one summary.

Each benchmark runs in its own interpreter (``python -m bench.<name>``) so one cannot skew the
next through memory, imported modules, threads or CPU affinity. For each we record wall time,
the child's CPU time (``RUSAGE_CHILDREN``) and the load average before and after: the machine
this runs on is often shared, and CPU time is the figure that survives a busy neighbour.

``relocate=True`` (``--quick`` and ``--results``) runs a copy of the bench package from a
temporary folder, so the JSON lands there and is then copied to the chosen results folder:
a smoke run never overwrites the committed full-size results in bench/results.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench._registry import NOT_BENCHMARKS, SPECS, Figure, Spec

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
DATASETS = Path(os.environ.get("SENSORKIT_DATASETS", REPO.parent / "shared" / "datasets"))
PEERS_CACHE = Path(os.environ.get("SENSORKIT_PEERS_DIR", BENCH / ".peers"))


@dataclass(slots=True)
class Outcome:
    """What one benchmark run gave."""

    name: str
    status: str
    """ok | failed | missing | skipped | timeout"""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    figures: list[Figure] = field(default_factory=list)
    result_file: str = ""
    note: str = ""
    args: list[str] = field(default_factory=list)


def discover(specs: Sequence[Spec] = SPECS) -> list[Spec]:
    """The registry plus any ``bench/<name>.py`` it does not list yet (run without arguments)."""
    known = {s.name for s in specs}
    extra = [Spec(p.stem, f"bench.{p.stem}", discovered=True) for p in sorted(BENCH.glob("*.py"))
             if not p.stem.startswith("_") and p.stem not in known | NOT_BENCHMARKS]
    return [*specs, *extra]


def exists(spec: Spec) -> bool:
    rel = spec.module.split(".")[1:]
    base = BENCH.joinpath(*rel)
    return base.with_suffix(".py").is_file() or (base / "__main__.py").is_file()


def _load() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)


def _copy_bench(dst: Path) -> Path:
    """A copy of the bench package (code only) under ``dst``; returns the copy's results folder."""
    shutil.copytree(BENCH, dst / "bench", ignore=shutil.ignore_patterns(
        "results", ".peers", "__pycache__", "*.pyc"))
    out = dst / "bench" / "results"
    out.mkdir()
    return out


def run_one(spec: Spec, *, quick: bool, workdir: Path | None, results: Path,
            echo: Callable[[str], None] = print, extra_args: Sequence[str] = ()) -> Outcome:
    """Run one benchmark; ``workdir`` is a relocated bench copy (None: run in place)."""
    args = list(spec.quick_args if quick else spec.full_args) + list(extra_args)
    if spec.datasets_flag and "--datasets" not in args:
        args += ["--datasets", str(DATASETS)]
    out = Outcome(spec.name, "ok", args=args)
    if not exists(spec):
        out.status, out.note = "missing", f"{spec.module} not in bench/ yet"
        return out
    if quick and spec.discovered:
        out.status, out.note = "skipped", "not in bench/_registry.py: no quick size known"
        return out
    missing = [p for p in spec.needs if shutil.which(p) is None]
    if missing:
        out.status, out.note = "skipped", f"needs {', '.join(missing)} on PATH"
        return out
    env = dict(os.environ, SENSORKIT_DATASETS=str(DATASETS), SENSORKIT_PEERS_DIR=str(PEERS_CACHE),
               PYTHONUNBUFFERED="1")
    cwd = REPO
    if workdir is not None:
        cwd = workdir
        env["PYTHONPATH"] = os.pathsep.join([str(workdir), str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = [sys.executable, "-m", spec.module, *args]
    echo(f"\n=== {spec.name}: {' '.join(['python', '-m', spec.module, *args])}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.load_before = _load()
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, timeout=spec.timeout_s if not quick else spec.timeout_s / 4,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        echo(proc.stdout.rstrip())
        if proc.returncode != 0:
            out.status, out.note = "failed", f"exit code {proc.returncode}"
    except subprocess.TimeoutExpired as exc:
        echo((exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or ""))
        out.status, out.note = "timeout", f"killed after {exc.timeout:.0f} s"
    out.wall_s = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out.load_after = _load()
    produced = (workdir / "bench" / "results" if workdir is not None else RESULTS) / spec.result_file
    if workdir is not None and produced.is_file():
        results.mkdir(parents=True, exist_ok=True)
        shutil.copy2(produced, results / spec.result_file)
        produced = results / spec.result_file
    if out.status == "ok":
        if not produced.is_file():
            out.status, out.note = "failed", f"no {spec.result_file} written"
        else:
            try:
                out.figures = spec.figures(json.loads(produced.read_text()))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                out.status, out.note = "failed", f"unreadable results: {exc!r}"
    out.result_file = str(produced)
    return out


def run_all(specs: Sequence[Spec], *, quick: bool, results: Path | None = None,
            echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run ``specs`` in order; write and return the summary (``summary.json`` in the results folder)."""
    relocate = quick or (results is not None and results.resolve() != RESULTS)
    target = (results or (RESULTS / "quick" if quick else RESULTS)).resolve()
    target.mkdir(parents=True, exist_ok=True)
    if relocate and target.parent == RESULTS and not (target / ".gitignore").exists():
        (target / ".gitignore").write_text("*\n")
    started = time.time()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="sensorkit-bench-") as tmp:
        for spec in specs:
            workdir = None
            if relocate:
                workdir = Path(tmp) / spec.name
                _copy_bench(workdir)
            outcomes.append(run_one(spec, quick=quick, workdir=workdir, results=target, echo=echo))
    summary = {
        "mode": "quick" if quick else "full",
        "started_unix_s": started,
        "wall_s": time.time() - started,
        "machine": {"cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
                    "python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine()},
        "benchmarks": [_outcome_json(o) for o in outcomes],
        "passed": sum(f.passed is True for o in outcomes for f in o.figures),
        "failed": sum(f.passed is False for o in outcomes for f in o.figures),
        "not_run": [o.name for o in outcomes if o.status != "ok"],
    }
    (target / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    echo("\n" + table(outcomes))
    echo(f"\n{summary['passed']} targets met, {summary['failed']} missed; "
         f"not run: {', '.join(o.name for o in outcomes if o.status != 'ok') or 'none'}; "
         f"wrote {target / 'summary.json'}")
    return summary


def _outcome_json(o: Outcome) -> dict[str, Any]:
    d = asdict(o)
    d["figures"] = [asdict(f) for f in o.figures]
    return d


def _fmt(v: float | str | None) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def table(outcomes: Sequence[Outcome]) -> str:
    """The summary table: benchmark, figure, value, target, result; then time and load per run."""
    rows = [("benchmark", "figure", "value", "target", "result")]
    for o in outcomes:
        if o.status != "ok":
            rows.append((o.name, o.note, "", "", o.status.upper()))
            continue
        for f in o.figures:
            res = "pass" if f.passed else ("FAIL" if f.passed is False else "-")
            rows.append((o.name, f.label, f"{_fmt(f.value)} {f.unit}".strip(), f.target, res))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(f"{'benchmark':20s} {'status':8s} {'wall s':>8s} {'CPU s':>8s}  load avg before -> after")
    for o in outcomes:
        lines.append(f"{o.name:20s} {o.status:8s} {o.wall_s:8.1f} {o.cpu_s:8.1f}  "
                     f"{o.load_before[0]:.1f} -> {o.load_after[0]:.1f}")
    return "\n".join(lines)
