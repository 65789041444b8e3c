"""Read and validate the aggregate results table of ``mirage-bayes meta``.

One row per (model family, model, task, metric): a published aggregate score of one model.

======================  ========  ===========================================================
column                  required  meaning
======================  ========  ===========================================================
``family``              yes       model family (the models whose sizes make one curve)
``model``               yes       model name
``n_params``            yes       parameter count (> 0; one value per model of a family), or
                                  the column named by ``--x``
``task``                yes       task name
``metric``              yes       metric name
``score``               yes       the aggregate result
``n_items``             no        test items behind a proportion (accuracy, exact match, ...)
``stderr``              no        standard error of the score (lm-evaluation-harness's
                                  ``*_stderr``); for a proportion without ``n_items`` it gives
                                  ``n = p(1 − p)/se² + 1``
``kind``                no        ``proportion``, ``continuous`` or ``loss``
``higher_is_better``    no        true/false (default true; false for a loss)
``chance``              no        chance level of a proportion (default 0)
======================  ========  ===========================================================

The kind of a metric, where ``kind`` is empty, is never guessed silently: ``n_items`` makes a
proportion; a name like perplexity, bits per byte or cross-entropy a loss; a name like
accuracy or exact match a proportion, which then needs ``n_items`` or ``stderr``; a name like
BLEU, ROUGE, BERTScore or F1 a continuous score. Any other metric whose values all lie in [0, 1]
could be either, and is an error that asks for ``kind``.

Several rows for one (family, model, task, metric) — seeds, prompt variants — are combined
(:func:`combine_replicates`); two models of the same size in one family are both kept. A
*triplet* is one (family, task, metric): its rows, sorted by size, are the scaling curve. Every
problem is one :class:`~mirage_bayes.errors.InputError` naming the file and row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.cells import as_numbers, as_text, is_missing
from mirage_bayes.inputs.tables import Table, read_table
from mirage_bayes.inputs.tables import show as _show
from mirage_bayes.meta.classify import local_scatter, pooled_floor, proportion_se
from mirage_bayes.meta.table import REPLICATES, apply_options, combine_replicates
from mirage_bayes.settings import MAX_TEST_ITEMS

__all__ = [
    "Triplet", "read_meta_table", "triplets_from_frame", "chance_above_data", "metric_kind",
    "REQUIRED", "OPTIONAL", "KINDS", "REPLICATES",
]  # fmt: skip

REQUIRED = ("family", "model", "n_params", "task", "metric", "score")
OPTIONAL = ("n_items", "stderr", "kind", "higher_is_better", "chance")
KINDS = ("proportion", "continuous", "loss")
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}
_WORD = r"(?:^|[^a-z])(?:{})(?:$|[^a-z])"
LOSS_NAMES = re.compile(_WORD.format(
    r"perplexity|ppl|bits_per_byte|bits_per_char|bpb|bpc|cross_?entropy|xent|nll|loss"
))  # fmt: skip
PROPORTION_NAMES = re.compile(_WORD.format(
    r"acc|acc_norm|accuracy|exact_?match|exact_str_match|em|multiple_choice_grade|mc_grade|mc1|"
    r"pass@\d+|pct_stereotype|correct"))  # fmt: skip
CONTINUOUS_NAMES = re.compile(_WORD.format(
    r"bleu|sacrebleu|rouge\w*|bertscore\w*|bleurt|f1|chrf\w*|ter|meteor|cider|brier\w*|mc2|"
    r"likelihood_difference|score_diff"))  # fmt: skip


@dataclass(frozen=True)
class Triplet:
    """One scaling curve: a (family, task, metric) over model sizes, smallest first.

    ``values`` are the scores as given. ``value``/``value_se`` are the *analysis scale* (better
    upwards: ``k/n``, ±score, or ``−log L`` for a loss) and its standard error per size;
    ``oriented`` is the scale of the emergence score (``k/n``, ±score, ``−L``).
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
    stderr: np.ndarray | None = field(default=None, repr=False)
    floor: np.ndarray | None = field(default=None, repr=False)
    floor_note: str = ""
    n_replicates: int = 1

    @property
    def key(self) -> tuple[str, str, str]:
        """``(family, task, metric)``."""
        return (self.family, self.task, self.metric)

    @property
    def n_scales(self) -> int:
        """Number of model sizes (tied sizes count separately)."""
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

    @property
    def value(self) -> np.ndarray:
        """The analysis scale: ``k/n``, the oriented score, or ``−log L`` for a loss."""
        return -np.log(self.values) if self.kind == "loss" else self.oriented

    @property
    def value_se(self) -> np.ndarray:
        """Standard error of :attr:`value` per size (binomial, or the noise floor)."""
        if self.kind == "proportion":
            return proportion_se(self.counts, self.n_items)
        return np.asarray(self.floor, float)

    @property
    def resolution(self) -> float:
        """``r`` of the emergence score on the :attr:`oriented` scale: one item, or the median
        noise floor (a loss: relative floor × loss)."""
        if self.kind == "proportion":
            return 1.0 / float(np.median(self.n_items))
        floor = np.asarray(self.floor, float)
        return float(np.median(floor * self.values if self.kind == "loss" else floor))


def read_meta_table(
    path: str | Path,
    *,
    replicates: str = "pool",
    mapping: dict[str, str] | None = None,
    x: str | None = None,
    pool_families: bool = False,
) -> list[Triplet]:
    """Read an aggregate results table (CSV, TSV, JSON Lines or Parquet) into triplets.

    Parameters
    ----------
    path
        The table; see the module docstring for its columns.
    replicates
        How several rows of one (family, model, task, metric) are combined (``pool``/``mean``).
    mapping, x, pool_families
        Column renaming, another size axis and one curve per (task, metric) across families
        (:func:`mirage_bayes.meta.table.apply_options`).

    Returns
    -------
    list of Triplet
        In order of first appearance in the file.
    """
    table = read_table(path, (*REQUIRED, *OPTIONAL))
    apply_options(table, mapping=mapping, x=x, pool_families=pool_families)
    return _triplets(table, replicates)


def triplets_from_frame(
    frame: pd.DataFrame,
    name: str = "table",
    *,
    replicates: str = "pool",
    mapping: dict[str, str] | None = None,
    x: str | None = None,
    pool_families: bool = False,
) -> list[Triplet]:
    """The same validation for a DataFrame already in memory (rows located by index)."""
    frame = frame.reset_index(drop=True)
    table = Table(frame, name, "row index", np.arange(len(frame)))
    apply_options(table, mapping=mapping, x=x, pool_families=pool_families)
    return _triplets(table, replicates)


def metric_kind(metric: str) -> str | None:
    """The kind a metric's name implies (``loss``, ``proportion``, ``continuous``) or None."""
    name = metric.strip().lower()
    for kind, pattern in (("loss", LOSS_NAMES), ("proportion", PROPORTION_NAMES),
                          ("continuous", CONTINUOUS_NAMES)):  # fmt: skip
        if pattern.search(name):
            return kind
    return None


def chance_above_data(triplets: list[Triplet]) -> list[tuple[str, str, str]]:
    """Triplets whose chance level lies above every observed proportion."""
    return [t.key for t in triplets
            if t.kind == "proportion" and t.chance > 0 and t.chance > t.oriented.max()]  # fmt: skip


def _triplets(table: Table, replicates: str) -> list[Triplet]:
    if replicates not in REPLICATES:
        raise InputError(f"unknown replicates rule {replicates!r}",
                         fix=f"use one of {', '.join(REPLICATES)}")  # fmt: skip
    frame = table.frame
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(repr(c) for c in missing)}",
            where=table.path,
            fix="the table needs family, model, n_params, task, metric and score "
            "(plus n_items or stderr for proportions); --map renames columns",
        )
    names = {c: _text(table, c) for c in ("family", "model", "task", "metric")}
    rows = pd.DataFrame(names)
    rows["n_params"] = _number(table, "n_params", lambda v: np.isfinite(v) & (v > 0),
                               "a positive number")  # fmt: skip
    rows["score"] = _number(table, "score", np.isfinite, "a finite number")
    rows["n_items"] = _optional(
        table, "n_items", lambda v: (v >= 1) & (v <= MAX_TEST_ITEMS) & (v == np.floor(v)),
        f"a whole number from 1 to {MAX_TEST_ITEMS:.0e} (or empty)",
    )  # fmt: skip
    rows["stderr"] = _optional(table, "stderr", lambda v: v >= 0, "a number ≥ 0 (or empty)")
    rows["chance"] = np.nan_to_num(
        _optional(table, "chance", lambda v: (v >= 0) & (v < 1), "a probability in [0, 1)")
    )
    rows["kind"] = _kinds(table, rows)
    rows["better"] = _flag(table, "higher_is_better", rows["kind"].to_numpy() != "loss")
    rows["row"] = np.arange(len(rows))
    _check_rows(table, rows)
    _items_from_stderr(table, rows)
    _check_sizes(table, rows)
    rows = combine_replicates(table, rows, replicates)
    out = []
    for key, idx in rows.groupby(["family", "task", "metric"], sort=False).indices.items():
        part = rows.iloc[idx].sort_values(["n_params", "model"], kind="stable")
        out.append(_make_triplet(table, part, *key))
    return _with_floors(out)


def _text(table: Table, column: str) -> list[str]:
    values = as_text(table, column, identifier=True)
    for i, value in enumerate(values):
        if value is None:
            raise table.fail(i, f"column {column!r} is empty", f"fill in every {column}")
    return values  # type: ignore[return-value]


def _number(table: Table, column: str, ok, what: str, *, optional: bool = False) -> np.ndarray:
    cells = table.frame[column].astype(object).tolist()
    numbers = as_numbers(cells)
    blank = np.array([is_missing(v) for v in cells], bool)
    with np.errstate(invalid="ignore"):
        good = np.asarray(ok(numbers), bool) & ~np.isnan(numbers) | (optional & blank)
    if not good.all():
        i = int(np.flatnonzero(~good)[0])
        shown = "is empty" if blank[i] else f"{_show(cells[i])} is not {what}"
        raise table.fail(i, f"{column} {shown}", f"give {column} as {what}")
    return numbers


def _optional(table: Table, column: str, ok, what: str) -> np.ndarray:
    if column not in table.frame.columns:
        return np.full(len(table.frame), np.nan)
    return _number(table, column, ok, what, optional=True)


def _kinds(table: Table, rows: pd.DataFrame) -> np.ndarray:
    given = [None] * len(rows)
    if "kind" in table.frame.columns:
        given = as_text(table, "kind", identifier=True)
    out = np.empty(len(rows), object)
    by_metric: dict[str, str | None] = {}
    for i, (cell, metric) in enumerate(zip(given, rows["metric"], strict=True)):
        if cell is not None:
            if cell.lower() not in KINDS:
                raise table.fail(i, f"kind {_show(cell)} is unknown",
                                 "write proportion, continuous or loss")  # fmt: skip
            out[i] = cell.lower()
        elif not np.isnan(rows["n_items"].iat[i]):
            out[i] = "proportion"
        else:
            if metric not in by_metric:
                by_metric[metric] = metric_kind(metric)
            out[i] = by_metric[metric]
    unknown = np.flatnonzero(pd.isna(out))
    for i in unknown:  # an unknown name: a proportion unless a value says it cannot be one
        metric = rows["metric"].iat[i]
        values = rows.loc[rows["metric"] == metric, "score"]
        if values.between(0, 1).all():
            raise table.fail(
                int(i), f"cannot tell whether metric {metric!r} is a proportion (its values "
                "all lie in [0, 1] and neither kind nor n_items nor stderr is given)",
                "add a kind column (proportion, continuous or loss), with n_items or stderr "
                "for a proportion",
            )  # fmt: skip
        out[rows["metric"].to_numpy() == metric] = "continuous"
    return out.astype(str)


def _flag(table: Table, column: str, default: np.ndarray) -> np.ndarray:
    out = np.asarray(default, bool).copy()
    if column not in table.frame.columns:
        return out
    for i, cell in enumerate(table.frame[column].tolist()):
        if isinstance(cell, bool | np.bool_):
            out[i] = bool(cell)
            continue
        text = "" if is_missing(cell) else str(cell).strip().lower()
        if text in _FALSE:
            out[i] = False
        elif text in _TRUE:
            out[i] = True
        elif text:
            raise table.fail(i, f"{column} {_show(cell)} is not true or false",
                             "write true or false (or leave it empty)")  # fmt: skip
    return out


def _check_rows(table: Table, rows: pd.DataFrame) -> None:
    kind, score = rows["kind"].to_numpy(), rows["score"].to_numpy()
    proportion, loss = kind == "proportion", kind == "loss"
    no_n = np.isnan(rows["n_items"].to_numpy()) & np.isnan(rows["stderr"].to_numpy())
    chance, better = rows["chance"].to_numpy(), rows["better"].to_numpy()
    checks = [
        (proportion & no_n, "is a proportion but has neither n_items nor stderr",
         "give the number of test items (n_items) or the standard error (stderr), or set kind "
         "to continuous"),
        (proportion & ((score < 0) | (score > 1)), "is a proportion but score is outside [0, 1]",
         "give the proportion as a fraction (0.42, not 42%), or set kind to continuous"),
        (~proportion & (chance > 0), "has a chance level but is not a proportion",
         "drop the chance value or set kind to proportion"),
        (proportion & ~better & (chance > 0), "has a chance level but lower is better",
         "a chance floor applies to accuracies; drop chance or higher_is_better"),
        (loss & (score <= 0), "is a loss but score is not positive",
         "a loss (perplexity, bits per byte) is positive; set kind to continuous otherwise"),
        (loss & better, "is a loss but higher_is_better is true",
         "a loss is lower-is-better; set kind to continuous for a score that rises"),
    ]  # fmt: skip
    for mask, what, fix in checks:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise table.fail(i, f"the row (metric {rows['metric'].iat[i]!r}) {what}", fix)


def _items_from_stderr(table: Table, rows: pd.DataFrame) -> None:
    """``n = p(1 − p)/se² + 1`` where a proportion has a stderr but no n_items (in place)."""
    need = (rows["kind"] == "proportion") & rows["n_items"].isna()
    if not need.any():
        return
    p, se = rows["score"].to_numpy(), rows["stderr"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        implied = np.where(se > 0, p * (1 - p) / se**2 + 1, np.nan)
    implied = np.where(need & (p > 0) & (p < 1), np.round(implied), np.nan)
    rows["n_implied"] = implied
    # p = 0 or 1 (se = 0) says nothing about n: the median of the same task and metric.
    fallback = rows.groupby(["task", "metric"])["n_implied"].transform("median")
    filled = np.where(need, np.where(np.isnan(implied), fallback, implied), rows["n_items"])
    bad = need.to_numpy() & ~(filled >= 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise table.fail(i, "n_items cannot be computed from stderr (the score is 0 or 1 and no "
                         "other row of this task and metric has a usable stderr)",
                         "give n_items for this row")  # fmt: skip
    huge = need.to_numpy() & (filled > MAX_TEST_ITEMS)
    if huge.any():
        i = int(np.flatnonzero(huge)[0])
        raise table.fail(i, f"the stderr implies {filled[i]:.3g} test items, more than "
                         f"{MAX_TEST_ITEMS:.0e}", "check the stderr, or give n_items")  # fmt: skip
    rows["n_items"] = filled
    rows.drop(columns="n_implied", inplace=True)


def _check_sizes(table: Table, rows: pd.DataFrame) -> None:
    first = rows.groupby(["family", "model"], sort=False)["n_params"].transform("first")
    conflict = np.flatnonzero(first.to_numpy() != rows["n_params"].to_numpy())
    if conflict.size:
        j = int(conflict[0])
        family, model = rows["family"].iat[j], rows["model"].iat[j]
        i = int(np.flatnonzero((rows["family"] == family) & (rows["model"] == model))[0])
        raise InputError(
            f"model {model!r} of family {family!r} has size {first.iat[j]:g} here "
            f"and {rows['n_params'].iat[j]:g} later",
            where=table.rows(i, j),
            fix="give each model a single size in every row",
        )


def _make_triplet(table: Table, part: pd.DataFrame, family, task, metric) -> Triplet:
    name = f"family {family!r}, task {task!r}, metric {metric!r}"
    for column in ("kind", "better", "chance"):
        values = part[column].to_numpy()
        if len(set(values.tolist())) > 1:
            rows = part["row"].to_numpy()
            different = int(rows[values != values[0]][0])
            shown = "higher_is_better" if column == "better" else column
            raise InputError(
                f"{name} mixes different {shown} values",
                where=table.rows(*sorted((int(rows[0]), different))),
                fix=f"give one {shown} per family, task and metric",
            )
    kind, better = str(part["kind"].iat[0]), bool(part["better"].iat[0])
    score = part["score"].to_numpy(float)
    counts = n = None
    if kind == "proportion":
        n = part["n_items"].to_numpy(float).astype(np.int64)
        proportion = score if better else 1.0 - score
        counts = np.clip(np.round(proportion * n), 0, n).astype(np.int64)
    stderr = part["stderr"].to_numpy(float)
    return Triplet(
        family=family, task=task, metric=metric, kind=kind, higher_is_better=better,
        models=tuple(part["model"]), n_params=part["n_params"].to_numpy(float),
        values=score, n_items=n, chance=float(part["chance"].iat[0]), counts=counts,
        stderr=None if np.isnan(stderr).all() else stderr, n_replicates=int(part["n_rep"].max()),
    )  # fmt: skip


def _with_floors(triplets: list[Triplet]) -> list[Triplet]:
    """Noise floors of continuous and loss triplets: their stderr where given, else the larger of
    the curve's own scatter and the scatter pooled over the metric's curves
    (:func:`mirage_bayes.meta.classify.pooled_floor`)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, t in enumerate(triplets):
        if t.kind != "proportion":
            groups.setdefault((t.kind, t.metric), []).append(i)
    out = list(triplets)
    for (_, metric), members in groups.items():
        same = [triplets[i] for i in members]
        scatters = np.array([local_scatter(np.log10(t.n_params), t.value) for t in same])
        pooled = pooled_floor(scatters, np.concatenate([t.value for t in same]))
        for i, t, own in zip(members, same, scatters, strict=True):
            se = np.full(t.n_scales, np.nan) if t.stderr is None else t.stderr.copy()
            if t.kind == "loss":
                se = se / t.values
            given = np.isfinite(se) & (se > 0)
            estimate = max(pooled, own) if np.isfinite(own) else pooled
            note = (
                ""
                if given.all()
                else (
                    f"noise floor {estimate:.3g} estimated (own scatter, and {len(same)} curve(s) "
                    f"of {metric} pooled; no stderr)"
                )
            )
            out[i] = replace(t, floor=np.where(given, se, estimate), floor_note=note)
    return out
