"""Reading the CSV record tables: torn tails are trimmed and counted, anything else names the line."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from sensorkit.store.recording.cells import Parser, field_parsers, parse_cell, required_fields
from sensorkit.store.recording.errors import CorruptRecordingError


@dataclass(frozen=True, slots=True)
class TableText:
    """The whole rows of one table file; ``torn`` says a partial last row was dropped."""

    path: Path
    columns: list[str]
    rows: list[list[str]]
    first_line: list[int]
    """1-based file line of each row (rows may span lines when a text cell holds a newline)."""
    torn: bool


def read_table_text(path: Path) -> TableText:
    """Parse ``path``; a last row cut short by a crash is dropped, not an error."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorruptRecordingError(str(path), f"cannot read: {exc}") from exc
    end = data.rfind(b"\n") + 1
    torn = end < len(data)
    try:
        text = data[:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorruptRecordingError(str(path), "not UTF-8 text", line=line) from exc
    if not text:
        raise CorruptRecordingError(str(path), "no header line" + (" (torn)" if torn else ""), line=1)
    reader = csv.reader(io.StringIO(text), strict=True)
    rows: list[list[str]] = []
    first_line: list[int] = []
    total_lines = text.count("\n")
    try:
        header = next(reader)
    except csv.Error as exc:
        raise CorruptRecordingError(str(path), f"malformed header: {exc}", line=1) from exc
    try:
        line = reader.line_num + 1
        for row in reader:
            rows.append(row)
            first_line.append(line)
            line = reader.line_num + 1
    except csv.Error as exc:
        if reader.line_num >= total_lines:  # the last row ends inside a quoted cell: torn
            return TableText(path, header, rows, first_line, True)
        raise CorruptRecordingError(str(path), f"malformed CSV: {exc}", line=reader.line_num) from exc
    width = len(header)
    if rows and len(rows[-1]) != width and reader.line_num >= total_lines:
        rows.pop()
        first_line.pop()
        torn = True
    return TableText(path, header, rows, first_line, torn)


def _parse_column(table: TableText, i: int, name: str, parser: Parser, optional: bool) -> list[Any]:
    cells = [row[i] for row in table.rows]
    try:
        if isinstance(parser, type) and issubclass(parser, Enum):  # a dict lookup, not Enum(value)
            members: dict[str, Any] = {m.value: m for m in parser}
            return [None if optional and c == "" else members[c] for c in cells]
        parse: Parser = parser
        if parser is str:
            return [None if optional and c == "" else c for c in cells]
        if optional:
            return [None if c == "" else parse(c) for c in cells]
        return list(map(parse, cells))
    except (ValueError, KeyError):
        pass
    for cell, line in zip(cells, table.first_line, strict=True):  # slow path: find the culprit
        try:
            parse_cell(cell, parser, optional)
        except ValueError as exc:
            raise CorruptRecordingError(str(table.path), f"bad value {cell!r}: {exc}",
                                        line=line, column=name) from exc
    raise AssertionError("unreachable")  # pragma: no cover


def check_widths(table: TableText) -> None:
    width = len(table.columns)
    for row, line in zip(table.rows, table.first_line, strict=True):
        if len(row) != width:
            raise CorruptRecordingError(str(table.path), f"expected {width} cells, found {len(row)}",
                                        line=line)


def decode_records(table: TableText, cls: type) -> list[Any]:
    """Rows as ``cls`` instances, parsed column by column. Unknown columns (a newer writer) are ignored."""
    parsers = field_parsers(cls)
    missing = required_fields(cls) - set(table.columns)
    if missing:
        raise CorruptRecordingError(str(table.path), f"missing columns {sorted(missing)}", line=1)
    check_widths(table)
    names, columns = [], []
    for i, name in enumerate(table.columns):
        if name in parsers:
            names.append(name)
            columns.append(_parse_column(table, i, name, *parsers[name]))
    rows = zip(*columns, strict=True)
    try:
        if names == list(parsers):  # the usual case: positional construction is cheapest
            return [cls(*values) for values in rows]
        return [cls(**dict(zip(names, values, strict=True))) for values in rows]
    except (TypeError, ValueError):
        pass
    for values, line in zip(zip(*columns, strict=True), table.first_line, strict=True):  # find the row
        try:
            cls(**dict(zip(names, values, strict=True)))
        except (TypeError, ValueError) as exc:
            raise CorruptRecordingError(str(table.path), str(exc), line=line) from exc
    raise AssertionError("unreachable")  # pragma: no cover
