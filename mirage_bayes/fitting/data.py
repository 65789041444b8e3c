"""Scored per-item rows → the arrays a model of one task needs.

A task becomes an ``items × scales`` pair of matrices: ``trials`` (target tokens, 0 where an item
was not evaluated at a scale) and ``errors``. Because item difficulty is integrated out of the
likelihood (see :mod:`mirage_bayes.models.generation`), items with identical rows contribute
identical likelihood terms; they are collapsed to unique *patterns* with multiplicities, so
memory and compute grow with the number of distinct outcomes, not the number of items.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import gammaln

from mirage_bayes.errors import InputError
from mirage_bayes.models.chance_link import produced_error


class SizeAxis:
    """The model-size axis of a task: its sizes and their standardized log scale.

    Shared by :class:`TaskData` and :class:`~mirage_bayes.fitting.choice_data.ChoiceTaskData`, which
    hold ``models`` (names) and ``n_params`` (parameter counts) per scale.
    """

    models: list[str]
    n_params: np.ndarray

    @property
    def n_scales(self) -> int:
        """Number of distinct model sizes."""
        return len(self.models)

    @property
    def log_n(self) -> np.ndarray:
        """Natural log of the parameter counts."""
        return np.log(self.n_params)

    @property
    def x_center(self) -> float:
        """Midpoint of the observed log-size range: the origin of the standardized scale."""
        return float((self.log_n.min() + self.log_n.max()) / 2)

    @property
    def x_half_range(self) -> float:
        """Half the observed log-size range (1 when there is a single scale)."""
        half = float((self.log_n.max() - self.log_n.min()) / 2)
        return half if half > 0 else 1.0

    def standardize(self, n_params: np.ndarray | float) -> np.ndarray:
        """Map parameter counts to the standardized log scale (observed range → [-1, 1])."""
        return (np.log(n_params) - self.x_center) / self.x_half_range

    @property
    def x(self) -> np.ndarray:
        """Standardized log size of each scale."""
        return self.standardize(self.n_params)


@dataclass
class TaskData(SizeAxis):
    """Everything the models and reports need to know about one task.

    Attributes
    ----------
    task
        Task name.
    models
        Model names, sorted by size; the ``scale`` coordinate.
    n_params
        Parameter count of each model (same order as ``models``).
    items
        Item ids; the ``item`` coordinate. Without item ids in the input each row is its own item.
    trials, errors
        ``(item, scale)`` integer matrices: target tokens and tokens not reproduced; both 0 where
        the item was not evaluated at that scale.
    item_ids_shared
        Whether item ids link the same test item across scales (item difficulty is then shared).
    rows
        The scored rows of this task (for observed accuracy and edit distance).
    chance
        ``(item, scale)`` chance-match rates ``g`` (:mod:`mirage_bayes.inputs.chance`); 0 where the
        item was not evaluated. All zeros when not given.
    attempts, successes
        ``(item, scale)`` attempts (outputs sampled) and exact matches among them; ``trials`` and
        ``errors`` count the tokens of every attempt. One attempt per evaluated item when not
        given. Given a model and its item difficulty, attempts are independent, so the tokens of
        all attempts of an item enter its likelihood as one binomial count.
    until_pass
        Whether each item was attempted until its first exact match (or a cap): ``attempts``
        then depends on the outcomes, and only "passed within ``k``" is an unbiased reading of
        the data (:func:`mirage_bayes.fitting.attempts.observed_pass_at_k`).
    """

    task: str
    models: list[str]
    n_params: np.ndarray
    items: list[str]
    trials: np.ndarray
    errors: np.ndarray
    item_ids_shared: bool
    rows: pd.DataFrame = field(repr=False)
    chance: np.ndarray | None = field(default=None, repr=False)
    attempts: np.ndarray | None = field(default=None, repr=False)
    successes: np.ndarray | None = field(default=None, repr=False)
    until_pass: bool = False

    # Derived once: the unique (trials, errors, chance) rows and how often each occurs, and the
    # distinct per-scale chance profiles ("chance groups") with each pattern's group.
    pattern_trials: np.ndarray = field(init=False, repr=False)
    pattern_errors: np.ndarray = field(init=False, repr=False)
    pattern_counts: np.ndarray = field(init=False, repr=False)
    pattern_of_item: np.ndarray = field(init=False, repr=False)
    pattern_log_binom: np.ndarray = field(init=False, repr=False)
    chance_groups: np.ndarray = field(init=False, repr=False)
    pattern_group: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.chance is None:
            self.chance = np.zeros(self.trials.shape)
        self.chance = np.where(self.trials > 0, np.asarray(self.chance, dtype=np.float64), 0.0)
        if self.attempts is None:
            self.attempts = (self.trials > 0).astype(np.int64)
        if self.successes is None:
            self.successes = ((self.trials > 0) & (self.errors == 0)).astype(np.int64)
        stacked = np.concatenate([self.trials, self.errors, self.chance], axis=1)
        unique, inverse, counts = np.unique(
            stacked, axis=0, return_inverse=True, return_counts=True
        )
        n_scales = len(self.models)
        self.pattern_trials = unique[:, :n_scales].astype(np.float64)
        self.pattern_errors = unique[:, n_scales : 2 * n_scales].astype(np.float64)
        groups, group = np.unique(unique[:, 2 * n_scales :], axis=0, return_inverse=True)
        self.chance_groups = np.ascontiguousarray(groups, dtype=np.float64)
        self.pattern_group = group.reshape(-1).astype(np.int64)
        self.pattern_counts = counts.astype(np.float64)
        self.pattern_of_item = inverse.reshape(-1)
        t, k = self.pattern_trials, self.pattern_errors
        # log C(T, k), summed over scales: constant in the parameters, but needed for the
        # pointwise log-likelihood that LOO compares across trends.
        self.pattern_log_binom = (gammaln(t + 1) - gammaln(k + 1) - gammaln(t - k + 1)).sum(1)

    @property
    def has_attempts(self) -> bool:
        """Whether some item was sampled more than once at some size."""
        return bool((self.attempts > 1).any())

    @property
    def item_length(self) -> np.ndarray:
        """``(item, scale)`` target tokens of one attempt (0 where not evaluated)."""
        return np.where(self.attempts > 0, self.trials // np.maximum(self.attempts, 1), 0)

    @property
    def lengths(self) -> list[int]:
        """Target lengths (in tokens) present in the data."""
        return sorted(int(v) for v in np.unique(self.rows["n_tokens"]))

    def observed_epsilon(self) -> np.ndarray:
        """Pooled per-token error rate per scale as scored: errors / tokens."""
        tokens = self.trials.sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.errors.sum(0) / tokens

    def no_signal(self) -> str | None:
        """Why the data cannot show scaling, if they cannot: every evaluated target token
        reproduced at every size, or none at any."""
        evaluated = self.trials > 0
        if not (self.errors[evaluated] > 0).any():
            return "every target token is reproduced at every size"
        if (self.errors[evaluated] == self.trials[evaluated]).all():
            return "no target token is reproduced at any size"
        return None

    def corrected_epsilon(self) -> np.ndarray:
        """Observed per-token error rate per scale with chance matches taken out, in [0, 1].

        A token is scored wrong with probability ``ε·(1 − g·ε^m)``
        (:mod:`mirage_bayes.models.chance_link`): per scale, the ε whose expected scored errors
        over the items' tokens and chance rates equal the errors counted.
        """
        return produced_error(self.errors.sum(0), self.trials, self.chance)

    def chance_by_length(self) -> pd.DataFrame:
        """Chance-match rate per scale and target length: ``model, length, chance``."""
        table = self.rows.groupby(["model", "n_tokens"], sort=False)["chance"].mean()
        return table.reset_index().rename(columns={"n_tokens": "length"})

    def observed_by_length(self) -> pd.DataFrame:
        """Per scale and target length: items, exact matches and mean token edit distance.

        With repeated attempts, ``accuracy`` is the share of attempts that match (pass@1),
        ``n_items`` counts items, not attempts, ``attempts_per_item`` is their mean number of
        attempts (1 without repeats) and ``n_correct`` is ``accuracy·n_items``, the items one
        attempt each would get right (not a whole number). ``design`` says how attempts were
        given: ``""`` (one per item), ``"attempt rows"``, ``"counted"`` or ``"until pass"``
        (then ``accuracy`` is the share of items that passed at the first attempt).
        """
        rows = self.rows
        if "n_attempts" in rows and not self.until_pass:
            rows = rows.assign(tried=rows["n_attempts"], matched=rows["n_success"])
        else:
            rows = rows.assign(tried=1, matched=rows["exact_match"].astype(float))
        grouped = rows.groupby(["model", "n_tokens"], sort=False)
        table = grouped.agg(
            n_items=("tried", "size"),
            tried=("tried", "sum"),
            matched=("matched", "sum"),
            mean_edit_distance=("token_edit_distance", "mean"),
        ).reset_index()
        table = table.rename(columns={"n_tokens": "length"})
        if "attempt" in rows:
            table["n_items"] = grouped["item"].nunique().to_numpy()
        table["accuracy"] = table["matched"] / table["tried"]
        table["attempts_per_item"] = table["tried"] / table["n_items"]
        table["design"] = "attempt rows" if "attempt" in rows else ""
        if "n_attempts" in rows:
            table["design"] = "until pass" if self.until_pass else "counted"
        if self.until_pass:
            made = self.rows.groupby(["model", "n_tokens"], sort=False)["n_attempts"].mean()
            table["attempts_per_item"] = made.to_numpy()
        # Without repeats this is the count of exact matches; with them, items one attempt each
        # would get right.
        table["n_correct"] = table["accuracy"] * table["n_items"]
        if not (table["attempts_per_item"] > 1).any():
            table["n_correct"] = table["matched"].round().astype(np.int64)
        return table.drop(columns=["tried", "matched"])[
            ["model", "length", "n_items", "n_correct", "mean_edit_distance", "accuracy",
             "attempts_per_item", "design"]
        ]  # fmt: skip


def split_tasks(scored: pd.DataFrame) -> list[TaskData]:
    """Turn a scored outputs table into one :class:`TaskData` per task, in order of appearance.

    Parameters
    ----------
    scored
        Output of :func:`mirage_bayes.inputs.scoring.score_outputs`.

    Raises
    ------
    InputError
        If a task has no rows.
    """
    item_ids = bool(scored.attrs.get("item_ids", "item" in scored and scored["item"].notna().all()))
    source = scored.attrs.get("source", "input")
    tasks = []
    for task, rows in scored.groupby("task", sort=False):
        if rows.empty:
            raise InputError(f"task {task!r} has no rows", where=source)
        tasks.append(_task_data(str(task), rows.reset_index(drop=True), item_ids, source))
    return tasks


def item_scale_layout(
    task: str, rows: pd.DataFrame, item_ids: bool, source: str
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Where each row of one task goes in an items × sizes matrix, for every kind of data.

    Returns the models ordered by size, their sizes, each row's size and item index, and the
    item labels. With item ids an item is linked across sizes and may occur once per model;
    without them every row is its own item.

    Raises
    ------
    InputError
        If a model has the same item twice within the task.
    """
    sizes = rows.groupby("model", sort=False)["n_params"].first().sort_values(kind="stable")
    models = [str(m) for m in sizes.index]
    scale_codes = pd.Categorical(rows["model"], categories=models).codes
    if item_ids:
        # Repeated attempts of an item are rows of one cell (the readers refuse a repeated one).
        key = ["model", "item", "attempt"] if "attempt" in rows else ["model", "item"]
        duplicated = rows.duplicated(key, keep=False)
        if duplicated.any():
            first = rows[duplicated].iloc[0]
            raise InputError(
                f"model {first['model']!r} has item {first['item']!r} more than once",
                where=f"{source}, task {task!r}",
                fix="keep one row per (model, item) or give distinct item ids",
            )
        item_codes, item_labels = pd.factorize(rows["item"].astype(str), sort=False)
        items = [str(v) for v in item_labels]
    else:
        # Without ids nothing links items across scales: every row is its own item.
        item_codes = np.arange(len(rows))
        items = [f"{m}#{i}" for i, m in enumerate(rows["model"])]
    return models, sizes.to_numpy(np.float64), scale_codes, item_codes, items


def _task_data(task: str, rows: pd.DataFrame, item_ids: bool, source: str) -> TaskData:
    models, n_params, scale_index, item_codes, items = item_scale_layout(
        task, rows, item_ids, source
    )
    cells = (item_codes, scale_index)
    trials = np.zeros((len(items), len(models)), dtype=np.int64)
    errors, attempts, successes = (np.zeros_like(trials) for _ in range(3))
    chance = np.zeros(trials.shape)
    np.add.at(trials, cells, rows["n_tokens"].to_numpy(np.int64))
    np.add.at(errors, cells, rows["n_errors"].to_numpy(np.int64))
    if "n_attempts" in rows:
        # Counted attempts (mirage_bayes.inputs.attempt_counts): the unit is the whole answer,
        # one per attempt, so every row is an item's attempts and their exact matches.
        np.add.at(attempts, cells, rows["n_attempts"].to_numpy(np.int64))
        np.add.at(successes, cells, rows["n_success"].to_numpy(np.int64))
        if rows["until_pass"].any():
            # Passed at the first attempt: unbiased for the item's success probability, where
            # the share of successes among attempts made until the first is not.
            share = ((rows["n_success"] > 0) & (rows["n_attempts"] == 1)).astype(float)
        else:
            share = rows["n_success"] / rows["n_attempts"]
        rows = rows.assign(n_tokens=1, exact_match=share)
    else:
        np.add.at(attempts, cells, 1)
        np.add.at(successes, cells, rows["n_errors"].to_numpy(np.int64) == 0)
    if "chance" not in rows:
        rows = rows.assign(chance=0.0)
    # The rate is one per (size, target length) cell, so every attempt of an item has the same.
    chance[cells] = rows["chance"].to_numpy(np.float64)
    return TaskData(
        task=task,
        models=models,
        n_params=n_params,
        items=items,
        trials=trials,
        errors=errors,
        item_ids_shared=item_ids,
        rows=rows,
        chance=chance,
        attempts=attempts,
        successes=successes,
        until_pass=bool(rows.get("until_pass", pd.Series(False)).any()),
    )
