"""Long fuzz run of every phone parser and the phone timing stage (issue 10: >= 100,000 cases each).

Run: ``python -m bench.phone_fuzz [--cases 100000] [--only NAME]``

Each property is the one the CI suite runs (tests/test_phone_fuzz.py) with many more
generated cases: any exception other than the parser's DecodeError fails the property.
Prints a table (cases, seconds, cases/s, result) and writes bench/results/phone_fuzz.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings

from tests.test_phone_fuzz import PROPERTIES, fuzz_test

RESULTS = Path(__file__).resolve().parent / "results" / "phone_fuzz.json"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=100_000, help="generated cases per property")
    ap.add_argument("--only", choices=sorted(PROPERTIES), help="run one property")
    args = ap.parse_args()
    config = settings(max_examples=args.cases, deadline=None, database=None, derandomize=False,
                      phases=[Phase.generate, Phase.shrink],
                      suppress_health_check=list(HealthCheck))
    # results accumulate per property across runs (a long run may be done one property at a time)
    previous = json.loads(RESULTS.read_text()).get("results", []) if RESULTS.exists() else []
    by_name = {r["property"]: r for r in previous if isinstance(r, dict) and "property" in r}
    rows = []
    for name in [args.only] if args.only else list(PROPERTIES):
        t0 = time.perf_counter()
        error = ""
        try:
            fuzz_test(name, config)()
        except Exception as exc:  # report and go on with the next parser
            error = f"{type(exc).__name__}: {exc}"[:300]
        dt = time.perf_counter() - t0
        rows.append({"property": name, "cases": args.cases, "seconds": round(dt, 1),
                     "cases_per_s": round(args.cases / dt), "passed": not error, "error": error})
        print(f"{name:26s} {args.cases:>8d} cases {dt:8.1f} s {args.cases / dt:9.0f}/s  "
              f"{'ok' if not error else 'FAILED ' + error}", flush=True)
        by_name[name] = rows[-1]
        RESULTS.parent.mkdir(parents=True, exist_ok=True)  # after each property: a long run can be cut short
        RESULTS.write_text(json.dumps({"results": [by_name[n] for n in PROPERTIES if n in by_name]},
                                      indent=2) + "\n")
    failed = [r["property"] for r in rows if not r["passed"]]
    print(f"headline: {len(rows) - len(failed)}/{len(rows)} phone parsers survived {args.cases} cases each"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
