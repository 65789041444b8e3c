"""The class rules of ``mirage-bayes meta`` on hand-made curves (no sampling): worse, irregular,
too few sizes, late jump, accelerating, flat, saturating, smooth; and the noise-floor helpers."""

from __future__ import annotations

import numpy as np
import pytest

from mirage_bayes.meta.classify import (
    LATE_ALPHA,
    MIN_SIZES_LATE,
    classify,
    has_drop,
    late_shape,
    local_scatter,
    n_future,
    pooled_floor,
    proportion_se,
)


def _se(p, n=200):
    p = np.asarray(p, float)
    return proportion_se(np.round(p * n), np.full(p.size, n))


def _classify(p, p_late=None, n=200):
    return classify(np.asarray(p, float), _se(p, n), p_late)


def test_worse_at_the_largest_size():
    assert _classify([0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.45], 0.9) == "worse"


def test_irregular_formatting_failure_even_with_four_sizes():
    # 0.51, 0.50, 0.05, 0.47: one size fails; the last is not below the others beyond noise.
    assert _classify([0.51, 0.50, 0.05, 0.47]) == "irregular"


def test_noise_is_not_irregular():
    rng = np.random.default_rng(0)
    flagged = 0
    for _ in range(200):
        p = rng.binomial(100, 0.25, 12) / 100
        flagged += _classify(p, 0.5, n=100) in ("irregular", "worse")
    assert flagged <= 6  # about 1% expected at 3.5 standard errors


def test_too_few_sizes_for_a_step():
    assert _classify([0.0, 0.0, 0.0, 0.992], 0.0) == "too_few"
    assert MIN_SIZES_LATE == 6 and n_future(5) == 1 and n_future(6) == 2


def test_late_jump_needs_the_forecast_and_the_shape():
    p = [0.0, 0.0, 0.01, 0.0, 0.0, 0.0, 0.05, 0.45]
    assert _classify(p, LATE_ALPHA / 2) == "late_jump"
    assert _classify(p, 0.2) == "smooth"
    # Beyond the forecast, but most of the rise came before the largest sizes.
    steady = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.75, 0.8]
    assert _classify(steady, LATE_ALPHA / 2) == "accelerating"


def test_a_spike_that_falls_back_at_the_largest_size_is_no_late_jump():
    # Pythia 0-shot multiplication-like: 1/50 at five sizes, 7/50, then 2/50.
    spike = np.array([1, 1, 1, 1, 1, 7, 2]) / 50
    assert _classify(spike, LATE_ALPHA / 10, n=50) != "late_jump"
    # The same jump kept at the largest size is one.
    kept = np.array([1, 1, 1, 1, 1, 7, 30]) / 50
    assert _classify(kept, LATE_ALPHA / 10, n=50) == "late_jump"
    # Fallen half way back: the largest size keeps less than half the range.
    halved = np.array([2, 2, 2, 2, 2, 20, 9]) / 50
    assert _classify(halved, LATE_ALPHA / 10, n=50) == "accelerating"


def test_beyond_the_forecast_without_a_real_gain_gets_the_ordinary_class():
    # BIG-G metaphor_understanding-like: flat, the largest size 1 SE above the best smaller one.
    k = np.array([18, 20, 17, 20, 20, 17, 15, 19, 17, 13, 20, 25])
    assert _classify(k / 47, LATE_ALPHA / 2, n=47) == _classify(k / 47, 0.5, n=47) == "flat"


def test_late_shape_and_classify_agree_on_the_largest_size():
    past, se_past = np.zeros(5), np.full(5, 0.01)
    futures = np.array([[0.4, 0.05], [0.05, 0.4], [0.4, 0.38]])
    se = np.full((3, 2), 0.03)
    np.testing.assert_array_equal(late_shape(past, se_past, futures, se), [False, True, True])


def test_the_threshold_is_the_configured_one():
    p = np.array([0.0, 0.0, 0.01, 0.0, 0.0, 0.0, 0.05, 0.45])
    se = _se(p, 200)
    assert classify(p, se, 1.5 * LATE_ALPHA) != "late_jump"
    assert classify(p, se, 1.5 * LATE_ALPHA, alpha=2 * LATE_ALPHA) == "late_jump"


def test_flat_saturating_and_smooth():
    assert _classify([0.25, 0.26, 0.24, 0.25, 0.27, 0.25, 0.26, 0.25], 0.5) == "flat"
    # sciq-like: 0.61 → 0.92 → flat; BLiMP-like: 0.38 → 0.77 → flat.
    assert _classify([0.61, 0.85, 0.92, 0.92, 0.93, 0.92, 0.93, 0.92], 0.9) == "saturating"
    assert _classify([0.38, 0.7, 0.77, 0.78, 0.77, 0.78, 0.77], 0.9) == "saturating"
    assert _classify(np.linspace(0.1, 0.8, 8), 0.4) == "smooth"


def test_late_shape_vectorised_over_replicates():
    past = np.zeros(6)
    se_past = np.full(6, 0.005)
    future = np.array([[0.05, 0.45], [0.01, 0.02]])
    se_future = np.full((2, 2), 0.03)
    np.testing.assert_array_equal(late_shape(past, se_past, future, se_future), [True, False])


def test_has_drop():
    assert has_drop(np.array([0.5, 0.1]), np.array([0.02, 0.02]))
    assert not has_drop(np.array([0.5, 0.49]), np.array([0.02, 0.02]))


def test_local_scatter_of_a_line_and_of_noise():
    x = np.log10(np.logspace(8, 11, 9) * np.array([1, 1.3, 1, 0.8, 1, 1.2, 1, 1, 1]))
    assert local_scatter(x, 3.0 - 0.5 * x) == pytest.approx(0.0, abs=1e-12)  # uneven spacing
    rng = np.random.default_rng(1)
    noise = [local_scatter(x, 0.02 * rng.standard_normal(x.size)) for _ in range(400)]
    assert np.median(noise) == pytest.approx(0.02, rel=0.2)
    assert np.isnan(local_scatter(x[:2], x[:2]))


def test_pooled_floor_is_the_median_and_at_least_the_precision():
    assert pooled_floor(np.array([0.01, 0.02, np.nan, 0.5]), np.array([0.1, 0.1001])) == 0.02
    assert pooled_floor(np.array([0.0]), np.array([0.0, 0.0, 0.0003])) == pytest.approx(
        0.0003 / np.sqrt(12)
    )
