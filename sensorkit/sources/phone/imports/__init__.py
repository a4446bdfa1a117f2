"""Recorded exports of phone apps -> :class:`SessionInfo` + source items, for analyze and replay.

* Sensor Logger: the zip export (or its unzipped folder) of CSVs, or its JSON export;
* phyphox: the CSV zip export (any separator) or a single minimal CSV;
* HyperIMU: its ``HIMU-*.csv`` log.

The samples go through the same timing stage as live data (with the phone clock trusted, as
there is no arrival time to fit): sorted, de-duplicated, gyroscope resampled onto the
accelerometer, pauses turned into gaps, GPS into speed and distance. A malformed file raises
:class:`~sensorkit.errors.InputFileError` naming the file (and zip member), line and column.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import numpy as np

from sensorkit import __version__
from sensorkit.errors import InputFileError
from sensorkit.model import Placement, RunnerInfo, SensorInfo, SessionInfo, SourceItem
from sensorkit.model.sensors import PhoneWear
from sensorkit.sources.phone.aligner import AlignerSettings, PhoneAligner
from sensorkit.sources.phone.batch import Channel, ChannelData, PhoneBatch
from sensorkit.sources.phone.imports import hyperimu_log, phyphox_export, sensorlogger_export
from sensorkit.sources.phone.imports.raw import RawExport
from sensorkit.sources.phone.imports.tables import ExportFiles

App = Literal["sensorlogger", "phyphox", "hyperimu"]


def detect_phone_export(path: str | Path) -> App | None:
    """Which app wrote this file or folder, or None if it is none of them."""
    try:
        files = ExportFiles(path)
    except InputFileError:
        return None
    try:
        for app, mod in (("sensorlogger", sensorlogger_export), ("phyphox", phyphox_export),
                         ("hyperimu", hyperimu_log)):
            try:
                if mod.looks_like(files):
                    return app  # type: ignore[return-value]
            except InputFileError:
                continue
        return None
    finally:
        files.close()


@dataclass(frozen=True, slots=True)
class PhoneImport:
    """An imported recording: its session metadata and items on the host timeline (0 = start)."""

    session: SessionInfo
    items: list[SourceItem]
    app: App


def import_phone_export(path: str | Path, *, runner: str = "runner", wear: PhoneWear = PhoneWear.ARMBAND,
                        name: str = "phone", app: App | None = None,
                        platform: Literal["android", "ios"] | None = None,
                        sampling_rate_hz: float | None = None,
                        hyperimu_sensors: Sequence[str] = ("accelerometer", "gyroscope")) -> PhoneImport:
    """Read one export into session metadata and items.

    ``app`` is detected when None; ``platform`` overrides Sensor Logger's metadata;
    ``sampling_rate_hz`` is estimated from the timestamps when None.
    """
    app = app or detect_phone_export(path)
    if app is None:
        raise InputFileError(str(path), "not a Sensor Logger, phyphox or HyperIMU export")
    files = ExportFiles(path)
    try:
        if app == "sensorlogger":
            raw = sensorlogger_export.read_sensorlogger(files, platform)
        elif app == "phyphox":
            raw = phyphox_export.read_phyphox(files)
        else:
            raw = hyperimu_log.read_hyperimu(files, tuple(hyperimu_sensors), sampling_rate_hz)
    finally:
        files.close()
    return assemble(raw, str(path), runner=runner, wear=wear, name=name, sampling_rate_hz=sampling_rate_hz)


def _master(raw: RawExport, where: str) -> ChannelData:
    for ch in (Channel.ACC, Channel.LINEAR_ACC):
        if ch in raw.channels and len(raw.channels[ch]) >= 2:
            return raw.channels[ch]
    raise InputFileError(where, "no accelerometer samples in the export")


def assemble(raw: RawExport, where: str, *, runner: str, wear: PhoneWear, name: str,
             sampling_rate_hz: float | None = None, chunk_s: float = 1.0) -> PhoneImport:
    """Run the export through the timing stage in chunks, as if it had arrived live."""
    master = _master(raw, where)
    t_master = np.sort(master.device_s)
    if sampling_rate_hz is None:
        dt = np.diff(t_master)
        dt = dt[dt > 0]
        if not dt.size:
            raise InputFileError(where, "accelerometer timestamps do not advance")
        sampling_rate_hz = float(1.0 / np.median(dt))
    start = raw.start_unix_s if raw.start_unix_s is not None else float(t_master[0])
    start = min(start, float(t_master[0]))
    info = SensorInfo(f"{runner}/{name}", runner, Placement.PHONE, sampling_rate_hz, device=raw.device,
                      has_gyro=Channel.GYR in raw.channels, has_mag=Channel.MAG in raw.channels,
                      phone_wear=wear)
    aligner = PhoneAligner(info, AlignerSettings(trust_device_clock=True, hold_s=0.25,
                                                 max_buffered_samples=10_000_000))
    shifted = {ch: ChannelData(d.device_s - start, d.values) for ch, d in raw.channels.items()}
    fixes = sorted(raw.fixes, key=lambda f: f.device_s)
    fix_t = np.array([f.device_s - start for f in fixes])
    items: list[SourceItem] = []
    # Chunk numbers of every sample; only chunks holding data are visited, so one wild timestamp
    # (years away in a damaged file) costs one chunk, not a loop over every second in between.
    t0 = float(t_master[0] - start)
    chunk_of = {ch: np.floor((d.device_s - t0) / chunk_s) for ch, d in shifted.items()}
    fix_chunk = np.floor((fix_t - t0) / chunk_s)
    keys = np.concatenate([*chunk_of.values(), fix_chunk])
    for k in np.unique(keys[np.isfinite(keys) & (keys >= 0)]):
        b = t0 + (k + 1) * chunk_s
        chans = {}
        for ch, d in shifted.items():
            sel = chunk_of[ch] == k
            if sel.any():
                chans[ch] = ChannelData(d.device_s[sel], d.values[sel])
        sel_f = np.flatnonzero(fix_chunk == k)
        chunk_fixes = tuple(replace(fixes[i], device_s=float(fix_t[i])) for i in sel_f)
        if chans or chunk_fixes:
            items += aligner.add(PhoneBatch(chans, chunk_fixes), float(b))
    items += aligner.flush()
    c = aligner.counters
    notes = dict(raw.notes) | {"phone.app": raw.app, "phone.source_file": str(where),
                               "phone.duplicate_samples": str(c.duplicate_samples),
                               "phone.gaps": str(c.gaps), "phone.gps_rejected": str(c.gps_rejected)}
    session = SessionInfo(f"{raw.app}-{Path(where).stem}", start, (RunnerInfo(runner),), (info,), __version__,
                          notes)
    return PhoneImport(session, items, raw.app)  # type: ignore[arg-type]


class PhoneImportSource:
    """A :class:`~sensorkit.sources.base.Source` over an imported export (yields as fast as consumed)."""

    def __init__(self, imported: PhoneImport) -> None:
        self.imported = imported

    @property
    def sensors(self) -> Sequence[SensorInfo]:
        return self.imported.session.sensors

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        return None

    async def items(self) -> AsyncIterator[SourceItem]:
        for item in self.imported.items:
            yield item


__all__ = ["PhoneImport", "PhoneImportSource", "assemble", "detect_phone_export", "import_phone_export"]
