"""Reading the cells of a per-item table: missing values, text and identifiers, numbers, model
sizes, duplicates. Shared by the outputs reader (:mod:`mirage_bayes.inputs.io`), the multiple-choice
reader (:mod:`mirage_bayes.inputs.choices`) and the aggregate-table reader of ``meta``; each
problem is one :class:`~mirage_bayes.errors.InputError` naming the row.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.tables import Table, show

# Cell values that are no text, number or name: str() of them was once taken for one.
CONTAINERS = (list, dict, tuple, np.ndarray, bytes, bytearray)

__all__ = [
    "as_numbers",
    "as_text",
    "check_duplicates",
    "first_index",
    "identifier_column",
    "is_missing",
    "n_params_column",
]


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists or dicts from JSON are values, not missing
        return False


def as_text(table: Table, column: str, *, identifier: bool) -> list[str | None]:
    """Cells as Python strings (None where missing); numbers written the way a user typed them."""
    out: list[str | None] = []
    for value in table.frame[column].tolist():
        if type(value) is str:  # the common case first: this loop runs once per cell
            text = value.strip()
            out.append((text if identifier else value) if text else None)
        elif isinstance(value, CONTAINERS):
            # str() of a JSON list or a Parquet list/binary cell was taken as a name or answer.
            kind = "bytes" if isinstance(value, bytes | bytearray) else "a list or object"
            what = f"{column} holds {kind}, not text"
            raise table.fail(len(out), what, f"give {column} as a plain string in every row")
        elif is_missing(value):
            out.append(None)
        elif identifier and isinstance(value, float) and value.is_integer():
            # An id column that passed through a float (Parquet/JSON 3.0) should still read "3".
            out.append(str(int(value)))
        else:
            out.append(str(value))
    return out


def first_index(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def identifier_column(table: Table, column: str) -> list[str]:
    values = as_text(table, column, identifier=True)
    for i, value in enumerate(values):
        if value is None:
            optional = " or drop the column" if column != "model" else ""
            raise table.fail(i, f"column {column!r} is empty", f"fill in every {column}{optional}")
    return values  # type: ignore[return-value]  # None ruled out above


def n_params_column(table: Table, models: list[str]) -> np.ndarray:
    cells = table.frame["n_params"].astype(object).tolist()
    missing = np.fromiter(
        (not v.strip() if type(v) is str else is_missing(v) for v in cells), bool, len(cells)
    )
    numbers = as_numbers(cells)
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
            i = first_index(mask)
            what = "n_params is empty" if missing[i] else f"n_params {show(cells[i])} {problem}"
            raise table.fail(i, what, "give the parameter count as a number such as 1.3e9")
    # A model has one size whatever the task: the scaling law is indexed by model size.
    frame = pd.DataFrame({"model": models, "n": numbers})
    first = frame.groupby("model", sort=False)["n"].transform("first").to_numpy()
    conflict = numbers != first
    if conflict.any():
        j = first_index(conflict)
        i = first_index(np.asarray(models, dtype=object) == models[j])
        raise InputError(
            f"model {models[j]!r} has n_params {first[j]:g} here and {numbers[j]:g} later",
            where=table.rows(i, j),
            fix="give each model a single parameter count in every row and task",
        )
    return numbers


def as_numbers(cells: list[Any]) -> np.ndarray:
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


def check_duplicates(
    table: Table,
    tasks: list[str],
    models: list[str],
    items: list[str],
    attempts: list[str] | None = None,
    *,
    repeats_readable: bool = True,
) -> None:
    """Refuse two rows of one (task, model, item), or of one attempt of it with ``attempts``;
    ``repeats_readable``: whether the table's kind reads repeated attempts (the fix says so)."""
    keys = pd.DataFrame({"task": tasks, "model": models, "item": items})
    if attempts is not None:
        keys["attempt"] = attempts
    dup = keys.duplicated(keep="first").to_numpy()
    if dup.any():
        j = first_index(dup)
        same = (keys == keys.iloc[j]).all(axis=1).to_numpy()
        i = first_index(same)
        if attempts is not None:
            raise InputError(
                f"duplicate row for task {tasks[j]!r}, model {models[j]!r}, item {items[j]!r}, "
                f"attempt {attempts[j]!r}",
                where=table.rows(i, j),
                fix="number each attempt of an item once per model",
            )
        fix = "keep one row per model and item"
        if repeats_readable:
            fix += ", or number repeated attempts in an 'attempt' column"
        raise InputError(
            f"duplicate row for task {tasks[j]!r}, model {models[j]!r}, item {items[j]!r}",
            where=table.rows(i, j),
            fix=fix,
        )
