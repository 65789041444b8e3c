"""Multiple-choice tasks: per-item metrics, and reading and validating a multiple-choice table.

A multiple-choice table has one row per (model, test item) with ``answer`` (the 0-based index of
the correct choice) and either ``choices_logprobs`` (the log-probability the model gives each
choice, as lm-evaluation-harness records it: a JSON list) or ``choices_probs`` (probabilities
that sum to 1), besides the ``model``, ``n_params`` and optional ``task``, ``item``, ``family``
columns of every outputs table.

Metrics of one item, with ``p = softmax(choices_logprobs)`` over its choices (log-likelihoods of
continuations are not normalised over the choices; lm-evaluation-harness normalises the same way):

* multiple-choice grade: 1 when the correct choice has strictly the largest log-probability, else
  0 — a tie with a wrong choice counts as wrong, since argmax would pick either;
* Brier score ``Σ_k (p_k − onehot_k)²`` (lm-evaluation-harness' definition), in ``[0, 2]``;
* ``p_correct``, the probability on the correct choice, and its cross-entropy
  ``L_CE = −log p_correct``, modelled by :mod:`mirage_bayes.models.choice` through
  ``log_ce = log L_CE``;
* the shape of the wrong mass: ``max_wrong_share`` (largest wrong probability over all wrong
  probability) and ``wrong_sum_squares`` (``Σ`` of the squared wrong shares). Given ``p_correct``
  they fix the grade (right iff ``p_correct > (1 − p_correct)·max_wrong_share``) and the Brier
  score (``(1 − p_correct)²·(1 + wrong_sum_squares)``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.cells import (
    as_text,
    check_duplicates,
    identifier_column,
    is_missing,
    n_params_column,
)
from mirage_bayes.inputs.tables import Table, show

__all__ = [
    "CHOICE_COLUMNS",
    "choice_metrics",
    "is_choice_table",
    "read_choice_table",
    "score_choices",
    "validate_choices",
]

CHOICE_COLUMNS = ("answer", "choices_logprobs", "choices_probs")
# Probabilities in a table are usually rounded, and a rounded 0 means "small", not "impossible":
# read as this floor, log-probabilities stay finite.
PROB_FLOOR = 1e-6
# Rounded probabilities (say to 3 decimals over 4 choices) do not sum to 1 exactly.
PROB_SUM_TOLERANCE = 0.01
# log-softmax of finite numbers can come out a hair above 0.
LOGPROB_TOLERANCE = 1e-6
_LIST_FIX = {
    "choices_logprobs": "give a JSON list with one log-probability (≤ 0) per choice, "
    "e.g. [-1.2, -0.4, -2.3, -3.1]",
    "choices_probs": "give a JSON list with one probability per choice summing to 1, "
    "e.g. [0.1, 0.6, 0.2, 0.1]",
}


def is_choice_table(frame: pd.DataFrame) -> bool:
    """Whether a table is a multiple-choice table: ``answer`` and per-choice scores."""
    columns = set(frame.columns)
    return "answer" in columns and bool(columns & {"choices_logprobs", "choices_probs"})


# --- metrics ----------------------------------------------------------------------------------


def choice_metrics(logprobs: np.ndarray, answer: np.ndarray) -> dict[str, np.ndarray]:
    """Per-item metrics of items with the same number of choices.

    Parameters
    ----------
    logprobs
        ``(items, K)`` log-probabilities (or unnormalised log-likelihoods) of the choices.
    answer
        ``(items,)`` index of the correct choice.

    Returns
    -------
    dict of str to numpy.ndarray
        ``mc_grade``, ``brier``, ``p_correct``, ``log_ce`` (``log(−log p_correct)``),
        ``max_wrong_share`` and ``wrong_sum_squares``, each of shape ``(items,)``.
    """
    lp = np.asarray(logprobs, dtype=float)
    answer = np.asarray(answer, dtype=np.int64)
    rows = np.arange(lp.shape[0])
    probs = np.exp(lp - logsumexp(lp, axis=1, keepdims=True))
    onehot = np.zeros_like(probs)
    onehot[rows, answer] = 1.0
    correct = lp[rows, answer]
    wrong = lp.copy()
    wrong[rows, answer] = -np.inf
    wrong_total = logsumexp(wrong, axis=1)
    # −log p_correct = log(1 + e^z) with z = log(wrong mass / correct mass), computed from z so
    # that a correct choice holding all but 1e-300 of the mass still has a finite log L_CE.
    z = wrong_total - correct
    with np.errstate(divide="ignore"):
        log_ce = np.where(z < -30.0, z, np.log(np.logaddexp(0.0, np.maximum(z, -30.0))))
    shares = np.exp(wrong - wrong_total[:, None])
    return {
        "mc_grade": (correct > wrong.max(axis=1)).astype(float),  # a tie counts as wrong
        "brier": ((probs - onehot) ** 2).sum(axis=1),
        "p_correct": probs[rows, answer],
        "log_ce": log_ce,
        "max_wrong_share": shares.max(axis=1),
        "wrong_sum_squares": (shares**2).sum(axis=1),
    }


def score_choices(frame: pd.DataFrame) -> pd.DataFrame:
    """A validated multiple-choice table with its per-item metrics added.

    Parameters
    ----------
    frame
        Output of :func:`validate_choices` (or of :func:`mirage_bayes.read_outputs` on a
        multiple-choice table).

    Returns
    -------
    pandas.DataFrame
        ``frame`` plus ``n_choices`` and the columns of :func:`choice_metrics`, rows in order.
    """
    lists = frame["choices_logprobs"].tolist()
    sizes = np.fromiter((len(v) for v in lists), np.int64, len(lists))
    answer = frame["answer"].to_numpy(np.int64)
    names = ("mc_grade", "brier", "p_correct", "log_ce", "max_wrong_share", "wrong_sum_squares")
    out = {name: np.empty(len(lists)) for name in names}
    for k in np.unique(sizes):  # one array per choice count: ragged K is allowed
        where = np.flatnonzero(sizes == k)
        block = np.array([lists[i] for i in where], dtype=float).reshape(len(where), int(k))
        for name, values in choice_metrics(block, answer[where]).items():
            out[name][where] = values
    scored = frame.copy()
    scored["n_choices"] = sizes
    for name in names:
        scored[name] = out[name]
    scored.attrs = dict(frame.attrs)
    return scored


# --- validation -------------------------------------------------------------------------------


def _number_list(cell: Any) -> tuple[list[Any] | None, str | None]:
    """A cell as a list of raw elements, or ``(None, problem)``."""
    value = cell
    if isinstance(cell, str):
        try:
            value = json.loads(cell)
        except json.JSONDecodeError as err:
            return None, f"is not a JSON list ({err.msg} at character {err.pos + 1})"
    if isinstance(value, np.ndarray):
        value = value.tolist()  # Parquet list cells arrive as arrays
    if not isinstance(value, list | tuple):
        return None, f"is {show(cell)}, not a list of numbers"
    return list(value), None


def _row_choices(cell: Any, column: str) -> tuple[list[float] | None, str | None]:
    """One cell of ``choices_logprobs`` or ``choices_probs`` as log-probabilities."""
    if is_missing(cell):
        return None, f"{column} is empty"
    values, problem = _number_list(cell)
    if values is None:
        return None, f"{column} {problem}"
    if not values:
        return None, f"{column} is an empty list"
    for position, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
            return None, f"{column} holds {show(v)} at position {position}, not a number"
        if not math.isfinite(float(v)):
            return None, f"{column} holds the non-finite value {v} at position {position}"
    if len(values) < 2:
        return None, f"{column} has a single choice; a multiple-choice item needs at least 2"
    numbers = np.asarray(values, dtype=float)
    if column == "choices_logprobs":
        if (numbers > LOGPROB_TOLERANCE).any():
            position = int(np.argmax(numbers > LOGPROB_TOLERANCE))
            what = (
                f"choices_logprobs holds the positive value {values[position]} at position "
                f"{position}; log-probabilities are at most 0 (probabilities belong in "
                "choices_probs)"
            )
            return None, what
        return numbers.tolist(), None
    if ((numbers < 0) | (numbers > 1)).any():
        position = int(np.argmax((numbers < 0) | (numbers > 1)))
        return (
            None,
            f"choices_probs holds {values[position]} at position {position}, outside [0, 1]",
        )
    total = float(numbers.sum())
    if abs(total - 1.0) > PROB_SUM_TOLERANCE:
        return None, f"choices_probs sums to {total:.4g}, not 1"
    return np.log(np.maximum(numbers / total, PROB_FLOOR)).tolist(), None


def _answers(table: Table, sizes: Sequence[int]) -> np.ndarray:
    out = np.empty(len(sizes), dtype=np.int64)
    fix = "give the 0-based index of the correct choice, e.g. 2 for the third choice"
    for i, cell in enumerate(table.frame["answer"].tolist()):
        value = cell.strip() if isinstance(cell, str) else cell
        number = math.nan
        if not isinstance(value, bool) and not is_missing(value):
            try:
                number = float(value)
            except (TypeError, ValueError, OverflowError):
                number = math.nan
        if is_missing(value):
            raise table.fail(i, "answer is empty", fix)
        if not math.isfinite(number) or number != math.floor(number):
            raise table.fail(i, f"answer {show(cell)} is not a whole number", fix)
        if not 0 <= number < sizes[i]:
            what = (
                f"answer {int(number)} is out of range for {sizes[i]} choices (0 to {sizes[i] - 1})"
            )
            raise table.fail(i, what, fix)
        out[i] = int(number)
    return out


def _both_columns(table: Table) -> list[list[float]]:
    """Log-probabilities from a table with both ``choices_logprobs`` and ``choices_probs``.

    Log-probabilities are the more precise record and are used, but only where the two agree
    (softmax of the log-probabilities within :data:`PROB_SUM_TOLERANCE` of the renormalised
    probabilities, choice by choice): reading one and ignoring the other silently fitted numbers
    the user may not have meant. A row may give just one of them.
    """
    out: list[list[float]] = []
    cells = zip(table.frame["choices_logprobs"], table.frame["choices_probs"], strict=True)
    for i, (logcell, probcell) in enumerate(cells):
        given = {c: not is_missing(v) for c, v in (("choices_logprobs", logcell),
                                                     ("choices_probs", probcell))}  # fmt: skip
        read = {}
        for column, cell in (("choices_logprobs", logcell), ("choices_probs", probcell)):
            if given[column] or not any(given.values()):
                values, problem = _row_choices(cell, column)
                if values is None:
                    raise table.fail(i, problem or f"{column} is malformed", _LIST_FIX[column])
                read[column] = values
        if len(read) == 2:
            logs, probs = (np.asarray(read[c]) for c in ("choices_logprobs", "choices_probs"))
            fix = "drop one of the two columns, or give the same choices in both"
            if len(logs) != len(probs):
                what = f"choices_logprobs has {len(logs)} choices but choices_probs {len(probs)}"
                raise table.fail(i, what, fix)
            gap = np.abs(np.exp(logs - logsumexp(logs)) - np.exp(probs)).max()
            if gap > PROB_SUM_TOLERANCE:
                what = (
                    f"choices_logprobs and choices_probs disagree (by {gap:.3g} on a choice's "
                    "probability)"
                )
                raise table.fail(i, what, fix)
        out.append(read.get("choices_logprobs", read.get("choices_probs")))
    return out


def read_choice_table(table: Table) -> pd.DataFrame:
    """Validate a freshly read multiple-choice table (see :func:`validate_choices`)."""
    frame = table.frame
    missing = [c for c in ("model", "n_params") if c not in frame]
    if missing:
        raise InputError(
            f"missing required column(s) {', '.join(missing)}",
            where=table.path,
            fix="add the columns model and n_params (parameter count) to the multiple-choice table",
        )
    n = len(frame)
    models = identifier_column(table, "model")
    tasks = identifier_column(table, "task") if "task" in frame else ["default"] * n
    n_params = n_params_column(table, models)
    item_ids = "item" in frame
    items = identifier_column(table, "item") if item_ids else [None] * n
    family = as_text(table, "family", identifier=True) if "family" in frame else [None] * n
    column = "choices_logprobs" if "choices_logprobs" in frame else "choices_probs"
    if "choices_probs" in frame and column == "choices_logprobs":
        lists = _both_columns(table)
    else:
        lists = []
        for i, cell in enumerate(frame[column].tolist()):
            values, problem = _row_choices(cell, column)
            if values is None:
                raise table.fail(i, problem or f"{column} is malformed", _LIST_FIX[column])
            lists.append(values)
    answers = _answers(table, [len(v) for v in lists])
    if item_ids:
        check_duplicates(table, tasks, models, items, repeats_readable=False)  # type: ignore[arg-type]
    out = pd.DataFrame(
        {
            "task": pd.Series(tasks, dtype=str),
            "model": pd.Series(models, dtype=str),
            "n_params": n_params.astype(np.float64),
            "item": pd.Series(items, dtype=str if item_ids else object),
            "family": pd.Series(family, dtype=object),
            "answer": answers,
            "choices_logprobs": pd.Series(lists, dtype=object),
        }
    )
    out.attrs.update(
        kind="multiple_choice",
        source=table.path,
        item_ids=item_ids,
        choices_input=column,
    )
    return out


def validate_choices(
    frame: pd.DataFrame,
    source: str,
    *,
    row_kind: str = "row index",
    row_numbers: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Validate a multiple-choice frame built in memory (e.g. by a reader of another format).

    Parameters
    ----------
    frame
        Columns ``model``, ``n_params``, ``answer`` and ``choices_logprobs`` or ``choices_probs``
        (lists, or JSON strings of lists); optional ``task``, ``item``, ``family``.
    source
        What the rows came from, named in every error (a file name).
    row_kind, row_numbers
        How to point at row ``i`` in a message: ``f"{source}, {row_kind} {row_numbers[i]}"``
        (default: ``row index i``, 0-based).

    Returns
    -------
    pandas.DataFrame
        Columns ``task, model, n_params, item, family, answer, choices_logprobs``: ``answer``
        int64, ``choices_logprobs`` lists of floats (``log`` of the probabilities, floored at
        :data:`PROB_FLOOR` and renormalised, when only ``choices_probs`` is given). ``attrs``:
        ``kind="multiple_choice"``, ``source``, ``item_ids`` and ``choices_input``.

    Raises
    ------
    InputError
        For the first malformed cell, in one line naming the source and row.
    """
    if not is_choice_table(frame):
        raise InputError(
            "is not a multiple-choice table",
            where=str(source),
            fix="give the columns answer and choices_logprobs (or choices_probs)",
        )
    frame = frame.reset_index(drop=True)
    numbers = np.arange(len(frame)) if row_numbers is None else np.asarray(row_numbers)
    if len(numbers) != len(frame):
        raise ValueError("row_numbers must give one number per row of frame")
    if frame.empty:
        raise InputError("has no rows", where=str(source), fix="give at least one row")
    return read_choice_table(Table(frame.astype(object), str(source), row_kind, numbers))
