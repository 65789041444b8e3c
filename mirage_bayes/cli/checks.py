"""Checks and helpers of the command line that keep its promise: every problem is one line on
standard error with exit code 1 (operating system) or 2 (input), found before any long work, and
nothing is left half written.

Module-level imports stay light (no pandas, no PyMC), like the rest of the command line.
"""

from __future__ import annotations

import argparse
import csv
import errno
import json
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mirage_bayes.errors import EXIT_OS_ERROR, InputError, one_line

__all__ = [
    "NEGATIVE_NUMBERS",
    "os_failure",
    "probe_folder",
    "refuse_existing",
    "refuse_foreign_table",
    "refuse_generation_options",
    "write_tables",
]

_EXISTS_FIX = "choose another path, or pass --force to overwrite a table mirage-bayes wrote"

# A negative number, or a comma-separated list starting with one ("-1e9", "-0.5,2"): argparse
# took "--n-params -1e9" for two options ("expected one argument"), as it knows only "-1" and
# "-1.5" as numbers. No option of mirage-bayes looks like a number, so these are values.
_NUMBER = r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|-?(inf|nan)"
NEGATIVE_NUMBERS = re.compile(rf"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(,({_NUMBER})?)*$", re.I)


def refuse_generation_options(args: argparse.Namespace, source: str) -> None:
    """Options that shape the scoring of generations were silently ignored for a choice table."""
    given = {
        "--lengths": bool(args.lengths),
        "--tokenizer": args.tokenizer != "auto",
        "--chance": args.chance is not None,
        "--choices": args.choices != 2,
        "--k": bool(args.k),
        "--items": args.items != "auto",
    }
    for flag in (f for f, on in given.items() if on):
        raise InputError(
            f"is a multiple-choice table, to which {flag} does not apply",
            where=str(source),
            fix=f"leave out {flag} (it is for target/output tables)",
        )


def probe_folder(folder: Path, where: str) -> None:
    """Refuse, before any work, a folder that is missing or cannot be written to.

    A test file is created and removed: permission bits do not tell (root may write anywhere,
    a read-only mount refuses everyone), and a full disk shows only when writing.
    """
    if not folder.is_dir():
        raise InputError(
            f"the folder {folder} does not exist",
            where=where,
            fix="create it first, or give a path in an existing folder",
        )
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".mirage-bayes-probe-") as probe:
            probe.write(b"probe")
            probe.flush()
    except OSError as error:
        raise InputError(
            f"cannot write into {folder} ({error.strerror or error})",
            where=where,
            fix="free disk space or fix the folder's permissions, or write elsewhere",
            code=EXIT_OS_ERROR,
        ) from None


def _columns(path: Path) -> list[str] | None:
    """The column names of a CSV, JSON Lines or Parquet table (``None`` if unreadable)."""
    try:
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            import pyarrow.parquet  # only when a Parquet file is about to be replaced

            return list(pyarrow.parquet.read_schema(path).names)
        with path.open(encoding="utf-8", newline="") as file:
            if suffix == ".jsonl":
                first = json.loads(file.readline())
                return list(first) if isinstance(first, dict) else None
            return next(csv.reader(file), None)
    except (OSError, UnicodeDecodeError, ValueError, ImportError):
        return None


def refuse_existing(path: Path, *, force: bool) -> None:
    """Refuse an output file that exists, without ``force`` (called before long work, and again
    by :func:`refuse_foreign_table` just before writing)."""
    if os.path.lexists(path) and not force:
        raise InputError("file exists", where=str(path), fix=_EXISTS_FIX)


def refuse_foreign_table(
    path: Path, columns: Sequence[str], *, force: bool, inputs: Sequence[str | Path] = ()
) -> None:
    """Before a table is written to ``path``: refuse an existing file unless ``force`` and it is
    a table with the same columns, as mirage-bayes wrote it before, and refuse a path that is
    or lies inside one of ``inputs`` even then. A user's file is never overwritten."""
    target = Path(os.path.abspath(path))
    for item in inputs:
        source = Path(os.path.abspath(item))
        if target == source or source in target.parents:
            raise InputError(
                f"is {'the' if target == source else 'inside the'} input {item}, which would be "
                "replaced",
                where=str(path),
                fix="write the table somewhere else",
            )
    refuse_existing(path, force=force)
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_file():
        raise InputError("exists and is not a file", where=str(path), fix="choose another path")
    if _columns(path) != list(columns):
        raise InputError(
            "not a table mirage-bayes wrote (its columns differ from the new table's), so "
            "--force will not overwrite it",
            where=str(path),
            fix="choose another path",
        )


def write_tables(tables: dict) -> None:
    """Write every table or none: all go to hidden temporary files, renamed at the end."""
    staged = {path: path.with_name(f".{path.name}.tmp") for path in tables}
    try:
        for path, table in tables.items():
            tmp, suffix = staged[path], path.suffix.lower()
            if suffix == ".parquet":
                table.to_parquet(tmp, index=False)
            elif suffix == ".jsonl":
                table.to_json(tmp, orient="records", lines=True)
            else:
                table.to_csv(tmp, index=False)
        for path, tmp in staged.items():
            os.replace(tmp, path)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)


_OS_FIXES = {
    errno.ENOSPC: "free disk space",
    errno.ENOENT: "create the folder first",
    errno.ENAMETOOLONG: "give a shorter path",
}


def os_failure(error: OSError) -> str:
    """One line for an operating-system failure: where, what, and that nothing was written."""
    # Name the file the user asked for, not the hidden temporary one it is written as first.
    name = re.sub(r"^\.(.+)\.tmp$", r"\1", Path(error.filename).name) if error.filename else ""
    where = f"{Path(error.filename).with_name(name)}: " if name else ""
    what = error.strerror or str(error) or type(error).__name__
    fix = _OS_FIXES.get(error.errno, "fix the permissions or write elsewhere")
    return one_line(f"{where}{what} — nothing was written and earlier results are kept; {fix}")
