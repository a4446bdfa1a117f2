"""The DSP on real recordings: Fukuchi virtual pods (force-plate truth) and the adeptdata run.

Skipped, with the reason, when ../shared/datasets is absent. The full tables are printed by
``python -m bench.accuracy``; these tests pin the headline behaviour on one trial each.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import pytest

from sensorkit.metrics import analyze_items
from sensorkit.model import EventKind, Placement, Side, StepEvent, StepMetrics, StrikeClass
from tests.test_dsp_helpers import match

pytestmark = pytest.mark.datasets


def _only(info, items, placements):  # type: ignore[no-untyped-def]
    sensors = tuple(s for s in info.sensors if s.placement in placements)
    ids = {s.sensor_id for s in sensors}
    return dataclasses.replace(info, sensors=sensors), [i for i in items if getattr(i, "sensor_id", "") in ids]


@functools.lru_cache(maxsize=2)
def _trial(datasets: Path, trial_id: str = "RBDS004_T25"):  # type: ignore[no-untyped-def]
    from sensorkit.validation import fukuchi

    trial = next(t for t in fukuchi.discover_trials(datasets) if t.trial_id == trial_id)
    return fukuchi.load_session(trial, fukuchi.FukuchiSettings())


@pytest.fixture
def rbds(datasets_dir: Path):  # type: ignore[no-untyped-def]
    return _trial(Path(datasets_dir))


def _scored(session, steps):  # type: ignore[no-untyped-def]
    a, b = session.truth.run_window_s
    truth = session.truth.steps
    keep = (truth.ic_s > a + 0.5) & (truth.ic_s < b - 1.0)
    ic = np.asarray(truth.ic_s)[keep]
    side = [s for s, k in zip(truth.side, keep, strict=True) if k]
    det = [s for s in steps if a < s.time_s < b]
    ti, di = match(ic, np.array([s.time_s for s in det]), 0.05)
    return ic, side, det, ti, di


def test_shoe_pods_time_every_touchdown_within_5_ms_and_see_a_heel_strike(rbds) -> None:  # type: ignore[no-untyped-def]
    info, items = _only(rbds.info, rbds.items, {Placement.LEFT_FOOT, Placement.RIGHT_FOOT})
    steps = [r for r in analyze_items(info, items) if isinstance(r, StepMetrics)]
    ic, _, det, ti, di = _scored(rbds, steps)
    assert len(ti) == len(ic)  # every force-plate contact found
    err = np.array([det[d].time_s - ic[i] for i, d in zip(ti, di, strict=True)])
    assert np.median(np.abs(err)) <= 0.005
    classes = {det[d].strike_class for d in di}
    assert classes == {StrikeClass.REARFOOT}  # RBDSinfo: rearfoot at 2.5 m/s


@pytest.mark.parametrize("trial_id", ["RBDS001_T25", "RBDS004_T25"])  # the two force-plate trials
def test_shoe_contact_time_matches_the_force_plate(datasets_dir: Path, trial_id: str) -> None:
    ses = _trial(Path(datasets_dir), trial_id)
    info, items = _only(ses.info, ses.items, {Placement.LEFT_FOOT, Placement.RIGHT_FOOT})
    steps = [r for r in analyze_items(info, items) if isinstance(r, StepMetrics)]
    ic, _, det, ti, di = _scored(ses, steps)
    truth_ms = ses.truth.steps.contact_time_ms[np.isin(ses.truth.steps.ic_s, ic)]
    err = np.array([det[d].contact_time_ms - truth_ms[i] for i, d in zip(ti, di, strict=True)])  # type: ignore[operator]
    assert len(err) == len(ic)
    assert np.sqrt(np.mean(err ** 2)) <= 20.0  # ms, the target


def test_strike_angle_of_a_forefoot_striker_landing_inverted(datasets_dir: Path) -> None:
    # RBDS001 lands on the outside of the forefoot (12-21 deg of roll at IC) with the foot
    # turned out from the swing direction: the angle must be the foot's own pitch.
    ses = _trial(Path(datasets_dir), "RBDS001_T25")
    info, items = _only(ses.info, ses.items, {Placement.LEFT_FOOT, Placement.RIGHT_FOOT})
    steps = [r for r in analyze_items(info, items) if isinstance(r, StepMetrics)]
    ic, side, det, ti, di = _scored(ses, steps)
    truth = ses.truth.steps.strike_angle_deg[np.isin(ses.truth.steps.ic_s, ic)]
    err = np.array([det[d].strike_angle_deg - truth[i] for i, d in zip(ti, di, strict=True)])  # type: ignore[operator]
    assert np.sqrt(np.mean(err ** 2)) <= 3.0  # deg, the target
    right = [det[d].strike_class for i, d in zip(ti, di, strict=True) if side[i] is Side.RIGHT]
    assert right.count(StrikeClass.FOREFOOT) > len(right) / 2  # RBDSinfo: forefoot


@pytest.mark.parametrize("trial_id", ["RBDS001_T25", "RBDS004_T25"])  # the two force-plate trials
def test_back_pod_finds_every_step_its_side_and_contact_time(datasets_dir: Path, trial_id: str) -> None:
    ses = _trial(Path(datasets_dir), trial_id)
    info, items = _only(ses.info, ses.items, {Placement.LOWER_BACK})
    steps = [r for r in analyze_items(info, items) if isinstance(r, StepMetrics)]
    ic, side, det, ti, di = _scored(ses, steps)
    assert len(ti) == len(ic)
    assert all(det[d].side == side[i] for i, d in zip(ti, di, strict=True))
    err = np.array([det[d].time_s - ic[i] for i, d in zip(ti, di, strict=True)])
    assert np.median(np.abs(err)) <= 0.010 and abs(np.mean(err)) <= 0.010
    assert {det[d].side for d in di} == {Side.LEFT, Side.RIGHT}
    truth_ms = ses.truth.steps.contact_time_ms[np.isin(ses.truth.steps.ic_s, ic)]
    ct = np.array([det[d].contact_time_ms - truth_ms[i] for i, d in zip(ti, di, strict=True)])  # type: ignore[operator]
    assert np.sqrt(np.mean(ct ** 2)) <= 20.0  # ms


def test_adeptdata_shoe_accelerometer_gives_the_stride_cadence(datasets_dir: Path) -> None:
    from sensorkit.validation import adeptdata
    from sensorkit.validation.scoring import interval_cadence_spm

    ses = adeptdata.load_session(datasets_dir)
    ref = ses.reference
    info, items = _only(ses.info, ses.items, {Placement.LEFT_FOOT})
    recs = analyze_items(info, items)
    ic = np.array(sorted(r.time_s for r in recs if isinstance(r, StepEvent) and r.kind is EventKind.INITIAL_CONTACT))
    starts = np.array([w.start_s for w in ref.windows])
    spm = interval_cadence_spm(ic[1:], np.diff(ic), starts, 30.0, factor=2.0, max_interval_s=1.6)
    ref_spm = np.array([w.cadence_spm for w in ref.windows])
    ok = np.isfinite(ref_spm)
    err = np.abs(spm[ok] - ref_spm[ok])
    assert np.isfinite(err).all() and err.max() <= 1.0
