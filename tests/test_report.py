"""Session and comparison reports: one self-contained HTML file whose plots show the data."""

from __future__ import annotations

import base64
import math
import re
from pathlib import Path

import numpy as np
import pytest

from sensorkit.analysis.compare import compare, hedges_g, side, write_compare_report
from sensorkit.analysis.report import write_session_report
from sensorkit.analysis.session import SessionAnalysis, analyze_path
from sensorkit.analysis.summary import fatigue_onset, fatigue_rule, runner_summary
from tests.test_analysis_data import ALERTS, FATIGUE_ONSET_S, STAGES, assert_not_blank, fatigue_run, write_recording

REPORT_FIGURES = ("Cadence", "Contact time", "Impact", "Trunk lean", "Foot strike", "Left/right balance",
                  "Fatigue and cues")


@pytest.fixture(scope="module")
def fatigued(tmp_path_factory: pytest.TempPathFactory) -> SessionAnalysis:
    path = write_recording(tmp_path_factory.mktemp("rec") / "fatigued.skrec", fatigue_run(), shoe="Pegasus 41")
    return analyze_path(str(path), settings=STAGES)


def _images(html: str) -> list[tuple[str, bytes]]:
    return [(alt, base64.b64decode(data))
            for alt, data in re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,([^"]+)"', html)]


def test_the_analysis_runs_the_live_cue_engine(fatigued: SessionAnalysis) -> None:
    data = fatigued.runner("runner1")
    assert len(data.steps["time_s"]) > 300
    assert data.cues, "the fatigued runner should have been cued"
    assert all(c.time_s > FATIGUE_ONSET_S for c in data.cues)
    onset = fatigue_onset(data.fatigue, *fatigue_rule(ALERTS))
    assert onset is not None and FATIGUE_ONSET_S < onset.time_s < FATIGUE_ONSET_S + 60
    row = runner_summary(fatigued, "runner1", ALERTS)
    assert row["shoe"] == "Pegasus 41" and row["distance_from"] == "footpod"
    assert 400 < row["distance_m"] < 500  # 3 m/s for ~147 s of running
    assert row["cues"] == len(data.cues) and row["fatigue_onset_s"] == onset.time_s


def test_session_report_is_self_contained_with_a_plot_per_topic_that_shows_data(
        fatigued: SessionAnalysis, tmp_path: Path) -> None:
    html = write_session_report(fatigued, tmp_path / "r.html", ALERTS).read_text()
    assert not re.search(r'(src|href)="(?!data:)', html), "everything must be inside the file"
    images = _images(html)
    assert [alt.split(": ", 1)[1] for alt, _ in images] == list(REPORT_FIGURES)
    for alt, png in images:
        assert png.startswith(b"\x89PNG"), alt
        assert_not_blank(png)
    assert "Per-step metrics" in html and "Cadence (steps/min)" in html
    held = html.split("How form held up", 1)[1].split("</table>", 1)[0]
    assert "Trunk lean (deg)" in held and "large" in held  # +8 deg of lean in the last quarter
    data = fatigued.runner("runner1")
    for cue in data.cues:
        assert cue.text in html
    onset = fatigue_onset(data.fatigue, *fatigue_rule(ALERTS))
    assert onset is not None
    m, s = divmod(round(onset.time_s), 60)
    assert f"{m}:{s:02d}" in html


def test_plots_mark_cues_and_the_fatigue_onset(fatigued: SessionAnalysis) -> None:
    """The same cadence figure with and without markers differs: the markers are drawn."""
    from sensorkit.analysis import plots

    data = fatigued.runner("runner1")
    onset = fatigue_onset(data.fatigue, *fatigue_rule(ALERTS))
    marked = plots.step_metric(data, "cadence_spm", "cadence", plots.Markers(onset, data.cues), 150.0)
    bare = plots.step_metric(data, "cadence_spm", "cadence", plots.Markers(None, []), 150.0)
    assert marked != bare
    diff = np.abs(_px(marked) - _px(bare)).max(axis=-1)
    assert np.count_nonzero(diff > 0.2) > 100


def _px(png: bytes) -> np.ndarray:
    from tests.test_analysis_data import png_pixels

    return png_pixels(png)


def test_a_report_of_a_session_without_shoe_pods_says_what_is_unknown(tmp_path: Path) -> None:
    from sensorkit.model import Placement

    rec = write_recording(tmp_path / "back.skrec", fatigue_run(40.0, placements=(Placement.LOWER_BACK,)))
    analysis = analyze_path(str(rec), settings=STAGES)
    html = write_session_report(analysis, tmp_path / "b.html", ALERTS).read_text()
    assert "forefoot (%)</td><td>- / - / -</td>" in html  # no shoe pod: no strike classes claimed
    images = dict(_images(html))
    assert len(images) == len(REPORT_FIGURES)
    assert_not_blank(images["runner1: Cadence"])
    assert_not_blank(images["runner1: Trunk lean"])


def test_fresh_vs_fatigued_comparison_finds_the_changes_the_simulation_made(
        fatigued: SessionAnalysis, tmp_path: Path) -> None:
    fresh = side(fatigued, "fresh", window_s=(10.0, FATIGUE_ONSET_S))
    tired = side(fatigued, "fatigued", window_s=(FATIGUE_ONSET_S + 30.0, math.inf))
    rows = {c.metric: c for c in compare(fresh, tired)}
    lean, impact, cadence = rows["trunk_lean_deg"], rows["impact_g"], rows["cadence_spm"]
    assert lean.diff > 5.0 and lean.magnitude == "large" and lean.g_low > 0  # +8 deg simulated
    assert impact.diff_pct > 25.0 and impact.g_low > 0  # +40 % simulated
    assert cadence.diff_pct < -5.0 and cadence.g_high < 0  # -8 % simulated
    html = write_compare_report(fresh, tired, tmp_path / "c.html", ALERTS).read_text()
    assert "fresh" in html and "fatigued" in html and "Hedges g" in html
    images = _images(html)
    assert len(images) == 1 + len(rows)
    for _, png in images:
        assert_not_blank(png)


def test_a_session_compared_with_itself_shows_no_effect(fatigued: SessionAnalysis) -> None:
    a, b = side(fatigued, "a"), side(fatigued, "b")
    for c in compare(a, b):
        assert c.diff == 0.0
        assert c.hedges_g == 0.0 or math.isnan(c.hedges_g)


def test_hedges_g_recovers_a_known_shift_and_widens_for_autocorrelated_steps() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.0, 1.0, 400), rng.normal(0.5, 1.0, 400)
    g, lo, hi, na, nb = hedges_g(a, b)
    assert lo < 0.5 < hi and abs(g - 0.5) < 0.2
    assert na > 300 and nb > 300  # independent values: little correction
    walk_a = np.cumsum(rng.normal(0, 0.3, 400)) * 0.2 + rng.normal(0, 1, 400)
    walk_b = walk_a[::-1] + 0.5
    _, lo2, hi2, na2, _ = hedges_g(walk_a, walk_b)
    assert na2 < na and (hi2 - lo2) > (hi - lo)
    assert math.isnan(hedges_g(a[:5], b)[0])  # too few values: no effect size


def test_cli_compare_writes_one_report_and_names_a_wrong_runner(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from sensorkit.cli.main import main
    from tests.test_analysis_data import write_back_csv

    a, b = write_back_csv(tmp_path / "a.csv", 30.0, seed=1), write_back_csv(tmp_path / "b.csv", 30.0, seed=2)
    out = tmp_path / "c.html"
    assert main(["compare", str(a), str(b), "--out", str(out), "--label-a", "monday", "--label-b", "friday"]) == 0
    assert "monday vs friday" in capsys.readouterr().out
    images = _images(out.read_text())
    assert images and all(png.startswith(b"\x89PNG") for _, png in images)
    assert main(["compare", str(a), str(b), "--runner-b", "nobody"]) == 2
    assert "--runner-b 'nobody'" in capsys.readouterr().err
    assert main(["compare", str(a), str(a), "--window-a", "2:1"]) == 2
