"""Runs scikit-digital-health's GaitLumbar on cases from an .npz; executed by the skdh virtualenv.

Usage: python run_skdh.py CASES.npz OUT.json   (no sensorkit import: this runs in the peer's env)
Input per case k: ``t{k}`` (s), ``acc{k}`` (n, 3) body-frame acceleration in g (x forward, y
left, z up), ``fs{k}``. Output: IC times and FC times (IC + stance time, same foot) in
seconds, CPU and wall seconds of ``predict`` alone.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

T0 = time.perf_counter()
import numpy as np  # noqa: E402
from skdh import __version__  # noqa: E402
from skdh.gait import GaitLumbar  # noqa: E402

IMPORT_S = time.perf_counter() - T0
EPOCH = 1.7e9  # skdh wants unix timestamps (it splits days)


def run(t: np.ndarray, acc: np.ndarray, fs: float) -> dict:
    g = GaitLumbar()
    c0, w0 = time.process_time(), time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = g.predict(time=t + EPOCH, accel=np.ascontiguousarray(acc), fs=fs, height=1.75, gait_pred=True,
                        v_axis=2, ap_axis=0)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    ic = np.asarray(res.get("IC Timestamp", []), dtype=float) - EPOCH
    stance = np.asarray(res.get("stance time", np.full(ic.shape, np.nan)), dtype=float)
    fc = ic + stance
    return {"ic_s": ic.tolist(), "fc_s": fc[np.isfinite(fc)].tolist(), "cpu_s": cpu, "wall_s": wall}


def main() -> None:
    data = np.load(sys.argv[1])
    out = {"tool": "scikit-digital-health", "version": __version__, "import_s": IMPORT_S, "cases": {}}
    for name in str(data["names"]).split(","):
        k = name
        try:
            out["cases"][k] = run(data[f"t_{k}"], data[f"acc_{k}"], float(data[f"fs_{k}"]))
        except Exception as exc:  # a peer failing on one case is a result, not a crash
            out["cases"][k] = {"error": f"{type(exc).__name__}: {exc}"}
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
