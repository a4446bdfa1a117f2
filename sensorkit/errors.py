"""One root error with typed subclasses; third-party errors are wrapped where they enter."""

from __future__ import annotations


class SensorkitError(Exception):
    """Root of every error sensorkit raises on purpose."""


class ConfigError(SensorkitError):
    """The configuration is invalid; the message names the key and the value."""


class SourceError(SensorkitError):
    """A source cannot deliver samples (sensor gone, endpoint broken)."""


class SensorUnavailableError(SourceError):
    """The sensor is out of range or switched off: worth retrying with backoff."""


class ProtocolError(SourceError):
    """The device spoke something we do not understand: retrying will not help."""


class AdapterError(SourceError):
    """No usable Bluetooth adapter on this host."""


class DecodeError(SensorkitError):
    """A packet or frame is malformed; it is counted and skipped."""


class InputFileError(SensorkitError):
    """A file to import or replay is malformed; the message names file, line and column."""

    def __init__(self, path: str, message: str, line: int | None = None, column: str | None = None):
        where = path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.column = column


class RecordingError(SensorkitError):
    """A recording cannot be written or read."""


class StoreError(SensorkitError):
    """The time-series store rejected us (bad token, missing bucket, unreachable URL)."""


class PublishError(SensorkitError):
    """The MQTT broker rejected us or cannot be reached."""
