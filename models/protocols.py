"""What the models read of a task's data, as structural types.

The models depend on NumPy, PyMC and PyTensor only; the classes that prepare a task's data
(``mirage_bayes.fitting.data.TaskData``, ``mirage_bayes.fitting.choice_data.ChoiceTaskData``)
satisfy these protocols without importing them.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["ChoiceData", "GenerationData"]


class GenerationData(Protocol):
    """A generation task: token trials and errors per item × size, grouped into patterns of
    items with the same counts (see ``mirage_bayes.fitting.data.TaskData``)."""

    models: list[str]
    trials: np.ndarray
    pattern_trials: np.ndarray
    pattern_errors: np.ndarray
    pattern_counts: np.ndarray
    pattern_of_item: np.ndarray
    pattern_log_binom: np.ndarray
    chance_groups: np.ndarray
    pattern_group: np.ndarray

    @property
    def x(self) -> np.ndarray: ...

    @property
    def n_scales(self) -> int: ...


class ChoiceData(Protocol):
    """A multiple-choice task: the correct choice's cross-entropy per item × size (see
    ``mirage_bayes.fitting.choice_data.ChoiceTaskData``)."""

    models: list[str]
    log_ce: np.ndarray

    @property
    def chance(self) -> float: ...

    @property
    def x(self) -> np.ndarray: ...

    @property
    def n_scales(self) -> int: ...

    @property
    def observed(self) -> np.ndarray: ...

    @property
    def item_effects(self) -> bool: ...
