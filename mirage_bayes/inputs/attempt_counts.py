"""Counted attempts: exact-match outcomes of repeated attempts given as counts per (model, item).

Two layouts, read into one form before the table is validated as pre-scored:

* ``n_attempts`` and ``n_success``: attempts made and exact matches among them;
* ``attempts_to_pass`` and ``max_attempts`` ("sample until it passes", PassUntil, Hu et al.
  2024): the attempt that first matched, empty when none of ``max_attempts`` did. Given the
  item's success probability ``a``, the attempts are a geometric count truncated at the cap, and
  its likelihood, ``a·(1 − a)^(t − 1)`` or ``(1 − a)^cap``, is that of ``t`` attempts with one
  success or ``cap`` attempts with none (the stopping rule does not change the likelihood), so
  both layouts become ``n_attempts`` and ``n_success``.

Without the outputs there are no tokens: the unit of the per-token model becomes the whole
answer (``n_tokens`` counts attempts, ``n_errors`` the failed ones). That is the same model
family: with ``ε`` per token, ``a = exp(−L·exp(η))``, which is the one-unit law with ``η``
shifted by ``log L``, so the trends of ``η`` in log N keep their meaning (PassUntil's
``log(−log pass rate)`` linear in log N is the power law).
"""

from __future__ import annotations

import numpy as np

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.cells import as_numbers, first_index, is_missing
from mirage_bayes.inputs.tables import Table, show

__all__ = ["COUNT_COLUMNS", "UNTIL_PASS_COLUMNS", "attempt_layout", "counts_to_prescored"]

COUNT_COLUMNS = ("n_attempts", "n_success")
UNTIL_PASS_COLUMNS = ("attempts_to_pass", "max_attempts")
_MAX_COUNT = 2**53


def attempt_layout(table: Table) -> str | None:
    """``"counts"``, ``"until_pass"`` or ``None``; refuses half a layout or a mix."""
    have = set(table.frame.columns)
    found = []
    for name, columns in (("counts", COUNT_COLUMNS), ("until_pass", UNTIL_PASS_COLUMNS)):
        present = [c for c in columns if c in have]
        if len(present) == 1:
            other = next(c for c in columns if c not in have)
            raise InputError(
                f"column {present[0]!r} needs a column {other!r}", where=table.path,
                fix=f"give both {columns[0]} and {columns[1]}",
            )  # fmt: skip
        if present:
            found.append(name)
    if len(found) == 2:
        raise InputError(
            "both n_attempts/n_success and attempts_to_pass/max_attempts", where=table.path,
            fix="give the attempts of a table in one of the two layouts",
        )  # fmt: skip
    if found and have & {"target", "output", "n_tokens", "n_errors", "attempt"}:
        clash = sorted(have & {"target", "output", "n_tokens", "n_errors", "attempt"})
        raise InputError(
            f"counted attempts beside {', '.join(clash)}", where=table.path,
            fix="give either one row per attempt (target/output or n_tokens/n_errors, with an "
            "'attempt' column) or counts per item (n_attempts/n_success or "
            "attempts_to_pass/max_attempts)",
        )  # fmt: skip
    return found[0] if found else None


def _whole(table: Table, column: str, *, low: int, missing_ok: bool = False) -> np.ndarray:
    """A column of whole numbers ``≥ low`` (NaN where empty, if ``missing_ok``)."""
    cells = table.frame[column].astype(object).tolist()
    numbers = as_numbers(cells)
    empty = np.fromiter((is_missing(v) for v in cells), bool, len(cells))
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(numbers) & (numbers == np.floor(numbers))
        ok &= (numbers >= low) & (numbers <= _MAX_COUNT)
    if missing_ok:
        ok |= empty
    if not ok.all():
        i = first_index(~ok)
        value = _value(numbers[i], cells[i])
        what = (f"column {column!r} is empty" if empty[i]
                else f"{column} {value} is not a whole number >= {low}")  # fmt: skip
        raise table.fail(i, what, f"give {column} as a whole number >= {low}")
    return numbers


def _value(number: float, cell: object) -> str:
    return f"{number:g}" if np.isfinite(number) else show(cell)


def counts_to_prescored(table: Table, layout: str) -> None:
    """Replace the layout's columns by ``n_attempts``, ``n_success`` and the pre-scored
    ``n_tokens`` (the attempts: one unit each) and ``n_errors`` (the failed ones), in place."""
    frame = table.frame
    if layout == "counts":
        attempts = _whole(table, "n_attempts", low=1)
        success = _whole(table, "n_success", low=0)
        if (success > attempts).any():
            i = first_index(success > attempts)
            what = f"n_success {success[i]:g} is larger than n_attempts {attempts[i]:g}"
            raise table.fail(i, what, "count at most one success per attempt")
    else:
        cap = _whole(table, "max_attempts", low=1)
        until = _whole(table, "attempts_to_pass", low=1, missing_ok=True)
        if (until > cap).any():
            i = first_index(until > cap)
            raise table.fail(i, f"attempts_to_pass {until[i]:g} is larger than max_attempts "
                             f"{cap[i]:g}", "leave attempts_to_pass empty when no attempt "
                             "passed within the cap")  # fmt: skip
        passed = np.isfinite(until)
        attempts = np.where(passed, until, cap)
        success = passed.astype(float)
        frame.drop(columns=list(UNTIL_PASS_COLUMNS), inplace=True)
    frame["n_attempts"] = attempts.astype(np.int64)
    frame["n_success"] = success.astype(np.int64)
    frame["n_tokens"] = attempts.astype(np.int64)
    frame["n_errors"] = (attempts - success).astype(np.int64)
