"""Tests of the statistical model, trends and task data (no sampling)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy.special import expit, logit
from scipy.stats import halfnorm, norm

from mirage_bayes.fitting.data import TaskData
from mirage_bayes.fitting.transforms import (
    accuracy_independent,
)
from mirage_bayes.models import TRENDS, build_model, item_log_likelihood, population_quantities
from mirage_bayes.models.chance_link import CHANCE_SCALE_SD, scored_error
from mirage_bayes.models.trends import softplus
from mirage_bayes.simulate.generation import (
    GPT3_SIZES,
    Break,
    log_cross_entropy,
)

from support import fine_item_log_likelihood, simulated_task, task_data

C_TRUE, ALPHA_TRUE = 3.0e8, -0.6


@pytest.fixture(scope="module")
def simulated() -> TaskData:
    """60 items shared by the 5 smallest GPT-3 sizes, scored from simulated generations."""
    return simulated_task(n_items=60, seed=0)


def true_eta(data: TaskData) -> np.ndarray:
    return log_cross_entropy(data.n_params, C_TRUE, ALPHA_TRUE)


# --------------------------------------------------------------------------------------------
# Quadrature of item difficulty
# --------------------------------------------------------------------------------------------


def near_truth_mu(data: TaskData) -> np.ndarray:
    """Trend values where a posterior would be: the truth, shifted, and with a flatter slope."""
    eta = true_eta(data)
    shifted = [eta + shift for shift in (-0.3, 0.0, 0.3)]
    return np.stack([*shifted, eta.mean() + 0.8 * (eta - eta.mean())])


@pytest.mark.parametrize(
    "sigma",
    [0.3, 1.0, 2.0],
)
def test_quadrature_agrees_with_fine_grid(simulated, sigma):
    mu = near_truth_mu(simulated)
    s = np.full(len(mu), sigma)
    coarse = item_log_likelihood(simulated, mu, s)
    fine = fine_item_log_likelihood(simulated, mu, s)
    assert coarse.shape == (len(mu), len(simulated.items))
    assert np.all(np.isfinite(coarse))
    np.testing.assert_allclose(coarse, fine, rtol=0, atol=1e-3)


def test_item_log_likelihood_is_per_item_in_item_order(simulated):
    mu = true_eta(simulated)[None, :]
    per_item = item_log_likelihood(simulated, mu, np.array([0.5]))[0]
    # Items with identical data share a pattern, hence a value; different data differ.
    rows = np.concatenate([simulated.trials, simulated.errors], axis=1)
    same = (rows[:, None, :] == rows[None, :, :]).all(-1)
    equal = np.isclose(per_item[:, None], per_item[None, :], rtol=0, atol=1e-12)
    assert np.array_equal(equal | ~same, np.ones_like(same))
    # Spot-check one item against the reference on its own.
    one = task_data(
        simulated.n_params, simulated.trials[[7]], simulated.errors[[7]],
        chance=simulated.chance[[7]],
    )  # fmt: skip
    reference = fine_item_log_likelihood(one, mu, np.array([0.5]))[0, 0]
    assert per_item[7] == pytest.approx(reference, abs=1e-6)


# --------------------------------------------------------------------------------------------
# The PyMC model against the NumPy likelihood
# --------------------------------------------------------------------------------------------


def test_pymc_log_density_equals_numpy(simulated):
    model = build_model(simulated, TRENDS["power_law"])
    potential = model.compile_logp(vars=[model["item_loglik"]])
    total = model.compile_logp()
    points = [(-1.2, -0.8, 0.7, 0.0), (-0.4, -1.5, 0.2, 0.4), (-2.0, 0.3, 1.3, -0.3)]
    for a, beta, sigma, log_kappa in points:
        point = {"a": np.array(a), "beta": np.array(beta), "sigma_item_log__": np.log(sigma)}
        point["log_chance_scale"] = np.array(log_kappa)  # the data have chance matches
        mu = (a + beta * simulated.x)[None, :]
        kappa = np.array([np.exp(log_kappa)])
        expected = item_log_likelihood(simulated, mu, np.array([sigma]), kappa).sum()
        assert float(potential(point)) == pytest.approx(expected, rel=1e-9, abs=1e-6)
        # Priors as documented in models/trends.py, plus the log-transform's Jacobian.
        priors = (
            norm(-1.5, 1.5).logpdf(a)
            + norm(-1.0, 1.0).logpdf(beta)
            + halfnorm(scale=1.0).logpdf(sigma)
            + np.log(sigma)
            + norm(0.0, CHANCE_SCALE_SD).logpdf(log_kappa)
        )
        assert float(total(point)) == pytest.approx(expected + priors, rel=1e-9, abs=1e-6)


def test_pymc_broken_power_law_mu_matches_numpy(simulated):
    trend = TRENDS["broken_power_law"]
    model = build_model(simulated, trend)
    mu_var, delta_var = model.replace_rvs_by_values([model["mu"], model["delta"]])
    values = {"a": -1.0, "beta": -0.7, "departure": -0.9, "x_break": 0.2, "f": 0.25}
    point = {
        "a": np.array(values["a"]),
        "beta": np.array(values["beta"]),
        "departure": np.array(values["departure"]),
        "x_break_interval__": np.array(logit((values["x_break"] + 1.25) / 2.5)),
        "f_log__": np.array(np.log(values["f"])),
    }
    fn = model.compile_fn([mu_var, delta_var], point_fn=True)
    mu_pymc, delta = fn(point)
    assert expit(point["x_break_interval__"]) * 2.5 - 1.25 == pytest.approx(values["x_break"])
    posterior = {k: np.array([v]) for k, v in values.items()}
    posterior["delta"] = np.array([float(delta)])
    np.testing.assert_allclose(mu_pymc, trend.mu(posterior, simulated.x)[0], rtol=1e-10)
    # ``departure`` is η at the largest size minus the unbroken line.
    line = values["a"] + values["beta"] * 1.0
    assert mu_pymc[-1] - line == pytest.approx(values["departure"])


# --------------------------------------------------------------------------------------------
# Population averages over item difficulty
# --------------------------------------------------------------------------------------------


def test_population_quantities_without_item_spread_are_closed_form():
    mu = np.array([[-3.0, -1.0, 0.0, 0.8], [-2.0, -1.5, 0.5, 1.5]])
    lengths = [1, 2, 5, 10]
    out = population_quantities(mu, np.full(2, 1e-9), lengths)
    eps = 1 - np.exp(-np.exp(mu))
    assert out["epsilon"].shape == (2, 4)
    assert out["accuracy"].shape == (2, 4, len(lengths))
    np.testing.assert_allclose(out["epsilon"], eps, rtol=1e-7)
    for j, length in enumerate(lengths):
        np.testing.assert_allclose(out["accuracy"][..., j], (1 - eps) ** length, rtol=1e-7)


def test_population_accuracy_exceeds_independent_accuracy():
    mu = np.array([[-3.0, -1.5, -0.5, 0.5], [-2.0, -1.0, 0.0, 1.0]])
    sigma = np.array([0.5, 1.0])
    lengths = [1, 2, 5, 10]
    out = population_quantities(mu, sigma, lengths)
    eps = out["epsilon"]
    # L = 1: the exact-match rate is 1 − ε̄ exactly.
    np.testing.assert_allclose(out["accuracy"][..., 0], 1 - eps, rtol=1e-10)
    # L ≥ 2: (1 − ε)^L is convex in ε, so E[(1 − ε_i)^L] > (1 − ε̄)^L (Jensen).
    for j, length in enumerate(lengths[1:], start=1):
        independent = accuracy_independent(eps, length)
        assert np.all(out["accuracy"][..., j] > independent)
    # And longer targets are harder.
    assert np.all(np.diff(out["accuracy"], axis=-1) < 0)


def test_population_quantities_match_monte_carlo():
    rng = np.random.default_rng(5)
    mu, sigma = np.array([[-1.2]]), np.array([0.8])
    out = population_quantities(mu, sigma, [3])
    u = rng.normal(0, sigma[0], 400_000)
    eps = 1 - np.exp(-np.exp(mu[0, 0] + u))
    assert out["epsilon"][0, 0] == pytest.approx(eps.mean(), abs=3e-3)
    assert out["accuracy"][0, 0, 0] == pytest.approx(((1 - eps) ** 3).mean(), abs=3e-3)


# --------------------------------------------------------------------------------------------
# Trends
# --------------------------------------------------------------------------------------------


def test_power_law_natural_parameters_recover_alpha_and_c():
    data = task_data(GPT3_SIZES, np.ones((1, 8)), np.zeros((1, 8)))
    posterior = {"a": [], "beta": []}
    truths = [(-0.6, 3.0e8), (-0.3, 1.0e6), (-1.1, 2.0e10)]
    for alpha, c in truths:
        eta = log_cross_entropy(data.n_params, c, alpha)
        beta, a = np.polyfit(data.x, eta, 1)  # the line on the standardized scale
        posterior["a"].append(a)
        posterior["beta"].append(beta)
    posterior = {k: np.array(v) for k, v in posterior.items()}
    natural = TRENDS["power_law"].natural_parameters(posterior, data.x_center, data.x_half_range)
    np.testing.assert_allclose(natural["alpha"], [t[0] for t in truths], rtol=1e-9)
    np.testing.assert_allclose(natural["log10_c"], np.log10([t[1] for t in truths]), rtol=1e-9)
    # And μ reproduces η at the observed sizes and beyond.
    sizes = np.array([1e7, 1e9, 1e12])
    mu = TRENDS["power_law"].mu(posterior, data.standardize(sizes))
    expected = [log_cross_entropy(sizes, c, alpha) for alpha, c in truths]
    np.testing.assert_allclose(mu, expected, rtol=1e-9, atol=1e-12)


def broken_posterior(**values) -> dict[str, np.ndarray]:
    base = {"a": -1.0, "beta": -0.5, "delta": -1.5, "x_break": 0.1, "f": 0.2}
    base.update(values)
    return {k: np.array([v], dtype=float) for k, v in base.items()}


def test_broken_power_law_without_departure_is_a_line():
    x = np.linspace(-1.5, 1.5, 31)
    for x_break, f in [(-0.5, 0.1), (0.3, 0.6), (1.2, 0.3)]:
        post = broken_posterior(delta=0.0, x_break=x_break, f=f)
        mu = TRENDS["broken_power_law"].mu(post, x)[0]
        np.testing.assert_allclose(mu, -1.0 - 0.5 * x, rtol=0, atol=1e-12)


def test_broken_power_law_slopes_and_centre():
    trend = TRENDS["broken_power_law"]
    post = broken_posterior(beta=-0.5, delta=-1.5, x_break=0.1, f=0.05)
    x = np.array([-1.0, -0.9, 0.0, 0.8, 0.9])
    mu = trend.mu(post, x)[0]
    assert (mu[1] - mu[0]) / 0.1 == pytest.approx(-0.5, abs=1e-6)  # before the break
    assert (mu[4] - mu[3]) / 0.1 == pytest.approx(-0.5 + -1.5, abs=1e-6)  # far past it
    assert mu[2] == pytest.approx(-1.0, abs=1e-12)  # a is η at the middle of the range


def test_broken_power_law_natural_parameters_match_simulator():
    """Caballero et al.'s parameters recovered from the simulator's broken law."""
    data = task_data(GPT3_SIZES, np.ones((1, 8)), np.zeros((1, 8)))
    h = data.x_half_range
    c, alpha = 3.0e8, -0.4
    brk = Break(n_params=3.0e9, slope_change=-0.8, sharpness=0.2)
    f_natural = brk.sharpness * np.log(10)
    x_break = float(data.standardize(brk.n_params))
    f = f_natural / h
    beta, delta = alpha * h, brk.slope_change * h
    eta0 = log_cross_entropy(np.exp(data.x_center), c, alpha, brk)
    post = broken_posterior(a=float(eta0), beta=beta, delta=delta, x_break=x_break, f=f)
    sizes = np.geomspace(1e7, 1e13, 25)
    mu = TRENDS["broken_power_law"].mu(post, data.standardize(sizes))[0]
    np.testing.assert_allclose(mu, log_cross_entropy(sizes, c, alpha, brk), atol=1e-9)
    natural = TRENDS["broken_power_law"].natural_parameters(post, data.x_center, h)
    assert natural["c0"][0] == pytest.approx(-alpha)
    assert natural["c1"][0] == pytest.approx(-brk.slope_change)
    assert natural["log10_d"][0] == pytest.approx(np.log10(brk.n_params))
    assert natural["f_natural"][0] == pytest.approx(f_natural)
    assert natural["log10_b"][0] == pytest.approx(-alpha * np.log10(c))


def test_softplus_is_stable():
    values = np.array([-1000.0, -5.0, 0.0, 5.0, 1000.0])
    out = softplus(values)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[1:4], np.log1p(np.exp(values[1:4])))
    assert out[-1] == pytest.approx(1000.0)
    assert out[0] == pytest.approx(0.0, abs=1e-300)


def test_compiled_kernel_gradient_matches_finite_differences(simulated):
    from mirage_bayes.models.generation import quadrature_grid
    from mirage_bayes.models.likelihood import marginal_loglik_and_grad

    nodes, log_w = quadrature_grid(simulated.trials.sum(1).max())
    arrays = (
        nodes, log_w, simulated.pattern_errors,
        simulated.pattern_trials - simulated.pattern_errors,
        simulated.pattern_counts, simulated.pattern_log_binom,
        simulated.chance_groups, simulated.pattern_group,
    )  # fmt: skip
    assert simulated.chance_groups.max() > 0.05  # the chance term is exercised
    mu, sigma = true_eta(simulated) + 0.2, 0.7
    value, grad_mu, grad_sigma, _, grad_log_w = marginal_loglik_and_grad(mu, sigma, *arrays)
    reference = item_log_likelihood(simulated, mu[None], np.array([sigma])).sum()
    assert value == pytest.approx(reference, rel=1e-10)
    step = 1e-6
    for s in range(len(mu)):
        bump = np.eye(len(mu))[s] * step
        plus = marginal_loglik_and_grad(mu + bump, sigma, *arrays)[0]
        minus = marginal_loglik_and_grad(mu - bump, sigma, *arrays)[0]
        assert grad_mu[s] == pytest.approx((plus - minus) / (2 * step), rel=1e-5, abs=1e-5)
    plus = marginal_loglik_and_grad(mu, sigma + step, *arrays)[0]
    minus = marginal_loglik_and_grad(mu, sigma - step, *arrays)[0]
    assert grad_sigma == pytest.approx((plus - minus) / (2 * step), rel=1e-5, abs=1e-5)
    # The log weights: a family with a shape parameter sets them (models/item_families.py).
    assert grad_log_w.sum() == pytest.approx(simulated.pattern_counts.sum(), rel=1e-10)
    for q in np.linspace(0, len(nodes) - 1, 9).astype(int):
        bump = np.eye(len(nodes))[q] * 1e-5
        up = marginal_loglik_and_grad(mu, sigma, nodes, log_w + bump, *arrays[2:])[0]
        down = marginal_loglik_and_grad(mu, sigma, nodes, log_w - bump, *arrays[2:])[0]
        assert grad_log_w[q] == pytest.approx((up - down) / 2e-5, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("factor", [1.0, 6.0])  # 6: some rates above 1/3, where m = 1/g − 1
def test_compiled_kernel_gradient_in_the_chance_rates(simulated, factor):
    """The model scales the chance rates by a parameter, so their gradient must be right too."""
    from mirage_bayes.models.generation import quadrature_grid
    from mirage_bayes.models.likelihood import marginal_loglik_and_grad

    nodes, log_w = quadrature_grid(simulated.trials.sum(1).max())
    chance = np.minimum(simulated.chance_groups * factor, 0.9)
    assert (chance.max() > 1 / 3) == (factor > 1)
    head = (nodes, log_w, simulated.pattern_errors)
    middle = (
        simulated.pattern_trials - simulated.pattern_errors,
        simulated.pattern_counts, simulated.pattern_log_binom,
    )  # fmt: skip
    mu, sigma = true_eta(simulated) + 0.2, 0.7

    def value(rates):
        return marginal_loglik_and_grad(mu, sigma, *head, *middle, rates, simulated.pattern_group)

    grad = value(chance)[3]
    step = 1e-7
    for g, s in zip(*np.nonzero(chance), strict=True):
        bump = np.zeros_like(chance)
        bump[g, s] = step
        numeric = (value(chance + bump)[0] - value(chance - bump)[0]) / (2 * step)
        assert grad[g, s] == pytest.approx(numeric, rel=1e-4, abs=1e-4)
    assert np.all(grad[chance == 0] == 0)


def test_chance_scale_is_learnt_from_the_all_wrong_sizes():
    """Outputs whose all-wrong sizes are matched 1.5 times as often as the measured rate: the
    model's factor on the rate recovers it, and ε at those sizes stays near 1."""
    rng = np.random.default_rng(3)
    eta = np.linspace(2.5, -2.5, 6)
    n_items, length = 300, 4
    u = rng.normal(0, 0.4, n_items)
    eps = -np.expm1(-np.exp(eta[None, :] + u[:, None]))
    g = np.full((n_items, 6), 0.06)
    errors = rng.binomial(length, scored_error(eps, 1.5 * g))
    data = TaskData(
        task="t", models=[f"m{s}" for s in range(6)], n_params=np.geomspace(1e8, 1e11, 6),
        items=[f"i{i}" for i in range(n_items)], trials=np.full((n_items, 6), length),
        errors=errors, item_ids_shared=True, rows=pd.DataFrame(), chance=g,
    )  # fmt: skip
    model = build_model(data, TRENDS["power_law"])
    with model:
        idata = pm.sample(300, tune=300, chains=2, cores=1, random_seed=1, progressbar=False)
    kappa = idata.posterior["chance_scale"].values.ravel()
    assert 1.2 < np.median(kappa) < 1.9
    assert np.quantile(kappa, 0.03) < 1.5 < np.quantile(kappa, 0.97)


def test_posterior_predictive_replicates_follow_the_binomial(simulated):
    from mirage_bayes.models.generation import epsilon_from_eta, posterior_predictive_errors

    draws = 400
    mu = np.tile(true_eta(simulated), (draws, 1))
    replicates = posterior_predictive_errors(
        simulated, mu, np.full(draws, 1e-9), np.random.default_rng(4)
    )
    assert replicates.shape == (draws, len(simulated.items), simulated.n_scales)
    assert np.all(replicates <= simulated.trials[None]) and np.all(replicates >= 0)
    rate = scored_error(epsilon_from_eta(true_eta(simulated))[None], simulated.chance)
    expected = (simulated.trials * rate).sum(0)
    np.testing.assert_allclose(replicates.sum(1).mean(0), expected, rtol=0.03, atol=0.5)
