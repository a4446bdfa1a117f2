"""Long fuzz run of every parser: >= 100,000 generated cases per property (issue 10).

Run: ``python -m bench.fuzz_all [--cases 100000] [--jobs 2] [--only NAME[,NAME]] [--seed N] [--list]``
(hours on a 2-core machine: start it with ``nice`` and let it run; results are written after
every property, so a run cut short keeps what it finished).

The properties are the ones the CI suite runs with a few hundred cases each:

* BLE decoders and stream timing ... tests/test_fuzz_ble.py (valid frames of every profile,
  mutated frames, packet streams with drops/duplicates/swaps/jumps/reconnects)
* generic CSV import ................ tests/test_fuzz_csv.py
* config loader ..................... tests/test_fuzz_config.py
* team-mode MQTT input .............. tests/test_fuzz_mqtt.py
* phone ingest payloads and timing .. tests/test_phone_fuzz.py (the phone engineer's)
* recording reader .................. damaged recordings, as tests/test_recording_fuzz.py
* phone export importers ............ tests/test_fuzz_imports.py (Sensor Logger folder/zip/JSON,
  phyphox CSV zip, HyperIMU log; damaged members and damaged zip bytes)

Prints one line per property (cases actually run, seconds, cases/s, result) and a headline,
and writes bench/results/fuzz_all.json. Any exception a property does not allow is a failure;
hypothesis then shrinks it and the smallest failing case is reported.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import importlib
import json
import logging
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from bench._measure import load_avg, machine

RESULTS = Path(__file__).resolve().parent / "results" / "fuzz_all.json"
MODULES = ("tests.test_fuzz_ble", "tests.test_fuzz_csv", "tests.test_fuzz_config", "tests.test_fuzz_mqtt",
           "tests.test_phone_fuzz")


class _Recording:
    """Damaged copies of one small recording with every item type (tests/test_recording_fuzz.py)."""

    def __init__(self, tmp: Path) -> None:
        from sensorkit.store.recording import RecordingWriter
        from tests.test_recording import INFO, _blocks, every_record

        self.tmp = tmp
        self.pristine = self.tmp / "orig.skrec"
        with RecordingWriter(self.pristine, INFO) as w:
            w.write_many(_blocks(INFO.sensors[0], 300, 7, 1) + _blocks(INFO.sensors[1], 100, 9, 2))
            w.write_many(every_record())

    def check(self, damages: list[tuple[str, str, float, bytes]]) -> None:
        from tests.test_recording_fuzz import check_damaged

        check_damaged(self.pristine, self.tmp, damages)


def properties(tmp: Path) -> dict[str, tuple[Callable[..., None], tuple[Any, ...]]]:
    out: dict[str, tuple[Callable[..., None], tuple[Any, ...]]] = {}
    for name in MODULES:
        out.update(importlib.import_module(name).PROPERTIES)
    from tests.test_recording_fuzz import damage

    recording: _Recording | None = None

    def recording_damaged(damages: list[tuple[str, str, float, bytes]]) -> None:
        nonlocal recording
        recording = recording or _Recording(tmp)
        recording.check(damages)

    out["recording_damaged"] = (recording_damaged, (st.lists(damage, min_size=1, max_size=3),))
    from tests.test_fuzz_imports import properties as import_properties

    out.update(import_properties(tmp))
    return out


def run_one(prop: Callable[..., None], strategies: tuple[Any, ...], cases: int, seed_: int) -> tuple[int, str]:
    """Run ``cases`` generated cases; returns (cases run, error text or "")."""
    ran = 0

    @functools.wraps(prop)  # hypothesis reads the property's signature through __wrapped__
    def counted(*args: Any, **kwargs: Any) -> None:
        nonlocal ran
        ran += 1
        prop(*args, **kwargs)

    config = settings(max_examples=cases, deadline=None, database=None, derandomize=False,
                      phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck),
                      print_blob=False)
    test = seed(seed_)(config(given(*strategies)(counted)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # as in CI (pytest -W error): a warning is a failure
            test()
    except Exception as exc:  # report and go on with the next property
        return ran, f"{type(exc).__name__}: {exc}"[:2000]
    return ran, ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--cases", type=int, default=100_000, help="generated cases per property")
    ap.add_argument("--only", action="append", metavar="NAME[,NAME]", help="run only these properties")
    ap.add_argument("--seed", type=int, default=0, help="hypothesis seed (a run is reproducible)")
    ap.add_argument("--jobs", type=int, default=1, help="properties run in parallel worker processes")
    ap.add_argument("--list", action="store_true", help="list the properties and exit")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results JSON")
    args = ap.parse_args(argv)
    logging.disable(logging.CRITICAL)  # parsers log every rejected input; millions of lines help nobody
    with tempfile.TemporaryDirectory(prefix="fuzz-all-") as tmp:
        return _run(args, ap, properties(Path(tmp)))


def _worker(name: str, cases: int, seed_: int) -> dict[str, Any]:
    """One property in a worker process (``--jobs``): its own temp folder and logging off."""
    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="fuzz-all-") as tmp:
        prop, strategies = properties(Path(tmp))[name]
        t0 = time.perf_counter()
        ran, error = run_one(prop, strategies, cases, seed_)
        dt = time.perf_counter() - t0
    return {"property": name, "cases_requested": cases, "cases_run": ran, "seconds": round(dt, 1),
            "cases_per_s": round(ran / dt, 1) if dt else None, "passed": not error, "failure": error}


def _run(args: argparse.Namespace, ap: argparse.ArgumentParser,
         props: dict[str, tuple[Callable[..., None], tuple[Any, ...]]]) -> int:
    if args.list:
        print("\n".join(props))
        return 0
    chosen = [n for spec in args.only or [] for n in spec.split(",")] or list(props)
    unknown = [n for n in chosen if n not in props]
    if unknown:
        ap.error(f"unknown properties: {unknown}; see --list")
    rows: list[dict[str, Any]] = []
    print(f"{'property':32s} {'cases':>9s} {'seconds':>9s} {'cases/s':>9s}  result", flush=True)

    def report(row: dict[str, Any]) -> None:
        rows.append(row)
        print(f"{row['property']:32s} {row['cases_run']:9d} {row['seconds']:9.1f} {row['cases_per_s'] or 0:9.0f}  "
              f"{'ok' if row['passed'] else 'FAILED'}", flush=True)
        if row["failure"]:
            print("    " + row["failure"].replace("\n", "\n    ")[:1500], flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"bench": "fuzz_all", "cases_per_property": args.cases, "seed": args.seed,
                                        "jobs": args.jobs, "machine": machine(), "load_avg": load_avg(),
                                        "results": sorted(rows, key=lambda r: chosen.index(r["property"]))},
                                       indent=2) + "\n")

    if args.jobs > 1:
        with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
            futures = [pool.submit(_worker, name, args.cases, args.seed) for name in chosen]
            for f in concurrent.futures.as_completed(futures):
                report(f.result())
    else:
        for name in chosen:
            prop, strategies = props[name]
            t0 = time.perf_counter()
            ran, error = run_one(prop, strategies, args.cases, args.seed)
            dt = time.perf_counter() - t0
            report({"property": name, "cases_requested": args.cases, "cases_run": ran, "seconds": round(dt, 1),
                    "cases_per_s": round(ran / dt, 1) if dt else None, "passed": not error, "failure": error})
    failed = [r["property"] for r in rows if not r["passed"]]
    short = [r["property"] for r in rows if r["cases_run"] < r["cases_requested"] and r["passed"]]
    print(f"headline: {len(rows) - len(failed)}/{len(rows)} parser properties held for {args.cases} cases each"
          + (f"; FAILED: {', '.join(failed)}" if failed else "")
          + (f"; search space exhausted early: {', '.join(short)}" if short else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
