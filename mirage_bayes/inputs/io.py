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

import numpy as np
import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.inputs import choices
from mirage_bayes.inputs.attempt_counts import (
    COUNT_COLUMNS,
    UNTIL_PASS_COLUMNS,
    attempt_layout,
    counts_to_prescored,
)
from mirage_bayes.inputs.cells import (
    as_numbers,
    as_text,
    check_duplicates,
    first_index,
    identifier_column,
    is_missing,
    n_params_column,
)
from mirage_bayes.inputs.columns import rename_columns
from mirage_bayes.inputs.tables import SUPPORTED_SUFFIXES, Table
from mirage_bayes.inputs.tables import read_table as _read_any
from mirage_bayes.inputs.tables import show as _show

__all__ = ["read_outputs", "SUPPORTED_SUFFIXES"]


_RAW = ("target", "output")
_PRESCORED = ("n_tokens", "n_errors")
_COLUMNS = (
    "task", "model", "n_params", "item", "attempt", "family", *_RAW, *_PRESCORED,
    *COUNT_COLUMNS, *UNTIL_PASS_COLUMNS,
)  # fmt: skip
_MAX_COUNT = 2**53  # larger counts are not exact in float64 (1e30 became int64 -2**63)


def _attempts(table: Table, item_ids: bool) -> list[str] | None:
    """The ``attempt`` column (repeated samples of one item by one model), if there is one."""
    if "attempt" not in table.frame:
        return None
    if not item_ids:
        raise InputError(
            "an 'attempt' column needs an 'item' column",
            where=table.path,
            fix="add the item id of every row, so that the attempts of one item can be found",
        )
    return [_attempt_number(value) for value in identifier_column(table, "attempt")]


def _attempt_number(value: str) -> str:
    """An attempt number in one spelling: ``1``, ``1.0`` and ``01`` are the same attempt (a
    spreadsheet or a float column writes them differently); other ids are kept as written."""
    try:
        number = float(value)
    except ValueError:
        return value
    return str(int(number)) if number.is_integer() and abs(number) < _MAX_COUNT else value


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


def _counts(table: Table) -> tuple[np.ndarray, np.ndarray]:
    result = []
    for column in _PRESCORED:
        cells = table.frame[column].astype(object).tolist()
        numbers = as_numbers(cells)
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(numbers) & (numbers == np.floor(numbers))
        ok = whole & (numbers >= 0) & (numbers <= _MAX_COUNT)
        if not ok.all():
            # Classify only the first bad row, so the common (valid) case stays vectorised.
            i = first_index(~ok)
            if is_missing(cells[i]):
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
        raise table.fail(first_index(n_tokens == 0), what, "drop the row or give the target length")
    if (n_errors > n_tokens).any():
        i = first_index(n_errors > n_tokens)
        what = f"n_errors {n_errors[i]} is larger than n_tokens {n_tokens[i]}"
        raise table.fail(i, what, "count at most one error per target token")
    return n_tokens, n_errors


def _targets(table: Table) -> tuple[list[str], list[str]]:
    targets = as_text(table, "target", identifier=False)
    for i, value in enumerate(targets):
        if value is None:
            raw = table.frame["target"].iloc[i]
            blank = isinstance(raw, str) and raw != ""
            what = "target is only whitespace" if blank else "target is empty"
            raise table.fail(i, what, "give the expected answer in every row, or drop the row")
    # A missing generation is a legitimate (wrong) answer, not an input error; a whitespace-only
    # one is kept verbatim because the tokenizer decides what it means.
    texts = as_text(table, "output", identifier=False)  # refuses lists and bytes
    raw = table.frame["output"].tolist()
    outputs = [v if isinstance(v, str) else t or "" for v, t in zip(raw, texts, strict=True)]
    return targets, outputs  # type: ignore[return-value]  # None ruled out above


def _fill_sizes(table: Table, sizes: Callable[[list[str]], Mapping[str, float]]) -> None:
    """Add ``n_params`` from the model names when the table has no size column."""
    if "n_params" in table.frame or "model" not in table.frame:
        return  # the table's own sizes are used; a missing model column is reported later
    names = as_text(table, "model", identifier=True)
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
        (model, test item), or per attempt of it. Required columns: ``model``, ``n_params``
        (> 0) and either ``target``
        + ``output`` (raw generations) or ``n_tokens`` + ``n_errors`` (pre-scored counts).
        Optional: ``task``, ``item``, ``family``, ``attempt`` (an id per repeated sample of
        one item by one model, e.g. Inspect's epochs; needs ``item``). Instead of rows per
        attempt, counts per (model, item): ``n_attempts`` + ``n_success``, or
        ``attempts_to_pass`` (empty: no pass) + ``max_attempts``
        (:mod:`mirage_bayes.inputs.attempt_counts`). Other columns are ignored. If both the
        raw and the pre-scored columns are present, the raw text is used.
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
        validated by :func:`mirage_bayes.inputs.choices.read_choice_table` instead and comes back
        with ``attrs["kind"] == "multiple_choice"``.

    Raises
    ------
    InputError
        For any problem with the file, in one line naming the file, row or column, the problem
        and the fix.
    """

    table = _read_any(path, (*_COLUMNS, *choices.CHOICE_COLUMNS))
    if columns:
        rename_columns(table, columns)
    if sizes is not None:
        _fill_sizes(table, sizes)
    if choices.is_choice_table(table.frame):
        return choices.read_choice_table(table)  # a multiple-choice table (answer + choices)
    layout = attempt_layout(table)
    if layout is not None:
        counts_to_prescored(table, layout)
    prescored, item_ids = _require_columns(table)
    n = len(table.frame)
    models = identifier_column(table, "model")
    tasks = identifier_column(table, "task") if "task" in table.frame else ["default"] * n
    n_params = n_params_column(table, models)
    items: list[str] | list[None] = identifier_column(table, "item") if item_ids else [None] * n
    has_family = "family" in table.frame
    family = as_text(table, "family", identifier=True) if has_family else [None] * n
    attempts = _attempts(table, item_ids)
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
    if attempts is not None:
        out["attempt"] = pd.Series(attempts, dtype=str)
    if layout is not None:
        out["n_attempts"] = table.frame["n_attempts"].to_numpy(np.int64)
        out["n_success"] = table.frame["n_success"].to_numpy(np.int64)
        out["until_pass"] = layout == "until_pass"
    if item_ids:
        check_duplicates(table, tasks, models, items, attempts)  # type: ignore[arg-type]
    out.attrs["prescored"] = prescored
    if not prescored and all(c in table.frame for c in _PRESCORED):
        # Raw text wins (see _require_columns); the caller says so rather than drop them quietly.
        out.attrs["ignored_columns"] = list(_PRESCORED)
    out.attrs["item_ids"] = item_ids
    out.attrs["source"] = str(path)
    return out
