"""``meta.json``: session metadata to and from JSON, replaced atomically so it is never torn."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from sensorkit.model import PhoneWear, Placement, RunnerInfo, SensorInfo, SessionInfo


def _plain(obj: Any) -> dict[str, Any]:
    return {k: (v.value if isinstance(v, Enum) else v) for k, v in dataclasses.asdict(obj).items()}


def session_to_json(info: SessionInfo) -> dict[str, Any]:
    return {
        "session_id": info.session_id,
        "start_unix_s": info.start_unix_s,
        "start_utc": datetime.fromtimestamp(info.start_unix_s, UTC).isoformat(),
        "software_version": info.software_version,
        "runners": [_plain(r) for r in info.runners],
        "sensors": [_plain(s) for s in info.sensors],
        "notes": dict(info.notes),
    }


def _known(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    """Fields this version knows; newer writers may add fields we ignore."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in d.items() if k in names}


def sensor_from_json(d: dict[str, Any]) -> SensorInfo:
    kw = _known(SensorInfo, d)
    kw["placement"] = Placement(kw["placement"])
    if kw.get("phone_wear") is not None:
        kw["phone_wear"] = PhoneWear(kw["phone_wear"])
    return SensorInfo(**kw)


def session_from_json(d: dict[str, Any]) -> SessionInfo:
    """Raises KeyError/TypeError/ValueError on malformed input; the reader names the file."""
    return SessionInfo(
        session_id=str(d["session_id"]),
        start_unix_s=float(d["start_unix_s"]),
        runners=tuple(RunnerInfo(**_known(RunnerInfo, r)) for r in d["runners"]),
        sensors=tuple(sensor_from_json(s) for s in d["sensors"]),
        software_version=str(d["software_version"]),
        notes={str(k): str(v) for k, v in d.get("notes", {}).items()},
    )


def write_json_atomic(path: Path, obj: Any, *, fsync: bool) -> None:
    """Write ``path`` via a temporary file and ``os.replace``: readers see the old or the new file.

    On failure the temporary file is removed and the old file stays; the OSError propagates.
    """
    tmp = path.with_name(path.name + ".tmp")
    data = (json.dumps(obj, indent=1, allow_nan=False) + "\n").encode()
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        if fsync:
            fsync_dir(path.parent)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
