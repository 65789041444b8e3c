"""Read and validate the aggregate results table of ``mirage-bayes meta``.

One row per (model family, model, task, metric): a published aggregate score of one model.

======================  ========  ===========================================================
column                  required  meaning
======================  ========  ===========================================================
``family``              yes       model family (the models whose sizes make one curve)
``model``               yes       model name
``n_params``            yes       parameter count (> 0; one value per model of a family)
``task``                yes       task name
``metric``              yes       metric name
``score``               yes       the aggregate result
``n_items``             no        test items behind a proportion (accuracy, exact match, ...)
``kind``                no        ``proportion`` or ``continuous`` (default: proportion where
                                  ``n_items`` is given, else continuous)
``higher_is_better``    no        true/false (default true)
``chance``              no        chance level of a proportion, e.g. 0.25 for 4-way multiple
                                  choice (default 0)
======================  ========  ===========================================================

A *triplet* is one (family, task, metric): its rows, sorted by ``n_params``, are the scaling
curve. Every problem is one :class:`~mirage_bayes.errors.InputError` naming the file and row.
Counts are ``k = round(score · n_items)``: published accuracies are often rounded, so the
product need not be a whole number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.io import _as_text, _is_missing, _numbers
from mirage_bayes.tables import Table, read_table
from mirage_bayes.tables import show as _show

__all__ = ["Triplet", "read_meta_table", "triplets_from_frame", "REQUIRED", "OPTIONAL"]

REQUIRED = ("family", "model", "n_params", "task", "metric", "score")
OPTIONAL = ("n_items", "kind", "higher_is_better", "chance")
KINDS = ("proportion", "continuous")
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


@dataclass(frozen=True)
class Triplet:
    """One scaling curve: a (family, task, metric) over model sizes, smallest first.

    ``values`` are the scores as given; ``oriented`` flips them where lower is better, so that
    "improves with scale" is always upwards. For a proportion, ``counts`` are the successes of
    the oriented proportion out of ``n_items``.
    """

    family: str
    task: str
    metric: str
    kind: str
    higher_is_better: bool
    models: tuple[str, ...]
    n_params: np.ndarray
    values: np.ndarray
    n_items: np.ndarray | None = None
    chance: float = 0.0
    counts: np.ndarray | None = field(default=None, repr=False)

    @property
    def key(self) -> tuple[str, str, str]:
        """``(family, task, metric)``."""
        return (self.family, self.task, self.metric)

    @property
    def n_scales(self) -> int:
        """Number of model sizes."""
        return len(self.models)

    @property
    def x(self) -> np.ndarray:
        """log10 size standardized so the observed range spans [−1, 1] (as in ``fit``)."""
        log_n = np.log10(self.n_params)
        center = (log_n.max() + log_n.min()) / 2
        half = (log_n.max() - log_n.min()) / 2
        return (log_n - center) / half if half > 0 else np.zeros_like(log_n)

    @property
    def oriented(self) -> np.ndarray:
        """Scores with "better" upwards: proportions as ``counts / n``, else ±values."""
        if self.kind == "proportion":
            return self.counts / self.n_items
        return self.values if self.higher_is_better else -self.values


def read_meta_table(path: str | Path) -> list[Triplet]:
    """Read an aggregate results table (CSV, TSV, JSON Lines or Parquet) into triplets.

    Parameters
    ----------
    path
        The table; see the module docstring for its columns.

    Returns
    -------
    list of Triplet
        In order of first appearance in the file.
    """
    return _triplets(read_table(path, (*REQUIRED, *OPTIONAL)))


def triplets_from_frame(frame: pd.DataFrame, name: str = "table") -> list[Triplet]:
    """The same validation for a DataFrame already in memory (rows located by index)."""
    frame = frame.reset_index(drop=True)
    return _triplets(Table(frame, name, "row index", np.arange(len(frame))))


def _triplets(table: Table) -> list[Triplet]:
    frame = table.frame
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(repr(c) for c in missing)}",
            where=table.path,
            fix="the table needs family, model, n_params, task, metric and score "
            "(plus n_items for proportions)",
        )
    names = {c: _text(table, c) for c in ("family", "model", "task", "metric")}
    n_params = _number(table, "n_params", lambda v: np.isfinite(v) & (v > 0), "a positive count")
    score = _number(table, "score", np.isfinite, "a finite number")
    n = len(frame)
    n_items = np.full(n, np.nan)
    if "n_items" in frame.columns:
        n_items = _number(
            table, "n_items", lambda v: np.isnan(v) | ((v >= 1) & (v == np.floor(v))),
            "a whole number ≥ 1 (or leave it empty for a continuous metric)", optional=True,
        )  # fmt: skip
    kind = _kind(table, n_items)
    better = _flag(table, "higher_is_better")
    chance = np.zeros(n)
    if "chance" in frame.columns:
        chance = _number(table, "chance", lambda v: np.isnan(v) | ((v >= 0) & (v < 1)),
                         "a probability in [0, 1)", optional=True)  # fmt: skip
        chance = np.nan_to_num(chance, nan=0.0)
    _check_rows(table, kind, score, n_items, chance, better)
    _check_sizes(table, names["family"], names["model"], n_params)
    keys = pd.DataFrame({c: names[c] for c in ("family", "task", "metric", "model")})
    _check_duplicates(table, keys)
    out = []
    groups = keys.groupby(["family", "task", "metric"], sort=False).indices
    for (family, task, metric), rows in groups.items():
        rows = rows[np.argsort(n_params[rows], kind="stable")]
        out.append(
            _make_triplet(
                table,
                rows,
                family,
                task,
                metric,
                names["model"],
                n_params,
                score,
                n_items,
                kind,
                better,
                chance,
            )  # fmt: skip
        )
    return out


def _text(table: Table, column: str) -> list[str]:
    values = _as_text(table, column, identifier=True)
    for i, value in enumerate(values):
        if value is None:
            raise table.fail(i, f"column {column!r} is empty", f"fill in every {column}")
    return values  # type: ignore[return-value]


def _number(table: Table, column: str, ok, what: str, *, optional: bool = False) -> np.ndarray:
    cells = table.frame[column].astype(object).tolist()
    numbers = _numbers(cells)
    blank = np.array([_is_missing(v) for v in cells], bool)
    with np.errstate(invalid="ignore"):
        good = np.asarray(ok(numbers), bool) & (~np.isnan(numbers) | (optional & blank))
    if not good.all():
        i = int(np.flatnonzero(~good)[0])
        shown = "is empty" if blank[i] else f"{_show(cells[i])} is not {what}"
        raise table.fail(i, f"{column} {shown}", f"give {column} as {what}")
    return numbers


def _kind(table: Table, n_items: np.ndarray) -> np.ndarray:
    default = np.where(np.isnan(n_items), "continuous", "proportion").astype(object)
    if "kind" not in table.frame.columns:
        return default
    cells = _as_text(table, "kind", identifier=True)
    out = default.copy()
    for i, cell in enumerate(cells):
        if cell is None:
            continue
        if cell.lower() not in KINDS:
            raise table.fail(i, f"kind {_show(cell)} is unknown", "write proportion or continuous")
        out[i] = cell.lower()
    return out


def _flag(table: Table, column: str) -> np.ndarray:
    n = len(table.frame)
    if column not in table.frame.columns:
        return np.ones(n, bool)
    out = np.ones(n, bool)
    for i, cell in enumerate(table.frame[column].tolist()):
        if isinstance(cell, bool | np.bool_):
            out[i] = bool(cell)
            continue
        text = "" if cell is None or (isinstance(cell, float) and np.isnan(cell)) else str(cell)
        text = text.strip().lower()
        if text in _FALSE:
            out[i] = False
        elif text and text not in _TRUE:
            raise table.fail(i, f"{column} {_show(cell)} is not true or false",
                             "write true or false (or leave it empty for true)")  # fmt: skip
    return out


def _check_rows(table, kind, score, n_items, chance, better) -> None:
    proportion = kind == "proportion"
    checks = [
        (proportion & np.isnan(n_items), "is a proportion but n_items is empty",
         "give the number of test items, or set kind to continuous"),
        (proportion & ((score < 0) | (score > 1)), "is a proportion but score is outside [0, 1]",
         "give the proportion as a fraction (0.42, not 42%), or set kind to continuous"),
        (~proportion & (chance > 0), "has a chance level but is not a proportion",
         "drop the chance value or set kind to proportion"),
        (proportion & ~better & (chance > 0), "has a chance level but lower is better",
         "a chance floor applies to accuracies; drop chance or higher_is_better"),
    ]  # fmt: skip
    for mask, what, fix in checks:
        if mask.any():
            raise table.fail(int(np.flatnonzero(mask)[0]), f"the row {what}", fix)


def _check_sizes(table: Table, families: list[str], models: list[str], n_params) -> None:
    frame = pd.DataFrame({"family": families, "model": models, "n": n_params})
    first = frame.groupby(["family", "model"], sort=False)["n"].transform("first").to_numpy()
    conflict = np.flatnonzero(first != n_params)
    if conflict.size:
        j = int(conflict[0])
        i = int(np.flatnonzero((frame["family"] == families[j]) & (frame["model"] == models[j]))[0])
        raise InputError(
            f"model {models[j]!r} of family {families[j]!r} has n_params {first[j]:g} here "
            f"and {n_params[j]:g} later",
            where=table.rows(i, j),
            fix="give each model a single parameter count in every row",
        )


def _check_duplicates(table: Table, keys: pd.DataFrame) -> None:
    dup = keys.duplicated(keep="first").to_numpy()
    if dup.any():
        j = int(np.flatnonzero(dup)[0])
        i = int(np.flatnonzero((keys == keys.iloc[j]).all(axis=1).to_numpy())[0])
        row = keys.iloc[j]
        raise InputError(
            f"two rows for family {row.family!r}, task {row.task!r}, metric {row.metric!r}, "
            f"model {row.model!r}",
            where=table.rows(i, j),
            fix="keep one result per model, task and metric",
        )


def _make_triplet(table, rows, family, task, metric, models, n_params, score, n_items, kind,
                  better, chance) -> Triplet:  # fmt: skip
    name = f"family {family!r}, task {task!r}, metric {metric!r}"
    for column, values in (("kind", kind), ("higher_is_better", better), ("chance", chance)):
        if len(set(values[rows].tolist())) > 1:
            different = rows[values[rows] != values[rows[0]]][0]
            raise InputError(
                f"{name} mixes different {column} values",
                where=table.rows(int(rows[0]), int(different)),
                fix=f"give one {column} per family, task and metric",
            )
    sizes = n_params[rows]
    same = np.flatnonzero(np.diff(sizes) == 0)
    if same.size:
        i, j = sorted((int(rows[same[0]]), int(rows[same[0] + 1])))
        raise InputError(
            f"{name} has two models of the same size {sizes[same[0]]:g}",
            where=table.rows(i, j),
            fix="keep one model per size in a family (or split the family)",
        )
    this_kind = str(kind[rows[0]])
    counts = n = None
    if this_kind == "proportion":
        n = n_items[rows].astype(np.int64)
        proportion = score[rows] if better[rows[0]] else 1.0 - score[rows]
        counts = np.clip(np.round(proportion * n), 0, n).astype(np.int64)
    return Triplet(
        family=family,
        task=task,
        metric=metric,
        kind=this_kind,
        higher_is_better=bool(better[rows[0]]),
        models=tuple(models[r] for r in rows),
        n_params=sizes.astype(float),
        values=score[rows].astype(float),
        n_items=n,
        chance=float(chance[rows[0]]),
        counts=counts,
    )
