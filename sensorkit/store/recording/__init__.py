"""Crash-safe session recordings (``NAME.skrec/``): written live, read by sensorkit or plain numpy/pandas.

The format is specified in docs/recording-format.md.
"""

from sensorkit.store.recording.errors import CorruptRecordingError
from sensorkit.store.recording.layout import FORMAT_VERSION, SUFFIX
from sensorkit.store.recording.reader import RecordingReader
from sensorkit.store.recording.stats import RecordingStats
from sensorkit.store.recording.writer import WRITE_FAILED_REASON, RecordingWriter

__all__ = [
    "FORMAT_VERSION",
    "SUFFIX",
    "WRITE_FAILED_REASON",
    "CorruptRecordingError",
    "RecordingReader",
    "RecordingStats",
    "RecordingWriter",
]
