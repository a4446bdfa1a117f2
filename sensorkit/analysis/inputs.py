"""Any supported input file as one session: its metadata and its source items.

Four kinds, detected from the path: a sensorkit recording (``*.skrec``), a phone app's export
(Sensor Logger, phyphox, HyperIMU; see :mod:`sensorkit.sources.phone.imports`), or a generic
CSV per the public contract of ``sensorkit analyze`` (:mod:`sensorkit.sources.csv_import`).
Every reader raises :class:`~sensorkit.errors.InputFileError` naming the file (and line and
column) for malformed input, so a batch can report the one bad file and go on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sensorkit.errors import InputFileError, RecordingError
from sensorkit.metrics.files import recording_items
from sensorkit.model import PhoneWear, Placement, RunnerInfo, SessionInfo, SourceItem
from sensorkit.sources.csv_import import CsvOptions, read_csv
from sensorkit.store.recording import RecordingReader
from sensorkit.store.recording.layout import META_FILE

Kind = Literal["recording", "csv", "sensorlogger", "phyphox", "hyperimu"]
KINDS: tuple[str, ...] = ("recording", "csv", "sensorlogger", "phyphox", "hyperimu")


@dataclass(frozen=True, slots=True)
class InputOptions:
    """How to read inputs that do not describe themselves (CSV files, phone exports).

    Mirrors the ``sensorkit analyze`` flags; recordings carry all of this in their metadata.
    """

    placement: Placement = Placement.LOWER_BACK
    """Where a CSV's sensor was worn."""
    rate_hz: float | None = None
    """Sampling rate of a CSV without a ``time_s`` column (Hz)."""
    acc_unit: str | None = None
    gyro_unit: str | None = None
    runner: str = "runner"
    shoe: str | None = None
    """Shoe worn, recorded into imported sessions (for mileage per shoe)."""
    phone_wear: PhoneWear = PhoneWear.ARMBAND
    """Where the phone of a phone-app export was carried."""
    kind: Kind | None = None
    """Force the input kind instead of detecting it."""
    block_s: float = 1.0
    """Block length the samples are cut into (s), as ``sensorkit analyze`` does."""

    def csv_options(self) -> CsvOptions:
        return CsvOptions(placement=self.placement, rate_hz=self.rate_hz, acc_unit=self.acc_unit,
                          gyro_unit=self.gyro_unit, runner=self.runner, block_s=self.block_s)


@dataclass(frozen=True, slots=True)
class SessionInput:
    """One input file as a session. ``items()`` may be called more than once."""

    path: str
    kind: Kind
    info: SessionInfo
    items: Callable[[], Iterator[SourceItem]]
    config: dict[str, Any]
    """The configuration the session was recorded with (recordings only; else empty)."""


def detect_kind(path: str | Path) -> Kind:
    """Which reader takes ``path``; raises InputFileError if it does not exist."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(str(path), "no such file")
    if p.suffix == ".skrec" or (p.is_dir() and (p / META_FILE).exists()):
        return "recording"
    from sensorkit.sources.phone.imports import detect_phone_export

    app = detect_phone_export(p)
    if app is not None:
        return app
    if p.is_dir():
        raise InputFileError(str(path), "a folder that is neither a recording nor a phone app export")
    return "csv"


def _with_shoe(info: SessionInfo, shoe: str | None) -> SessionInfo:
    if shoe is None:
        return info
    runners = tuple(dataclasses.replace(r, shoe=r.shoe or shoe) for r in info.runners)
    return dataclasses.replace(info, runners=runners)


def open_input(path: str | Path, options: InputOptions | None = None) -> SessionInput:
    """Read ``path`` (any supported kind) into a :class:`SessionInput`.

    Recordings are opened lazily (samples are read when ``items()`` runs); CSV files and phone
    exports are parsed here, so their errors surface at once.
    """
    opts = options or InputOptions()
    kind = opts.kind or detect_kind(path)
    where = str(path)
    if kind == "recording":
        try:
            reader = RecordingReader(path)
        except RecordingError as exc:
            raise InputFileError(where, str(exc)) from exc

        def rec_items() -> Iterator[SourceItem]:
            with RecordingReader(path) as r:
                yield from recording_items(r, opts.block_s)

        return SessionInput(where, kind, _with_shoe(reader.info, opts.shoe), rec_items, reader.config)
    if kind == "csv":
        stream = read_csv(path, opts.csv_options())
        blocks = stream.blocks(opts.block_s)
        info = stream.info
        if opts.shoe:
            info = dataclasses.replace(info, runners=(RunnerInfo(opts.runner, shoe=opts.shoe),))
        return SessionInput(where, kind, info, lambda: iter(blocks), {})
    from sensorkit.sources.phone.imports import import_phone_export

    imported = import_phone_export(path, runner=opts.runner, wear=opts.phone_wear, app=kind,
                                   sampling_rate_hz=opts.rate_hz)
    items = imported.items
    return SessionInput(where, imported.app, _with_shoe(imported.session, opts.shoe), lambda: iter(items), {})
