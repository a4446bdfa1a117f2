"""What a JIT-compiled inner loop (numba) would cost in memory: the reason sensorkit has none.

Run: ``python -m bench.compiled_kernels``

The replay and live-capacity targets are missed by per-call interpreter and numpy overhead
(docs/performance.md), which a compiled per-stance kernel would remove. numba is the library
that would do it without a compiler at install time, but it is not a sensorkit dependency:
this measures what importing it and loading one cached kernel adds to the resident memory of
a process that has sensorkit's replay imports, against the marathon replay's 150 MB target
(``bench.memory_marathon``). numba and llvmlite are installed with ``pip --target`` into
``bench/.peers/numba`` (ignored by git), never into sensorkit's environment.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from bench.peers.env import CACHE

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_MB = 150.0

_PROBE = textwrap.dedent("""
    import json, resource, time
    def rss_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import numpy as np
    import sensorkit.cli.main, sensorkit.metrics, sensorkit.pipeline.session, sensorkit.sources.replay
    base = rss_mb()
    t0 = time.perf_counter()
    import numba
    numba_mb, import_s = rss_mb(), time.perf_counter() - t0

    @numba.njit(cache=True)
    def pulse_moments(x, lo, hi, cap):  # the shape of a per-stance kernel: one pass, three sums
        s0 = s1 = s2 = 0.0
        for i in range(lo, hi):
            v = min(max(x[i], 0.0), cap)
            s0 += v
            s1 += v * i
            s2 += v * i * i
        return s0, s1, s2

    t0 = time.perf_counter()
    pulse_moments(np.ones(100), 0, 50, 1.5)
    kernel_s = time.perf_counter() - t0
    print(json.dumps({"numba": numba.__version__, "sensorkit_imports_mb": base, "with_numba_mb": numba_mb,
                      "with_one_kernel_mb": rss_mb(), "import_s": import_s, "first_call_s": kernel_s}))
""")


def _install(root: Path) -> None:
    if (root / "numba").is_dir() and (root / "llvmlite").is_dir():
        return
    root.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(root), "numba", "llvmlite"]
    subprocess.run(cmd, check=True)


def _probe(root: Path) -> dict[str, float | str]:
    script = root / "sensorkit_probe.py"  # a file: numba caches a kernel next to its source
    script.write_text(_PROBE)
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=2, help="fresh processes; the second loads the kernel from cache")
    ap.add_argument("--out", type=Path, default=RESULTS / "compiled_kernels.json")
    args = ap.parse_args(argv)
    root = CACHE / "numba"
    _install(root)
    runs = [_probe(root) for _ in range(args.runs)]
    marathon = json.loads((RESULTS / "memory_marathon.json").read_text()) \
        if (RESULTS / "memory_marathon.json").exists() else {}
    print(f"{'run':>4} {'sensorkit MB':>13} {'+ numba MB':>11} {'+ 1 kernel MB':>14} {'import s':>9} "
          f"{'1st call s':>11}")
    for i, r in enumerate(runs, 1):
        print(f"{i:>4} {r['sensorkit_imports_mb']:>13.0f} {r['with_numba_mb']:>11.0f} "
              f"{r['with_one_kernel_mb']:>14.0f} {r['import_s']:>9.2f} {r['first_call_s']:>11.2f}")
    added = min(float(r["with_one_kernel_mb"]) - float(r["sensorkit_imports_mb"]) for r in runs)
    peak = marathon.get("peak_rss_mb")
    projected = f"; with it the marathon's peak ({peak} MB) would be ~{float(peak) + added:.0f} MB" \
        if isinstance(peak, (int, float)) else ""
    print(f"\nHEADLINE: numba {runs[0]['numba']} and one cached kernel add {added:.0f} MB of RSS to a process "
          f"with sensorkit's replay imports; the marathon target is <= {TARGET_MB:.0f} MB{projected}")
    args.out.write_text(json.dumps({"runs": runs, "added_mb": round(added, 1), "target_mb": TARGET_MB,
                                    "memory_marathon_peak_mb": peak}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
