"""Read a table file (CSV, TSV, JSON Lines, Parquet) and keep what is needed to point at a row.

Every problem with the file itself (missing, empty, not UTF-8, ragged rows, broken JSON) is one
:class:`~mirage_bayes.errors.InputError` line naming the file and the row. Rows are located the
way the user sees them:

* CSV/TSV: ``row N`` as a spreadsheet numbers it (the header is row 1, the first data row is 2);
* JSON Lines: ``line N`` of the file (1-based, blank lines counted);
* Parquet: ``row index N`` as ``pandas.read_parquet(...).iloc[N]`` shows it (0-based).

CSV is read with RFC 4180 quoting; TSV with none (a cell is everything between two tabs), one
row per line, which is checked.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import re
import stat
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mirage_bayes.errors import EXIT_OS_ERROR, InputError

_CSV_SEPARATORS = {".csv": ",", ".tsv": "\t"}
_PARQUET = (".parquet", ".pq")
_JSONL = (".jsonl", ".ndjson")
SUPPORTED_SUFFIXES: tuple[str, ...] = (*_CSV_SEPARATORS, *_PARQUET, *_JSONL)

_EMPTY_FIX = "write a header and data rows"
_JSON_FIX = 'write one JSON object per line, e.g. {"model": "m", "n_params": 1e9, ...}'
_LINE_END = re.compile(r"\r\n|\r|\n")  # the line ends pandas' parser splits at
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
        # a byte-order mark even decodes as "valid" UTF-8 (found by
        # tests/inputs/test_malformed_inputs).
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


def _quoting(sep: str) -> int:
    """Tab-separated files have no quoting (IANA text/tab-separated-values): a cell starting
    with ``"`` read as CSV swallowed the rows up to the next quote (60 rows read as 56)."""
    return csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL


def _read_csv(path: Path, shown: str, sep: str, columns: Collection[str]) -> Table:
    text = _decode(path, shown)
    if not text.strip():
        raise InputError("the file is empty", where=shown, fix=_EMPTY_FIX)
    text = _skip_excel_separator_line(text, sep, shown)
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
            quoting=_quoting(sep),
        )
    except pd.errors.ParserError as err:
        raise InputError(_csv_parse_problem(str(err)), where=shown, fix=_csv_fix(sep)) from None
    except pd.errors.EmptyDataError:
        raise InputError("the file is empty", where=shown, fix=_EMPTY_FIX) from None
    # pandas renames a repeated column ("model.1"), so repeats are looked for in the raw header.
    header = csv.reader(StringIO(text, newline=""), delimiter=sep, quoting=_quoting(sep))
    _unique_columns(next(header, []), shown, columns)
    frame.columns = [str(c).strip() for c in frame.columns]
    if sep == "\t":
        _check_line_count(text, len(frame), shown)
    numbers = np.arange(len(frame)) + 2
    blank = (frame.apply(lambda col: col.str.strip()) == "").all(axis=1).to_numpy()
    # pandas silently pads a row with too few fields with "" and takes a first data row with one
    # field too many as an index, shifting every value one column: both gave a wrong fit
    # (found by tests/inputs/test_malformed_inputs). Padded rows end in "", so only then is it
    # recounted.
    if not isinstance(frame.index, pd.RangeIndex) or ((frame.iloc[:, -1] == "") & ~blank).any():
        _check_widths(text, sep, shown)
        frame = frame.reset_index(drop=True)
    if blank.any():
        frame = frame.loc[~blank].reset_index(drop=True)
        numbers = numbers[~blank]
    return Table(frame, shown, "row", numbers)


def _csv_fix(sep: str) -> str:
    if sep == "\t":
        return "make every row have one value per header column; a tab-separated cell cannot \
hold a tab or a line break (save such a table as .csv, where cells can be quoted)"
    return 'make every row have one value per header column; quote values that contain a \
comma, a quote (written as "") or a line break'


def _check_widths(text: str, sep: str, shown: str) -> None:
    """Raise for the first non-blank record whose number of fields differs from the header's."""
    # The csv module refuses cells over 128 KB by default; the check used to give up there and
    # let a short row (a missing output) through as an empty output. No cell is longer than the
    # text, so the limit is raised to that while counting.
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        records = csv.reader(StringIO(text, newline=""), delimiter=sep, quoting=_quoting(sep))
        width = len(next(records))
        for k, record in enumerate(records, start=2):
            if len(record) != width and any(cell.strip() for cell in record):
                what = f"row {k} has {len(record)} fields but the header has {width}"
                raise InputError(what, where=shown, fix=_csv_fix(sep))
    except csv.Error as err:
        raise InputError(f"cannot be parsed ({err})", where=shown, fix=_csv_fix(sep)) from None
    finally:
        csv.field_size_limit(limit)


def _check_line_count(text: str, rows: int, shown: str) -> None:
    """A tab-separated row is one line: any other count means rows were merged or split."""
    # The last line's end opens no row; blank lines do (they are dropped later).
    body = re.sub(r"(\r\n|\r|\n)\Z", "", text, count=1)
    lines = len(_LINE_END.split(body)) - 1  # less the header
    if rows != lines:
        raise InputError(
            f"read {rows} data rows from {lines} lines",
            where=shown,
            fix="write one row per line; a tab-separated cell cannot hold a line break",
        )


def _skip_excel_separator_line(text: str, sep: str, shown: str) -> str:
    """Drop the ``sep=,`` line Excel writes first (it would be read as the header).

    Excel hides that line, so the header stays row 1 and row numbers match what it shows.
    """
    first, _, rest = text.partition("\n")
    first = first.rstrip("\r")
    if not (first.lower().startswith("sep=") and len(first) == 5):
        return text
    if first[4] != sep:
        raise InputError(
            f"the first line {first!r} declares a separator other than this file type's",
            where=shown,
            fix="save the table with " + ("tabs as .tsv" if sep == "\t" else "commas as .csv"),
        )
    return rest


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


def json_lines(text: str, where: str, fix: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The records of JSON Lines text with their line numbers; one :class:`InputError` line,
    at ``where, line N``, for a line that is not a JSON object."""
    # Parsed line by line (not with pandas.read_json) so a broken line can be named exactly.
    # JSON Lines ends lines at "\n" only: str.splitlines() also splits at U+2028 or U+0085,
    # which JSON writers with ensure_ascii=False (lm-eval among them) leave raw inside strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            what = f"is not valid JSON ({err.msg} at column {err.colno})"
            raise InputError(what, where=f"{where}, line {number}", fix=fix) from None
        if not isinstance(record, dict):
            what = f"is a JSON {type(record).__name__}, not an object"
            raise InputError(what, where=f"{where}, line {number}", fix=fix)
        yield number, record


def _read_jsonl(path: Path, shown: str, columns: Collection[str]) -> Table:
    numbered = list(json_lines(_decode(path, shown), shown, _JSON_FIX))
    if not numbered:
        raise InputError("the file is empty", where=shown, fix=_JSON_FIX)
    numbers, records = zip(*numbered, strict=True)
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


def os_error(error: OSError, where: str) -> InputError:
    """An operating-system failure reading ``where`` as one line (exit code 1, not 2)."""
    what = f"cannot be read ({error.strerror or error})"
    fix = "check the file's permissions and that the disk is readable"
    return InputError(what, where=where, fix=fix, code=EXIT_OS_ERROR)


def check_readable_file(p: Path, shown: str) -> None:
    """Refuse a path that is not an existing regular file, saying what it is instead."""
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        if p.is_symlink():
            what = f"is a symbolic link to {os.readlink(p)}, which does not exist"
            raise InputError(
                what, where=shown, fix="fix the link or give the file itself"
            ) from None
        raise InputError(
            "file not found", where=shown, fix="check the path and working directory"
        ) from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            what = "is a loop of symbolic links, which lead to no file"
            raise InputError(
                what, where=shown, fix="fix the links or give the file itself"
            ) from None
        if error.errno == errno.ENAMETOOLONG:
            what = "the file name is too long for the operating system"
            raise InputError(what, where=shown, fix="give a shorter path") from None
        raise os_error(error, shown) from None
    if stat.S_ISDIR(mode):
        raise InputError("is a directory", where=shown, fix="give the path of the table itself")
    if not stat.S_ISREG(mode):
        # A named pipe read as a table came out empty (its writer had not written yet), and
        # the table is read more than once; a device is no table at all.
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "not a regular file"
        what = f"is {kind}; tables are read from regular files"
        raise InputError(what, where=shown, fix="save the table to a file and give that")


def read_table(path: str | Path, columns: Collection[str]) -> Table:
    """Read a table file; ``columns`` are the names the caller reads, which must not repeat."""
    shown = str(path)
    p = Path(path)
    check_readable_file(p, shown)
    suffix = p.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"unsupported file type {suffix or '(no suffix)'!r}",
            where=shown,
            fix=f"save the table with one of the suffixes {', '.join(SUPPORTED_SUFFIXES)}",
        )
    if p.stat().st_size == 0:
        raise InputError("the file is empty", where=shown, fix=_EMPTY_FIX)
    try:
        if suffix in _CSV_SEPARATORS:
            table = _read_csv(p, shown, _CSV_SEPARATORS[suffix], columns)
        elif suffix in _JSONL:
            table = _read_jsonl(p, shown, columns)
        else:
            table = _read_parquet(p, shown, columns)
    except OSError as error:  # e.g. no permission to read, an I/O error on the disk
        raise os_error(error, shown) from None
    if len(table.frame) == 0:
        raise InputError("has a header but no data rows", where=shown, fix=_EMPTY_FIX)
    return table


def file_sha256(path: str | Path) -> str | None:
    """SHA-256 of a file's bytes, or ``None`` when there is no such file."""
    path = Path(path)
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
