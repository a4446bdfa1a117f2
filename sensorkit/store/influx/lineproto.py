"""InfluxDB line protocol: one point per record, and whole sample blocks without a Python loop.

Both InfluxDB 1.x ``/write`` and the v2 ``/api/v2/write`` (InfluxDB 2/3, Cloud,
VictoriaMetrics) take the same text, so the sink formats once and any writer ships the bytes.
Floats are written in their shortest round-trip form, so a value read back equals the value
written; non-finite floats and ``None`` cannot be represented and are left out of the point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow is imported where a block is formatted, not at the top: ~26 MB of RSS that a session
# without InfluxDB (a replay, a run recording to disk only) never needs.

FieldValue = float | int | bool | str | None

# A backslash is not an escape of itself in names and tags (InfluxDB stores ``\\`` as two), so
# it is written as is; only a trailing one, which would escape the separator, is dropped.
_MEAS_ESC = str.maketrans({",": r"\,", " ": r"\ ", "\n": " "})
_KEY_ESC = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": " "})
_STR_ESC = str.maketrans({'"': r"\"", "\\": "\\\\", "\n": " "})


def escape_measurement(name: str) -> str:
    return name.rstrip("\\").translate(_MEAS_ESC)


def escape_key(key: str) -> str:
    """Escape a tag key, tag value or field key."""
    return key.rstrip("\\").translate(_KEY_ESC)


def tag_set(tags: Mapping[str, str]) -> str:
    """``,k=v,k2=v2`` sorted by key (the order InfluxDB stores them in); empty values are left out."""
    return "".join(f",{escape_key(k)}={escape_key(v)}" for k, v in sorted(tags.items()) if v)


def format_field(value: FieldValue) -> str | None:
    """A field value in line protocol, or None when it cannot be represented (None, NaN, inf)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    return '"' + str(value).translate(_STR_ESC) + '"'


def format_point(measurement: str, tags: str, fields: Mapping[str, FieldValue], ts_ns: int) -> str | None:
    """One line (without newline) or None when no field is representable.

    ``tags`` is a pre-built :func:`tag_set` because the same tags repeat for every point of a
    runner or sensor.
    """
    parts = []
    for k, v in fields.items():
        text = format_field(v)
        if text is not None:
            parts.append(f"{escape_key(k)}={text}")
    if not parts:
        return None
    return f"{escape_measurement(measurement)}{tags} {','.join(parts)} {ts_ns}"


def _float_strings(col: NDArray[np.float64]) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(pa.array(col, type=pa.float64()), pa.string())


def format_columns(
    measurement: str,
    tags: str,
    names: Sequence[str],
    columns: Sequence[NDArray[np.float64]],
    ts_ns: NDArray[np.int64],
) -> tuple[bytes, int]:
    """Lines for many points of one series (``measurement`` and a :func:`tag_set`) at once."""
    n = int(ts_ns.shape[0])
    values = np.column_stack(columns) if columns else np.empty((n, 0))
    return format_rows(measurement, [tags], np.zeros(n, dtype=np.int32), names, values, ts_ns)


def format_rows(
    measurement: str,
    series_tags: Sequence[str],
    series_idx: NDArray[np.int32],
    names: Sequence[str],
    values: NDArray[np.float64],
    ts_ns: NDArray[np.int64],
) -> tuple[bytes, int]:
    """Lines for many points of many series at once: row ``i`` has tags ``series_tags[series_idx[i]]``.

    Columns are formatted by Arrow's vectorised float-to-string cast (shortest round-trip) and
    joined element-wise, so a large call costs about a microsecond per point with no Python
    loop; Arrow's fixed cost per call (~0.1 ms) is why callers gather many blocks first.
    Rows holding a non-finite value (rare: a broken sensor) take the per-point path and lose
    just that field. Returns the newline-terminated bytes and the number of points.
    """
    n = int(ts_ns.shape[0])
    if n == 0:
        return b"", 0
    finite = np.isfinite(values).all(axis=1)
    all_finite = bool(finite.all())
    out = b""
    count = 0
    if all_finite or finite.any():
        idx = None if all_finite else np.flatnonzero(finite)
        vals = values if idx is None else values[idx]
        rows = series_idx if idx is None else series_idx[idx]
        import pyarrow as pa
        import pyarrow.compute as pc

        head = escape_measurement(measurement)
        prefixes = pa.array([head + t + " " for t in series_tags], type=pa.string())
        pieces: list[pa.Array | str] = [prefixes.take(pa.array(rows, type=pa.int32()))]
        for i, name in enumerate(names):
            pieces.append(("" if i == 0 else ",") + escape_key(name) + "=")
            pieces.append(_float_strings(np.ascontiguousarray(vals[:, i])))
        pieces.append(" ")
        pieces.append(pc.cast(pa.array(ts_ns if idx is None else ts_ns[idx], type=pa.int64()), pa.string()))
        pieces.append("\n")
        out = _string_bytes(pc.binary_join_element_wise(*pieces, ""))
        count = n if idx is None else int(idx.size)
    if not all_finite:
        lines = []
        for row in np.flatnonzero(~finite):
            fields = {nm: float(values[row, i]) for i, nm in enumerate(names)}
            line = format_point(measurement, series_tags[int(series_idx[row])], fields, int(ts_ns[row]))
            if line is not None:
                lines.append(line + "\n")
        out += "".join(lines).encode()
        count += len(lines)
    return out, count


def _string_bytes(arr: pa.Array | pa.ChunkedArray) -> bytes:
    """The concatenated UTF-8 payload of a string array without building Python strings."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        return b"".join(_string_bytes(c) for c in arr.chunks)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset: arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    return data.to_pybytes()[int(offsets[0]): int(offsets[-1])]
