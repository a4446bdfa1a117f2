"""Training history: weekly sums, the >10 % load warning, mileage per shoe, sessions read from recordings."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from sensorkit.analysis.history import HistorySettings, SessionEntry, history, read_entries, scan, weekly
from sensorkit.analysis.history.load import week_start
from sensorkit.cli.main import main
from sensorkit.model import Placement, RunnerInfo, SensorInfo, SessionInfo, Side, SpeedSample, StepMetrics
from sensorkit.store.recording import RecordingWriter


def _unix(day: str, hour: int = 7) -> float:
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00").timestamp()


def _entry(day: str, km: float | None, minutes: float = 30.0, runner: str = "ana", shoe: str | None = "Pegasus",
           ) -> SessionEntry:
    return SessionEntry(f"{day}.skrec", day, runner, _unix(day), minutes * 60, minutes * 60,
                        None if km is None else km * 1000, "footpod" if km is not None else "none", shoe, 0)


def test_weekly_sums_and_the_ten_percent_warning() -> None:
    entries = [
        _entry("2026-03-02", 10.0), _entry("2026-03-04", 10.0),   # week of Mar 2: 20 km
        _entry("2026-03-09", 11.0), _entry("2026-03-13", 11.0),   # 22 km: exactly +10 %, no warning
        _entry("2026-03-16", 20.0), _entry("2026-03-22", 6.0),    # 26 km: +18 %, warning (Sunday is in)
        # week of Mar 23: rest
        _entry("2026-03-30", 12.0),                                # after a rest week: no reference
        _entry("2026-03-31", 5.0, runner="ben"),
    ]
    weeks = weekly(entries, HistorySettings())
    ana = [w for w in weeks if w.runner == "ana"]
    assert [w.start.isoformat() for w in ana] == ["2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23",
                                                  "2026-03-30"]
    assert [round(w.distance_m / 1000, 6) for w in ana] == [20.0, 22.0, 26.0, 0.0, 12.0]
    assert [w.sessions for w in ana] == [2, 2, 2, 0, 1]
    assert [w.running_s for w in ana] == [3600.0, 3600.0, 3600.0, 0.0, 1800.0]
    assert ana[0].change_pct is None and ana[1].change_pct == pytest.approx(10.0)
    assert [w.warning is not None for w in ana] == [False, False, True, False, False]
    assert ana[2].warning is not None and "+10 %" in ana[2].warning and "18 %" in ana[2].warning
    assert ana[4].change_pct is None  # the week before had no running
    assert [w.runner for w in weeks].count("ben") == 1


def test_time_is_the_load_when_a_week_has_no_distance_and_settings_change_the_rules() -> None:
    entries = [_entry("2026-03-02", None, 60), _entry("2026-03-09", None, 70)]
    w = weekly(entries, HistorySettings())
    assert not w[1].distance_known and w[1].change_pct == pytest.approx(100 / 6)
    assert w[1].warning is not None and " h " in w[1].warning
    lenient = weekly(entries, HistorySettings(max_weekly_increase_pct=20))
    assert lenient[1].warning is None
    four = [_entry(d, 10.0) for d in ("2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23")]
    four.append(_entry("2026-03-30", 10.5))
    avg = weekly(four, HistorySettings(reference="four_week_average"))
    assert avg[-1].change_pct == pytest.approx(5.0) and avg[-1].warning is None
    sunday = weekly([_entry("2026-03-08", 5.0)], HistorySettings(week_starts_on="sunday"))
    assert sunday[0].start == dt.date(2026, 3, 8) and week_start(dt.date(2026, 3, 8), "monday") == dt.date(2026, 3, 2)


def test_shoe_mileage_and_replacement_reminders() -> None:
    entries = [_entry(f"2026-0{m}-0{d}", 40.0, shoe="Pegasus") for m in range(1, 10) for d in (1, 5)]  # 720 km
    entries += [_entry("2026-04-02", 10.0, shoe="Clifton"), _entry("2026-04-03", 7.0, shoe=None)]
    settings = HistorySettings(shoe_replace_km=700, shoe_start_km={"Clifton": 620.0})
    h = history(entries, settings)
    shoes = {s.shoe: s for s in h.shoes}
    assert shoes["Pegasus"].km == pytest.approx(720.0) and shoes["Pegasus"].status == "replace"
    assert shoes["Pegasus"].sessions == 18 and shoes["Pegasus"].first == dt.date(2026, 1, 1)
    assert shoes["Clifton"].km == pytest.approx(630.0) and shoes["Clifton"].status == "replace soon"
    assert set(shoes) == {"Pegasus", "Clifton"}
    assert any("Pegasus" in w and "new pair" in w for w in h.warnings)
    assert any("Clifton" in w and "soon" in w for w in h.warnings)
    assert history(entries, HistorySettings(shoe_replace_km=900)).shoes[1].status == "ok"  # Pegasus: 720 of 900
    with pytest.raises(ValidationError):
        HistorySettings(shoe_replace_km=50)
    with pytest.raises(ValidationError):
        HistorySettings.model_validate({"unknown_key": 1})


def _session(path: Path, day: str, *, speed_km: float | None, steps: int = 600, shoe: str | None = None,
             pod_address: str = "C0:FF:EE:00:00:01", runner: str = "ana") -> Path:
    """A recording with step records (and optionally footpod speed) but no samples: what history reads."""
    foot = SensorInfo(f"{runner}/right_foot", runner, Placement.RIGHT_FOOT, 200.0, device="pod",
                      address=pod_address)
    info = SessionInfo(path.stem, _unix(day), (RunnerInfo(runner, shoe=shoe),), (foot,), "test")
    with RecordingWriter(path, info) as w:
        for i in range(steps):
            w.write(StepMetrics(runner, 10.0 + i * 0.35, Side.LEFT if i % 2 else Side.RIGHT, 0.35, 171.0))
        if speed_km is not None:
            n = int(steps * 0.35)
            for k in range(n + 1):
                w.write(SpeedSample(foot.sensor_id, 10.0 + k, 3.0, distance_m=speed_km * 1000 * k / n))
    return path


def test_entries_from_recordings_distance_time_and_shoe(tmp_path: Path) -> None:
    settings = HistorySettings(shoe_pods={"C0:FF:EE:00:00:01": "Pod shoe"}, step_length_m=1.1)
    with_speed = read_entries(_session(tmp_path / "a.skrec", "2026-03-02", speed_km=2.0), settings)[0]
    assert with_speed.distance_m == pytest.approx(2000.0) and with_speed.distance_from == "footpod"
    assert with_speed.running_s == pytest.approx(599 * 0.35) and with_speed.steps == 600
    assert with_speed.shoe == "Pod shoe"  # the shoe pod names the shoe
    estimated = read_entries(_session(tmp_path / "b.skrec", "2026-03-03", speed_km=None, shoe="Named",
                                      pod_address="other"), settings)[0]
    assert estimated.distance_m == pytest.approx(600 * 1.1) and estimated.distance_from == "estimate"
    assert estimated.shoe == "Named"  # the runner's recorded shoe
    configured = read_entries(_session(tmp_path / "c.skrec", "2026-03-04", speed_km=1.0, pod_address="x"),
                              settings, {"ana": "From config"})[0]
    assert configured.shoe == "From config"


def test_cli_history_over_a_folder_with_config_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec = tmp_path / "recordings" / "2026"
    rec.mkdir(parents=True)
    _session(rec / "w1a.skrec", "2026-03-02", speed_km=5.0)
    _session(rec / "w1b.skrec", "2026-03-05", speed_km=5.0)
    _session(rec / "w2.skrec", "2026-03-10", speed_km=12.0)  # +20 %
    (tmp_path / "junk.skrec").mkdir()  # not a recording: reported, not fatal
    cfg = tmp_path / "sk.toml"
    cfg.write_text(f'[history]\ndirectories = ["{tmp_path}"]\nshoe_replace_km = 500\n'
                   f'shoe_pods = {{"C0:FF:EE:00:00:01" = "Vaporfly"}}\nshoe_start_km = {{"Vaporfly" = 470.0}}\n')
    out_json = tmp_path / "h.json"
    assert main(["history", "--config", str(cfg), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "2026-03-09" in out and "WARNING" in out and "Vaporfly" in out and "replace soon" in out
    assert "junk.skrec: skipped" in out
    data = json.loads(out_json.read_text())
    assert [round(w["distance_m"]) for w in data["weeks"]] == [10000, 12000]
    assert data["shoes"][0]["km"] == pytest.approx(492.0)
    entries, problems = scan(HistorySettings(directories=[tmp_path / "recordings"]))
    assert len(entries) == 3 and not problems
    bad = tmp_path / "bad.toml"
    bad.write_text("[history]\nshoe_replace_km = 5\n")
    assert main(["history", "--config", str(bad)]) == 2


def test_every_history_setting_is_documented_and_an_empty_section_works() -> None:
    assert HistorySettings.model_validate({}) == HistorySettings()
    for name, f in HistorySettings.model_fields.items():
        assert f.description and len(f.description) > 15, name
