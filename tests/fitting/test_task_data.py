"""A task as item × size matrices (``split_tasks``), and which trends a task can identify."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from mirage_bayes.fitting.data import split_tasks
from mirage_bayes.fitting.inference import trends_for
from mirage_bayes.models import item_log_likelihood
from mirage_bayes.simulate.generation import (
    GPT3_SIZES,
)

from support import fine_item_log_likelihood, task_data

# --------------------------------------------------------------------------------------------
# Task data
# --------------------------------------------------------------------------------------------


def scored_table(rows, *, item_ids: bool = True) -> pd.DataFrame:
    table = pd.DataFrame(
        rows, columns=["task", "model", "n_params", "item", "n_tokens", "n_errors"]
    )
    if not item_ids:
        table["item"] = None
    table["token_edit_distance"] = table["n_errors"]
    table["exact_match"] = table["n_errors"] == 0
    table.attrs.update({"item_ids": item_ids, "source": "test"})
    return table


ROWS = [
    # task, model, n_params, item, n_tokens, n_errors — the big model comes first on purpose.
    ("t", "big", 1e10, "a", 3, 0),
    ("t", "big", 1e10, "b", 3, 0),
    ("t", "big", 1e10, "c", 2, 1),
    ("t", "small", 1e8, "a", 3, 2),
    ("t", "small", 1e8, "b", 3, 2),
    ("t", "small", 1e8, "c", 2, 2),
    ("t", "small", 1e8, "d", 4, 1),
    ("t", "mid", 1e9, "a", 3, 1),
    ("t", "mid", 1e9, "b", 3, 1),
    ("t", "mid", 1e9, "d", 4, 4),
    ("u", "big", 1e10, "a", 5, 5),
]


def test_split_tasks_builds_item_by_scale_matrices():
    tasks = split_tasks(scored_table(ROWS))
    assert [t.task for t in tasks] == ["t", "u"]
    data = tasks[0]
    assert data.models == ["small", "mid", "big"]
    np.testing.assert_array_equal(data.n_params, [1e8, 1e9, 1e10])
    assert data.items == ["a", "b", "c", "d"]
    assert data.item_ids_shared
    np.testing.assert_array_equal(data.trials, [[3, 3, 3], [3, 3, 3], [2, 0, 2], [4, 4, 0]])
    np.testing.assert_array_equal(data.errors, [[2, 1, 0], [2, 1, 0], [2, 0, 1], [1, 4, 0]])
    np.testing.assert_allclose(data.x, [-1.0, 0.0, 1.0])
    assert data.lengths == [2, 3, 4]
    np.testing.assert_allclose(data.observed_epsilon(), [7 / 12, 6 / 10, 1 / 8])
    assert tasks[1].models == ["big"] and tasks[1].n_scales == 1


def test_patterns_collapse_identical_items():
    data = split_tasks(scored_table(ROWS))[0]
    # Items a and b are identical: 3 patterns for 4 items.
    assert len(data.pattern_counts) == 3
    assert data.pattern_counts.sum() == len(data.items)
    assert data.pattern_of_item[0] == data.pattern_of_item[1]
    assert len(set(data.pattern_of_item.tolist())) == 3
    np.testing.assert_array_equal(data.pattern_trials[data.pattern_of_item], data.trials)
    np.testing.assert_array_equal(data.pattern_errors[data.pattern_of_item], data.errors)
    counts = np.bincount(data.pattern_of_item, minlength=len(data.pattern_counts))
    np.testing.assert_array_equal(counts, data.pattern_counts)
    # log C(T, k) summed over scales, per pattern (a missing scale contributes log C(0, 0) = 0).
    expected = binom.logpmf(data.errors, data.trials, 0.5) - data.trials * np.log(0.5)
    np.testing.assert_allclose(
        data.pattern_log_binom[data.pattern_of_item], expected.sum(1), atol=1e-12
    )


def test_split_tasks_without_item_ids_makes_every_row_an_item():
    rows = [r for r in ROWS if r[0] == "t"]
    data = split_tasks(scored_table(rows, item_ids=False))[0]
    assert not data.item_ids_shared
    assert len(data.items) == len(rows) == len(set(data.items))
    assert data.trials.shape == (len(rows), 3)
    # Exactly one observed scale per item.
    assert np.all((data.trials > 0).sum(1) == 1)
    assert data.trials.sum() == sum(r[4] for r in rows)
    assert data.errors.sum() == sum(r[5] for r in rows)
    assert data.pattern_counts.sum() == len(rows)


def test_item_log_likelihood_of_unshared_items_is_per_row():
    """Without shared ids every row is an independent binomial mixture over its difficulty."""
    rows = [r for r in ROWS if r[0] == "t"]
    data = split_tasks(scored_table(rows, item_ids=False))[0]
    mu = np.array([[-0.5, -1.0, -2.0]])
    sigma = np.array([0.6])
    got = item_log_likelihood(data, mu, sigma)[0]
    np.testing.assert_allclose(got, fine_item_log_likelihood(data, mu, sigma)[0], atol=1e-6)


# --------------------------------------------------------------------------------------------
# Which trends a task can identify
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_scales", "fitted", "skipped"),
    [
        (1, ["scale_free"], ["power_law", "broken_power_law"]),
        (2, ["scale_free"], ["power_law", "broken_power_law"]),
        (3, ["scale_free", "power_law"], ["broken_power_law"]),
        (4, ["scale_free", "power_law"], ["broken_power_law"]),
        (5, ["scale_free", "power_law", "broken_power_law"], []),
        (8, ["scale_free", "power_law", "broken_power_law"], []),
    ],
)
def test_trends_for(n_scales, fitted, skipped):
    data = task_data(GPT3_SIZES[:n_scales], np.ones((2, n_scales)), np.zeros((2, n_scales)))
    assert trends_for(data.n_scales, ["power_law", "broken_power_law"]) == (fitted, skipped)


def test_trends_for_keeps_scale_free_once_and_first():
    data = task_data(GPT3_SIZES[:3], np.ones((2, 3)), np.zeros((2, 3)))
    assert trends_for(data.n_scales, ["power_law", "scale_free"]) == (
        ["scale_free", "power_law"],
        [],
    )
    assert trends_for(data.n_scales, ["broken_power_law"]) == (["scale_free"], ["broken_power_law"])


def test_split_tasks_refuses_duplicate_items_from_a_hand_built_frame():
    import pandas as pd

    from mirage_bayes.errors import InputError

    rows = pd.DataFrame(
        {"task": "t", "model": ["m", "m"], "n_params": 1e9, "item": ["a", "a"],
         "n_tokens": [3, 3], "n_errors": [0, 1], "exact_match": [True, False],
         "token_edit_distance": [0.0, 1.0]}
    )  # fmt: skip
    rows.attrs.update(item_ids=True, source="frame")
    with pytest.raises(InputError, match="item 'a' more than once"):
        split_tasks(rows)
