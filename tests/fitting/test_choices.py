"""Multiple-choice tasks without the sampler: metrics, the closed-form model, propagation,
simulation truth and plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy.special import log_softmax, softmax
from scipy.stats import multivariate_normal

from mirage_bayes.fitting.choice_data import split_choice_tasks
from mirage_bayes.fitting.choice_result import expected_metrics
from mirage_bayes.fitting.theory import mc_grade
from mirage_bayes.fitting.transforms import brier_score
from mirage_bayes.inputs.choices import choice_metrics, score_choices
from mirage_bayes.inputs.io import read_outputs
from mirage_bayes.models.choice import (
    _pattern_statistics,
    expected_grade,
    expected_q_moments,
    grade_thresholds,
    item_effect_posterior,
    item_log_likelihood,
    total_log_likelihood,
)
from mirage_bayes.output.choice_report import plot_choice_metrics
from mirage_bayes.simulate.choices import choice_truth, simulate_choices, write_example

# --- metrics ----------------------------------------------------------------------------------


def lm_eval_brier(logprobs: np.ndarray, answer: np.ndarray) -> float:
    """lm-evaluation-harness: softmax over the choices, squared distance to the one-hot gold."""
    probs = softmax(logprobs, axis=1)
    gold = np.eye(probs.shape[1])[answer]
    return float(np.mean(np.sum((probs - gold) ** 2, axis=1)))


def test_metrics_match_their_definitions():
    rng = np.random.default_rng(0)
    logprobs = rng.normal(-5, 2, (500, 5))
    answer = rng.integers(0, 5, 500)
    out = choice_metrics(logprobs, answer)
    np.testing.assert_allclose(out["brier"].mean(), lm_eval_brier(logprobs, answer))
    np.testing.assert_array_equal(out["mc_grade"], logprobs.argmax(1) == answer)
    q = softmax(logprobs, axis=1)[np.arange(500), answer]
    np.testing.assert_allclose(out["p_correct"], q)
    np.testing.assert_allclose(out["log_ce"], np.log(-np.log(q)))
    # Grade and Brier follow from q and the split of the wrong mass (the model relies on it).
    np.testing.assert_allclose(out["brier"], (1 - q) ** 2 * (1 + out["wrong_sum_squares"]))
    right = q > (1 - q) * out["max_wrong_share"]
    np.testing.assert_array_equal(out["mc_grade"], right)
    np.testing.assert_array_equal(right, out["log_ce"] < grade_thresholds(out["max_wrong_share"]))
    assert ((out["brier"] >= 0) & (out["brier"] <= 2)).all()


def test_metrics_ignore_the_normalisation_and_count_ties_as_wrong():
    logprobs = np.array([[-1.0, -1.0, -3.0], [-0.5, -2.0, -2.0], [-9.0, -1.0, -2.0]])
    answer = np.array([0, 0, 0])
    out = choice_metrics(logprobs, answer)
    np.testing.assert_array_equal(out["mc_grade"], [0.0, 1.0, 0.0])  # the tie counts as wrong
    shifted = choice_metrics(logprobs - 7.5, answer)
    for name, values in out.items():
        np.testing.assert_allclose(shifted[name], values, err_msg=name)
    # Extremes: the Brier score reaches its bounds; log L_CE stays finite.
    certain = choice_metrics(np.array([[0.0, -800.0], [-800.0, 0.0]]), np.array([0, 0]))
    np.testing.assert_allclose(certain["brier"], [0.0, 2.0])
    assert np.isfinite(certain["log_ce"]).all()
    np.testing.assert_allclose(certain["log_ce"][0], -800.0)


def test_score_choices_handles_ragged_choice_counts():
    frame = pd.DataFrame(
        {
            "model": ["a", "b"],
            "answer": [1, 0],
            "choices_logprobs": [[-2.0, -0.1, -3.0], [-0.2, -1.0, -4.0, -4.0, -9.0]],
        }
    )
    scored = score_choices(frame)
    assert list(scored["n_choices"]) == [3, 5]
    np.testing.assert_array_equal(scored["mc_grade"], [1.0, 1.0])
    expected = log_softmax(np.array([-0.2, -1.0, -4.0, -4.0, -9.0]))[0]
    np.testing.assert_allclose(scored["p_correct"].iloc[1], np.exp(expected))


# --- the model ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def task():
    outputs, truth = simulate_choices(n_params=(1e8, 1e9, 1e10, 1e11), n_items=40, seed=5)
    scored = score_choices(outputs)
    # Drop some (model, item) rows: items seen at different sets of scales.
    keep = np.random.default_rng(1).random(len(scored)) > 0.2
    scored = scored[keep].reset_index(drop=True)
    scored.attrs = dict(outputs.attrs)
    return split_choice_tasks(scored)[0]


def draws(data, n=3, seed=0):
    rng = np.random.default_rng(seed)
    mu = rng.normal(-0.5, 1.0, (n, data.n_scales))
    return mu, rng.uniform(0.1, 0.8, n), rng.uniform(0.1, 0.5, n)


def test_item_marginal_is_the_multivariate_normal(task):
    mu, sigma_item, sigma_obs = draws(task)
    loglik = item_log_likelihood(task, mu, sigma_item, sigma_obs)
    assert loglik.shape == (3, len(task.items))
    for d in range(3):
        for i in (0, 5, 17):
            seen = task.observed[i]
            n = int(seen.sum())
            cov = sigma_obs[d] ** 2 * np.eye(n) + sigma_item[d] ** 2 * np.ones((n, n))
            exact = multivariate_normal(mu[d, seen], cov).logpdf(task.log_ce[i, seen])
            np.testing.assert_allclose(loglik[d, i], exact, rtol=1e-10)


def test_summed_likelihood_equals_the_pointwise_one(task):
    assert len(_pattern_statistics(task)["pattern_items"]) > 1  # several observation patterns
    stats = _pattern_statistics(task)
    mu, sigma_item, sigma_obs = draws(task)
    pointwise = item_log_likelihood(task, mu, sigma_item, sigma_obs).sum(1)
    for d in range(3):
        total = total_log_likelihood(stats, mu[d], sigma_item[d] ** 2, sigma_obs[d] ** 2).eval()
        np.testing.assert_allclose(total, pointwise[d], rtol=1e-9)


def test_item_effect_posterior_is_conjugate(task):
    mu, sigma_item, sigma_obs = draws(task, n=1)
    mean, variance = item_effect_posterior(task, mu, sigma_item, sigma_obs)
    i = 3
    seen = task.observed[i]
    grid = np.linspace(-4, 4, 20001)
    resid = task.log_ce[i, seen][None, :] - mu[0, seen][None, :] - grid[:, None]
    log_post = -0.5 * (grid / sigma_item[0]) ** 2 - 0.5 * (resid**2).sum(1) / sigma_obs[0] ** 2
    weight = np.exp(log_post - log_post.max())
    weight /= weight.sum()
    np.testing.assert_allclose(mean[0, i], (weight * grid).sum(), atol=1e-6)
    np.testing.assert_allclose(variance[0, i], (weight * (grid - mean[0, i]) ** 2).sum(), rtol=1e-4)


def test_expected_metrics_match_monte_carlo():
    rng = np.random.default_rng(2)
    mu, tau = np.array([[-1.0, 0.3]]), np.array([0.45])
    shares = rng.dirichlet(np.ones(3), 50)
    cuts = grade_thresholds(shares.max(1))
    y = mu[0][None, :] + tau[0] * rng.standard_normal((400_000, 1))
    pick = rng.integers(0, 50, 400_000)
    grade_mc = (y < cuts[pick][:, None]).mean(0)
    np.testing.assert_allclose(expected_grade(mu, tau, cuts)[0], grade_mc, atol=4e-3)
    q = np.exp(-np.exp(y))
    moments = expected_q_moments(mu, tau)
    np.testing.assert_allclose(moments["p_correct"][0], q.mean(0), atol=2e-3)
    np.testing.assert_allclose(moments["wrong_squared"][0], ((1 - q) ** 2).mean(0), atol=2e-3)


def test_curves_pass_through_the_scales_and_mix_between_them(task):
    mu_scales, _, _ = draws(task, n=2)
    tau = np.array([0.4, 0.6])
    at_scales = expected_metrics(task, mu_scales, tau, task.x)
    # A constant μ between two scales: the metrics mix the two scales' shapes linearly.
    x = np.array([task.x[1], 0.25 * task.x[1] + 0.75 * task.x[2], task.x[2]])
    mu = np.full((2, 3), -0.2)
    mixed = expected_metrics(task, mu, tau, x)
    for name, values in mixed.items():
        np.testing.assert_allclose(values[:, 1], 0.25 * values[:, 0] + 0.75 * values[:, 2])
        assert at_scales[name].shape == (2, task.n_scales), name
    assert ((at_scales["mc_grade"] >= 0) & (at_scales["mc_grade"] <= 1)).all()


# --- simulation --------------------------------------------------------------------------------


def test_noise_free_truth_is_the_papers_closed_form():
    sizes = np.geomspace(1e7, 1e12, 41)
    truth = choice_truth(
        sizes, c=3e9, alpha=-0.5, n_choices=4, sigma_item=0, sigma_obs=0, distractor_spread=0,
        guessing=False,
    )  # fmt: skip
    eps = -np.expm1(-((sizes / 3e9) ** -0.5))
    by = {q: rows["value"].to_numpy() for q, rows in truth.groupby("quantity")}
    np.testing.assert_allclose(by["mc_grade"], mc_grade(eps, 4))
    np.testing.assert_allclose(by["brier"], brier_score(eps, 4), rtol=1e-9)
    np.testing.assert_allclose(by["p_correct"], 1 - eps)


def test_a_model_without_the_skill_guesses():
    sizes = np.geomspace(1e6, 1e12, 25)
    truth = choice_truth(
        sizes, c=3e9, alpha=-0.5, n_choices=4, sigma_item=0, sigma_obs=0, distractor_spread=0
    )
    skill = np.exp(-((sizes / 3e9) ** -0.5))
    p_correct = truth[truth["quantity"] == "p_correct"]["value"].to_numpy()
    np.testing.assert_allclose(p_correct, 0.25 + 0.75 * skill, rtol=1e-9)
    assert p_correct[0] == pytest.approx(0.25, abs=1e-6)  # no skill: a uniform guess


def test_large_simulation_reaches_its_truth():
    outputs, truth = simulate_choices(n_params=(3e8, 3e9, 3e10), n_items=6000, seed=9)
    scored = score_choices(outputs)
    observed = scored.groupby("n_params")[["mc_grade", "brier", "p_correct"]].mean()
    for quantity, rows in truth.groupby("quantity"):
        expected = rows.set_index("n_params")["value"]
        np.testing.assert_allclose(observed[quantity], expected, atol=0.025, err_msg=quantity)


def test_bundled_example_is_reproducible(tmp_path):
    written, truth_path = write_example(tmp_path)
    root = pd.read_csv("examples/multiple_choice_outputs.csv")
    pd.testing.assert_frame_equal(pd.read_csv(written), root)
    pd.testing.assert_frame_equal(
        pd.read_csv(truth_path), pd.read_csv("examples/multiple_choice_truth.csv")
    )
    frame = read_outputs("examples/multiple_choice_outputs.csv")
    assert frame.attrs["kind"] == "multiple_choice"
    assert frame["model"].nunique() == 8 and frame["item"].nunique() == 100


# --- plots -------------------------------------------------------------------------------------


@pytest.fixture
def tables():
    sizes = np.array([1e8, 1e9, 1e10])
    rows, curve_rows = [], []
    for quantity, values in (("mc_grade", [0.0, 0.4, 1.0]), ("brier", [1.2, 0.6, 0.1])):
        for trend in ("scale_free", "power_law"):
            for size, v in zip(sizes, values, strict=True):
                rows.append(
                    {"task": "t", "trend": trend, "model": f"m{size:g}", "n_params": size,
                     "quantity": quantity, "length": np.nan, "observed": v, "mean": v,
                     "hdi_low": v * 0.9, "hdi_high": v * 1.1}
                )  # fmt: skip
        for size in np.geomspace(1e8, 1e10, 5):
            curve_rows.append(
                {"task": "t", "trend": "power_law", "n_params": size, "quantity": quantity,
                 "length": np.nan, "mean": 0.5, "hdi_low": 0.4, "hdi_high": 0.6}
            )  # fmt: skip
    observed = pd.DataFrame(
        {"task": "t", "model": [f"m{s:g}" for s in sizes], "n_params": sizes,
         "n_items": 10, "n_correct": [0, 4, 10], "mc_grade": [0.0, 0.4, 1.0],
         "mc_grade_low": [0.0, 0.2, 0.8], "mc_grade_high": [0.2, 0.7, 1.0],
         "brier": [1.2, 0.6, 0.1], "p_correct": [0.1, 0.4, 0.9], "chance_grade": 0.25,
         "chance_brier": 0.75}
    )  # fmt: skip
    return pd.DataFrame(rows), pd.DataFrame(curve_rows), observed


def test_plot_choice_metrics_draws_two_panels_with_chance(tables):
    fig = plot_choice_metrics(*tables, task="t")
    assert isinstance(fig, Figure)
    axes = fig.axes
    assert len(axes) == 2
    assert [ax.get_ylabel() for ax in axes] == ["multiple-choice grade", "Brier score"]
    for ax, chance in zip(axes, (0.25, 0.75), strict=True):
        assert ax.get_xscale() == "log"
        flat = [line for line in ax.get_lines() if np.allclose(line.get_ydata(), chance)]
        assert flat, "chance level line missing"
        labels = ax.get_legend_handles_labels()[1]
        assert "power law" in labels and "scale-free" in labels
    one = plot_choice_metrics(*tables, task="t", quantities=("brier",), axes=axes[1])
    assert one is fig


def test_plot_choice_metrics_rejects_bad_requests(tables):
    with pytest.raises(ValueError, match="quantities"):
        plot_choice_metrics(*tables, task="t", quantities=("accuracy",))
    with pytest.raises(ValueError, match="no multiple-choice rows"):
        plot_choice_metrics(*tables, task="other")
    with pytest.raises(ValueError, match="one per quantity"):
        fig = plot_choice_metrics(*tables, task="t")
        plot_choice_metrics(*tables, task="t", axes=fig.axes[:1])


def test_every_option_tied_is_no_signal():
    outputs, _ = simulate_choices(n_params=(1e8, 1e9, 1e10), n_items=10, seed=3)
    assert split_choice_tasks(score_choices(outputs))[0].no_signal() is None
    tied = outputs.copy()
    tied["choices_logprobs"] = [[-1.3863] * 4 for _ in range(len(tied))]
    (data,) = split_choice_tasks(score_choices(tied))
    assert data.no_signal() == (
        "the probability on the correct choice is the same for every item and size"
    )
