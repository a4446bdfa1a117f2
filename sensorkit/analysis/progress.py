"""Command-line plumbing shared by the research commands: progress bar, settings, tables."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sensorkit.analysis.batch import Outcome
from sensorkit.analysis.session import StageSettings


def stage_settings(config: str | Path | None) -> StageSettings:
    """``[metrics]`` and ``[alerts]`` from a sensorkit TOML config, or the defaults."""
    if config is None:
        return StageSettings()
    from sensorkit.config import load_config

    cfg = load_config(config)
    return StageSettings(cfg.metrics, cfg.alerts)


@contextmanager
def file_progress(total: int, label: str = "analysing") -> Iterator[Callable[[Outcome], None]]:
    """A rich progress bar on stderr, advanced once per finished file."""
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    # No refresh thread: the batch forks its workers, which is only safe in a single-threaded process.
    with Progress(*columns, console=console, transient=False, auto_refresh=False,
                  disable=total <= 1 and not console.is_terminal) as bar:
        task = bar.add_task(label, total=total)
        bar.refresh()

        def done(outcome: Outcome) -> None:
            bar.advance(task)
            bar.refresh()

        yield done


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(fmt(x) for x in row))
    Console(file=sys.stdout, width=max(100, Console().width)).print(table)


def fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "-" if v != v else (f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}")
    return str(v)
