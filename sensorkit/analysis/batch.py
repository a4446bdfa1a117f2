"""Many files at once: one file per task in a process pool, results merged in the parent.

Each worker opens, analyses and writes one session's files and sends back only what the
parent merges (summary rows and the per-step table), so memory and IPC stay small whatever
the session length. Results are merged in input order, so a batch gives the same files with
1 or N workers. A malformed file is reported (file, line, column) and the batch goes on.
"""

from __future__ import annotations

import glob
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from sensorkit.analysis.inputs import InputOptions
from sensorkit.analysis.outputs import OutputOptions, steps_table, write_outputs, write_parquet
from sensorkit.analysis.session import StageSettings, analyze_path
from sensorkit.analysis.summary import session_summaries
from sensorkit.errors import InputFileError, SensorkitError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Task:
    path: str
    stem: str
    inputs: InputOptions
    stages: StageSettings
    outputs: OutputOptions


@dataclass(slots=True)
class Outcome:
    """What one task sends back to the parent."""

    path: str
    stem: str
    error: str | None = None
    summaries: list[dict[str, Any]] = field(default_factory=list)
    steps: pa.Table | None = None
    files: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    wall_s: float = 0.0
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class BatchResult:
    outcomes: list[Outcome]
    summary: pa.Table
    steps: pa.Table | None
    files: list[Path]
    wall_s: float

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


def expand(patterns: Iterable[str]) -> list[str]:
    """Paths from paths and glob patterns (``**`` recursive), in order, without duplicates.

    A pattern that matches nothing is an error naming it: a typo must not silently shrink a study.
    """
    out: list[str] = []
    for pat in patterns:
        if glob.has_magic(pat):
            hits = sorted(glob.glob(pat, recursive=True))
            if not hits:
                raise InputFileError(pat, "the pattern matches no file")
        elif not os.path.exists(pat):
            raise InputFileError(pat, "no such file")
        else:
            hits = [pat]
        out += [h for h in hits if h not in out]
    return out


def stems(paths: Sequence[str]) -> list[str]:
    """Output name per input: its name without suffix, made unique with ``-2``, ``-3``..."""
    used: dict[str, int] = {}
    out = []
    for p in paths:
        base = Path(p.rstrip("/")).name
        for suffix in (".skrec", ".csv", ".zip", ".json", ".txt"):
            base = base.removesuffix(suffix)
        n = used.get(base, 0) + 1
        used[base] = n
        out.append(base if n == 1 else f"{base}-{n}")
    return out


def run_task(task: Task) -> Outcome:
    """Analyse one file and write its outputs (runs in a worker process)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = Outcome(task.path, task.stem)
    try:
        analysis = analyze_path(task.path, task.inputs, task.stages)
        out.files = [str(p) for p in write_outputs(analysis, task.stem, task.outputs, task.stages.alerts)]
        out.summaries = session_summaries(analysis, task.stages.alerts)
        out.steps = steps_table(analysis)
        out.duration_s = analysis.duration_s
    except SensorkitError as exc:
        out.error = str(exc)
    except Exception as exc:  # a bug must cost one file, not the study
        log.exception("analysis of %s failed", task.path)
        out.error = f"{task.path}: internal error ({type(exc).__name__}: {exc}); please report it"
    out.cpu_s = time.process_time() - c0
    out.wall_s = time.perf_counter() - t0
    return out


def _pool_context() -> multiprocessing.context.BaseContext:
    """How workers start: fork when that is safe, else a fork server, else spawn.

    fork starts workers in milliseconds with sensorkit already imported, but forking a process
    that runs other threads can deadlock (a lock held at the fork stays held), so a
    multi-threaded caller gets a fork server that imports the analysis once.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["sensorkit.analysis.batch"])
        return ctx
    return multiprocessing.get_context("spawn")


def summary_table(outcomes: Sequence[Outcome]) -> pa.Table:
    rows = [row for o in outcomes for row in o.summaries]
    return pa.Table.from_pylist(rows) if rows else pa.table({"file": pa.array([], pa.string())})


def run_batch(paths: Sequence[str], outputs: OutputOptions, *, inputs: InputOptions | None = None,
              stages: StageSettings | None = None, jobs: int = 1,
              on_done: Callable[[Outcome], None] | None = None) -> BatchResult:
    """Analyse ``paths`` with ``jobs`` worker processes; write per-session and pooled files.

    Pooled files in ``outputs.out_dir``: ``summary.csv`` and ``summary.parquet`` (one row per
    session and runner) and ``steps.parquet`` (every step of every session).
    """
    t0 = time.perf_counter()
    tasks = [Task(p, s, inputs or InputOptions(), stages or StageSettings(), outputs)
             for p, s in zip(paths, stems(paths), strict=True)]
    outcomes: dict[int, Outcome] = {}
    if jobs <= 1 or len(tasks) <= 1:
        for i, task in enumerate(tasks):
            outcomes[i] = run_task(task)
            if on_done:
                on_done(outcomes[i])
    else:
        ctx = _pool_context()
        log.debug("%d worker processes, started by %s", min(jobs, len(tasks)), ctx.get_start_method())
        with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=ctx) as pool:
            futures = {pool.submit(run_task, t): i for i, t in enumerate(tasks)}
            for fut in as_completed(futures):
                i = futures[fut]
                outcomes[i] = fut.result()
                if on_done:
                    on_done(outcomes[i])
    ordered = [outcomes[i] for i in range(len(tasks))]
    return merge(ordered, outputs, time.perf_counter() - t0)


def merge(outcomes: list[Outcome], outputs: OutputOptions, wall_s: float) -> BatchResult:
    """Pooled tables from the tasks' results, in input order, written next to the session files."""
    d = outputs.out_dir
    d.mkdir(parents=True, exist_ok=True)
    summary = summary_table(outcomes)
    files = [Path(f) for o in outcomes for f in o.files]
    import pyarrow.csv as pacsv

    pacsv.write_csv(summary, d / "summary.csv")
    files.append(d / "summary.csv")
    if outputs.parquet:
        files.append(write_parquet(summary, d / "summary.parquet"))
    parts = [o.steps for o in outcomes if o.steps is not None and o.steps.num_rows]
    steps = pa.concat_tables(parts, promote_options="default") if parts else None
    if steps is not None and outputs.parquet:
        files.append(write_parquet(steps, d / "steps.parquet"))
    return BatchResult(outcomes, summary, steps, files, wall_s)
