"""Where things live inside a ``NAME.skrec/`` directory and how sample records are laid out.

The layout is deliberately boring so any tool can read it: one JSON file for metadata, one
fixed-size binary record per sample (a numpy structured dtype written into ``meta.json``),
and one CSV file per record table. See docs/recording-format.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

FORMAT_NAME = "sensorkit-recording"
FORMAT_VERSION = 1
"""Bumped on any change an older reader would misread; readers refuse newer versions."""

SUFFIX = ".skrec"
META_FILE = "meta.json"
STREAMS_DIR = "streams"
TABLES_DIR = "tables"

ChannelDtype = Literal["f8", "f4"]

AXES = ("x", "y", "z")
CHANNELS: dict[str, tuple[str, str]] = {
    # SampleBlock attribute -> (column prefix, unit suffix)
    "acc_g": ("acc", "g"),
    "gyr_dps": ("gyr", "dps"),
    "mag_ut": ("mag", "ut"),
}


def channel_columns(channel: str) -> tuple[str, str, str]:
    """Flat column names of a 3-axis channel, e.g. ``acc_g`` -> ``acc_x_g, acc_y_g, acc_z_g``."""
    prefix, unit = CHANNELS[channel]
    return tuple(f"{prefix}_{a}_{unit}" for a in AXES)  # type: ignore[return-value]


def stream_dtype(has_gyro: bool, has_mag: bool, channel_dtype: ChannelDtype = "f8") -> np.dtype:
    """Little-endian record: ``time_s`` f8, then 3 columns per channel the sensor has.

    Flat scalar fields (not (3,) sub-arrays) so ``pandas.DataFrame(array)`` and
    ``polars.from_numpy(array)`` take the array as it is.
    """
    fields: list[tuple[str, str]] = [("time_s", "<f8")]
    for channel, present in (("acc_g", True), ("gyr_dps", has_gyro), ("mag_ut", has_mag)):
        if present:
            fields += [(c, f"<{channel_dtype}") for c in channel_columns(channel)]
    return np.dtype(fields)


def dtype_to_json(dtype: np.dtype) -> list[list[str]]:
    fields: Mapping[str, Any] = dtype.fields or {}
    return [[name, fields[name][0].str] for name in dtype.names or ()]


def dtype_from_json(spec: object) -> np.dtype:
    """Inverse of :func:`dtype_to_json`; raises ValueError on anything else."""
    if not isinstance(spec, list) or not spec:
        raise ValueError("dtype must be a non-empty list of [name, type] pairs")
    fields = []
    for f in spec:
        if not (isinstance(f, list) and len(f) == 2 and all(isinstance(x, str) for x in f)):
            raise ValueError(f"bad dtype field {f!r}")
        if f[1] not in ("<f8", "<f4"):  # checked before numpy parses it: its type mini-language
            # evaluates some damaged strings (",8") with ast and raises SyntaxError
            raise ValueError(f"field {f[0]!r} has type {f[1]!r}; only <f8 and <f4 are allowed")
        fields.append((f[0], f[1]))
    dtype = np.dtype(fields)
    if dtype.names is None or dtype.names[0] != "time_s":
        raise ValueError("the first field must be time_s")
    return dtype


def stream_channels(dtype: np.dtype) -> list[str]:
    """SampleBlock channels (``acc_g``, ``gyr_dps``, ``mag_ut``) present in a stream dtype."""
    names = set(dtype.names or ())
    return [ch for ch in CHANNELS if set(channel_columns(ch)) <= names]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_stem(name: str, taken: set[str]) -> str:
    """A file-system-safe, unique stem for a sensor id (``alice/lower_back`` -> ``alice_lower_back``)."""
    stem = _UNSAFE.sub("_", name).strip("._") or "stream"
    candidate, i = stem, 2
    while candidate.lower() in taken:
        candidate, i = f"{stem}-{i}", i + 1
    taken.add(candidate.lower())
    return candidate


ORDER_FILE = "order.bin"
"""The arrival order of source items, so replay can feed the pipeline exactly what it saw live."""

ORDER_BLOCK, ORDER_GAP, ORDER_SPEED, ORDER_HEALTH = 0, 1, 2, 3
ORDER_DTYPE = np.dtype([("kind", "u1"), ("pad", "u1"), ("stream", "<u2"), ("count", "<u4")])
"""One entry per source item: a block of ``count`` samples of stream number ``stream``, or the
next row of the gaps / speed / health table (``count`` 1)."""
MAX_STREAMS = 1 << 16
"""Sensor streams one recording holds: the order log numbers them in 16 bits."""
