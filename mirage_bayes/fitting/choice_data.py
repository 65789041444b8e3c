"""A multiple-choice task as ``items × scales`` matrices: what the models and reports read.

The multiple-choice counterpart of :mod:`mirage_bayes.fitting.data`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mirage_bayes.fitting.data import SizeAxis, item_scale_layout

__all__ = ["ChoiceTaskData", "split_choice_tasks"]


@dataclass
class ChoiceTaskData(SizeAxis):
    """One multiple-choice task as ``items × scales`` matrices (NaN where not evaluated).

    Attributes
    ----------
    task, models, n_params, items, item_ids_shared, rows
        As in :class:`mirage_bayes.fitting.data.TaskData`; ``rows`` are the scored rows
        (:func:`mirage_bayes.inputs.choices.score_choices`).
    log_ce
        ``log(−log p_correct)`` of each item at each scale.
    max_wrong_share, wrong_sum_squares
        Shape of the wrong mass (see :mod:`mirage_bayes.inputs.choices`).
    n_choices
        Choices of each item at each scale (0 where not evaluated).
    """

    task: str
    models: list[str]
    n_params: np.ndarray
    items: list[str]
    log_ce: np.ndarray
    max_wrong_share: np.ndarray
    wrong_sum_squares: np.ndarray
    n_choices: np.ndarray
    item_ids_shared: bool
    rows: pd.DataFrame = field(repr=False)

    @property
    def observed(self) -> np.ndarray:
        """``(items, scales)``: whether the item was evaluated at the scale."""
        return self.n_choices > 0

    def no_signal(self) -> str | None:
        """Why the data cannot show scaling, if they cannot: the probability on the correct
        choice is the same for every item at every size (every option tied, say)."""
        values = self.log_ce[self.observed]
        if values.size and np.ptp(values) < 1e-9:
            return "the probability on the correct choice is the same for every item and size"
        return None

    @property
    def chance(self) -> float:
        """The task's chance level: the mean of ``1/K`` over the evaluated items."""
        return float(np.mean(1.0 / self.n_choices[self.observed]))

    @property
    def item_effects(self) -> bool:
        """Whether item effects are identifiable: some item is seen at two or more scales."""
        return bool(self.item_ids_shared and (self.observed.sum(1) > 1).any())


def split_choice_tasks(scored: pd.DataFrame) -> list[ChoiceTaskData]:
    """One :class:`ChoiceTaskData` per task of a scored multiple-choice table, in order.

    Raises
    ------
    InputError
        If a model has the same item twice within a task.
    """
    item_ids = bool(scored.attrs.get("item_ids", scored["item"].notna().all()))
    source = scored.attrs.get("source", "input")
    return [
        _task(str(task), rows.reset_index(drop=True), item_ids, source)
        for task, rows in scored.groupby("task", sort=False)
    ]


def _task(task: str, rows: pd.DataFrame, item_ids: bool, source: str) -> ChoiceTaskData:
    models, n_params, scale, codes, items = item_scale_layout(task, rows, item_ids, source)
    shape = (len(items), len(models))
    matrices = {}
    for column in ("log_ce", "max_wrong_share", "wrong_sum_squares"):
        matrix = np.full(shape, np.nan)
        matrix[codes, scale] = rows[column].to_numpy(float)
        matrices[column] = matrix
    n_choices = np.zeros(shape, dtype=np.int64)
    n_choices[codes, scale] = rows["n_choices"].to_numpy(np.int64)
    # Built field by field like TaskData: the two kinds share the task protocol, not their
    # matrices, so a common constructor would take the union of both.
    return ChoiceTaskData(
        task=task,
        models=models,
        n_params=n_params,
        items=items,
        n_choices=n_choices,
        item_ids_shared=item_ids,
        rows=rows,
        **matrices,
    )
