"""Training history across sessions: weekly load with increase warnings, mileage per shoe.

``scan(settings)`` reads every recording under the configured folders into
:class:`SessionEntry` rows; ``history(entries, settings)`` makes weeks, shoes and warnings.
"""

from sensorkit.analysis.history.load import History, ShoeMileage, Week, history, shoe_mileage, weekly
from sensorkit.analysis.history.sessions import SessionEntry, find_recordings, read_entries, scan
from sensorkit.analysis.history.settings import HistorySettings

__all__ = [
    "History",
    "HistorySettings",
    "SessionEntry",
    "ShoeMileage",
    "Week",
    "find_recordings",
    "history",
    "read_entries",
    "scan",
    "shoe_mileage",
    "weekly",
]
