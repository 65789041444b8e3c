"""Read a table file (CSV, TSV, JSON Lines, Parquet) and keep what is needed to point at a row.

Every problem with the file itself (missing, empty, not UTF-8, ragged rows, broken JSON) is one
:class:`~mirage_bayes.errors.InputError` line naming the file and the row. Rows are located the
way the user sees them:

* CSV/TSV: ``row N`` as a spreadsheet numbers it (the header is row 1, the first data row is 2);
* JSON Lines: ``line N`` of the file (1-based, blank lines counted);
* Parquet: ``row index N`` as ``pandas.read_parquet(...).iloc[N]`` shows it (0-based).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Collection
from contextlib import suppress
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mirage_bayes.errors import InputError

_CSV_SEPARATORS = {".csv": ",", ".tsv": "\t"}
_PARQUET = (".parquet", ".pq")
_JSONL = (".jsonl", ".ndjson")
SUPPORTED_SUFFIXES: tuple[str, ...] = (*_CSV_SEPARATORS, *_PARQUET, *_JSONL)

_EMPTY_FIX = "write a header and data rows"
_JSON_FIX = 'write one JSON object per line, e.g. {"model": "m", "n_params": 1e9, ...}'
_SHOWN = 60  # longest cell value quoted in a message; long generations would flood the line


@dataclass
class Table:
    """A freshly read table plus what is needed to point the user at one of its rows.

    ``frame`` has a 0-based RangeIndex; ``path`` is the file as the user named it; ``kind`` is how
    rows are called in this format (``"row"``, ``"line"`` or ``"row index"``) and ``numbers``
    holds, for each row of ``frame``, the number the user would look up.
    """

    frame: pd.DataFrame
    path: str
    kind: str
    numbers: np.ndarray

    def at(self, i: int) -> str:
        """Location string for positional row ``i``."""
        return f"{self.path}, {self.kind} {int(self.numbers[i])}"

    def fail(self, i: int, what: str, fix: str) -> InputError:
        """The error for a problem in positional row ``i``."""
        return InputError(what, where=self.at(i), fix=fix)

    def rows(self, i: int, j: int) -> str:
        """Location string naming two rows, e.g. ``"rows 2 and 5"``."""
        kind = {"row": "rows", "line": "lines"}.get(self.kind, "row indices")
        return f"{self.path}, {kind} {int(self.numbers[i])} and {int(self.numbers[j])}"


def show(value: Any) -> str:
    """Quote a cell value for a message, shortened and kept on one line."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def one_line(text: str) -> str:
    """Collapse a library's (possibly multi-line) error text so the message stays one line."""
    return " ".join(str(text).split())


def _decode(path: Path, where: str) -> str:
    """Return the file's text, reporting where non-UTF-8 bytes are (a common spreadsheet export)."""
    data = path.read_bytes()
    if (nul := data.find(b"\x00")) >= 0:
        # No text table holds a NUL byte; pandas would keep it inside a cell, and UTF-16 without
        # a byte-order mark even decodes as "valid" UTF-8 (found by tests/test_malformed_inputs).
        line = data.count(b"\n", 0, nul) + 1
        what = f"line {line} (byte offset {nul}) contains a NUL byte"
        fix = "save the table as UTF-8 text (this looks like UTF-16 or a binary file)"
        raise InputError(what, where=where, fix=fix)
    try:
        # utf-8-sig drops the byte-order mark Excel writes, which would otherwise end up glued to
        # the first column name and make "model" look missing.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(
            f"line {line} (byte offset {err.start}) is not valid UTF-8 "
            f"(byte 0x{data[err.start]:02x})",
            where=where,
            fix="re-save the file with UTF-8 encoding, e.g. `iconv -f latin1 -t utf-8 in > out`",
        ) from None


def _read_csv(path: Path, shown: str, sep: str, columns: Collection[str]) -> Table:
    text = _decode(path, shown)
    if not text.strip():
        raise InputError("the file is empty", where=shown, fix=_EMPTY_FIX)
    try:
        # Everything as text, nothing turned into NaN: validation below decides what a value
        # means, so a target such as "NA" or "None" stays an answer instead of becoming missing.
        # Blank lines are kept (and dropped below) so row numbers match what a spreadsheet shows.
        frame = pd.read_csv(
            StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
        )
    except pd.errors.ParserError as err:
        raise InputError(_csv_parse_problem(str(err)), where=shown, fix=_csv_fix(sep)) from None
    except pd.errors.EmptyDataError:
        raise InputError("the file is empty", where=shown, fix=_EMPTY_FIX) from None
    # pandas renames a repeated column ("model.1"), so repeats are looked for in the raw header.
    _unique_columns(next(csv.reader(StringIO(text, newline=""), delimiter=sep), []), shown, columns)
    frame.columns = [str(c).strip() for c in frame.columns]
    numbers = np.arange(len(frame)) + 2
    blank = (frame.apply(lambda col: col.str.strip()) == "").all(axis=1).to_numpy()
    # pandas silently pads a row with too few fields with "" and takes a first data row with one
    # field too many as an index, shifting every value one column: both gave a wrong fit
    # (found by tests/test_malformed_inputs). Padded rows end in "", so only then is it recounted.
    if not isinstance(frame.index, pd.RangeIndex) or ((frame.iloc[:, -1] == "") & ~blank).any():
        _check_widths(text, sep, shown)
        frame = frame.reset_index(drop=True)
    if blank.any():
        frame = frame.loc[~blank].reset_index(drop=True)
        numbers = numbers[~blank]
    return Table(frame, shown, "row", numbers)


def _csv_fix(sep: str) -> str:
    name = "tab" if sep == "\t" else "comma"
    return f'make every row have one value per header column; quote values that contain a \
{name}, a quote (written as "") or a line break'


def _check_widths(text: str, sep: str, shown: str) -> None:
    """Raise for the first non-blank record whose number of fields differs from the header's."""
    with suppress(csv.Error):  # e.g. a cell beyond the csv module's size limit: trust pandas
        records = csv.reader(StringIO(text, newline=""), delimiter=sep)
        width = len(next(records))
        for k, record in enumerate(records, start=2):
            if len(record) != width and any(cell.strip() for cell in record):
                what = f"row {k} has {len(record)} fields but the header has {width}"
                raise InputError(what, where=shown, fix=_csv_fix(sep))


def _unique_columns(names: list[Any], shown: str, columns: Collection[str]) -> None:
    """Refuse a column the analysis reads appearing twice (also after stripping spaces)."""
    stripped = [str(n).strip() for n in names]
    for name in (n for n in columns if stripped.count(n) > 1):
        fix = "keep one column of each name (rename or drop the others)"
        raise InputError(f"column {name!r} appears more than once", where=shown, fix=fix)


def _csv_parse_problem(text: str) -> str:
    """Turn pandas' tokenizer message into a plain statement with the user's line number."""
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if fields:
        want, line, got = fields.groups()
        return f"row {line} has {got} fields but the header has {want}"
    quote = re.search(r"EOF inside string starting at row (\d+)", text)
    if quote:
        # The C parser counts lines from 0 here, the header included.
        return f"a quoted field starting on line {int(quote.group(1)) + 1} is never closed"
    return f"cannot be parsed as CSV ({one_line(text)})"


def _read_jsonl(path: Path, shown: str, columns: Collection[str]) -> Table:
    text = _decode(path, shown)
    records: list[dict[str, Any]] = []
    numbers: list[int] = []
    # Parsed line by line (not with pandas.read_json) so a broken line can be named exactly.
    # JSON Lines ends lines at "\n" only: str.splitlines() also splits at U+2028 or U+0085,
    # which JSON writers with ensure_ascii=False leave raw inside strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            what = f"line {number} is not valid JSON ({err.msg} at column {err.colno})"
            raise InputError(what, where=shown, fix=_JSON_FIX) from None
        if not isinstance(record, dict):
            what = f"line {number} is a JSON {type(record).__name__}, not an object"
            raise InputError(what, where=shown, fix=_JSON_FIX)
        records.append(record)
        numbers.append(number)
    if not records:
        raise InputError("the file is empty", where=shown, fix=_JSON_FIX)
    frame = pd.DataFrame.from_records(records)
    # " model" and "model" would both become "model"
    _unique_columns(list(frame.columns), shown, columns)
    frame.columns = [str(c).strip() for c in frame.columns]
    return Table(frame.astype(object), shown, "line", np.asarray(numbers))


def _read_parquet(path: Path, shown: str, columns: Collection[str]) -> Table:
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several unrelated types for a bad file
        # pyarrow repeats the path; the location already names it.
        detail = one_line(str(err)).replace(f" '{path}'", "").replace(f" '{path.resolve()}'", "")
        raise InputError(
            f"cannot be read as Parquet ({type(err).__name__}: {detail})",
            where=shown,
            fix="check the file is complete and was written as Parquet, or export it as CSV",
        ) from None
    frame = frame.reset_index(drop=True)
    _unique_columns(list(frame.columns), shown, columns)
    frame.columns = [str(c).strip() for c in frame.columns]
    return Table(frame, shown, "row index", np.arange(len(frame)))


def read_table(path: str | Path, columns: Collection[str]) -> Table:
    """Read a table file; ``columns`` are the names the caller reads, which must not repeat."""
    shown = str(path)
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", where=shown, fix="check the path and working directory")
    if p.is_dir():
        raise InputError("is a directory", where=shown, fix="give the path of the table itself")
    suffix = p.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"unsupported file type {suffix or '(no suffix)'!r}",
            where=shown,
            fix=f"save the table with one of the suffixes {', '.join(SUPPORTED_SUFFIXES)}",
        )
    if p.stat().st_size == 0:
        raise InputError("the file is empty", where=shown, fix=_EMPTY_FIX)
    if suffix in _CSV_SEPARATORS:
        table = _read_csv(p, shown, _CSV_SEPARATORS[suffix], columns)
    elif suffix in _JSONL:
        table = _read_jsonl(p, shown, columns)
    else:
        table = _read_parquet(p, shown, columns)
    if len(table.frame) == 0:
        raise InputError("has a header but no data rows", where=shown, fix=_EMPTY_FIX)
    return table
