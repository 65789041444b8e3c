"""Leave-future-out forecasts: likelihood weights, the compile-once sampler, the held-out
predictive density, verdicts, and one end-to-end run of ``mirage-bayes forecast``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from matplotlib.figure import Figure
from pytensor.compile.function.types import FunctionMaker
from scipy.special import logsumexp
from scipy.stats import binom, norm

from mirage_bayes.errors import InputError
from mirage_bayes.fitting.compiled import CompiledSampler
from mirage_bayes.fitting.data import TaskData
from mirage_bayes.forecast.plot import plot_forecast
from mirage_bayes.forecast.refit import (
    FORECAST_COLUMNS,
    held_out_log_density,
    predictive_test_set,
    refit_weights,
)
from mirage_bayes.forecast.run import DIAGNOSTIC_COLUMNS, forecast, forecast_seed, verdict
from mirage_bayes.models import TRENDS, build_model
from mirage_bayes.models.chance_link import scored_error
from mirage_bayes.models.generation import epsilon_from_eta, quadrature_grid, set_task_data
from mirage_bayes.models.likelihood import pattern_loglik_draws
from mirage_bayes.simulate.attempts import simulate_attempts
from mirage_bayes.simulate.generation import GPT3_SIZES, log_cross_entropy, simulate_outputs

from support import run_main, simulated_task

C_TRUE, ALPHA_TRUE = 3.0e8, -0.6
TINY = {"draws": 30, "tune": 30, "chains": 2, "cores": 1}


def task_data(n_params, trials, errors, chance=None) -> TaskData:
    trials = np.asarray(trials, dtype=np.int64)
    return TaskData(
        task="t",
        models=[f"m{s}" for s in range(trials.shape[1])],
        n_params=np.asarray(n_params, dtype=float),
        items=[f"q{i}" for i in range(trials.shape[0])],
        trials=trials,
        errors=np.asarray(errors, dtype=np.int64),
        item_ids_shared=True,
        rows=pd.DataFrame(),
        chance=chance,
    )


@pytest.fixture(scope="module")
def simulated() -> TaskData:
    """50 items shared by 5 GPT-3 sizes, scored from simulated generations."""
    return simulated_task(n_items=50, seed=2)


pytestmark = pytest.mark.usefixtures("quiet_sampler")


def subset(data: TaskData, scales: slice) -> TaskData:
    return task_data(
        data.n_params[scales], data.trials[:, scales], data.errors[:, scales],
        data.chance[:, scales],
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Likelihood weights
# --------------------------------------------------------------------------------------------

POINTS = [(-1.2, -0.8, 0.7), (-0.4, -1.5, 0.2), (-2.0, 0.3, 1.3)]


def power_law_point(a, beta, sigma):
    # log_chance_scale = 0: the chance rates as measured (the fixture has chance matches).
    return {
        "a": np.array(a), "beta": np.array(beta), "sigma_item_log__": np.array(np.log(sigma)),
        "log_chance_scale": np.array(0.0),
    }  # fmt: skip


def test_swappable_model_with_unit_weights_is_the_default_model(simulated):
    default = build_model(simulated, TRENDS["power_law"]).compile_logp()
    swappable = build_model(simulated, TRENDS["power_law"], swappable=True).compile_logp()
    for point in POINTS:
        assert float(swappable(power_law_point(*point))) == pytest.approx(
            float(default(power_law_point(*point))), rel=1e-12
        )


def test_zero_weights_leave_held_out_scales_out_of_the_likelihood(simulated):
    """The item term with weights (1, 1, 1, 0, 0) is the likelihood of the 3 smallest sizes."""
    model = build_model(simulated, TRENDS["power_law"], swappable=True)
    set_task_data(model, simulated, refit_weights(5, 3))
    potential = model.compile_logp(vars=[model["item_loglik"]])
    fitted = subset(simulated, slice(0, 3))
    # Same grid as the model (it is chosen from the full data).
    nodes, log_w = quadrature_grid(simulated.trials.sum(1).max())
    for a, beta, sigma in POINTS:
        mu = (a + beta * simulated.x[:3])[None, :]
        per_pattern = pattern_loglik_draws(
            mu, np.array([sigma]), nodes, log_w[None, :], fitted.pattern_errors,
            fitted.pattern_trials - fitted.pattern_errors, fitted.pattern_log_binom,
            fitted.chance_groups, fitted.pattern_group, np.ones(1),
        )  # fmt: skip
        expected = float(per_pattern[0] @ fitted.pattern_counts)
        got = float(potential(power_law_point(a, beta, sigma)))
        assert got == pytest.approx(expected, rel=1e-10)
    # And the weights change it: all five sizes give a different value.
    set_task_data(model, simulated)
    assert float(potential(power_law_point(*POINTS[0]))) < expected - 1.0


def test_held_out_levels_do_not_enter_the_likelihood(simulated):
    """Scale-free levels at held-out sizes move only their prior term, not the item term."""
    model = build_model(simulated, TRENDS["scale_free"], swappable=True)
    set_task_data(model, simulated, refit_weights(5, 3))
    potential = model.compile_logp(vars=[model["item_loglik"]])
    base = {"a": np.array(-1.0), "tau_log__": np.array(0.0), "sigma_item_log__": np.array(-0.5)}
    base["log_chance_scale"] = np.array(0.2)
    levels = np.array([-0.5, -0.9, -1.2, -1.5, -1.9])
    value = float(potential({**base, "level": levels}))
    moved_held = levels + np.array([0, 0, 0, 2.0, -3.0])
    moved_fitted = levels + np.array([0.4, 0, 0, 0, 0])
    assert float(potential({**base, "level": moved_held})) == pytest.approx(value, rel=1e-12)
    assert abs(float(potential({**base, "level": moved_fitted})) - value) > 1.0


def test_weights_are_checked(simulated):
    model = build_model(simulated, TRENDS["power_law"], swappable=True)
    with pytest.raises(ValueError, match="weights"):
        set_task_data(model, simulated, np.ones(4))
    with pytest.raises(ValueError, match="scales"):
        set_task_data(model, subset(simulated, slice(0, 4)))


# --------------------------------------------------------------------------------------------
# The compile-once sampler
# --------------------------------------------------------------------------------------------


@pytest.fixture()
def count_compilations(monkeypatch):
    """How many PyTensor functions were compiled since the fixture started (a list to read)."""
    made = []
    create = FunctionMaker.create

    def counting(self, *args, **kwargs):
        made.append(1)
        return create(self, *args, **kwargs)

    monkeypatch.setattr(FunctionMaker, "create", counting)
    return made


def test_sampler_compiles_once_and_follows_the_data(simulated, count_compilations):
    model = build_model(simulated, TRENDS["power_law"], swappable=True)
    sampler = CompiledSampler(model)
    assert len(count_compilations) >= 3  # log density, initial point, reported variables
    count_compilations.clear()
    first = sampler.sample(seed=3, **TINY)
    # The same items, every token wrong at the two largest sizes.
    errors = simulated.errors.copy()
    errors[:, 3:] = simulated.trials[:, 3:]
    flipped = task_data(simulated.n_params, simulated.trials, errors)
    set_task_data(model, flipped)
    second = sampler.sample(seed=3, **TINY)
    set_task_data(model, simulated)
    again = sampler.sample(seed=3, **TINY)
    assert count_compilations == []
    mu_first = first.posterior["mu"].values.reshape(-1, 5).mean(0)
    mu_second = second.posterior["mu"].values.reshape(-1, 5).mean(0)
    # All wrong at the largest sizes: η there is pulled far up (ε → 1).
    assert mu_second[-1] > mu_first[-1] + 1.0
    # Back on the first data with the same seed: the same draws, so the adaptation restarted.
    np.testing.assert_array_equal(again.posterior["a"].values, first.posterior["a"].values)
    assert set(first.sample_stats) >= {"diverging", "tree_depth", "step_size", "lp"}


def test_sampler_reproduces_pm_sample(simulated):
    """Same seed, same model: CompiledSampler's draws are pm.sample's (jitter+adapt_full)."""
    model = build_model(simulated, TRENDS["power_law"])
    ours = CompiledSampler(model, target_accept=0.9).sample(seed=11, **TINY)
    with model:
        theirs = pm.sample(
            draws=TINY["draws"], tune=TINY["tune"], chains=2, cores=1, random_seed=11,
            init="jitter+adapt_full", target_accept=0.9, progressbar=False,
            compute_convergence_checks=False,
        )  # fmt: skip
    for name in ("a", "beta", "sigma_item", "mu"):
        np.testing.assert_array_equal(ours.posterior[name].values, theirs.posterior[name].values)
    np.testing.assert_array_equal(
        ours.sample_stats["diverging"].values, theirs.sample_stats["diverging"].values
    )


# --------------------------------------------------------------------------------------------
# What a refit says about the held-out sizes
# --------------------------------------------------------------------------------------------


FINE_Z = np.linspace(-9, 9, 6001)


def fine_log_marginal(trials, errors, mu, sigma, chance, z=FINE_Z):
    """log ∫ N(z) Π_s Binomial(errors_s | trials_s, ε(μ_s + σz)·(1 − g_s)) dz for one item."""
    eps = scored_error(epsilon_from_eta(mu[:, None] + sigma * z[None, :]), chance[:, None])
    per_node = binom.logpmf(errors[:, None], trials[:, None], eps).sum(0)
    return logsumexp(per_node + norm.logpdf(z)) + np.log(z[1] - z[0])


def test_held_out_log_density_against_brute_force(simulated):
    mu = np.stack([log_cross_entropy(simulated.n_params, C_TRUE, ALPHA_TRUE) + s for s in
                   (-0.2, 0.0, 0.3)])  # fmt: skip
    sigma = np.array([0.4, 0.6, 0.9])
    got = held_out_log_density(simulated, mu, sigma, 3)
    for j, h in enumerate([3, 4]):
        per_draw = []
        for d in range(len(mu)):
            total = 0.0
            for t, e, g in zip(simulated.trials, simulated.errors, simulated.chance, strict=True):
                both = [0, 1, 2, h]
                total += fine_log_marginal(t[both], e[both], mu[d, both], sigma[d], g[both])
                total -= fine_log_marginal(t[:3], e[:3], mu[d, :3], sigma[d], g[:3])
            per_draw.append(total)
        expected = logsumexp(per_draw) - np.log(len(per_draw))
        assert got[j] == pytest.approx(expected, abs=2e-3)


def test_predictive_test_set_without_item_spread_is_binomial(simulated):
    draws = 600
    eta = log_cross_entropy(simulated.n_params, C_TRUE, ALPHA_TRUE)
    mu = np.tile(eta, (draws, 1))
    out = predictive_test_set(simulated, mu, np.full(draws, 1e-9), 3, np.random.default_rng(1))
    eps = epsilon_from_eta(eta[3:])
    # As scored: a token not produced may still count as reproduced (chance matches).
    trials, scored = simulated.trials[:, 3:], scored_error(eps, simulated.chance[:, 3:])
    assert out["epsilon"].shape == (draws, 2)
    np.testing.assert_allclose(
        out["epsilon"].mean(0), (trials * scored).sum(0) / trials.sum(0), rtol=0.03
    )
    for length in (1, 3, 5):
        tested = (trials == length).sum(0)
        share = out[f"accuracy_{length}"]
        expected = ((1 - scored) ** length * (trials == length)).sum(0) / tested
        np.testing.assert_allclose(share.mean(0), expected, atol=0.03)
        # A share of a finite number of items: multiples of 1/items.
        np.testing.assert_allclose((share * tested) % 1, 0, atol=1e-9)


def test_refit_seeds_differ_and_repeat():
    seeds = {forecast_seed(0, "t", trend, k) for trend in TRENDS for k in range(3, 8)}
    assert len(seeds) == 15
    assert forecast_seed(4, "t", "power_law", 3) == forecast_seed(4, "t", "power_law", 3)
    np.testing.assert_array_equal(refit_weights(5, 3), [1, 1, 1, 0, 0])


# --------------------------------------------------------------------------------------------
# Verdicts and the figure, from hand-made tables
# --------------------------------------------------------------------------------------------


def hand_table(data: TaskData, observed: float, low: float, high: float) -> pd.DataFrame:
    rows = []
    for k in (3, 4):
        for h in range(k, 5):
            for quantity in ("accuracy", "accuracy_predictive"):
                rows.append(
                    {"task": "t", "trend": "power_law", "fitted_scales": k,
                     "model": data.models[h], "n_params": data.n_params[h],
                     "quantity": quantity, "length": 5.0, "observed": observed,
                     "mean": (low + high) / 2, "hdi_low": low, "hdi_high": high,
                     "log_pred_density": -10.0}
                )  # fmt: skip
    return pd.DataFrame(rows, columns=FORECAST_COLUMNS)


def test_verdict_says_inside_or_not(simulated):
    data = task_data(simulated.n_params, np.full((2, 5), 5), np.zeros((2, 5)))
    ok = pd.DataFrame(
        {"task": "t", "trend": "power_law", "fitted_scales": [3, 4], "max_rhat": 1.0,
         "min_ess_bulk": 1000.0, "divergences": 0, "ok": True, "problems": ""}
    )  # fmt: skip
    inside = verdict(data, hand_table(data, 0.41, 0.12, 0.55), ok)
    assert inside.startswith(
        "power_law fitted to the 4 smallest sizes: the largest model's accuracy (L=5) was inside "
        "the 94% interval forecast from the smaller models (observed 0.41, forecast 0.12–0.55)."
    )
    assert "3 of 3 forecasts" in inside
    outside = verdict(data, hand_table(data, 0.9, 0.12, 0.55), ok.assign(ok=[True, False]))
    assert "was not inside" in outside and "0 of 3 forecasts" in outside
    assert "Sampler warnings in the power_law refits to k = 4" in outside


def test_plot_forecast_returns_a_figure(simulated):
    table = hand_table(simulated, 0.4, 0.1, 0.6)
    grid = np.geomspace(simulated.n_params[2], simulated.n_params[-1], 5)
    curves = pd.concat(
        pd.DataFrame({"task": "t", "trend": "power_law", "fitted_scales": k, "n_params": grid,
                      "quantity": q, "length": length, "mean": 0.3, "hdi_low": 0.2,
                      "hdi_high": 0.4})
        for k in (3, 4) for q, length in (("accuracy", 5.0), ("epsilon", np.nan))
    )  # fmt: skip
    observed = pd.DataFrame(
        {"model": simulated.models, "n_params": simulated.n_params, "length": 5,
         "n_items": 10, "n_correct": [0, 1, 2, 4, 6], "accuracy": [0, 0.1, 0.2, 0.4, 0.6],
         "epsilon": [0.6, 0.5, 0.4, 0.3, 0.2]}
    )  # fmt: skip
    fig = plot_forecast(table, curves, observed, task="t", length=5)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2  # accuracy and ε for the one trend
    assert len(fig.axes[0].collections) >= 2  # one band per k
    with pytest.raises(ValueError, match="no forecasts"):
        plot_forecast(table, curves, observed, task="other", length=5)


# --------------------------------------------------------------------------------------------
# Input errors
# --------------------------------------------------------------------------------------------


def test_too_few_sizes_is_an_input_error(tmp_path, capsys):
    outputs, _ = simulate_outputs(n_items=20, n_params=GPT3_SIZES[:3], seed=0)
    with pytest.raises(InputError, match="no task has enough model sizes"):
        forecast(outputs, trends=["power_law"], log=None)
    path = tmp_path / "three.csv"
    outputs.to_csv(path, index=False)
    out = tmp_path / "out"
    assert run_main(["forecast", path, "--out", out, "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no task has enough model sizes" in err[0], err
    assert not out.exists()


def test_repeated_attempts_are_refused_before_any_refit(tmp_path, capsys):
    """Forecast's refits take one attempt per item; a table of repeats gets one line, no output."""
    outputs, _ = simulate_attempts(n_params=GPT3_SIZES[:5], n_items=10, length=3,
                                   max_attempts=4, until_pass=False, seed=0)  # fmt: skip
    path = tmp_path / "attempts.csv"
    outputs.to_csv(path, index=False)
    out = tmp_path / "out"
    assert run_main(["forecast", path, "--out", out, "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "repeated attempts per item (task 'attempts')" in err[0], err
    assert "mirage-bayes fit" in err[0]
    assert not out.exists()


def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert run_main(["forecast", tmp_path / "missing.csv", "--out", out]) == 2
    assert run_main(["forecast", tmp_path / "missing.csv", "--draws", "0"]) == 2
    assert run_main(["forecast", tmp_path / "x.csv", "--trends", "scale_free", "--out", out]) == 2
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    outputs, _ = simulate_outputs(n_items=20, n_params=GPT3_SIZES[:5], seed=0)
    outputs.to_csv(tmp_path / "five.csv", index=False)
    assert run_main(["forecast", tmp_path / "five.csv", "--out", full]) == 2
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
    assert not out.exists()
    assert "Traceback" not in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# End to end
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """``mirage-bayes forecast`` on a smooth power law observed at 5 sizes (2 × 150 draws)."""
    tmp = tmp_path_factory.mktemp("forecast")
    outputs, truth = simulate_outputs(
        n_items=100, n_params=GPT3_SIZES[:5], c=C_TRUE, alpha=ALPHA_TRUE, seed=21
    )
    outputs.to_csv(tmp / "outputs.csv", index=False)
    out = tmp / "out"
    argv = ["forecast", tmp / "outputs.csv", "--out", out, "--draws", 150, "--tune", 150,
            "--seed", 5, "--quiet"]  # fmt: skip
    code = run_main(argv)
    return code, out, truth


@pytest.mark.slow
def test_cli_writes_the_documented_files(cli_run, capfd):
    code, out, _ = cli_run
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        ".mirage-bayes.json", "figures", "forecast.csv", "forecast.json",
        "forecast_diagnostics.csv", "report.html", "report.md",
    ]  # fmt: skip
    assert [p.name for p in (out / "figures").iterdir()] == ["forecast_simulated_arithmetic.png"]
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and "Forecasts of the largest size" in page
    markdown = (out / "report.md").read_text()
    assert "](figures/forecast_simulated_arithmetic.png)" in markdown
    assert "| power law | 4 | " in markdown  # a row per refit of the largest size
    table = pd.read_csv(out / "forecast.csv")
    assert list(table.columns) == FORECAST_COLUMNS
    assert list(pd.read_csv(out / "forecast_diagnostics.csv").columns) == DIAGNOSTIC_COLUMNS
    # Power law refitted to 3 and 4 of 5 sizes; the broken power law (5 + 1 needed) skipped.
    assert set(table["trend"]) == {"power_law"}
    assert sorted(set(table["fitted_scales"])) == [3, 4]
    held = table.groupby("fitted_scales")["model"].nunique()
    assert held.to_dict() == {3: 2, 4: 1}
    assert set(table["quantity"]) == {
        "epsilon", "epsilon_predictive", "accuracy", "accuracy_predictive", "token_edit_distance"
    }  # fmt: skip
    assert np.all(np.isfinite(table["log_pred_density"])) and np.all(table["log_pred_density"] < 0)
    meta = json.loads((out / "forecast.json").read_text(encoding="utf-8"))
    assert meta["seed"] == 5 and "broken_power_law" in " ".join(meta["warnings"])
    assert "simulated_arithmetic" in meta["verdicts"]


@pytest.mark.slow
def test_forecast_interval_of_epsilon_at_the_largest_size_covers_the_truth(cli_run):
    _, out, truth = cli_run
    table = pd.read_csv(out / "forecast.csv")
    true_eps = truth[truth["quantity"] == "epsilon"].set_index("model")["value"]
    largest = table["model"].iloc[table["n_params"].argmax()]
    row = table[
        (table["quantity"] == "epsilon") & (table["fitted_scales"] == 4)
        & (table["model"] == largest)
    ].iloc[0]  # fmt: skip
    assert row["hdi_low"] <= true_eps[largest] <= row["hdi_high"], (row, true_eps[largest])
    assert row["hdi_high"] - row["hdi_low"] < 0.2  # informative, not the whole unit interval
