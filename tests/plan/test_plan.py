"""``mirage-bayes plan``: the item-count searches, plans from a fit folder or from ε, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import arviz as az
import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy.optimize import minimize_scalar
from scipy.stats import beta as beta_dist
from scipy.stats import binom

from mirage_bayes.cli.plan_command import write_plan
from mirage_bayes.errors import InputError
from mirage_bayes.models.generation import epsilon_from_eta, population_quantities
from mirage_bayes.output.load import load_fit
from mirage_bayes.plan.design import (
    MAX_ITEMS,
    PLAN_COLUMNS,
    beta_hdi,
    expected_halfwidth,
    format_plan,
    items_for_any_correct,
    items_for_halfwidth,
    jeffreys_halfwidths,
    mu_for_epsilon,
    plan_for_resolution,
    plan_from_epsilon,
    plan_from_fit,
    plot_plan,
    smallest_n,
)
from mirage_bayes.settings import DEFAULT_MAX_ITEMS

from support import one_error_line, run_main

matplotlib.use("Agg")


# --- searches against closed forms ---------------------------------------------------------------


def test_smallest_n_finds_the_threshold_and_respects_the_cap():
    calls = []

    def ok(n):
        calls.append(n)
        return n >= 37

    assert smallest_n(ok) == 37
    assert len(calls) < 20  # doubling then bisection, not a scan
    assert smallest_n(lambda n: True) == 1
    assert smallest_n(lambda n: n >= 100, max_items=100) == 100
    assert smallest_n(lambda n: n >= 101, max_items=100) is None


@pytest.mark.parametrize("prob", [0.5, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("accuracy", [0.9, 0.3, 0.05, 1e-3, 2.5e-6])
def test_items_for_any_correct_is_the_closed_form(accuracy, prob):
    expected = int(np.ceil(np.log1p(-prob) / np.log1p(-accuracy)))
    found = items_for_any_correct(np.array([accuracy]), prob=prob)
    assert found == expected
    # The defining property, checked directly: (1 − a)^n ≤ 1 − prob at n, not at n − 1.
    assert (1 - accuracy) ** found <= 1 - prob < (1 - accuracy) ** (found - 1) or found == 1


def test_items_for_any_correct_averages_over_the_posterior():
    draws = np.array([0.01, 0.1])
    n = items_for_any_correct(draws, prob=0.95)
    p_any = lambda m: 1 - np.mean((1 - draws) ** m)  # noqa: E731
    assert p_any(n) >= 0.95 > p_any(n - 1)
    # Posterior spread towards small accuracies needs more items than the mean accuracy would.
    assert n > items_for_any_correct(np.array([draws.mean()]), prob=0.95)


def test_items_beyond_the_cap_are_reported_as_none():
    assert items_for_any_correct(np.array([1e-12])) is None
    assert items_for_any_correct(np.array([0.0])) is None
    assert items_for_any_correct(np.array([1e-3]), max_items=100) is None


@pytest.mark.parametrize(
    ("a", "b"), [(0.5, 10.5), (3.5, 20.5), (50.5, 10.5), (1.5, 1.5), (10.5, 0.5), (2.5, 400.5)]
)
def test_beta_hdi_is_the_shortest_interval_of_its_mass(a, b):
    low, high = beta_hdi(np.array([a]), np.array([b]), 0.94)
    mass = beta_dist.cdf(high, a, b) - beta_dist.cdf(low, a, b)
    np.testing.assert_allclose(mass, 0.94, atol=1e-9)

    def width(t):
        return beta_dist.ppf(t + 0.94, a, b) - beta_dist.ppf(t, a, b)

    best = minimize_scalar(width, bounds=(0, 0.06), method="bounded", options={"xatol": 1e-12})
    np.testing.assert_allclose(high - low, min(best.fun, width(0.0), width(0.06)), rtol=1e-7)
    if a < 1:
        assert low[0] == 0.0
    if b < 1:
        assert high[0] == 1.0
    with pytest.raises(ValueError, match="U-shaped"):
        beta_hdi(np.array([0.5]), np.array([0.5]))


def _brute_expected_halfwidth(points: np.ndarray, n: int) -> float:
    k = np.arange(n + 1)
    widths = jeffreys_halfwidths(k, n)
    return float(np.mean([binom.pmf(k, n, p) @ widths for p in points]))


@pytest.mark.parametrize("n", [1, 7, 60, 2500])
def test_expected_halfwidth_against_a_full_sum(n):
    rng = np.random.default_rng(n)
    posterior = rng.beta(20, 60, 1000)
    points = np.quantile(posterior, (np.arange(64) + 0.5) / 64)
    ours = expected_halfwidth(posterior, n)
    np.testing.assert_allclose(ours, _brute_expected_halfwidth(points, n), rtol=1e-5)
    single = expected_halfwidth(np.array([0.02]), n)
    np.testing.assert_allclose(single, _brute_expected_halfwidth(np.array([0.02]), n), rtol=1e-5)


@pytest.mark.parametrize("accuracy", [0.02, 0.3, 0.5])
def test_items_for_halfwidth_is_the_first_n_that_reaches_it(accuracy):
    found = items_for_halfwidth(np.array([accuracy]), halfwidth=0.1)
    scan = [_brute_expected_halfwidth(np.array([accuracy]), n) for n in range(1, found + 1)]
    first = next(n for n, w in enumerate(scan, start=1) if w <= 0.1)
    assert found == first
    # A half-width of 0.05 needs about four times the items near a = 0.5 (width ∝ 1/√n).
    finer = items_for_halfwidth(np.array([0.5]), halfwidth=0.05)
    assert 3.5 < finer / items_for_halfwidth(np.array([0.5]), halfwidth=0.1) < 4.5


# --- plans from given error rates -----------------------------------------------------------------


def test_plan_from_epsilon_without_heterogeneity_is_the_closed_form():
    plan = plan_from_epsilon([0.3, 0.1, 0.02], [5], prob=0.95)
    assert list(plan.columns) == PLAN_COLUMNS
    accuracy = (1 - np.array([0.3, 0.1, 0.02])) ** 5
    np.testing.assert_allclose(plan["accuracy"], accuracy, rtol=1e-12)
    expected = np.ceil(np.log(0.05) / np.log1p(-accuracy)).astype(int)
    np.testing.assert_array_equal(plan["items_any_correct"].astype(int), expected)
    halfwidth = [items_for_halfwidth(np.array([a]), halfwidth=0.05) for a in accuracy]
    np.testing.assert_array_equal(plan["items_halfwidth"].astype(int), halfwidth)
    assert plan["n_params"].isna().all() and (plan["trend"] == "given").all()


def test_item_spread_keeps_mean_epsilon_and_raises_accuracy():
    for eps in (0.02, 0.3, 0.8):
        mu = mu_for_epsilon(eps, 1.0)
        mean_eps = population_quantities(np.array([[mu]]), np.array([1.0]), [1])["epsilon"]
        assert mean_eps[0, 0] == pytest.approx(eps, rel=1e-9)
    spread = plan_from_epsilon([0.3], [5], sigma_item=1.0)
    assert spread["accuracy"].iloc[0] > 0.7**5  # easy items answer whole targets more often
    assert (
        spread["items_any_correct"].iloc[0]
        < plan_from_epsilon([0.3], [5])["items_any_correct"].iloc[0]
    )


def test_planned_items_give_the_requested_probability_in_simulation():
    """Test sets of the planned size, simulated from the same law, show ≥ 1 correct ~95%."""
    sigma, length = 0.5, 5
    plan = plan_from_epsilon([0.7, 0.5], [length], sigma_item=sigma, prob=0.95)
    rng = np.random.default_rng(11)
    for eps, n in zip([0.7, 0.5], plan["items_any_correct"].astype(int), strict=True):
        mu = mu_for_epsilon(eps, sigma)
        u = rng.normal(0, sigma, (400, n))
        wrong = rng.random((400, n, length)) < epsilon_from_eta(mu + u)[..., None]
        hit = np.mean((~wrong.any(-1)).sum(1) > 0)
        assert 0.9 <= hit <= 0.99, (eps, n, hit)


# --- plans from a fit folder ---------------------------------------------------------------------

SIZES = np.array([1e8, 1e9, 1e10, 1e11])
MODELS = ["100M", "1B", "10B", "100B"]


@pytest.fixture(scope="module")
def fit_folder(tmp_path_factory) -> Path:
    """A folder shaped like ``mirage-bayes fit`` output: two trends' posteriors, no sampling."""
    folder = tmp_path_factory.mktemp("fit")
    rng = np.random.default_rng(0)
    eta = 0.8 - 0.45 * np.log10(SIZES / 1e8) * 2.3
    tokens = np.tile([3, 5], (20, 1)).reshape(-1, 1).repeat(len(SIZES), 1)[:40]
    for trend, shift in (("power_law", 0.0), ("scale_free", 0.1)):
        mu = eta + shift + rng.normal(0, 0.08, (2, 100, len(SIZES)))
        idata = az.from_dict(
            posterior={"mu": mu, "sigma_item": np.abs(rng.normal(0.5, 0.05, (2, 100)))},
            constant_data={"n_tokens": tokens, "n_params": SIZES},
            dims={"mu": ["scale"], "n_tokens": ["item", "scale"], "n_params": ["scale"]},
            coords={"scale": MODELS, "item": [f"q{i}" for i in range(40)]},
        )
        idata.attrs.update(
            {"task": "arith", "trend": trend, "fit_config": json.dumps({"lengths": [8]})}
        )
        idata.to_netcdf(str(folder / f"posterior_{trend}.nc"))
    (folder / "summary.csv").write_text("task\n")
    return folder


def test_plan_from_fit_uses_the_power_law_posterior(fit_folder):
    plan = plan_from_fit(fit_folder, prob=0.95, halfwidth=0.05)
    assert list(plan.columns) == PLAN_COLUMNS
    assert set(plan["trend"]) == {"power_law"}
    assert sorted(set(plan["length"])) == [3, 5, 8]  # data lengths and the fit's --lengths
    assert list(plan.drop_duplicates("model")["model"]) == MODELS
    idata = az.from_netcdf(str(fit_folder / "posterior_power_law.nc"))
    mu = idata.posterior["mu"].values.reshape(-1, len(SIZES))
    sigma = idata.posterior["sigma_item"].values.reshape(-1)
    accuracy = population_quantities(mu, sigma, [5])["accuracy"][:, 0, 0]
    row = plan[(plan["model"] == MODELS[0]) & (plan["length"] == 5)].iloc[0]
    assert row["items_any_correct"] == items_for_any_correct(accuracy, prob=0.95)
    assert row["items_halfwidth"] == items_for_halfwidth(accuracy, halfwidth=0.05)
    assert row["accuracy"] == pytest.approx(accuracy.mean())
    # Smaller models need more items to show any exact match.
    at5 = plan[plan["length"] == 5]["items_any_correct"].astype(int).to_numpy()
    assert np.all(np.diff(at5) <= 0) and at5[0] > at5[-1]
    other = plan_from_fit(fit_folder, trend="scale_free", lengths=[2])
    assert set(other["trend"]) == {"scale_free"} and set(other["length"]) == {2}


@pytest.mark.parametrize("written_as", ["Q", "k"])
def test_a_log_gamma_fit_loads_with_its_signed_shape(tmp_path, written_as):
    """The loader gives the shape Q, also from a posterior written when the shape was k > 0
    (sampled as log_item_shape): the same law at Q = 1/√k."""
    q = np.full((2, 50), 0.5)
    shape = {"item_shape": q} if written_as == "Q" else {
        "item_shape": 1 / q**2, "log_item_shape": np.log(1 / q**2)}  # fmt: skip
    idata = az.from_dict(
        posterior={"mu": np.zeros((2, 50, len(SIZES))), "sigma_item": np.full((2, 50), 0.5)}
        | shape,
        constant_data={"n_tokens": np.full((3, len(SIZES)), 4), "n_params": SIZES},
        dims={"mu": ["scale"], "n_tokens": ["item", "scale"], "n_params": ["scale"]},
        coords={"scale": MODELS, "item": ["a", "b", "c"]},
    )
    idata.attrs.update({"task": "t", "trend": "power_law"})
    idata.to_netcdf(str(tmp_path / "posterior_power_law.nc"))
    (fit,) = load_fit(tmp_path)
    assert fit["item_shape"] == pytest.approx(np.full(100, 0.5))


def test_plan_from_fit_errors(fit_folder, tmp_path):
    with pytest.raises(InputError, match="no broken_power_law fit"):
        plan_from_fit(fit_folder, trend="broken_power_law")
    with pytest.raises(InputError, match="no posterior"):
        plan_from_fit(tmp_path)
    (tmp_path / "posterior_power_law.nc").write_text("not netCDF")
    with pytest.raises(InputError, match="not a readable"):
        plan_from_fit(tmp_path)


# --- output and command line ----------------------------------------------------------------------


def test_format_and_figure():
    plan = plan_from_epsilon([0.5, 0.9999], [1, 5], max_items=1000)
    text = format_plan(plan, prob=0.95, halfwidth=0.05)
    lines = text.splitlines()
    assert len(lines) == 2 + len(plan)
    assert "> 1,000" in text  # ε = 0.9999 at L = 5 needs more than the cap
    header_end = lines[0].index("accuracy") + len("accuracy")
    assert all(line[header_end - 1] != " " for line in lines[2:])  # right-aligned column
    fig = plot_plan(plan)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert all(ax.get_xscale() == "log" and ax.get_yscale() == "log" for ax in fig.axes)
    assert fig.axes[0].xaxis_inverted()  # ε falls to the right, as model size grows
    sized = plan_from_epsilon([0.5, 0.2], [5], n_params=[1e8, 1e9], task="other")
    assert list(sized["model"]) == ["100M", "1B"]
    both = plot_plan(pd.concat([plan, sized], ignore_index=True))
    assert len(both.axes) == 4 and not both.axes[2].xaxis_inverted()  # a row per task


def test_write_plan_is_all_or_nothing(tmp_path):
    plan = plan_from_epsilon([0.3], [5])

    class Broken(Figure):
        def savefig(self, *args, **kwargs):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_plan(plan, tmp_path / "plan.csv", force=False, figure=Broken())
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="CSV"):
        write_plan(plan, tmp_path / "plan.txt", force=False, figure=plot_plan(plan))


def test_cli_plan_from_epsilon(tmp_path, capsys):
    out = tmp_path / "plan.csv"
    code = run_main(["plan", "--epsilon", "0.3,0.1,0.02", "--length", "5", "--out", out])
    assert code == 0
    printed = capsys.readouterr().out
    assert "items for P(≥1 correct) ≥ 0.95" in printed and f"wrote {out}" in printed
    table = pd.read_csv(out)
    assert list(table.columns) == PLAN_COLUMNS
    assert list(table["items_any_correct"]) == [17, 4, 2]  # ⌈log 0.05 / log(1 − (1 − ε)^5)⌉
    assert (tmp_path / "plan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = out.read_bytes()
    assert run_main(["plan", "--epsilon", "0.5", "--length", "5", "--out", out]) == 2
    assert "file exists" in one_error_line(capsys)
    assert out.read_bytes() == before
    args = ["plan", "--epsilon", "0.5", "--lengths", "1,5", "--out", out, "--force"]
    assert run_main(args) == 0
    assert len(pd.read_csv(out)) == 2


def test_cli_plan_from_fit_folder(fit_folder, capsys):
    assert run_main(["plan", fit_folder, "--lengths", "5", "--halfwidth", "0.1"]) == 0
    printed = capsys.readouterr().out
    assert "items for HDI half-width ≤ 0.1" in printed
    assert "arith: planned from the power law fit" in printed  # preferred over scale-free
    plan = pd.read_csv(fit_folder / "plan.csv")
    assert list(plan["model"]) == MODELS and set(plan["length"]) == {5}
    assert (fit_folder / "plan.png").is_file()


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        ([], "either a fit folder or --epsilon"),
        (["FIT", "--epsilon", "0.1"], "either a fit folder or --epsilon"),
        (["--epsilon", "0.1"], "needs target lengths"),
        (["--epsilon", "1.5", "--length", "5"], "between 0 and 1"),
        (["--epsilon", "0.1", "--length", "5", "--prob", "1"], "--prob"),
        (["--epsilon", "0.1", "--length", "5", "--halfwidth", "0"], "--halfwidth"),
        (["--epsilon", "0.1,0.2", "--length", "5", "--n-params", "1e9"], "--n-params has 1"),
        (["--epsilon", "0.1", "--length", "5", "--sigma-item", "-1"], "--sigma-item"),
        (["--epsilon", "0.1", "--length", "5", "--trend", "power_law"], "--trend only"),
        (["FIT", "--sigma-item", "0.5"], "only applies with --epsilon"),
        (["FIT", "--trend", "broken_power_law"], "no broken_power_law fit"),
        (["EMPTY"], "no posterior"),
        (["--epsilon", "0.1", "--length", "5", "--out", "OUT.txt"], "CSV"),
        (["--epsilon", "x", "--length", "5"], "comma-separated numbers"),
        (["--epsilon", "0.1", "--length", "0"], "positive"),
    ],
)
def test_cli_plan_bad_input_is_one_line_exit_2(args, mentions, fit_folder, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    swap = {"FIT": fit_folder, "EMPTY": empty, "OUT.txt": tmp_path / "out.txt"}
    argv = ["plan", *[swap.get(a, a) for a in args]]
    if "--out" not in args:
        argv += ["--out", tmp_path / "plan.csv"]
    assert run_main(argv) == 2
    assert mentions in one_error_line(capsys)
    assert not (tmp_path / "plan.csv").exists()


def test_cli_help_and_cap_default(capsys):
    assert DEFAULT_MAX_ITEMS == MAX_ITEMS
    assert run_main(["plan", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--halfwidth" in text and f"{MAX_ITEMS:,}" in text
    assert run_main(["--help"]) == 0
    assert "plan" in capsys.readouterr().out


# --- attempts per item (--items) ----------------------------------------------------------------


def test_attempts_without_item_spread_are_the_closed_form():
    # Identical items: pass@A = 1 − (1 − a)^A, so n items need ⌈log(1 − p) / (n·log(1 − a))⌉
    # attempts each, and one item ⌈log(1 − p) / log(1 − a)⌉.
    plan = plan_from_epsilon([0.6, 0.3], [5], items=20, prob=0.95)
    for eps, row in zip([0.6, 0.3], plan.itertuples(), strict=True):
        a = (1 - eps) ** 5
        assert row.attempts_any_correct == math.ceil(math.log(0.05) / (20 * math.log1p(-a)))
        assert row.attempts_first_success == math.ceil(math.log(0.05) / math.log1p(-a))
        assert row.generations == 20 * row.attempts_any_correct
        assert row.floor_attempts == pytest.approx(1 / row.generations)


def test_planned_attempts_give_the_requested_probability_in_simulation():
    """Items of spread difficulty, each attempted the planned number of times, show ≥ 1 exact
    match in about 95% of simulated test sets; one item its first success likewise."""
    sigma, length, items = 0.5, 5, 10
    plan = plan_from_epsilon([0.6], [length], sigma_item=sigma, items=items, prob=0.95)
    attempts, first = int(plan["attempts_any_correct"][0]), int(plan["attempts_first_success"][0])
    # The hardest items decide one item's first success: far more attempts than ten items need.
    assert first > 100 * attempts
    mu = mu_for_epsilon(0.6, sigma)
    rng = np.random.default_rng(3)
    a = np.exp(-length * np.exp(mu + rng.normal(0, sigma, (4000, items))))  # per item
    hits = rng.binomial(attempts, a).sum(1) > 0
    assert 0.93 <= hits.mean() <= 0.97, (attempts, hits.mean())
    one = rng.binomial(first, a[:, 0]) > 0
    assert 0.93 <= one.mean() <= 0.97, (first, one.mean())


def test_cli_plan_with_items_prints_the_design(fit_folder, tmp_path, capsys):
    out = tmp_path / "plan.csv"
    assert run_main(["plan", fit_folder, "--lengths", "5", "--items", "30", "--out", out]) == 0
    printed = capsys.readouterr().out
    assert "items × attempts for P(≥1 correct)" in printed and "30 × " in printed
    plan = pd.read_csv(out)
    assert list(plan.columns[-5:]) == ["items", "attempts_any_correct", "attempts_first_success",
                                       "generations", "floor_attempts"]  # fmt: skip
    # The smallest model, least accurate, needs the most attempts.
    attempts = plan["attempts_any_correct"].to_numpy()
    assert attempts[0] == attempts.max() and attempts[0] > attempts[-1]


def test_plan_for_a_resolution_hits_the_accuracy_and_compares_designs():
    plan = plan_for_resolution([1e-3, 1e-4], [5, 2], sigma_item=0.5, items=100, prob=0.95)
    assert list(plan["model"]) == ["acc=0.001", "acc=0.0001"] * 2
    assert plan["accuracy"].to_numpy() == pytest.approx([1e-3, 1e-4] * 2, rel=1e-6)
    for row in plan.itertuples():
        # New items tried once each: P(≥ 1 correct) = 1 − (1 − a)^n exactly.
        expected = math.ceil(math.log(0.05) / math.log1p(-row.accuracy))
        assert row.items_any_correct == expected
        # 100 items tried repeatedly need more generations than new items would.
        assert row.generations >= row.items_any_correct and row.floor_attempts <= 1e-2


def test_cli_plan_for_a_resolution(tmp_path, capsys):
    out = tmp_path / "plan.csv"
    args = ["plan", "--resolve", "1e-3", "--length", "5", "--sigma-item", "0.5", "--items", "100",
            "--out", out]  # fmt: skip
    assert run_main(args) == 0
    printed = capsys.readouterr().out
    assert "acc=0.001" in printed and "100 × " in printed
    for bad, mentions in ((["--resolve", "2", "--length", "5"], "between 0 and 1"),
                          (["--resolve", "1e-3"], "--resolve needs target lengths"),
                          (["--resolve", "1e-3", "--length", "5", "--trend", "power_law"],
                           "--trend does not apply"),
                          (["--resolve", "1e-3", "--epsilon", "0.1", "--length", "5"],
                           "exactly one")):  # fmt: skip
        assert run_main(["plan", *bad, "--out", tmp_path / "x.csv"]) == 2
        assert mentions in one_error_line(capsys)


@pytest.mark.parametrize(
    "args",
    [
        ["--resolve", "1e-8", "--length", "5", "--sigma-item", "2"],
        ["--epsilon", "0.1", "--length", "5", "--sigma-item", "50"],
    ],
)
def test_a_target_no_item_population_reaches_is_one_line(args, tmp_path, capsys):
    assert run_main(["plan", *args, "--out", tmp_path / "p.csv"]) == 2
    assert "no item population with --sigma-item" in one_error_line(capsys)
    assert not (tmp_path / "p.csv").exists()
