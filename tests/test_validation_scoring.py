"""Scoring: event matching and accuracy metrics on constructed cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from sensorkit.validation.scoring import (
    cadence_windows_spm,
    interval_cadence_spm,
    match_events,
    paired_errors,
    pause_scores,
    rmse,
    series_rmse,
    strike_class_accuracy,
)

TRUTH = np.arange(0.0, 10.0, 0.35)  # a contact every 350 ms


def test_identical_events_score_perfectly():
    m = match_events(TRUTH, TRUTH, 0.05)
    assert (m.tp, m.fp, m.fn) == (TRUTH.size, 0, 0)
    assert m.f1 == 1.0
    assert m.median_abs_error_ms == 0.0
    assert m.mean_bias_ms == 0.0


def test_constant_delay_is_a_bias_not_a_miss():
    m = match_events(TRUTH + 0.007, TRUTH, 0.05)
    assert m.f1 == 1.0
    assert m.mean_bias_ms == pytest.approx(7.0)
    assert m.median_abs_error_ms == pytest.approx(7.0)


def test_detections_outside_the_tolerance_are_false_positives_and_misses():
    det = TRUTH.copy()
    det[3] += 0.06  # too late for +-50 ms
    m = match_events(det, TRUTH, 0.05)
    assert (m.tp, m.fp, m.fn) == (TRUTH.size - 1, 1, 1)
    assert m.f1 == pytest.approx(2 * (TRUTH.size - 1) / (2 * TRUTH.size))


def test_missing_and_extra_detections():
    det = np.sort(np.r_[np.delete(TRUTH, [2, 5]), 4.2, 4.21])  # 2 missed, 2 spurious
    m = match_events(det, TRUTH, 0.05)
    assert m.fn == 2
    assert m.fp == 2
    assert m.precision == pytest.approx((TRUTH.size - 2) / det.size)
    assert m.recall == pytest.approx((TRUTH.size - 2) / TRUTH.size)


def test_each_truth_event_takes_its_closest_detection_once():
    m = match_events([0.98, 1.003, 1.02], [1.0], 0.05)
    assert m.tp == 1 and m.fp == 2
    assert m.detected_idx.tolist() == [1]
    assert m.error_s[0] == pytest.approx(0.003)


def test_unsorted_inputs_keep_their_indices():
    det = np.array([2.0, 1.0, 3.0]) + 0.01
    tru = np.array([3.0, 2.0, 1.0])
    m = match_events(det, tru, 0.05)
    assert m.tp == 3
    for ti, di in zip(m.truth_idx, m.detected_idx, strict=True):
        assert det[di] - tru[ti] == pytest.approx(0.01)


def test_empty_inputs():
    m = match_events([], TRUTH, 0.05)
    assert (m.tp, m.fn, m.fp) == (0, TRUTH.size, 0)
    assert m.f1 == 0.0
    assert np.isnan(m.median_abs_error_ms)
    assert np.isnan(match_events([], [], 0.05).f1)


def test_paired_errors_use_the_matched_pairs_and_skip_unknowns():
    det_t = TRUTH[::-1] + 0.002
    truth_ct = np.full(TRUTH.size, 250.0)
    det_ct = np.full(TRUTH.size, 262.0)
    det_ct[0] = np.nan  # unknown contact time for one detection
    m = match_events(det_t, TRUTH, 0.05)
    e = paired_errors(m, det_ct, truth_ct)
    assert e.size == TRUTH.size - 1
    assert rmse(e) == pytest.approx(12.0)


def test_rmse_of_nothing_is_nan():
    assert np.isnan(rmse([]))
    assert rmse([3.0, -4.0]) == pytest.approx(np.sqrt(12.5))


def test_cadence_windows_of_a_steady_run_and_a_pause():
    ic = np.r_[np.arange(0.0, 60.0, 1 / 3), np.arange(90.0, 120.0, 60 / 172)]  # 180 spm, pause, 172
    starts, spm = cadence_windows_spm(ic, 0.0, 120.0, 30.0)
    assert starts.tolist() == [0.0, 30.0, 60.0, 90.0]
    assert spm[0] == pytest.approx(180.0)
    assert spm[1] == pytest.approx(180.0)
    assert np.isnan(spm[2])
    assert spm[3] == pytest.approx(172.0)


def test_strike_class_accuracy_ignores_unlabelled_steps():
    det = ["rearfoot", "midfoot", "forefoot", "rearfoot"]
    tru = ["rearfoot", "rearfoot", "unknown", ""]
    assert strike_class_accuracy(det, tru) == 0.5
    assert np.isnan(strike_class_accuracy(["rearfoot"], ["unknown"]))


def test_series_rmse_interpolates_truth_at_detected_times():
    tt = np.linspace(0.0, 10.0, 1001)
    truth = 5.0 + np.sin(tt)
    dt = np.linspace(1.0, 9.0, 81)
    assert series_rmse(dt, 5.0 + np.sin(dt) + 1.5, tt, truth) == pytest.approx(1.5)
    windowed = series_rmse(dt, 5.0 + np.sin(dt), tt, truth, start_s=2.0, end_s=3.0)
    assert windowed == pytest.approx(0.0, abs=1e-4)


def test_pause_scores_ignore_the_edges_of_each_pause():
    t = np.arange(0.0, 100.0, 1.0)
    pauses = [(40.0, 60.0)]
    detected = (t >= 42.0) & (t <= 58.0)  # noticed 2 s late, restarted 2 s early
    score = pause_scores(t, detected, pauses, margin_s=3.0)
    assert score.recall == 1.0
    assert score.false_alarm == 0.0
    detected[10] = True  # one false stop while running
    detected[50] = False  # one missed second of standing
    score = pause_scores(t, detected, pauses, margin_s=3.0)
    assert score.false_alarm == pytest.approx(1 / score.n_moving)
    assert score.recall == pytest.approx(1 - 1 / score.n_pause)


def test_interval_cadence_ignores_pauses_and_missed_events():
    ic = np.r_[np.arange(0.0, 20.0, 1 / 3), np.arange(40.0, 60.0, 1 / 3)]  # 180 spm, 20-s stop
    ic = np.delete(ic, [10, 11])  # two missed steps: one interval of 1 s
    spm = interval_cadence_spm(ic[1:], np.diff(ic), [0.0, 30.0], 30.0)
    assert spm == pytest.approx([180.0, 180.0])


def test_interval_cadence_of_strides_doubles():
    ic = np.arange(0.0, 30.0, 0.75)  # one foot: 80 strides/min
    spm = interval_cadence_spm(ic[1:], np.diff(ic), [0.0], 30.0, factor=2.0, max_interval_s=1.6)
    assert spm[0] == pytest.approx(160.0)
    assert np.isnan(interval_cadence_spm(ic[1:3], np.diff(ic)[:2], [0.0], 30.0)[0])


def test_false_stops_can_be_counted_on_steady_running_only():
    t = np.arange(0.0, 100.0, 1.0)
    stopped = (t >= 40.0) & (t <= 60.0)
    stopped[80] = True  # a stop in a stop-and-go stretch, not in steady running
    every = pause_scores(t, stopped, [(40.0, 60.0)])
    steady = pause_scores(t, stopped, [(40.0, 60.0)], moving_spans_s=[(0.0, 30.0)])
    assert every.false_alarm > 0.0
    assert steady.false_alarm == 0.0 and steady.n_moving == 30
