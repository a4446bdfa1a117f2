"""Records -> numpy columns and Arrow tables, the shape plots, statistics and files need.

Numbers become float64 with NaN for unknown (so numpy statistics just work), enums their text
values, booleans bool. One helper for every record type keeps the Parquet and CSV columns
named exactly like the record fields.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any, get_type_hints

import numpy as np

from sensorkit.model import FatigueState, to_row

if TYPE_CHECKING:
    import pyarrow as pa

Columns = dict[str, np.ndarray]


def _kind(hint: Any) -> str:
    text = str(hint)
    if hint is bool:
        return "bool"
    if hint is int:
        return "int"
    if hint is float or text in ("float | None", "int | None", "typing.Optional[float]",
                                         "typing.Optional[int]"):
        return "float"
    return "object"


def field_kinds(cls: type) -> dict[str, str]:
    """``{field: "float" | "int" | "bool" | "object"}`` of a record dataclass."""
    hints = get_type_hints(cls)
    return {f.name: _kind(hints[f.name]) for f in dataclasses.fields(cls)}


def columns(records: Sequence[Any], cls: type) -> Columns:
    """The records' fields as columns (all fields, also for zero records)."""
    kinds = field_kinds(cls)
    out: Columns = {}
    for name, kind in kinds.items():
        vals = [getattr(r, name) for r in records]
        if kind in ("float", "int"):
            out[name] = np.array([math.nan if v is None else float(v) for v in vals], dtype=np.float64)
        elif kind == "bool":
            out[name] = np.array(vals, dtype=bool)
        else:
            out[name] = np.array([v.value if isinstance(v, Enum) else v for v in vals], dtype=object)
    return out


def arrow_table(records: Sequence[Any], cls: type, extra: dict[str, Any] | None = None) -> pa.Table:
    """An Arrow table of the records (nulls for unknown); ``extra`` adds constant columns first.

    FatigueState's ``components`` dict is flattened into ``component_<metric>`` columns.
    """
    import pyarrow as pa  # here, not at the top: ~26 MB of RSS that live runs and replays never need

    rows = [to_row(r) for r in records]
    if cls is FatigueState:
        names = sorted({k for r in rows for k in r["components"]})
        for r in rows:
            comps = r.pop("components")
            for k in names:
                r[f"component_{k}"] = comps.get(k)
    kinds = field_kinds(cls)
    fields = []
    for name, kind in kinds.items():
        if name == "components" and cls is FatigueState:
            continue
        arrow_type = {"float": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}.get(kind, pa.string())
        fields.append(pa.field(name, arrow_type))
    if cls is FatigueState:
        comp_names = sorted({k for r in rows for k in r if k.startswith("component_")})
        fields += [pa.field(n, pa.float64()) for n in comp_names]
    schema = pa.schema(fields)
    data = {f.name: [r.get(f.name) for r in rows] for f in schema}
    for f in schema:
        if f.type == pa.string():
            data[f.name] = [None if v is None else str(v) for v in data[f.name]]
    table = pa.table(data, schema=schema)
    for i, (name, value) in enumerate((extra or {}).items()):
        table = table.add_column(i, name, pa.array([value] * table.num_rows, type=pa.string()))
    return table
