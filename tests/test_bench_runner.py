"""`python -m bench`: one command runs the benchmarks, prints one table and writes summary.json.

These run the runner in a tiny mode (a few seconds of data); the figures themselves are the
benchmarks' business and are never asserted here.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench._registry import NOT_BENCHMARKS, SPECS, Figure, Spec, at_least, dig, select
from bench._runner import RESULTS, discover, run_all

REPO = Path(__file__).resolve().parents[1]


def _spec(name: str) -> Spec:
    return next(s for s in SPECS if s.name == name)


def test_a_tiny_run_writes_its_json_and_the_summary_outside_the_committed_results(tmp_path: Path) -> None:
    committed = RESULTS / "memory_marathon.json"
    before = committed.read_bytes() if committed.exists() else None
    spec = dataclasses.replace(_spec("memory_marathon"), quick_args=("--hours", "0.01", "--no-replay",
                                                                      "--every-s", "0.2"))
    lines: list[str] = []
    summary = run_all([spec], quick=True, results=tmp_path, echo=lines.append)

    assert (tmp_path / "memory_marathon.json").is_file()
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    (bench,) = on_disk["benchmarks"]
    assert bench["status"] == "ok", "\n".join(lines)
    assert bench["cpu_s"] > 0 and bench["wall_s"] > 0 and len(bench["load_before"]) == 3
    labels = [f["label"] for f in bench["figures"]]
    assert any("peak RSS" in label for label in labels)
    table = lines[-2].strip()
    assert table.splitlines()[0].split() == ["benchmark", "figure", "value", "target", "result"]
    assert "memory_marathon" in table
    assert (committed.read_bytes() if committed.exists() else None) == before


def test_a_benchmark_not_written_yet_is_reported_not_fatal(tmp_path: Path) -> None:
    ghost = Spec("not_there", "bench.not_there")
    lines: list[str] = []
    summary = run_all([ghost], quick=True, results=tmp_path, echo=lines.append)
    assert summary["benchmarks"][0]["status"] == "missing"
    assert summary["not_run"] == ["not_there"]
    assert "MISSING" in lines[-2]


def test_an_unregistered_benchmark_is_not_run_full_size_in_a_quick_run(tmp_path: Path) -> None:
    stranger = Spec("memory_marathon", "bench.memory_marathon", discovered=True)
    summary = run_all([stranger], quick=True, results=tmp_path, echo=lambda _: None)
    assert summary["benchmarks"][0]["status"] == "skipped"


def test_every_bench_module_is_known_to_the_runner() -> None:
    names = {s.name for s in discover()}
    for path in (REPO / "bench").glob("*.py"):
        if not path.stem.startswith("_") and path.stem not in NOT_BENCHMARKS:
            assert path.stem in names
    assert {"live_capacity", "memory_marathon", "peers", "replay_speed", "dsp_speed"} <= names


def test_only_selects_by_name_and_rejects_unknown_names() -> None:
    assert [s.name for s in select(SPECS, ["dsp_speed,peers"])] == ["dsp_speed", "peers"]
    assert [s.name for s in select(SPECS, ["peers", "dsp_speed"])] == ["dsp_speed", "peers"]
    with pytest.raises(KeyError, match="nope"):
        select(SPECS, ["nope"])


def test_figures_read_results_defensively() -> None:
    assert dig({"a": {"b": [1, 2]}}, "a.b.1") == 2
    assert dig({"a": {}}, "a.b.c") is None
    assert at_least("x", 5, 3) == Figure("x", 5.0, "", ">= 3", True)
    assert at_least("x", None, 3).passed is None
    for spec in SPECS:  # an empty or reshaped JSON never breaks the summary
        assert isinstance(spec.figures({}), list)


def test_the_command_line_lists_and_refuses_unknown_benchmarks() -> None:
    out = subprocess.run([sys.executable, "-m", "bench", "--list"], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout
    assert "live_capacity" in out and "peers" in out
    bad = subprocess.run([sys.executable, "-m", "bench", "--only", "nope"], cwd=REPO, capture_output=True,
                         text=True, check=False)
    assert bad.returncode == 2 and "nope" in bad.stderr
