"""End-to-end fits on simulated data with a known truth (these run the sampler)."""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import pandas as pd
import pytest

from mirage_bayes.errors import InputError
from mirage_bayes.fitting.comparison import pair
from mirage_bayes.fitting.generation import fit
from mirage_bayes.fitting.result import SUMMARY_COLUMNS
from mirage_bayes.models.chance_link import scored_error
from mirage_bayes.simulate.generation import GPT3_SIZES, simulate_outputs

pytestmark = pytest.mark.slow

ALPHA_TRUE, C_TRUE = -0.6, 3.0e8
TRENDS_ALL = {"scale_free", "power_law", "broken_power_law"}
QUANTITIES = {
    "epsilon",
    "accuracy",
    "accuracy_independent",
    "token_edit_distance",
    "brier",
    "p_zero_correct",
    "epsilon_scored",
    "accuracy_scored",
    "chance_token_match",
}
SAMPLER = {"draws": 300, "tune": 300, "chains": 2, "seed": 1, "progressbar": False, "log": None}


@pytest.fixture(scope="module")
def power_law_fit():
    """One fit of every trend to data simulated from a single power law (8 GPT-3 sizes)."""
    outputs, truth = simulate_outputs(n_items=120, c=C_TRUE, alpha=ALPHA_TRUE, seed=11)
    result = fit(outputs, trends=("power_law", "broken_power_law"), **SAMPLER)
    return result, truth


def test_epsilon_interval_covers_truth(power_law_fit):
    result, truth = power_law_fit
    summary = result.summary()
    eps = summary[(summary["trend"] == "power_law") & (summary["quantity"] == "epsilon")]
    true_eps = truth[truth["quantity"] == "epsilon"].set_index("model")["value"]
    assert list(eps["model"]) == list(true_eps.index)  # both ordered by size, same labels
    assert len(eps) == len(GPT3_SIZES)
    target = true_eps.reindex(eps["model"]).to_numpy()
    covered = (eps["hdi_low"].to_numpy() <= target) & (target <= eps["hdi_high"].to_numpy())
    assert covered.sum() >= 6, eps.assign(truth=target)
    # Intervals are informative, not the whole unit interval.
    assert np.all(eps["hdi_high"] - eps["hdi_low"] < 0.15)


def test_summary_columns_and_quantities(power_law_fit):
    result, _ = power_law_fit
    summary = result.summary()
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert set(summary["trend"]) == TRENDS_ALL
    assert set(summary["task"]) == {"simulated_arithmetic"}
    for trend, rows in summary.groupby("trend"):
        assert set(rows["quantity"]) == QUANTITIES, trend
        per_length = rows[rows["quantity"].isin(["accuracy", "token_edit_distance"])]
        assert set(per_length["length"]) == {1.0, 2.0, 3.0, 4.0, 5.0}
        assert rows.loc[rows["quantity"] == "epsilon", "length"].isna().all()
        assert len(rows[rows["quantity"] == "epsilon"]) == len(GPT3_SIZES)
    values = summary[["mean", "hdi_low", "hdi_high"]].to_numpy()
    assert np.all(np.isfinite(values))
    assert np.all(summary["hdi_low"] <= summary["hdi_high"])
    bounded = summary[summary["quantity"].isin(["epsilon", "accuracy", "accuracy_independent"])]
    assert bounded[["hdi_low", "hdi_high"]].to_numpy().min() >= 0
    assert bounded[["hdi_low", "hdi_high"]].to_numpy().max() <= 1
    # Item spread makes exact matches likelier than independent tokens at the same ε̄ (L ≥ 2),
    # and identical at L = 1.
    key = ["trend", "model", "length"]
    acc = summary[summary["quantity"] == "accuracy"].set_index(key)["mean"]
    ind = summary[summary["quantity"] == "accuracy_independent"].set_index(key)["mean"]
    ind = ind.reindex(acc.index)
    one = acc.index.get_level_values("length") == 1
    np.testing.assert_allclose(acc[one], ind[one], rtol=1e-9)
    assert np.all(acc[~one] > ind[~one])
    # Brier (K = 2) of the observed rate is 2·ε̂².
    eps_rows = summary[summary["quantity"] == "epsilon"].set_index(["trend", "model"])
    brier = summary[summary["quantity"] == "brier"].set_index(["trend", "model"])
    np.testing.assert_allclose(brier["observed"], 2 * eps_rows["observed"] ** 2)


def test_observed_epsilon_in_summary_matches_data(power_law_fit):
    result, _ = power_law_fit
    data = result.tasks[0]
    summary = result.summary()
    eps = summary[(summary["trend"] == "scale_free") & (summary["quantity"] == "epsilon")]
    scored = summary[(summary["trend"] == "scale_free") & (summary["quantity"] == "epsilon_scored")]
    expected = data.errors.sum(0) / data.trials.sum(0)
    np.testing.assert_allclose(scored["observed"], expected)
    # ε's observed value has chance matches taken out: its expected scored errors are the ones
    # counted, and it is never below the scored rate.
    corrected = eps["observed"].to_numpy()
    predicted = (data.trials * scored_error(corrected[None], data.chance)).sum(0)
    np.testing.assert_allclose(predicted, data.errors.sum(0), rtol=1e-9, atol=1e-6)
    assert (corrected >= expected - 1e-12).all()


def test_repr_is_short_and_the_html_repr_has_the_verdict(power_law_fit):
    result, _ = power_law_fit
    text = repr(result)
    assert text.startswith("<FitResult of 1 task(s): simulated_arithmetic: ")
    assert len(text) < 200 and "\n" not in text  # not the items and arrays of the dataclass
    assert "8 sizes, 120 items" in text
    page = result._repr_html_()
    assert result.verdicts()["simulated_arithmetic"][:40] in page and "<table" in page
    assert "<img src='data:image/png;base64," in page  # the accuracy figure, shown inline


def test_comparison_has_every_trend(power_law_fit):
    result, _ = power_law_fit
    comparison = result.comparison()
    assert set(comparison["trend"]) == TRENDS_ALL
    assert np.all(np.isfinite(comparison["elpd_loo"]))
    assert sorted(comparison["rank"]) == [0, 1, 2]
    assert comparison["weight"].sum() == pytest.approx(1.0, abs=1e-6)
    best = comparison.sort_values("rank").iloc[0]
    assert best["elpd_diff"] == 0
    assert np.all(comparison["elpd_diff"] >= 0)


def test_broken_power_law_not_preferred_over_true_single_law(power_law_fit):
    result, _ = power_law_fit
    table = result.comparisons[0]
    main = pair(table, "power_law", "broken_power_law")
    assert main is not None
    better, diff, se = main
    assert better in {"power_law", "broken_power_law"}
    assert diff >= 0 and se > 0
    assert not (better == "broken_power_law" and diff > 2 * se), main
    # The pairwise difference is the difference of the two trends' ELPDs.
    elpd = table.set_index("trend")["elpd_loo"]
    worse = "broken_power_law" if better == "power_law" else "power_law"
    assert diff == pytest.approx(elpd[better] - elpd[worse], rel=1e-6, abs=1e-6)
    assert pair(table, "broken_power_law", "power_law") == main
    verdict = result.verdicts()["simulated_arithmetic"]
    assert "The per-token error rate itself changes its scaling" not in verdict


def test_alpha_interval_covers_truth(power_law_fit):
    result, _ = power_law_fit
    params = result.parameters()
    rows = params[params["trend"] == "power_law"].set_index("parameter")
    # The simulated outputs match their targets by chance: the model has the factor κ on g.
    assert set(rows.index) == {"sigma_item", "chance_scale", "alpha", "log10_c"}
    alpha = rows.loc["alpha"]
    assert alpha["hdi_low"] <= ALPHA_TRUE <= alpha["hdi_high"], alpha
    sigma = rows.loc["sigma_item"]
    assert sigma["hdi_low"] <= 0.5 <= sigma["hdi_high"], sigma
    broken = params[params["trend"] == "broken_power_law"]
    assert set(broken["parameter"]) == {
        "sigma_item", "chance_scale", "c0", "c1", "log10_b", "log10_d", "f_natural"
    }  # fmt: skip


def test_save_writes_every_file(power_law_fit, tmp_path):
    result, _ = power_law_fit
    out = tmp_path / "out"
    returned = result.save(out)
    assert returned == out.resolve()
    for name in ("summary.csv", "comparison.csv", "summary.json", "report.html", "report.md"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    for trend in TRENDS_ALL:
        assert (out / f"posterior_{trend}.nc").is_file()
    figures = list((out / "figures").glob("*.png"))
    assert figures and all(f.stat().st_size > 0 for f in figures)
    # Nothing left behind by the atomic write.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]

    saved = pd.read_csv(out / "summary.csv")
    assert list(saved.columns) == SUMMARY_COLUMNS
    np.testing.assert_allclose(saved["mean"], result.summary()["mean"], rtol=1e-5)
    comparison = pd.read_csv(out / "comparison.csv")
    assert set(comparison["trend"]) == TRENDS_ALL

    meta = json.loads((out / "summary.json").read_text())
    assert meta["seed"] == 1 and meta["draws"] == 300 and meta["chains"] == 2
    task = meta["tasks"]["simulated_arithmetic"]
    assert set(task["trends"]) == TRENDS_ALL
    better, diff, se = pair(result.comparisons[0], "power_law", "broken_power_law")
    assert task["power_vs_broken"]["preferred"] == better
    assert task["power_vs_broken"]["elpd_diff"] == pytest.approx(diff)
    assert task["power_vs_broken"]["exceeds_2se"] == (diff > 2 * se)
    assert task["verdict"] == result.verdicts()["simulated_arithmetic"]
    # The verdict leads with its one word, decided by the comparison alone.
    expected_word = "undecided" if diff <= 2 * se else {"power_law": "smooth"}.get(better, "broken")
    assert task["verdict_word"] == expected_word
    assert task["verdict"].startswith(f"Verdict: {expected_word}.")
    # A smooth law seen through its exact-match accuracy is not a late jump.
    assert task["late_check"]["metric"] == "exact_match"
    assert task["late_check"]["class"] != "late_jump"
    assert "Late-jump check" in task["verdict"]

    idata = az.from_netcdf(out / "posterior_power_law.nc")
    for group in (
        "posterior",
        "log_likelihood",
        "posterior_predictive",
        "observed_data",
        "constant_data",
    ):
        assert group in idata.groups(), group
    assert "power_law" in idata.attrs["model"]
    n_items = len(result.tasks[0].items)
    assert idata.log_likelihood["n_errors"].shape == (2, 300, n_items)
    assert idata.posterior_predictive["n_errors"].shape == (2, 300, n_items, len(GPT3_SIZES))
    np.testing.assert_array_equal(idata.observed_data["n_errors"], result.tasks[0].errors)
    np.testing.assert_array_equal(idata.constant_data["n_tokens"], result.tasks[0].trials)
    replicated = idata.posterior_predictive["n_errors"].to_numpy()
    assert np.all(replicated <= result.tasks[0].trials)

    # A second save must not overwrite silently; with force it replaces the folder, but not
    # while it holds a file the run did not write.
    with pytest.raises(InputError, match="not empty"):
        result.save(out)
    (out / "notes.txt").write_text("a user's notes")
    with pytest.raises(InputError, match=r"did not write \(notes.txt\)"):
        result.save(out, force=True, report=False)
    assert (out / "notes.txt").read_text() == "a user's notes"
    (out / "notes.txt").unlink()
    result.save(out, force=True, report=False)
    assert not (out / "report.html").exists()  # replaced by a run without the report
    assert (out / "summary.csv").is_file() and (out / "posterior_power_law.nc").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_same_seed_gives_identical_summary(tmp_path):
    outputs, _ = simulate_outputs(n_items=40, n_params=GPT3_SIZES[::2][:4] + (1.75e11,), seed=3)
    settings = {"trends": ("power_law",), "draws": 100, "tune": 100, "chains": 2}
    settings.update(progressbar=False, log=None)
    paths = []
    for run in ("first", "second"):
        result = fit(outputs, seed=7, **settings)
        assert set(result.summary()["trend"]) == {"scale_free", "power_law"}
        paths.append(result.save(tmp_path / run, report=False) / "summary.csv")
    first, second = (p.read_bytes() for p in paths)
    assert len(first) > 1000
    assert first == second
