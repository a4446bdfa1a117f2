"""Runs GaitPy 1.6.1's extract_features on cases from an .npz; executed by the gaitpy virtualenv.

Usage: python run_gaitpy.py CASES.npz OUT.json   (no sensorkit import: this runs in the peer's env)
GaitPy takes vertical acceleration only (m/s^2, ms timestamps) and resamples to 50 Hz itself;
it is given the body-frame vertical axis (``flip=True``: our vertical reads +1 g at rest).
Output: IC and FC (same foot) times in seconds, CPU and wall seconds of extract_features alone.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import warnings

T0 = time.perf_counter()
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from gaitpy.gait import Gaitpy  # noqa: E402

IMPORT_S = time.perf_counter() - T0


def run(t: np.ndarray, acc: np.ndarray, fs: float) -> dict:
    df = pd.DataFrame({"timestamps": (t * 1000.0).astype(float), "y": acc[:, 2] * 9.80665})
    gp = Gaitpy(df, fs, v_acc_col_name="y", ts_col_name="timestamps", v_acc_units="m/s^2", ts_units="ms",
                flip=True)
    c0, w0 = time.process_time(), time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        feats = gp.extract_features(175, "centimeters")
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    if feats is None or len(feats) == 0:
        return {"ic_s": [], "fc_s": [], "cpu_s": cpu, "wall_s": wall}
    ic = (feats["IC"].astype(float) / 1000.0).tolist()
    return {"ic_s": ic, "fc_s": (feats["FC"].astype(float) / 1000.0).tolist(), "cpu_s": cpu, "wall_s": wall}


def main() -> None:
    import gaitpy

    data = np.load(sys.argv[1])
    out = {"tool": "GaitPy", "version": getattr(gaitpy, "__version__", "1.6.1"), "import_s": IMPORT_S, "cases": {}}
    for k in str(data["names"]).split(","):
        try:
            out["cases"][k] = run(data[f"t_{k}"], data[f"acc_{k}"], float(data[f"fs_{k}"]))
        except Exception as exc:  # a peer failing on one case is a result, not a crash
            out["cases"][k] = {"error": f"{type(exc).__name__}: {exc}"}
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
