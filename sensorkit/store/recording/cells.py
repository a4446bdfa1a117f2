"""CSV cells of record tables: one spelling that pandas, polars and the csv module all read back.

* ``None`` is an empty cell; booleans are ``true``/``false``;
* floats use Python's shortest round-trip ``repr`` (exact), non-finite ones ``NaN``/``inf``/``-inf``;
* dicts and tuples (``FatigueState.components``, ``Calibration.sf_to_bf``) are compact JSON.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
import typing
from collections.abc import Callable
from enum import Enum
from typing import Any

import numpy as np

Parser = Callable[[str], Any]


def plain(v: Any) -> Any:
    """Numpy scalars as Python ones: stages often hand over ``np.float64`` (whose repr is not a number)."""
    return v.item() if isinstance(v, np.generic) else v


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic | np.ndarray):
        return v.tolist()
    return str(v)


def encode_cell(v: Any) -> str:
    if type(v) is float and math.isfinite(v):  # most cells: the branch below, without the checks
        return float.__repr__(v)
    v = plain(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isfinite(v):
            return float.__repr__(v)
        return "NaN" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, int | str):
        return str(v)
    if isinstance(v, Enum):
        return str(v.value)
    if isinstance(v, dict | list | tuple):
        return json.dumps(v, separators=(",", ":"), allow_nan=True, default=_json_default)
    return str(v)


def parse_bool(s: str) -> bool:
    low = s.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    raise ValueError(f"expected true or false, got {s!r}")


def _json(s: str) -> Any:
    try:
        return json.loads(s)
    except RecursionError:  # nested deeper than the parser's stack: damage, never a value we wrote
        raise ValueError("JSON nested too deeply") from None


def _tuple_json(s: str) -> tuple[Any, ...]:
    v = _json(s)
    if not isinstance(v, list):
        raise ValueError(f"expected a JSON list, got {s!r}")
    return tuple(v)


def _dict_json(s: str) -> dict[str, Any]:
    v = _json(s)
    if not isinstance(v, dict):
        raise ValueError(f"expected a JSON object, got {s!r}")
    return v


def _parser_for(tp: Any) -> tuple[Parser, bool]:
    """(parser, optional) for one annotated field type."""
    optional = False
    args = typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        rest = [a for a in args if a is not type(None)]
        optional = len(rest) < len(args)
        tp = rest[0] if len(rest) == 1 else str
    origin = typing.get_origin(tp) or tp
    if isinstance(origin, type) and issubclass(origin, Enum):
        return origin, optional
    if origin is bool:
        return parse_bool, optional
    if origin is int:
        return int, optional
    if origin is float:
        return float, optional
    if origin is tuple:
        return _tuple_json, optional
    if origin is dict:
        return _dict_json, optional
    if origin is list:
        return _json, optional
    return str, optional


@functools.cache
def field_parsers(cls: type) -> dict[str, tuple[Parser, bool]]:
    """Column name -> (parser, optional) for a record dataclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: _parser_for(hints[f.name]) for f in dataclasses.fields(cls)}


def required_fields(cls: type) -> set[str]:
    missing = dataclasses.MISSING
    return {f.name for f in dataclasses.fields(cls)
            if f.default is missing and f.default_factory is missing}


def parse_cell(text: str, parser: Parser, optional: bool) -> Any:
    """Raises ValueError (json errors included) on a malformed cell."""
    if text == "" and (optional or parser is not str):
        if optional:
            return None
        raise ValueError("empty cell in a required column")
    return parser(text)
