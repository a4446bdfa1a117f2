"""Reading the CSV files inside an app's export (a folder, a zip, or one file), fast and exactly.

Tables are parsed with pyarrow (fast); when a value does not parse, the file is scanned
again in Python to name the exact line and column in an :class:`InputFileError`.
"""

from __future__ import annotations

import csv
import io
import lzma
import math
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from sensorkit.errors import InputFileError
from sensorkit.sources.phone.batch import F64

MAX_MEMBER_BYTES = 2 * 1024**3
"""A zip member larger than this (uncompressed) is refused: a zip bomb, not a recording."""


class ExportFiles:
    """Uniform read access to the files of an export, whichever container it came in."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        if not self.path.exists():
            raise InputFileError(str(self.path), "no such file or folder")
        if self.path.is_file() and zipfile.is_zipfile(self.path):
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError, NotImplementedError, ValueError, EOFError) as exc:
                # a damaged central directory: bad version, undecodable name, cut short
                raise InputFileError(str(self.path), f"not a readable zip file: {exc}") from None

    def names(self) -> list[str]:
        """Member paths relative to the export root (``/``-separated)."""
        if self._zip is not None:
            return [i.filename for i in self._zip.infolist() if not i.is_dir()]
        if self.path.is_file():
            return [self.path.name]
        return sorted(str(p.relative_to(self.path)).replace("\\", "/") for p in self.path.rglob("*") if p.is_file())

    def where(self, name: str) -> str:
        """How to name a member in error messages."""
        if self._zip is not None:
            return f"{self.path}:{name}"
        return str(self.path if self.path.is_file() else self.path / name)

    def read(self, name: str) -> bytes:
        try:
            if self._zip is not None:
                info = self._zip.getinfo(name)
                if info.file_size > MAX_MEMBER_BYTES:
                    raise InputFileError(self.where(name), f"{info.file_size} bytes uncompressed: too large")
                return self._zip.read(name)
            p = self.path if self.path.is_file() else self.path / name
            return p.read_bytes()
        except (OSError, KeyError, zipfile.BadZipFile, RuntimeError, EOFError, NotImplementedError, zlib.error,
                lzma.LZMAError) as exc:  # a damaged member: corrupt data, cut stream, mangled method
            raise InputFileError(self.where(name), f"cannot read: {exc}") from None

    def find(self, basename: str) -> str | None:
        """The member whose file name (any folder) matches, case-insensitively."""
        for n in self.names():
            if n.rsplit("/", 1)[-1].lower() == basename.lower():
                return n
        return None

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


@dataclass(frozen=True, slots=True)
class Table:
    """Named float columns of one CSV file; ``where`` names the file in errors."""

    where: str
    header: list[str]
    columns: dict[str, F64]
    first_data_line: int

    def __len__(self) -> int:
        return int(next(iter(self.columns.values())).shape[0]) if self.columns else 0

    def require(self, name: str) -> F64:
        if name not in self.columns:
            raise InputFileError(self.where, f"missing column (have: {', '.join(self.header)})", line=1,
                                 column=name)
        return self.columns[name]


def sniff_dialect(text_head: str) -> tuple[str, str]:
    """(delimiter, decimal point) of a phyphox-style CSV: ``,``/``.``, tab/``.`` or ``;``/``,``."""
    first = text_head.splitlines()[0] if text_head else ""
    if "\t" in first:
        return "\t", "."
    if ";" in first and "," not in first.replace('","', ""):
        return ";", ","
    return ",", "."


def read_table(data: bytes, where: str, numeric: list[str] | None = None, *, skip_prefix: str = "",
               delimiter: str = ",", decimal: str = ".") -> Table:
    """Parse a CSV with a header row; ``numeric`` columns (default: all) must be numbers or empty/NaN."""
    skipped = 0
    if skip_prefix:
        lines = data.split(b"\n")
        while skipped < len(lines) and lines[skipped].lstrip().startswith(skip_prefix.encode()):
            skipped += 1
        data = b"\n".join(lines[skipped:])
    if not data.strip():
        raise InputFileError(where, "empty file", line=skipped + 1)
    try:
        header = next(csv.reader(io.StringIO(data[:65536].decode("utf-8-sig").split("\n", 1)[0]),
                                 delimiter=delimiter))
    except (UnicodeDecodeError, StopIteration, csv.Error) as exc:
        raise InputFileError(where, f"unreadable header: {exc}", line=skipped + 1) from None
    header = [h.strip() for h in header]
    wanted = header if numeric is None else [c for c in numeric if c in header]
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(encoding="utf8"),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(wanted, pa.float64()),
                                                 include_columns=wanted, decimal_point=decimal))
    except (pa.ArrowInvalid, pa.ArrowKeyError, UnicodeDecodeError) as exc:
        line, column, msg = _locate(data, delimiter, decimal, wanted, header)
        raise InputFileError(where, msg or f"cannot parse: {exc}", line=(line + skipped) if line else None,
                             column=column) from None
    cols = {name: np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)
            for name in wanted}
    return Table(where, header, cols, skipped + 2)


def _locate(data: bytes, delimiter: str, decimal: str, wanted: list[str],
            header: list[str]) -> tuple[int | None, str | None, str]:
    """Slow path: the first line and column that do not parse, for the error message."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return text_line_of(data, exc.start), None, "not UTF-8 text"
    idx = {h.strip(): i for i, h in enumerate(header)}
    for lineno, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
        if lineno == 1 or not row:
            continue
        if len(row) > len(header):
            return lineno, None, f"{len(row)} fields, header has {len(header)}"
        for name in wanted:
            i = idx[name]
            cell = row[i].strip() if i < len(row) else ""
            if cell in ("", "NaN", "nan", "null", "NA"):
                continue
            try:
                float(cell.replace(decimal, ".") if decimal != "." else cell)
            except ValueError:
                return lineno, name, f"not a number: {cell[:40]!r}"
    return None, None, ""


def text_line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def iter_lines(data: bytes) -> Iterator[tuple[int, str]]:
    """(line number, text) of a text file, tolerant of CR LF."""
    for i, raw in enumerate(data.split(b"\n"), start=1):
        yield i, raw.rstrip(b"\r").decode("utf-8", errors="replace")


def finite_rows(*cols: F64) -> np.ndarray:
    ok = np.ones(cols[0].shape[0], dtype=bool)
    for c in cols:
        ok &= np.isfinite(c)
    return ok


def is_number(s: str) -> bool:
    try:
        return math.isfinite(float(s))
    except ValueError:
        return False
