"""The emergence score (Eq. 1 with a resolution term), BH q-values and count summaries."""

from __future__ import annotations

import numpy as np
import pytest

from mirage_bayes.meta.emergence import (
    bh_qvalues,
    continuous_resolution,
    count_summary,
    emergence_score,
    proportion_resolution,
)


def test_straight_line_scores_number_of_steps():
    for n_scales in (3, 7, 12):
        y = np.linspace(0.1, 0.9, n_scales)
        assert emergence_score(y) == pytest.approx(n_scales - 1)


def test_matches_eq1_by_hand():
    y = np.array([0.0, 0.1, 0.1, 0.5, 0.9])
    steps = np.diff(y) ** 2  # 0.01, 0, 0.16, 0.16 -> median 0.085
    expected = 0.9 / np.sqrt(np.median(steps))
    assert emergence_score(y) == pytest.approx(expected)
    assert emergence_score(y, resolution=0.1) == pytest.approx(0.9 / np.sqrt(0.085 + 0.01))


def test_sign_follows_argmax_after_argmin():
    y = np.array([0.9, 0.5, 0.1, 0.1, 0.0])
    assert emergence_score(y) < 0
    assert emergence_score(y[::-1]) == pytest.approx(-emergence_score(y))


def test_all_equal_scores_zero_even_without_resolution():
    assert emergence_score(np.zeros(6)) == 0.0
    assert emergence_score(np.full(6, 0.3), resolution=0.01) == 0.0


def test_flat_then_jump_is_finite_with_resolution():
    # modified_arithmetic's shape: 0, 0, 0, 0, 0, 27 of 204.
    n = 204
    y = np.array([0, 0, 0, 0, 0, 27]) / n
    with np.errstate(divide="ignore"):
        assert np.isinf(emergence_score(y))
    score = emergence_score(y, proportion_resolution(np.full(6, n)))
    assert score == pytest.approx(27.0)  # (27/n) / (1/n): the jump in items


def test_vectorised_over_replicates():
    rng = np.random.default_rng(0)
    curves = rng.uniform(size=(50, 8))
    scores = emergence_score(curves, 0.01)
    assert scores.shape == (50,)
    assert scores[7] == pytest.approx(emergence_score(curves[7], 0.01))


def test_needs_two_scales():
    with pytest.raises(ValueError):
        emergence_score(np.array([0.5]))


def test_resolutions():
    assert proportion_resolution(np.array([50, 100, 200])) == pytest.approx(0.01)
    assert continuous_resolution(np.array([1.0, 3.0])) == pytest.approx(2e-3)
    assert continuous_resolution(np.array([1.0, 1.0])) == 0.0


def test_bh_matches_definition_and_keeps_nan():
    p = np.array([0.01, np.nan, 0.04, 0.03, 0.5])
    q = bh_qvalues(p)
    finite = p[~np.isnan(p)]
    m = finite.size
    order = np.argsort(finite)
    ranked = finite[order] * m / np.arange(1, m + 1)
    manual = np.minimum.accumulate(ranked[::-1])[::-1]
    expected = np.empty(m)
    expected[order] = np.minimum(manual, 1)
    assert np.isnan(q[1])
    np.testing.assert_allclose(q[~np.isnan(p)], expected)


def test_bh_controls_false_discoveries_on_uniform_nulls():
    rng = np.random.default_rng(1)
    rejections = [(bh_qvalues(rng.uniform(size=200)) < 0.05).sum() for _ in range(200)]
    # Under the global null BH's family-wise error equals its FDR level, 5%.
    assert np.mean(np.asarray(rejections) > 0) < 0.1


def test_count_summary():
    counts = np.r_[np.full(10, 3), np.full(80, 5), np.full(10, 9)]
    summary = count_summary(counts)
    assert summary["mean"] == pytest.approx(5.2)
    low, high = summary["hdi"]
    assert low <= 5 <= high
    assert count_summary(np.full(5, 2))["hdi"] == [2.0, 2.0]
