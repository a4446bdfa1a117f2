"""Reading the CSV record tables: torn tails are trimmed and counted, anything else names the line."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO

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


_READ_BYTES = 64 << 10
"""Bytes of a table file read at a time when streaming it."""


def read_table_text(path: Path) -> TableText:
    """Parse ``path`` whole; a last row cut short by a crash is dropped, not an error."""
    (table,) = iter_table_text(path, None)
    return table


def iter_table_text(path: Path, batch_rows: int | None) -> Iterator[TableText]:
    """Parse ``path`` in batches of ``batch_rows`` rows (None: one batch), reading it piece by piece.

    Memory is bounded by a batch, not by the file: a replay streams a marathon's tables. Only the
    last batch can be ``torn``; a partial last row is dropped as in :func:`read_table_text` (whose
    results these batches concatenate to). Errors are raised when reached.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            end = _after_last_newline(f, size)
            lines = _Lines(f, end, path)
            yield from _parse(path, lines, end < size, batch_rows)
    except OSError as exc:
        raise CorruptRecordingError(str(path), f"cannot read: {exc}") from exc


def _after_last_newline(f: BinaryIO, size: int) -> int:
    """Offset just past the file's last newline (0 if there is none), read from the end backwards."""
    pos = size
    while pos > 0:
        start = max(0, pos - (64 << 10))
        f.seek(start)
        i = f.read(pos - start).rfind(b"\n")
        if i >= 0:
            return start + i + 1
        pos = start
    return 0


class _Lines:
    """The newline-terminated lines of a file's first ``end`` bytes, decoded piece by piece.

    Pieces end at a newline, which never falls inside a UTF-8 sequence, so decoding them one by
    one equals decoding the whole. ``last_read`` turns True when the final line is handed out.
    """

    def __init__(self, f: BinaryIO, end: int, path: Path) -> None:
        self.f, self.end, self.path = f, end, path
        self.last_read = False

    def __iter__(self) -> Iterator[str]:
        self.f.seek(0)
        pos, carry, lines_before = 0, b"", 0
        while pos < self.end:
            data = self.f.read(min(_READ_BYTES, self.end - pos))
            if not data:  # the file shrank under us: what was read is all there is
                break
            pos += len(data)
            data = carry + data
            cut = len(data) if pos >= self.end else data.rfind(b"\n") + 1
            piece, carry = data[:cut], data[cut:]
            try:
                text = piece.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = lines_before + piece[: exc.start].count(b"\n") + 1
                raise CorruptRecordingError(str(self.path), "not UTF-8 text", line=bad) from exc
            lines = text.split("\n")
            lines.pop()  # after the piece's last newline (empty unless the file shrank)
            lines_before += len(lines)
            final = pos >= self.end
            for i, line in enumerate(lines):
                self.last_read = final and i == len(lines) - 1
                yield line + "\n"


def _parse(path: Path, lines: _Lines, torn: bool, batch_rows: int | None) -> Iterator[TableText]:
    if lines.end == 0:
        raise CorruptRecordingError(str(path), "no header line" + (" (torn)" if torn else ""), line=1)
    reader = csv.reader(iter(lines), strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise CorruptRecordingError(str(path), f"malformed header: {exc}", line=1) from exc
    rows: list[list[str]] = []
    first_line: list[int] = []
    try:
        line = reader.line_num + 1
        for row in reader:
            rows.append(row)
            first_line.append(line)
            line = reader.line_num + 1
            if batch_rows is not None and len(rows) > batch_rows:  # the last row may yet turn out torn
                yield TableText(path, header, rows[:-1], first_line[:-1], False)
                rows, first_line = rows[-1:], first_line[-1:]
    except csv.Error as exc:
        if lines.last_read:  # the last row ends inside a quoted cell: torn
            yield TableText(path, header, rows, first_line, True)
            return
        raise CorruptRecordingError(str(path), f"malformed CSV: {exc}", line=reader.line_num) from exc
    if rows and len(rows[-1]) != len(header) and lines.last_read:
        rows.pop()
        first_line.pop()
        torn = True
    yield TableText(path, header, rows, first_line, torn)


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
