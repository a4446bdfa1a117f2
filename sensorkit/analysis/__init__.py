"""Offline analysis for researchers: batch analysis, reports, comparisons, import/export, history.

Everything here runs the same per-runner stages as a live session (metrics, then the cue
engine) over finished files. Modules with heavy imports (matplotlib for reports, fit-tool
for FIT files) are imported by the commands that need them, not here.

* :mod:`.inputs` - recordings, phone exports and generic CSV files as one session;
* :mod:`.session` - :func:`analyze_path` -> :class:`SessionAnalysis`;
* :mod:`.summary`, :mod:`.report`, :mod:`.compare` - tables, HTML reports, two-session comparisons;
* :mod:`.batch` - many files over a process pool;
* :mod:`.importer`, :mod:`.exports`, :mod:`.fit` - import into recordings, CSV/Parquet/FIT export;
* :mod:`.history` - training load and shoe mileage across sessions.
"""

from sensorkit.analysis.inputs import InputOptions, SessionInput, detect_kind, open_input
from sensorkit.analysis.session import SessionAnalysis, StageSettings, analyze_input, analyze_path

__all__ = [
    "InputOptions",
    "SessionAnalysis",
    "SessionInput",
    "StageSettings",
    "analyze_input",
    "analyze_path",
    "detect_kind",
    "open_input",
]
