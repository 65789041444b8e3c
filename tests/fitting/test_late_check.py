"""``fit``'s late-jump check: a smooth curve that bends is not emergence; a late jump is."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr

from mirage_bayes.fitting.comparison import verdict
from mirage_bayes.fitting.data import split_tasks
from mirage_bayes.fitting.late_check import LateCheck, headline_length, late_check, late_check_rows
from mirage_bayes.inputs.io import read_outputs
from mirage_bayes.inputs.scoring import score_outputs

from support import EXAMPLE

SIZES = np.array([1.25e8, 3.5e8, 7.6e8, 1.3e9, 2.7e9, 6.7e9, 1.3e10, 1.75e11])


def _grade_counts(margin: np.ndarray, n_items: int, seed: int) -> np.ndarray:
    """Items right per size when each item's logit margin is ``margin + Normal(0, 1)``
    (graded right when positive), with its own items at every size."""
    rng = np.random.default_rng(seed)
    return rng.binomial(n_items, ndtr(margin))


def test_margin_linear_in_log_size_is_not_a_late_jump():
    # The multiple-choice case: the margin grows linearly in log N and crosses 0, so grade is
    # a smooth probit in log N; not a single power law in −log p_correct, but predictable.
    x = (np.log10(SIZES) - np.log10(SIZES).min()) / np.ptp(np.log10(SIZES))
    counts = _grade_counts(-0.7 + 5.0 * x, 200, seed=3)
    check = late_check("margin", "mc_grade", SIZES, counts, np.full(8, 200), chance=0.25)
    assert check.klass in {"smooth", "saturating"}, check
    assert not check.late_jump
    text = check.sentence(broken_preferred=True)
    assert "not a break in ability" in text and "claimed as emergence" not in text


def test_flat_at_chance_then_a_jump_is_a_late_jump():
    margin = np.array([-0.7] * 6 + [0.0, 2.5])
    counts = _grade_counts(margin, 200, seed=4)
    check = late_check("jump", "mc_grade", SIZES, counts, np.full(8, 200), chance=0.25)
    assert check.late_jump, check
    assert check.p_late < 0.01
    assert "claimed as emergence" in check.sentence(broken_preferred=True)


def test_too_few_sizes_are_said_so():
    check = late_check("step", "exact_match", SIZES[:4], np.array([0, 0, 0, 198]),
                       np.full(4, 200))  # fmt: skip
    assert check.klass == "too_few"
    assert "at least 6 sizes" in check.sentence(broken_preferred=False)


@pytest.mark.parametrize("klass", ["smooth", "late_jump", "saturating"])
def test_the_verdict_ends_with_the_check(klass):
    table = pd.DataFrame({
        "task": "t", "trend": ["broken_power_law", "power_law"], "rank": [0, 1],
        "elpd_loo": [0.0, -30.0], "se": [1.0, 1.0], "p_loo": [3.0, 2.0],
        "elpd_diff": [0.0, 30.0], "dse": [0.0, 5.0], "weight": [1.0, 0.0], "warning": False,
    })  # fmt: skip
    table.attrs["pairs"] = {("power_law", "broken_power_law"): ("broken_power_law", 30.0, 5.0)}
    late = LateCheck("t", "exact_match", klass, 0.001 if klass == "late_jump" else 0.4, 8, True)
    text = verdict("t", table, 8, [], late.sentence)
    assert text.endswith(late.sentence(broken_preferred=True))
    assert "whether the smaller sizes predicted it" in text
    assert ("not a break in ability" in text) == (klass != "late_jump")
    assert late.to_dict()["class"] == klass


def test_headline_length_is_the_best_tested_and_then_the_longest():
    rows = pd.DataFrame({
        "model": ["a", "a", "a", "b", "b", "b", "b"],
        "n_tokens": [1, 2, 3, 1, 2, 3, 3],
    })  # fmt: skip
    # Length 3 has the most items at its least-tested size (1 at a), tied with 1 and 2: longest.
    assert headline_length(rows, ["a", "b"]) == 3
    assert headline_length(rows[rows["n_tokens"] != 3], ["a", "b"]) == 2
    assert headline_length(rows[rows["model"] == "a"], ["a", "b"]) is None  # b tested nothing


def test_a_smooth_law_is_not_a_jump_once_lengths_are_not_pooled():
    """The bundled example follows one power law; pooling its lengths 1–5 gives a curve that is
    no single smooth law, which read as accelerating (p = 0.001)."""
    (data,) = split_tasks(score_outputs(read_outputs(EXAMPLE))[0])
    length = headline_length(data.rows, data.models)
    assert length == 5
    check = late_check_rows(
        data.task, data.rows, data.models, data.n_params, "exact_match", length=length
    )
    assert check.klass not in ("late_jump", "accelerating") and check.p_late > 0.01
    assert "of the 5-token targets" in check.sentence(False)
