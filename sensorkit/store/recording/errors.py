"""Errors of recording files: one type that callers can catch as either family."""

from __future__ import annotations

from sensorkit.errors import InputFileError, RecordingError


class CorruptRecordingError(InputFileError, RecordingError):
    """A recording file is malformed; the message names the file (and line/column for tables).

    Catchable as :class:`~sensorkit.errors.InputFileError` (bad input file, as for imports) and as
    :class:`~sensorkit.errors.RecordingError` (anything wrong with a recording).
    """
