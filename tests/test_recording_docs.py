"""docs/recording-format.md is true: its numpy/pandas/polars snippets read a real recording
correctly in a Python process that cannot import sensorkit."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from sensorkit.model import (
    RECORD_NAMES,
    FatigueState,
    Gap,
    Placement,
    RunnerInfo,
    SampleBlock,
    SensorInfo,
    SessionInfo,
    Side,
    StepMetrics,
)
from sensorkit.store.recording import RecordingWriter

DOC = Path(__file__).resolve().parents[1] / "docs" / "recording-format.md"
SNIPPET = re.compile(r"<!-- snippet: (\w+) -->\n```python\n(.*?)```", re.DOTALL)

# Runs before every snippet: any attempt to import sensorkit fails.
NO_SENSORKIT = "import sys\nsys.modules['sensorkit'] = None\n"

BACK = SensorInfo("ann/lower_back", "ann", Placement.LOWER_BACK, 200.0)
FOOT = SensorInfo("ann/left_foot", "ann", Placement.LEFT_FOOT, 100.0, has_mag=True)
INFO = SessionInfo("doc", 1_700_000_000.0, (RunnerInfo("ann"),), (BACK, FOOT), "test")

# What each snippet must have computed, checked in the same sensorkit-free process.
CHECKS = {
    "numpy": """
        want = np.load("want_acc.npy")
        assert np.array_equal(acc_g, want) and np.array_equal(time_s, np.load("want_time.npy"))
        assert set(streams) == {"ann/lower_back", "ann/left_foot"}
        assert streams["ann/left_foot"]["mag_z_ut"].shape == (300,)
        assert np.array_equal(first_minute["acc_x_g"], want[:len(first_minute), 0])
        assert len(first_minute) == 200 * 60
        assert np.array_equal(cadence_spm, [170.5, np.nan, 171.25], equal_nan=True)
    """,
    "pandas": """
        assert len(samples) == 200 * 70 + 300
        back = samples[samples["sensor_id"] == "ann/lower_back"]
        assert back["acc_y_g"].to_numpy().tobytes() == np.load("want_acc.npy")[:, 1].tobytes()
        assert steps["cadence_spm"].isna().tolist() == [False, True, False]
        assert steps["impact_saturated"].tolist() == [True, False, False]
        assert steps["side"].tolist() == ["left", "right", "left"]
        assert str(steps["time_utc"].iloc[0]) == "2023-11-14 22:13:21+00:00"
        assert components.to_dict("list") == {"cadence": [2.5], "trunk_lean": [40.0]}
        assert gaps["reason"].tolist() == ['link lost, "far"']
    """,
    "polars": """
        assert back.columns[:4] == ["time_s", "acc_x_g", "acc_y_g", "acc_z_g"]
        assert back["acc_z_g"].to_numpy().tobytes() == np.load("want_acc.npy")[:, 2].tobytes()
        assert steps["cadence_spm"].dtype == pl.Float64 and steps["cadence_spm"].null_count() == 1
        assert steps["impact_saturated"].dtype == pl.Boolean
        assert steps["trunk_lean_deg"].to_list() == [None, None, 7.5]
    """,
}


def _snippets() -> dict[str, str]:
    return {name: code for name, code in SNIPPET.findall(DOC.read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``session.skrec`` (70 s back pod, 3 s foot pod, records) and the expected arrays."""
    d = tmp_path_factory.mktemp("docs")
    rng = np.random.default_rng(7)
    t = np.arange(200 * 70) / 200.0
    acc, gyr = rng.normal(size=(len(t), 3)), rng.normal(size=(len(t), 3))
    tf = np.arange(300) / 100.0
    with RecordingWriter(d / "session.skrec", INFO) as w:
        for i in range(0, len(t), 8):
            w.write(SampleBlock(BACK.sensor_id, t[i:i + 8], acc[i:i + 8], gyr[i:i + 8]))
        w.write(SampleBlock(FOOT.sensor_id, tf, np.ones((300, 3)), np.ones((300, 3)), np.ones((300, 3))))
        w.write(StepMetrics("ann", 1.0, Side.LEFT, cadence_spm=170.5, contact_time_ms=250.0,
                            impact_saturated=True))
        w.write(StepMetrics("ann", 1.35, Side.RIGHT, contact_time_ms=240.0))
        w.write(StepMetrics("ann", 1.7, Side.LEFT, cadence_spm=171.25, trunk_lean_deg=7.5))
        w.write(FatigueState("ann", 2.0, 30.0, True, {"cadence": 2.5, "trunk_lean": 40.0}))
        w.write(Gap(BACK.sensor_id, 2.0, 2.5, 'link lost, "far"', 100))
    np.save(d / "want_acc.npy", acc)
    np.save(d / "want_time.npy", t)
    return d


def test_the_doc_has_a_snippet_for_numpy_pandas_and_polars() -> None:
    assert set(_snippets()) == set(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_documented_snippet_reads_the_recording_without_sensorkit(name: str, workdir: Path) -> None:
    pytest.importorskip(name)
    code = NO_SENSORKIT + _snippets()[name] + textwrap.dedent(CHECKS[name])
    done = subprocess.run([sys.executable, "-I", "-c", code], cwd=workdir, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def test_a_snippet_that_tries_to_import_sensorkit_fails(workdir: Path) -> None:
    done = subprocess.run([sys.executable, "-I", "-c", NO_SENSORKIT + "import sensorkit.model"],
                          cwd=workdir, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr


def test_the_doc_lists_every_record_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in set(RECORD_NAMES.values()):
        assert f"| `{name}` |" in text, name
