"""P(0 correct), the predictive distribution of observed accuracy and the resolution floors.

Fast tests check the formulas against closed forms and against simulations of the generative
model; a FitResult whose "posterior" is the simulation truth checks the summary rows, the
resolution table and the report section without sampling. One slow test fits simulated data.
"""

from __future__ import annotations

import json

import arviz as az
import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from mirage_bayes.fitting.data import split_tasks
from mirage_bayes.fitting.inference import Diagnostics
from mirage_bayes.fitting.resolution import (
    RESOLUTION_COLUMNS,
    floors_by_task,
    observed_test_sets,
    p_zero_correct,
    p_zero_draws,
    p_zero_same_items,
    predictive_accuracy,
    predictive_count_pmf,
    predictive_count_quantile,
    resolution_floors,
)
from mirage_bayes.fitting.result import FitResult
from mirage_bayes.inputs.scoring import score_outputs
from mirage_bayes.models.generation import epsilon_from_eta, population_quantities
from mirage_bayes.simulate.generation import GPT3_SIZES, log_cross_entropy, simulate_outputs

matplotlib.use("Agg")

C_TRUE, ALPHA_TRUE, SIGMA_TRUE = 3.0e8, -0.6, 0.5


def _accuracy(mu: float, sigma: float, length: int) -> float:
    """Population accuracy of one scale: ``E_u[(1 − ε_u)^L]``."""
    draws = population_quantities(np.array([[mu]]), np.array([sigma]), [length])
    return float(draws["accuracy"][0, 0, 0])


def _simulate_zero_counts(mu, sigma, length, n_items, n_sets, rng) -> np.ndarray:
    """Whether each of ``n_sets`` simulated test sets of new items had no exact match.

    The generative model of :mod:`mirage_bayes.simulate.generation`, written out independently: item
    difficulty ``u ~ N(0, σ)``, each token wrong with probability ``1 − exp(−exp(μ + u))``.
    """
    u = rng.normal(0.0, sigma, (n_sets, n_items))
    p_token_wrong = epsilon_from_eta(mu + u)
    wrong = rng.random((n_sets, n_items, length)) < p_token_wrong[..., None]
    exact = ~wrong.any(-1)
    return exact.sum(1) == 0


# --- formulas ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epsilon", "length", "n_items"),
    [(0.3, 5, 100), (0.05, 1, 10), (0.8, 5, 40), (0.9, 10, 10_000), (0.01, 20, 3)],
)
def test_p_zero_without_heterogeneity_is_the_closed_form(epsilon, length, n_items):
    mu = np.log(-np.log1p(-epsilon))  # η with ε = 1 − exp(−exp(η))
    accuracy = _accuracy(mu, 0.0, length)
    expected = (1.0 - (1.0 - epsilon) ** length) ** n_items
    assert p_zero_correct(np.array([accuracy]), n_items) == pytest.approx(expected, rel=1e-9)


def test_p_zero_through_item_level_model_matches_simulation_not_the_shortcut():
    mu, sigma, length, n_items = np.log(0.7), 1.0, 5, 20
    accuracy = np.array([_accuracy(mu, sigma, length)])
    ours = p_zero_correct(accuracy, n_items)
    zeros = _simulate_zero_counts(mu, sigma, length, n_items, 20_000, np.random.default_rng(4))
    se = np.sqrt(ours * (1 - ours) / zeros.size)
    assert abs(zeros.mean() - ours) < 4 * se, (zeros.mean(), ours)
    # The independence shortcut (1 − ε̄)^L ignores item spread and is far off here.
    eps_bar = population_quantities(np.array([[mu]]), np.array([sigma]), [1])["epsilon"][0, 0]
    shortcut = (1 - (1 - eps_bar) ** length) ** n_items
    assert abs(zeros.mean() - shortcut) > 10 * se


def test_p_zero_draws_edge_cases():
    values = p_zero_draws(np.array([0.0, 1.0, 0.5, 1e-12]), np.array([5, 5, 0, 1e6]))
    np.testing.assert_allclose(values, [1.0, 0.0, 1.0, np.exp(-1e-6)], rtol=1e-12)
    assert np.isnan(p_zero_draws(np.array([0.2]), np.nan)).all()


def test_predictive_distribution_is_the_mixture_of_binomials():
    rng = np.random.default_rng(0)
    accuracy = rng.beta(2.0, 60.0, 400)
    n = 50
    pmf = predictive_count_pmf(accuracy, n)
    assert pmf.shape == (n + 1,)
    assert pmf.sum() == pytest.approx(1.0)
    assert pmf[0] == pytest.approx(p_zero_correct(accuracy, n))
    cdf = np.cumsum(pmf)
    for q in (0.03, 0.5, 0.97):
        assert predictive_count_quantile(accuracy, n, q) == int(np.searchsorted(cdf, q - 1e-12))
    summary = predictive_accuracy(accuracy, n)
    assert summary["mean"] == pytest.approx(accuracy.mean())
    assert summary["p_zero"] == pytest.approx(pmf[0])
    assert summary["low"] == 0.0 and 0 < summary["high"] < 0.25
    # Sampled counts agree with the pmf (draw accuracy, then the count).
    counts = rng.binomial(n, rng.choice(accuracy, 40_000))
    assert np.mean(counts == 0) == pytest.approx(pmf[0], abs=0.015)


def test_resolution_floors():
    accuracy_floor, token_floor = resolution_floors(np.array([100, 40]), np.array([5, 1]))
    np.testing.assert_allclose(accuracy_floor, [0.01, 0.025])
    np.testing.assert_allclose(token_floor, [0.002, 0.025])


# --- a fit whose posterior is the simulation truth -----------------------------------------------


def _truth_result(n_items: int, lengths: tuple[int, ...], seed: int, extra_lengths=()):
    """Simulated data and a FitResult whose power-law "posterior" is the truth itself."""
    outputs, _ = simulate_outputs(
        n_items=n_items, lengths=lengths, c=C_TRUE, alpha=ALPHA_TRUE, sigma_item=SIGMA_TRUE,
        seed=seed,
    )  # fmt: skip
    scored, _ = score_outputs(outputs, "auto", chance=0.0)  # the truth below has no chance term
    (data,) = split_tasks(scored)
    eta = log_cross_entropy(data.n_params, C_TRUE, ALPHA_TRUE)
    # η = α(log N − log c) is a + β·x on the standardized scale x.
    a = ALPHA_TRUE * (data.x_center - np.log(C_TRUE))
    beta = ALPHA_TRUE * data.x_half_range
    np.testing.assert_allclose(a + beta * data.x, eta)
    draws = 8
    posterior = {
        "a": np.full((2, draws), a),
        "beta": np.full((2, draws), beta),
        "sigma_item": np.full((2, draws), SIGMA_TRUE),
        "mu": np.broadcast_to(eta, (2, draws, len(eta))).copy(),
    }
    idata = az.from_dict(posterior=posterior, dims={"mu": ["scale"]}, coords={"scale": data.models})
    comparison = pd.DataFrame(
        [[data.task, "power_law", 0, -100.0, 5.0, 2.0, 0.0, 0.0, 1.0, False]],
        columns="task trend rank elpd_loo se p_loo elpd_diff dse weight warning".split(),
    )
    result = FitResult(
        tasks=[data],
        idatas={data.task: {"power_law": idata}},
        comparisons=[comparison],
        verdict_texts={data.task: "Simulated."},
        diagnostics_by_fit={(data.task, "power_law"): Diagnostics(1.0, 1000.0, 0)},
        meta={"lengths": list(extra_lengths)},
    )
    return result, data, eta


@pytest.fixture(scope="module")
def truth_fit():
    """8 GPT-3 sizes, 60 items of 8 tokens: the smallest models score 0 of 60."""
    return _truth_result(60, (8,), seed=3, extra_lengths=(3,))


def test_observed_test_sets(truth_fit):
    _, data, _ = truth_fit
    sizes, zero = observed_test_sets(data, [8, 3])
    table = data.observed_by_length()
    np.testing.assert_array_equal(sizes[:, 0], table["n_items"])
    np.testing.assert_array_equal(zero[:, 0], (table["n_correct"] == 0).astype(float))
    # Length 3 is not in the data: the whole test set, no observation.
    np.testing.assert_array_equal(sizes[:, 1], (data.trials > 0).sum(0))
    assert np.isnan(zero[:, 1]).all()


def test_summary_p_zero_rows_are_the_truth_at_zero_scales(truth_fit):
    result, data, eta = truth_fit
    summary = result.summary()
    rows = summary[(summary["quantity"] == "p_zero_correct") & (summary["trend"] == "power_law")]
    assert len(rows) == 2 * data.n_scales  # one per scale and length (8 and the extra 3)
    at8 = rows[rows["length"] == 8].set_index("model").loc[data.models]
    counts = data.observed_by_length().set_index("model").loc[data.models, "n_correct"]
    truth = np.array([(1 - _accuracy(e, SIGMA_TRUE, 8)) ** 60 for e in eta])
    np.testing.assert_allclose(at8["mean"], truth, rtol=1e-6)
    np.testing.assert_array_equal(at8["observed"], (counts == 0).astype(float))
    zeros = counts.to_numpy() == 0
    assert zeros[:3].all() and not zeros[3:].any(), counts  # the seed gives zeros at small sizes
    # The claim: every observed 0 of 60 is consistent with the smooth law (P > 0.05), and where
    # the true accuracy lies below the resolution 1/n a zero is the likely outcome (P > 0.5).
    p_zero = at8["mean"].to_numpy()
    below_floor = np.array([_accuracy(e, SIGMA_TRUE, 8) for e in eta]) < 1 / 60
    assert below_floor[:2].all() and (zeros | ~below_floor).all()
    assert (p_zero[zeros] > 0.05).all()
    assert (p_zero[zeros & below_floor] > 0.5).all()
    assert (p_zero[~zeros] < 0.05).all()
    assert rows[rows["length"] == 3]["observed"].isna().all()


def test_resolution_table(truth_fit):
    result, data, eta = truth_fit
    table = result.resolution()
    assert list(table.columns) == RESOLUTION_COLUMNS
    rows = table[(table["trend"] == "power_law") & (table["length"] == 8)].set_index("model")
    np.testing.assert_allclose(rows["floor_accuracy"], 1 / 60)
    np.testing.assert_allclose(rows["floor_token_rate"], 1 / 480)
    truth = np.array([_accuracy(e, SIGMA_TRUE, 8) for e in eta])
    np.testing.assert_allclose(rows.loc[data.models, "accuracy_mean"], truth, rtol=1e-6)
    expected = np.ceil(np.log(0.05) / np.log1p(-truth))
    np.testing.assert_array_equal(rows.loc[data.models, "items_any_correct"], expected)
    assert (rows["predicted_correct_low"] <= rows["predicted_correct_high"]).all()
    assert rows["p_zero_same_items"].between(0, 1).all()
    assert table[table["length"] == 3]["p_zero_same_items"].isna().all()


def test_p_zero_same_items_matches_a_direct_integral(truth_fit):
    _, data, eta = truth_fit
    rng = np.random.default_rng(1)
    mu = eta[None, :] + rng.normal(0, 0.1, (2, len(eta)))
    sigma = np.array([0.4, 0.7])
    ours = p_zero_same_items(data, mu, sigma, [8])[:, 0]
    # Direct: each item's posterior over u on a fine grid, integrated independently.
    u_grid = np.linspace(-6, 6, 4001)
    expected = np.zeros(data.n_scales)
    for d in range(2):
        eta_grid = mu[d][:, None] + sigma[d] * u_grid[None, :]  # (scales, grid)
        eps = epsilon_from_eta(eta_grid)
        # log(1 − ε) = −exp(η) exactly, also where ε rounds to 1.
        log_lik = data.errors @ np.log(eps) - (data.trials - data.errors) @ np.exp(eta_grid)
        weights = np.exp(log_lik - log_lik.max(1, keepdims=True)) * norm.pdf(u_grid)
        weights /= weights.sum(1, keepdims=True)
        p_right = weights @ ((1 - eps) ** 8).T  # (items, scales)
        expected += np.prod(np.where(data.trials == 8, 1 - p_right, 1.0), axis=0) / 2
    np.testing.assert_allclose(ours, expected, rtol=2e-3, atol=1e-9)


def test_planned_items_yield_a_correct_answer_with_the_requested_probability(truth_fit):
    """Simulating test sets of the planned size from the truth: ≥ 1 correct in ~95% of them."""
    result, data, eta = truth_fit
    table = result.resolution()
    rows = table[(table["length"] == 8) & (table["n_correct"] == 0)]
    rng = np.random.default_rng(7)
    for row in rows.itertuples(index=False):
        s = data.models.index(row.model)
        n = int(row.items_any_correct)
        zeros = _simulate_zero_counts(eta[s], SIGMA_TRUE, 8, n, 400, rng)
        hit = 1 - zeros.mean()
        assert 0.9 <= hit <= 0.99, (row.model, n, hit)


def test_floors_by_task(truth_fit):
    result, data, _ = truth_fit
    floors = floors_by_task(result.observed())
    records = floors[data.task]
    assert len(records) == data.n_scales
    assert records[0] == {
        "model": data.models[0], "n_params": float(data.n_params[0]), "length": 8,
        "n_items": 60, "floor_accuracy": 1 / 60, "floor_token_rate": 1 / 480,
    }  # fmt: skip


def test_report_section_and_summary_json(truth_fit, tmp_path):
    result, data, _ = truth_fit
    out = result.save(tmp_path / "out")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Is an observed zero evidence of no ability?" in html
    assert "3 model size and target length combination(s) scored 0 correct" in html
    assert "3 of them have P(0 correct) &gt; 0.05" in html
    assert (out / "figures" / f"{data.task}_resolution.png").is_file()
    fig = result.plot_resolution()
    assert all(ax.get_yscale() == "log" and ax.get_xscale() == "log" for ax in fig.axes)
    meta = json.loads((out / "summary.json").read_text())
    assert meta["tasks"][data.task]["resolution"][0]["floor_accuracy"] == pytest.approx(1 / 60)
    saved = pd.read_csv(out / "summary.csv")
    assert (saved["quantity"] == "p_zero_correct").sum() == 2 * data.n_scales


# --- a real fit ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_fit_of_a_smooth_law_puts_high_p_zero_where_small_models_score_zero():
    from mirage_bayes.fitting.generation import fit

    outputs, _ = simulate_outputs(
        n_params=GPT3_SIZES, n_items=60, lengths=(8,), c=C_TRUE, alpha=ALPHA_TRUE,
        sigma_item=SIGMA_TRUE, seed=3,
    )  # fmt: skip
    result = fit(
        outputs, trends=("power_law",), draws=300, tune=300, chains=2, seed=2,
        progressbar=False, log=None, chance=0.0,  # the truth compared below has no chance term
    )  # fmt: skip
    data = result.tasks[0]
    eta = log_cross_entropy(data.n_params, C_TRUE, ALPHA_TRUE)
    summary = result.summary()
    rows = summary[(summary["quantity"] == "p_zero_correct") & (summary["trend"] == "power_law")]
    rows = rows.set_index("model").loc[data.models]
    zeros = rows["observed"].to_numpy() == 1.0
    assert zeros[:3].all(), rows  # the same data as the truth fixture: 0 of 60 at small sizes
    p_zero = rows["mean"].to_numpy()
    accuracy = np.array([_accuracy(e, SIGMA_TRUE, 8) for e in eta])
    below_floor = accuracy < 1 / 60
    assert (p_zero[zeros] > 0.05).all(), p_zero  # every zero is consistent with the law
    assert (p_zero[zeros & below_floor] > 0.5).all(), p_zero  # and likely below 1/n
    assert (p_zero[~zeros] < 0.05).all(), p_zero
    assert np.abs(p_zero - (1 - accuracy) ** 60).max() < 0.25
    # Planned from the posterior: test sets simulated the way the plan reads them (a posterior
    # draw, then n new items from the population) show ≥ 1 correct in about 95% of cases...
    from mirage_bayes.fitting.inference import stacked

    idata = result.idatas[data.task]["power_law"]
    mu, sigma = stacked(idata, "mu"), stacked(idata, "sigma_item")
    table = result.resolution()
    planned = table[(table["trend"] == "power_law") & (table["n_correct"] == 0)]
    rng = np.random.default_rng(3)
    for row in planned.itertuples(index=False):
        s, n = data.models.index(row.model), int(row.items_any_correct)
        picks = rng.integers(0, len(sigma), 400)
        hits = [not _simulate_zero_counts(mu[d, s], sigma[d], 8, n, 1, rng)[0] for d in picks]
        # ... and from the truth at least as often: averaging over a posterior that reaches down
        # to smaller accuracies than the truth makes the plan conservative, never short.
        truth_hit = 1 - _simulate_zero_counts(eta[s], SIGMA_TRUE, 8, n, 400, rng).mean()
        assert 0.9 <= np.mean(hits) <= 0.99, (row.model, n, np.mean(hits))
        assert truth_hit >= 0.9, (row.model, n, truth_hit)
