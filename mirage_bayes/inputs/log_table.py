"""The per-item table that Inspect, HELM and Every Eval Ever logs give, built one way for all three.

Each importer (:mod:`mirage_bayes.inputs.inspect_logs`, :mod:`mirage_bayes.inputs.helm`,
:mod:`mirage_bayes.inputs.eee`) reads its files into :class:`Run` objects, one per task and model,
whose rows are either raw (``item``, ``target``, ``output``) or pre-scored (``item`` and
``correct``). :func:`log_frame` checks them together (one run per task and model, the tasks asked
for, the model sizes) and
returns what :func:`mirage_bayes.inputs.io.read_outputs` returns for the equivalent outputs table:

* raw: ``task, model, n_params, item, family, target, output``, scored as an ``outputs.csv``;
* pre-scored: ``task, model, n_params, item, family, n_tokens, n_errors`` with one "token" per
  item (``n_tokens`` 1, ``n_errors`` 0 when the log marks the item correct, else 1).

Rows are ordered by task, model size, model name and item id (numbers in ids compared as
numbers, so ``id2`` comes before ``id10``).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.model_sizes import family_of
from mirage_bayes.inputs.tables import check_readable_file, json_lines, os_error

__all__ = [
    "Run", "check_one_run_each", "choose_tasks", "item_key", "json_records", "load_json",
    "log_frame", "note",
]  # fmt: skip

_DIGITS = re.compile(r"(\d+)")


class _HasTask(Protocol):
    task: str


_R = TypeVar("_R", bound=_HasTask)


@dataclass
class Run:
    """The items of one task evaluated on one model, as one log records them.

    ``where`` names the log (a file or a run folder) in messages. Each row is
    ``{"item", "target", "output"}`` (raw) or ``{"item", "correct"}`` (pre-scored), and
    ``"attempt"`` where an item was sampled more than once.
    """

    where: str
    task: str
    model: str
    rows: list[dict[str, Any]] = field(default_factory=list)


def item_key(item: str) -> tuple[Any, ...]:
    """Sort key of an item id: its runs of digits compared as numbers (``id2`` before ``id10``)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in _DIGITS.split(item) if p)


def _read_text(path: Path, fix: str) -> str:
    check_readable_file(path, str(path))
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        what = f"byte offset {err.start} is not valid UTF-8"
        raise InputError(what, where=str(path), fix=fix) from None
    except OSError as error:
        raise os_error(error, str(path)) from None


def load_json(path: Path, fix: str) -> Any:
    """The JSON value of a file, or one :class:`InputError` line saying why it cannot be read."""
    text = _read_text(path, fix)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        what = f"is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
        raise InputError(what, where=str(path), fix=fix) from None


def json_records(path: Path, fix: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The records of a JSON Lines file with their line numbers; one :class:`InputError` line
    for a file that cannot be read, a line that is not a JSON object, or no record at all."""
    found = False
    for number, record in json_lines(_read_text(path, fix), str(path), fix):
        found = True
        yield number, record
    if not found:
        raise InputError("holds no samples", where=str(path), fix=fix)


def note(message: str) -> None:
    """Say on standard error how a log was read (e.g. pre-scored instead of raw text)."""
    print(f"note: {message}", file=sys.stderr, flush=True)


def choose_tasks(runs: list[_R], tasks: Sequence[str] | None, source: str) -> list[_R]:
    """The runs (anything with a ``task``) of the tasks asked for, each of which must be present."""
    if tasks is None:
        return runs
    present = list(dict.fromkeys(run.task for run in runs))
    unknown = [t for t in tasks if t not in present]
    if unknown:
        raise InputError(
            f"no task(s) {', '.join(unknown)}; the logs hold {', '.join(present)}",
            where=source or None,
            fix="give task names as the logs record them",
        )
    return [run for run in runs if run.task in tasks]


def check_one_run_each(runs: Sequence[Any], source: str) -> None:
    """Refuse two logs of one task for one model (each run has ``task``, ``model``, and
    ``where`` or ``path``: the file or folder it came from)."""
    owner: dict[tuple[str, str], str] = {}
    for run in runs:
        key = (run.task, run.model)
        where = str(getattr(run, "where", None) or getattr(run, "path", ""))
        if key in owner:
            raise InputError(
                f"two logs of task {run.task!r} for model {run.model!r}: {owner[key]} and {where}",
                where=source or None,
                fix="give one log per task and model (move or leave out the other)",
            )
        owner[key] = where


def log_frame(
    runs: list[Run],
    *,
    sizes: Callable[[Sequence[str]], dict[str, float]],
    tasks: Sequence[str] | None,
    source: str,
    prescored: bool,
) -> pd.DataFrame:
    """Check the runs together and build the per-item table (see the module docstring).

    Parameters
    ----------
    runs
        One per task and model, each with at least one row.
    sizes
        Maps model names to parameter counts
        (:func:`mirage_bayes.inputs.model_sizes.size_resolver`).
    tasks
        Keep only these tasks (every one must be present); ``None`` keeps all.
    source
        The paths as given, for messages and ``attrs["source"]``.
    prescored
        Whether the rows hold ``correct`` (pre-scored) rather than ``target`` and ``output``.

    Returns
    -------
    pandas.DataFrame
        With the columns, dtypes and ``attrs`` (``kind="generation"``, ``prescored``,
        ``item_ids=True``, ``source``) that :func:`mirage_bayes.inputs.io.read_outputs` gives.
    """
    runs = choose_tasks(runs, tasks, source)
    check_one_run_each(runs, source)
    n_params = sizes([run.model for run in runs])
    runs = sorted(runs, key=lambda r: (r.task, n_params[r.model], r.model))
    rows = [
        {"task": run.task, "model": run.model, **row}
        for run in runs
        for row in sorted(run.rows, key=lambda r: (item_key(r["item"]), r.get("attempt", 0)))
    ]
    return generation_frame(rows, n_params, prescored=prescored, source=source)


def generation_frame(
    rows: list[dict[str, Any]], n_params: dict[str, float], *, prescored: bool, source: str
) -> pd.DataFrame:
    """The per-item table of ordered rows (``task``, ``model``, ``item``, then ``target`` and
    ``output`` or, pre-scored, ``correct``; ``attempt`` where items were repeated), with the
    columns, dtypes and attrs :func:`mirage_bayes.inputs.io.read_outputs` gives."""
    models = [r["model"] for r in rows]
    out = pd.DataFrame(
        {
            "task": pd.Series([r["task"] for r in rows], dtype=str),
            "model": pd.Series(models, dtype=str),
            "n_params": np.array([n_params[m] for m in models], dtype=np.float64),
            "item": pd.Series([r["item"] for r in rows], dtype=str),
            "family": pd.Series([family_of(m) for m in models], dtype=object),
        }
    )
    if prescored:
        out["n_tokens"] = np.ones(len(rows), dtype=np.int64)
        out["n_errors"] = np.array([0 if r["correct"] else 1 for r in rows], dtype=np.int64)
    else:
        out["target"] = pd.Series([r["target"] for r in rows], dtype=str)
        out["output"] = pd.Series([r["output"] for r in rows], dtype=str)
    if any("attempt" in r for r in rows):
        # Repeated attempts of one item (Inspect's epochs): numbered, as the outputs table has them.
        out["attempt"] = pd.Series([str(r.get("attempt", 1)) for r in rows], dtype=str)
    out.attrs.update(kind="generation", prescored=prescored, item_ids=True, source=source)
    return out
