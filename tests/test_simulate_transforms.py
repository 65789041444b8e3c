"""Tests of the simulator and the metric transforms (no sampling)."""

from __future__ import annotations

import numpy as np
import pytest

from mirage_bayes.models import population_quantities
from mirage_bayes.scoring import score_outputs
from mirage_bayes.simulate import (
    GPT3_SIZES,
    Break,
    log_cross_entropy,
    population_truth,
    simulate_outputs,
)
from mirage_bayes.transforms import (
    accuracy_independent,
    brier_score,
    jeffreys_interval,
    token_edit_distance,
)

C_TRUE, ALPHA_TRUE = 3.0e8, -0.6


# --------------------------------------------------------------------------------------------
# Simulator
# --------------------------------------------------------------------------------------------


def test_truth_epsilon_falls_with_size_and_accuracy_with_length():
    sizes = np.array(GPT3_SIZES)
    lengths = [1, 2, 4, 8]
    truth = population_truth(log_cross_entropy(sizes, C_TRUE, ALPHA_TRUE), 0.5, lengths)
    eps = truth[truth["quantity"] == "epsilon"].sort_values("scale")["value"].to_numpy()
    assert len(eps) == len(sizes)
    assert np.all(np.diff(eps) < 0)
    assert np.all((eps > 0) & (eps < 1))
    acc = truth[truth["quantity"] == "accuracy"].pivot(
        index="scale", columns="length", values="value"
    )
    assert list(acc.columns) == lengths
    assert np.all(np.diff(acc.to_numpy(), axis=1) < 0)  # longer targets: lower accuracy
    assert np.all(np.diff(acc.to_numpy(), axis=0) > 0)  # bigger models: higher accuracy
    # The opposite sign of alpha reverses the trend.
    rising = population_truth(log_cross_entropy(sizes, C_TRUE, 0.3), 0.5, [1])
    eps_rising = rising[rising["quantity"] == "epsilon"]["value"].to_numpy()
    assert np.all(np.diff(eps_rising) > 0)


def test_log_cross_entropy_power_law_and_break():
    sizes = np.array([1e8, 1e9, 1e10])
    eta = log_cross_entropy(sizes, 1e9, -0.5)
    np.testing.assert_allclose(eta, [-0.5 * np.log(0.1), 0.0, -0.5 * np.log(10)])
    brk = Break(n_params=1e10, slope_change=-1.0, sharpness=0.05)
    far = np.array([1e6, 1e7, 1e13, 1e14])
    broken = log_cross_entropy(far, 1e9, -0.5, brk)
    slope_before = (broken[1] - broken[0]) / np.log(10)
    slope_after = (broken[3] - broken[2]) / np.log(10)
    assert slope_before == pytest.approx(-0.5, abs=1e-6)
    assert slope_after == pytest.approx(-1.5, abs=1e-6)


def test_population_truth_matches_population_quantities():
    eta = log_cross_entropy(np.array(GPT3_SIZES), C_TRUE, ALPHA_TRUE)
    truth = population_truth(eta, 0.7, [3])
    pq = population_quantities(eta[None, :], np.array([0.7]), [3], n_nodes=2001)
    eps = truth[truth["quantity"] == "epsilon"]["value"].to_numpy()
    acc = truth[truth["quantity"] == "accuracy"]["value"].to_numpy()
    np.testing.assert_allclose(eps, pq["epsilon"][0], rtol=1e-12)
    np.testing.assert_allclose(acc, pq["accuracy"][0, :, 0], rtol=1e-12)


def test_simulated_errors_are_scored_exactly():
    outputs, truth = simulate_outputs(n_items=50, n_params=(1e8, 1e10), lengths=(3, 6), seed=4)
    scored, tokenizers = score_outputs(outputs)
    assert tokenizers == {"simulated_arithmetic": "char"}
    corrupted = [
        sum(a != b for a, b in zip(t, o, strict=True))
        for t, o in zip(outputs["target"], outputs["output"], strict=True)
    ]
    assert scored["n_errors"].tolist() == corrupted
    assert set(scored["n_tokens"]) == {3, 6}
    assert sorted(set(truth["model"])) == ["100M", "10B"]
    # More errors at the smaller size, as alpha < 0 says.
    rate = (
        scored.groupby("n_params")["n_errors"].sum() / scored.groupby("n_params")["n_tokens"].sum()
    )
    assert rate.loc[1e8] > rate.loc[1e10]


# --------------------------------------------------------------------------------------------
# Transforms
# --------------------------------------------------------------------------------------------


def test_brier_score_closed_forms():
    eps = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    np.testing.assert_allclose(brier_score(eps, 2), 2 * eps**2)
    np.testing.assert_allclose(brier_score(eps, 4), 4 * eps**2 / 3)
    # Direct definition for K = 5: (ε)² on the right option + (K−1)·(ε/(K−1))² elsewhere.
    np.testing.assert_allclose(brier_score(eps, 5), eps**2 + 4 * (eps / 4) ** 2)


@pytest.mark.parametrize("choices", [1, 0, -3])
def test_brier_score_needs_two_choices(choices):
    with pytest.raises(ValueError, match="at least 2"):
        brier_score(np.array([0.1]), choices)


def test_token_edit_distance_and_independent_accuracy():
    eps = np.array([0.0, 0.05, 0.3, 1.0])
    for length in (1, 3, 10):
        np.testing.assert_allclose(token_edit_distance(eps, length), length * eps)
        np.testing.assert_allclose(accuracy_independent(eps, length), (1 - eps) ** length)


def test_jeffreys_interval():
    k = np.array([0, 1, 5, 9, 10, 0, 37])
    n = np.array([10, 10, 10, 10, 10, 1, 50])
    low, high = jeffreys_interval(k, n, 0.94)
    p = k / n
    assert np.all((low >= 0) & (high <= 1) & (low <= p) & (p <= high))
    assert np.all(low < high)
    assert low[0] == 0 and high[4] == 1  # the boundary cases
    assert 0 < low[2] < 0.5 < high[2] < 1
    # Equal-tailed Beta(k + ½, n − k + ½) quantiles.
    from scipy.stats import beta

    assert low[6] == pytest.approx(beta.ppf(0.03, 37.5, 13.5))
    assert high[6] == pytest.approx(beta.ppf(0.97, 37.5, 13.5))
    # Wider at higher probability.
    low99, high99 = jeffreys_interval(k, n, 0.99)
    assert np.all(low99 <= low) and np.all(high99 >= high)
    assert np.all(high99 - low99 > high - low)
