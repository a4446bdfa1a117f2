"""``sensorkit analyze`` over many files: parallel == one by one, per-session files, pooled tables."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sensorkit.analysis.batch import expand, run_batch, stems
from sensorkit.analysis.outputs import OutputOptions
from sensorkit.cli.main import main
from sensorkit.errors import InputFileError
from sensorkit.metrics.files import STEP_COLUMNS
from sensorkit.model import Placement
from tests.test_analysis_data import STAGES, fatigue_run, write_back_csv, write_recording


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    d = tmp_path_factory.mktemp("inputs")
    return [str(write_recording(d / "one.skrec", fatigue_run(50.0, seed=1))),
            str(write_recording(d / "two.skrec", fatigue_run(40.0, seed=2, placements=(Placement.LOWER_BACK,
                                                                                        Placement.RIGHT_FOOT)))),
            str(write_back_csv(d / "three.csv", 30.0))]


def _rows(table: pa.Table) -> str:
    """Rows as text: NaN == NaN (Table.equals says no), every value compared exactly."""
    return repr(table.to_pylist())


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.suffix in (".csv",)}


def test_two_workers_give_exactly_what_one_by_one_gives(inputs: list[str], tmp_path: Path) -> None:
    done: list[str] = []
    serial = run_batch(inputs, OutputOptions(tmp_path / "serial", report=False), stages=STAGES, jobs=1)
    parallel = run_batch(inputs, OutputOptions(tmp_path / "parallel", report=False), stages=STAGES, jobs=2,
                         on_done=lambda o: done.append(o.path))
    assert sorted(done) == sorted(inputs)  # the progress callback saw every file
    assert not serial.failed and not parallel.failed
    assert _rows(serial.summary) == _rows(parallel.summary)
    assert serial.steps is not None and parallel.steps is not None
    assert _rows(serial.steps) == _rows(parallel.steps)
    assert _files(tmp_path / "serial") == _files(tmp_path / "parallel")  # per-session CSVs, byte for byte
    files = _files(tmp_path / "serial")
    assert {"one.steps.csv", "two.steps.csv", "three.steps.csv", "summary.csv"} <= set(files)
    pooled = pq.read_table(tmp_path / "parallel" / "steps.parquet")
    assert pooled.num_rows == sum(pq.read_table(tmp_path / "parallel" / f"{s}.steps.parquet").num_rows
                                  for s in ("one", "two", "three"))
    assert set(pooled.column("file").to_pylist()) == set(inputs)


def test_batch_csv_is_the_single_file_commands_csv(inputs: list[str], tmp_path: Path) -> None:
    """The batch writes the same contract file as ``sensorkit analyze FILE --steps-out``."""
    run_batch(inputs[:1], OutputOptions(tmp_path / "b", report=False, parquet=False), stages=STAGES)
    assert main(["analyze", inputs[0], "--steps-out", str(tmp_path / "single.csv")]) == 0
    single = (tmp_path / "single.csv").read_text()
    assert single.splitlines()[0] == ",".join(STEP_COLUMNS)
    assert (tmp_path / "b" / "one.steps.csv").read_text() == single


def test_cli_batch_reports_a_bad_file_by_name_and_line_and_finishes_the_rest(
        inputs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,ax_g,ay_g,az_g\n0,0,0,1\n0.01,0,zero,1\n")
    pattern = str(Path(inputs[0]).parent / "*.skrec")
    code = main(["analyze", pattern, str(bad), "--out-dir", str(tmp_path / "out"), "--jobs", "2"])
    assert code == 1
    err = capsys.readouterr().err
    assert f"{bad}, line 3, column 'ay_g'" in err
    out = tmp_path / "out"
    for stem in ("one", "two"):
        assert (out / f"{stem}.html").stat().st_size > 10_000
        assert (out / f"{stem}.steps.csv").exists() and (out / f"{stem}.steps.parquet").exists()
    summary = (out / "summary.csv").read_text().splitlines()
    assert len(summary) == 3  # header + the two good recordings


def test_patterns_that_match_nothing_are_errors_and_names_stay_unique(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="matches no file"):
        expand([str(tmp_path / "*.skrec")])
    with pytest.raises(InputFileError, match="no such file"):
        expand([str(tmp_path / "missing.csv")])
    assert stems(["a/run.csv", "b/run.csv", "c/run.skrec/", "d.zip"]) == ["run", "run-2", "run-3", "d"]


def test_a_multithreaded_caller_gets_safe_workers_and_the_same_results(inputs: list[str], tmp_path: Path) -> None:
    """With other threads running, fork could deadlock: workers then come from a fork server."""
    import threading

    from sensorkit.analysis.batch import _pool_context

    stop = threading.Event()
    busy = threading.Thread(target=stop.wait, name="other-work")
    busy.start()
    try:
        assert _pool_context().get_start_method() in ("forkserver", "spawn")
        threaded = run_batch(inputs[:2], OutputOptions(tmp_path / "t", report=False), stages=STAGES, jobs=2)
    finally:
        stop.set()
        busy.join()
    plain = run_batch(inputs[:2], OutputOptions(tmp_path / "p", report=False), stages=STAGES, jobs=1)
    assert not threaded.failed and _rows(threaded.summary) == _rows(plain.summary)
    assert _files(tmp_path / "t") == _files(tmp_path / "p")
