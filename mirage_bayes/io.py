"""Read and validate a per-item outputs table (one row per model and test item).

The table is the only input the analysis needs, so every problem in it is reported as a single
:class:`~mirage_bayes.errors.InputError` line that names the file, the row or column, what is
wrong and how to fix it. Rows are located the way the user sees them:

* CSV/TSV: ``row N`` as a spreadsheet numbers it (the header is row 1, the first data row is 2);
* JSON Lines: ``line N`` of the file (1-based, blank lines counted);
* Parquet: ``row index N`` as ``pandas.read_parquet(...).iloc[N]`` shows it (0-based).

Identifier columns (``task``, ``model``, ``item``, ``family``) have surrounding whitespace
removed; ``target`` and ``output`` are kept verbatim because whitespace can be part of an answer
(the scorer decides how to tokenise it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.tables import SUPPORTED_SUFFIXES, Table
from mirage_bayes.tables import read_table as _read_any
from mirage_bayes.tables import show as _show

__all__ = ["read_outputs", "SUPPORTED_SUFFIXES"]


_RAW = ("target", "output")
_PRESCORED = ("n_tokens", "n_errors")
_COLUMNS = ("task", "model", "n_params", "item", "family", *_RAW, *_PRESCORED)
_MAX_COUNT = 2**53  # larger counts are not exact in float64 (1e30 became int64 -2**63)
_CONTAINERS = (list, dict, tuple, np.ndarray, bytes, bytearray)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists or dicts from JSON are values, not missing
        return False


def _as_text(table: Table, column: str, *, identifier: bool) -> list[str | None]:
    """Cells as Python strings (None where missing); numbers written the way a user typed them."""
    out: list[str | None] = []
    for value in table.frame[column].tolist():
        if type(value) is str:  # the common case first: this loop runs once per cell
            text = value.strip()
            out.append((text if identifier else value) if text else None)
        elif isinstance(value, _CONTAINERS):
            # str() of a JSON list or a Parquet list/binary cell was taken as a name or answer.
            kind = "bytes" if isinstance(value, bytes | bytearray) else "a list or object"
            what = f"{column} holds {kind}, not text"
            raise table.fail(len(out), what, f"give {column} as a plain string in every row")
        elif _is_missing(value):
            out.append(None)
        elif identifier and isinstance(value, float) and value.is_integer():
            # An id column that passed through a float (Parquet/JSON 3.0) should still read "3".
            out.append(str(int(value)))
        else:
            out.append(str(value))
    return out


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _require_columns(table: Table) -> tuple[bool, bool]:
    """Check required columns; return (prescored, item ids present)."""
    columns = list(table.frame.columns)
    have = set(columns)
    missing = [c for c in ("model", "n_params") if c not in have]
    raw_ok = all(c in have for c in _RAW)
    pre_ok = all(c in have for c in _PRESCORED)
    if not raw_ok and not pre_ok:
        raw_gap = [c for c in _RAW if c not in have]
        pre_gap = [c for c in _PRESCORED if c not in have]
        if len(raw_gap) == 2 and len(pre_gap) == 2:
            missing.append("target+output or n_tokens+n_errors")
        else:
            # Point at the pair the user evidently meant (the one partly present).
            missing.extend(raw_gap if len(raw_gap) < 2 else pre_gap)
    if missing:
        hint = ""
        lower = {c.lower(): c for c in columns}
        near = [f"{lower[m]!r} for {m!r}" for m in missing if m in lower]
        if near:
            hint = f" (column names are case-sensitive: {', '.join(near)}?)"
        raise InputError(
            f"missing required column(s) {', '.join(missing)}; the file has "
            f"{', '.join(repr(c) for c in columns) or 'no columns'}{hint}",
            where=table.path,
            fix="add or rename the columns: model, n_params and either target+output "
            "(raw generations) or n_tokens+n_errors (pre-scored)",
        )
    # Raw text wins when both are present: the scorer then recomputes the counts consistently.
    return not raw_ok, "item" in have


def _identifier(table: Table, column: str) -> list[str]:
    values = _as_text(table, column, identifier=True)
    for i, value in enumerate(values):
        if value is None:
            optional = " or drop the column" if column != "model" else ""
            raise table.fail(i, f"column {column!r} is empty", f"fill in every {column}{optional}")
    return values  # type: ignore[return-value]  # None ruled out above


def _n_params(table: Table, models: list[str]) -> np.ndarray:
    cells = table.frame["n_params"].astype(object).tolist()
    missing = np.fromiter(
        (not v.strip() if type(v) is str else _is_missing(v) for v in cells), bool, len(cells)
    )
    numbers = _numbers(cells)
    with np.errstate(invalid="ignore"):
        positive = numbers > 0
    checks = [
        (missing, "is empty"),
        (np.isnan(numbers), "is not a number"),
        (np.isinf(numbers), "is infinite"),
        (~positive, "is not positive"),
    ]
    for mask, problem in checks:
        if mask.any():
            i = _first(mask)
            what = "n_params is empty" if missing[i] else f"n_params {_show(cells[i])} {problem}"
            raise table.fail(i, what, "give the parameter count as a number such as 1.3e9")
    # A model has one size whatever the task: the scaling law is indexed by model size.
    frame = pd.DataFrame({"model": models, "n": numbers})
    first = frame.groupby("model", sort=False)["n"].transform("first").to_numpy()
    conflict = numbers != first
    if conflict.any():
        j = _first(conflict)
        i = _first(np.asarray(models, dtype=object) == models[j])
        raise InputError(
            f"model {models[j]!r} has n_params {first[j]:g} here and {numbers[j]:g} later",
            where=table.rows(i, j),
            fix="give each model a single parameter count in every row and task",
        )
    return numbers


def _numbers(cells: list[Any]) -> np.ndarray:
    """Cells as floats, NaN where a cell is not a number (booleans count as not a number)."""
    stripped = [v.strip() if isinstance(v, str) else v for v in cells]
    # A JSON list or dict in a cell is no number either (to_numeric would raise on it).
    stripped = [v if isinstance(v, str | int | float) else math.nan for v in stripped]
    # A JSON integer beyond float range made to_numeric raise OverflowError; as text it is inf.
    stripped = [str(v) if type(v) is int and abs(v) > 1e300 else v for v in stripped]
    numbers = pd.to_numeric(pd.Series(stripped, dtype=object), errors="coerce")
    values = numbers.to_numpy(dtype=float, na_value=np.nan, copy=True)
    booleans = np.fromiter((isinstance(v, bool | np.bool_) for v in cells), bool, len(cells))
    values[booleans] = np.nan
    return values


def _counts(table: Table) -> tuple[np.ndarray, np.ndarray]:
    result = []
    for column in _PRESCORED:
        cells = table.frame[column].astype(object).tolist()
        numbers = _numbers(cells)
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(numbers) & (numbers == np.floor(numbers))
        ok = whole & (numbers >= 0) & (numbers <= _MAX_COUNT)
        if not ok.all():
            # Classify only the first bad row, so the common (valid) case stays vectorised.
            i = _first(~ok)
            if _is_missing(cells[i]):
                what = f"column {column!r} is empty"
            elif not whole[i]:
                what = f"{column} {_show(cells[i])} is not a whole number"
            else:
                size = "negative" if numbers[i] < 0 else f"larger than {_MAX_COUNT}"
                what = f"{column} {_show(cells[i])} is {size}"
            raise table.fail(i, what, f"give {column} as a whole number >= 0")
        result.append(numbers.astype(np.int64))
    n_tokens, n_errors = result
    if (n_tokens == 0).any():
        what = "n_tokens is 0, but an item must have at least one target token"
        raise table.fail(_first(n_tokens == 0), what, "drop the row or give the target length")
    if (n_errors > n_tokens).any():
        i = _first(n_errors > n_tokens)
        what = f"n_errors {n_errors[i]} is larger than n_tokens {n_tokens[i]}"
        raise table.fail(i, what, "count at most one error per target token")
    return n_tokens, n_errors


def _targets(table: Table) -> tuple[list[str], list[str]]:
    targets = _as_text(table, "target", identifier=False)
    for i, value in enumerate(targets):
        if value is None:
            raw = table.frame["target"].iloc[i]
            blank = isinstance(raw, str) and raw != ""
            what = "target is only whitespace" if blank else "target is empty"
            raise table.fail(i, what, "give the expected answer in every row, or drop the row")
    # A missing generation is a legitimate (wrong) answer, not an input error; a whitespace-only
    # one is kept verbatim because the tokenizer decides what it means.
    texts = _as_text(table, "output", identifier=False)  # refuses lists and bytes
    raw = table.frame["output"].tolist()
    outputs = [v if isinstance(v, str) else t or "" for v, t in zip(raw, texts, strict=True)]
    return targets, outputs  # type: ignore[return-value]  # None ruled out above


def _check_duplicates(table: Table, tasks: list[str], models: list[str], items: list[str]) -> None:
    keys = pd.DataFrame({"task": tasks, "model": models, "item": items})
    dup = keys.duplicated(keep="first").to_numpy()
    if dup.any():
        j = _first(dup)
        same = (keys == keys.iloc[j]).all(axis=1).to_numpy()
        i = _first(same)
        raise InputError(
            f"duplicate row for task {tasks[j]!r}, model {models[j]!r}, item {items[j]!r}",
            where=table.rows(i, j),
            fix="keep one row per model and item (use a different task name for repeats)",
        )


def _rename_columns(table: Table, columns: Mapping[str, str]) -> None:
    """Give the file's columns the names read here (``{"target": "answer"}``), in place."""
    have = [str(c) for c in table.frame.columns]
    missing = [f"{key}={name}" for key, name in columns.items() if name not in have]
    if missing:
        raise InputError(
            f"the column mapping {', '.join(missing)} names a column the file does not have; "
            f"it has {', '.join(repr(c) for c in have)}",
            where=table.path,
            fix="map to column names exactly as the file's header spells them",
        )
    # The mapping is explicit, so it wins over a column that already carries the name.
    replaced = [key for key in columns if key in have and key not in columns.values()]
    frame = table.frame.drop(columns=replaced)
    table.frame = frame.rename(columns={name: key for key, name in columns.items()})


def _fill_sizes(table: Table, sizes: Callable[[list[str]], Mapping[str, float]]) -> None:
    """Add ``n_params`` from the model names when the table has no size column."""
    if "n_params" in table.frame or "model" not in table.frame:
        return  # the table's own sizes are used; a missing model column is reported later
    names = _as_text(table, "model", identifier=True)
    try:
        known = sizes([n for n in dict.fromkeys(names) if n is not None])
    except InputError as error:
        if error.where is None:
            # Unknown sizes from the built-in table: the file lacks the column that would say them.
            error.what = f"missing required column(s) n_params, and {error.what}"
            error.where = table.path
        raise
    table.frame["n_params"] = [math.nan if n is None else known.get(n, math.nan) for n in names]


def read_outputs(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    sizes: Callable[[list[str]], Mapping[str, float]] | None = None,
) -> pd.DataFrame:
    """Read and validate a per-item outputs table.

    Parameters
    ----------
    path
        A ``.csv``, ``.tsv``, ``.parquet``/``.pq`` or ``.jsonl``/``.ndjson`` file with one row per
        (model, test item). Required columns: ``model``, ``n_params`` (> 0) and either ``target``
        + ``output`` (raw generations) or ``n_tokens`` + ``n_errors`` (pre-scored counts).
        Optional: ``task``, ``item``, ``family``. Other columns are ignored. If both the raw and
        the pre-scored columns are present, the raw text is used.
    columns
        Column mapping applied before validation, ``{column read: the file's column}``, e.g.
        ``{"target": "answer", "output": "prediction"}`` for a HELM-like table. A mapped column
        replaces a column that already has the name it is mapped to.
    sizes
        Used only when the table has no ``n_params`` column: called with the model names, it
        returns their parameter counts (or raises :class:`InputError` naming unknown models).

    Returns
    -------
    pandas.DataFrame
        Columns, in order: ``task``, ``model`` (str), ``n_params`` (float64), ``item`` (str, or
        all missing when the file has no item column), ``family`` (str, missing allowed), then
        ``target``, ``output`` (str; a missing output becomes ``""``) or ``n_tokens``,
        ``n_errors`` (int64). Rows stay in file order. ``attrs`` holds ``"prescored"`` (bool),
        ``"item_ids"`` (bool) and ``"source"`` (the path as given).

        A multiple-choice table (``answer`` plus ``choices_logprobs`` or ``choices_probs``) is
        validated by :func:`mirage_bayes.choices.read_choice_table` instead and comes back with
        ``attrs["kind"] == "multiple_choice"``.

    Raises
    ------
    InputError
        For any problem with the file, in one line naming the file, row or column, the problem
        and the fix.
    """
    from mirage_bayes import choices  # here, not at the top: it builds on this module's checks

    table = _read_any(path, (*_COLUMNS, *choices.CHOICE_COLUMNS))
    if columns:
        _rename_columns(table, columns)
    if sizes is not None:
        _fill_sizes(table, sizes)
    if choices.is_choice_table(table.frame):
        return choices.read_choice_table(table)  # a multiple-choice table (answer + choices)
    prescored, item_ids = _require_columns(table)
    n = len(table.frame)
    models = _identifier(table, "model")
    tasks = _identifier(table, "task") if "task" in table.frame else ["default"] * n
    n_params = _n_params(table, models)
    items: list[str] | list[None] = _identifier(table, "item") if item_ids else [None] * n
    has_family = "family" in table.frame
    family = _as_text(table, "family", identifier=True) if has_family else [None] * n
    out = pd.DataFrame(
        {
            "task": pd.Series(tasks, dtype=str),
            "model": pd.Series(models, dtype=str),
            "n_params": n_params.astype(np.float64),
            "item": pd.Series(items, dtype=str if item_ids else object),
            "family": pd.Series(family, dtype=object),  # None where not given
        }
    )
    if prescored:
        out["n_tokens"], out["n_errors"] = _counts(table)
    else:
        out["target"], out["output"] = (pd.Series(c, dtype=str) for c in _targets(table))
    if item_ids:
        _check_duplicates(table, tasks, models, items)  # type: ignore[arg-type]
    out.attrs["prescored"] = prescored
    out.attrs["item_ids"] = item_ids
    out.attrs["source"] = str(path)
    return out
