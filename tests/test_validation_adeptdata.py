"""adeptdata outdoor run as a session: parsing, placement, reference cadence and pauses."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from sensorkit.errors import InputFileError
from sensorkit.model import PhoneWear, Placement, SampleBlock
from sensorkit.validation.adeptdata import (
    FILE,
    FOLDER,
    AdeptSession,
    AdeptSettings,
    load_session,
    moving_sd,
    read_acc_running,
    stride_cadence,
)

pytestmark = pytest.mark.datasets


@cache
def _session(folder: Path) -> AdeptSession:
    return load_session(folder)


@pytest.fixture
def adept(datasets_dir: Path) -> AdeptSession:
    return _session(datasets_dir)


def test_the_whole_run_parses(datasets_dir: Path):
    t0, data = read_acc_running(datasets_dir / FOLDER / FILE)
    assert t0 == pytest.approx(1540490250.0)
    assert set(data) == {"left_hip", "left_ankle"}
    for t, acc in data.values():
        assert t.shape == (150_000,) and acc.shape == (150_000, 3)
        assert np.allclose(np.diff(t), 0.01, atol=1e-6)
        assert np.abs(acc).max() <= 8.0


def test_bad_csv_names_the_file(tmp_path: Path):
    bad = tmp_path / "acc.csv"
    bad.write_text("loc_id,date_time,x,y,z\nleft_hip,1.0,0.1,abc,0.3\n")
    with pytest.raises(InputFileError, match=r"acc\.csv"):
        read_acc_running(bad)


def test_session_placements_and_blocks(adept: AdeptSession):
    hip, ankle = adept.info.sensors
    assert hip.placement is Placement.PHONE and hip.phone_wear is PhoneWear.WAIST and not hip.has_gyro
    assert ankle.placement is Placement.LEFT_FOOT and not ankle.has_gyro
    ends = [b.end_s for b in adept.items]
    assert ends == sorted(ends)
    joined = SampleBlock.concat([b for b in adept.items if b.sensor_id == ankle.sensor_id])
    assert len(joined) == 150_000 and joined.time_s[0] == 0.0


def test_hip_can_be_declared_a_lower_back_pod(datasets_dir: Path):
    s = load_session(datasets_dir, AdeptSettings(hip_placement=Placement.LOWER_BACK))
    assert s.info.sensors[0].placement is Placement.LOWER_BACK and s.info.sensors[0].phone_wear is None


def test_standing_pauses_are_quiet_and_running_is_not(adept: AdeptSession):
    pauses = adept.reference.pauses_s
    assert 4 <= len(pauses) <= 12
    assert sum(b - a for a, b in pauses) > 120.0  # several minutes of stops in 25 min
    t, acc = adept.signals["adept/hip"]
    vm = np.linalg.norm(acc, axis=1)
    for a, b in pauses:
        sel = (t > a + 1) & (t < b - 1)
        assert vm[sel].std() < 0.05
        assert np.mean(vm[sel]) == pytest.approx(1.0, abs=0.06)  # standing: gravity only
    running = [w for w in adept.reference.windows if w.kind == "running"]
    for w in running:
        sel = (t >= w.start_s) & (t < w.end_s)
        assert vm[sel].std() > 0.3


def test_reference_cadence_is_steady_running(adept: AdeptSession):
    windows = adept.reference.windows
    assert len(windows) == 49  # full 30-s windows in 1499.99 s
    running = [w for w in windows if w.kind == "running"]
    assert len(running) >= 20
    for w in running:
        assert 140.0 < w.cadence_spm < 190.0
        assert w.cadence_spm == w.cadence_count_spm  # steps counted in the window
        assert abs(w.cadence_spm - w.cadence_autocorr_spm) <= 2.0  # the periodicity cross-check
    assert all(np.isnan(w.cadence_spm) for w in windows if w.kind != "running")


def test_stride_cadence_of_a_known_periodic_signal():
    t = np.arange(0.0, 30.0, 0.01)
    stride_s = 0.76
    vm = 1.0 + 2.0 * np.exp(-(((t % stride_s) - 0.1) ** 2) / 0.001)
    spm, quality = stride_cadence(vm, AdeptSettings())
    assert spm == pytest.approx(120.0 / stride_s, abs=0.3)
    assert quality > 0.9


def test_moving_sd_matches_numpy():
    x = np.random.default_rng(0).normal(size=500)
    sd = moving_sd(x, 50)
    assert sd[250] == pytest.approx(np.std(x[225:275]))
