"""End-to-end multiple-choice fits on simulated data with a known truth (these run the sampler)."""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import pandas as pd
import pytest

from mirage_bayes.cli import main
from mirage_bayes.fitting.choice_result import ChoiceFitResult
from mirage_bayes.fitting.generation import fit
from mirage_bayes.fitting.result import SUMMARY_COLUMNS
from mirage_bayes.inputs.choices import score_choices
from mirage_bayes.meta.classify import CLASSES
from mirage_bayes.simulate.choices import simulate_choices, write_choice_table

pytestmark = pytest.mark.slow

# The default draws: with fewer, a multiple-choice fit refits longer until its bulk ESS reaches
# 400, which takes longer than sampling enough at once.
SAMPLER = {"draws": 1000, "tune": 1000, "chains": 2, "seed": 1, "progressbar": False, "log": None}
C_TRUE, ALPHA_TRUE = 3.0e9, -0.5


@pytest.fixture(scope="module")
def simulated_fit():
    """The power law and the scale-free reference fitted to 8 sizes × 100 items × 4 choices."""
    outputs, truth = simulate_choices(n_items=100, c=C_TRUE, alpha=ALPHA_TRUE, seed=23)
    return fit(outputs, trends=("power_law",), **SAMPLER), outputs, truth


def test_bands_cover_the_simulation_truth(simulated_fit):
    result, _, truth = simulated_fit
    summary = result.summary()
    rows = summary[summary["trend"] == "power_law"].merge(truth, on=["model", "quantity"])
    assert len(rows) == 3 * 8
    for quantity, group in rows.groupby("quantity"):
        covered = (group["hdi_low"] <= group["value"]) & (group["value"] <= group["hdi_high"])
        assert covered.sum() >= 6, (quantity, group)
        # Informative bands, not the whole range.
        assert (group["hdi_high"] - group["hdi_low"]).max() < 0.15, group
    parameters = result.parameters().set_index(["trend", "parameter"])
    alpha = parameters.loc[("power_law", "alpha")]
    assert alpha["hdi_low"] < ALPHA_TRUE < alpha["hdi_high"]
    log10_c = parameters.loc[("power_law", "log10_c")]
    assert log10_c["hdi_low"] < np.log10(C_TRUE) < log10_c["hdi_high"]


def test_tables_have_the_shared_layout(simulated_fit):
    result, outputs, _ = simulated_fit
    assert isinstance(result, ChoiceFitResult)
    summary = result.summary()
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert set(summary["quantity"]) == {"mc_grade", "brier", "p_correct"}
    assert set(summary["trend"]) == {"scale_free", "power_law"}
    assert summary["length"].isna().all()
    assert (summary["hdi_low"] <= summary["mean"]).all()
    assert (summary["mean"] <= summary["hdi_high"]).all()
    scored = score_choices(outputs)
    observed = scored.groupby("model")[["mc_grade", "brier", "p_correct"]].mean()
    for quantity in ("mc_grade", "brier", "p_correct"):
        rows = summary[(summary["quantity"] == quantity) & (summary["trend"] == "power_law")]
        np.testing.assert_allclose(rows.set_index("model")["observed"],
                                   observed.loc[rows["model"], quantity])  # fmt: skip
    curves = result.curves()
    assert set(curves["trend"]) == {"power_law"} and len(curves) == 3 * 80
    comparison = result.comparison()
    assert set(comparison["trend"]) == {"scale_free", "power_law"}
    loo = az.loo(result.idatas["simulated_choice"]["power_law"], pointwise=True)
    assert loo.loo_i.shape == (100,)  # leave one item out
    assert result.verdicts()["simulated_choice"]
    assert "multiple-choice" in result._repr_html_()
    assert set(result.diagnostics()["trend"]) == {"scale_free", "power_law"}


def test_grade_moves_faster_than_brier(simulated_fit):
    """On the posterior mean curves: the grade's 10–90% rise is narrower than Brier's fall."""
    result, _, _ = simulated_fit
    curves = result.curves()

    def width(quantity: str) -> float:
        rows = curves[curves["quantity"] == quantity].sort_values("n_params")
        mean = rows["mean"].to_numpy()
        share = (mean - mean[0]) / (mean[-1] - mean[0])
        log_n = np.log10(rows["n_params"].to_numpy())
        return log_n[np.argmax(share >= 0.9)] - log_n[np.argmax(share >= 0.1)]

    assert width("mc_grade") < 0.6 * width("brier")


def test_save_writes_every_file_and_a_self_contained_report(simulated_fit, tmp_path):
    result, _, _ = simulated_fit
    out = result.save(tmp_path / "out")
    names = {p.name for p in out.iterdir()}
    assert {"summary.csv", "comparison.csv", "summary.json", "report.html", "report.md",
            "figures", "posterior_power_law.nc", "posterior_scale_free.nc"} <= names  # fmt: skip
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["quantity"]) == {"mc_grade", "brier", "p_correct"}
    meta = json.loads((out / "summary.json").read_text())
    assert meta["kind"] == "multiple_choice" and meta["choices"] == [4]
    assert meta["tasks"]["simulated_choice"]["trends"]["power_law"]["divergences"] >= 0
    late = meta["tasks"]["simulated_choice"]["late_check"]
    assert late["metric"] == "mc_grade" and late["class"] in CLASSES
    html = (out / "report.html").read_text()
    assert "Multiple-choice grade and Brier score" in html and "data:image/png;base64," in html
    assert 'src="figures' not in html
    markdown = (out / "report.md").read_text()
    for line in markdown.splitlines():
        if line.startswith("!["):
            assert (out / line.split("(")[-1].rstrip(")")).is_file(), line
    idata = az.from_netcdf(out / "posterior_power_law.nc")
    assert {"posterior", "log_likelihood", "posterior_predictive", "observed_data",
            "constant_data"} <= set(idata.groups())  # fmt: skip
    assert idata.attrs["model"] == "multiple_choice/power_law"


def test_cli_fits_a_table_without_item_ids(tmp_path, capsys):
    outputs, _ = simulate_choices(n_params=(1e8, 1e9, 1e10, 1e11), n_items=25, seed=4)
    path = write_choice_table(outputs.drop(columns="item"), tmp_path / "mc.csv")
    out = tmp_path / "out"
    code = main(["fit", str(path), "--out", str(out), "--quiet", "--trends", "power_law"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "simulated_choice:" in captured.out and (out / "report.html").is_file()
    idata = az.from_netcdf(out / "posterior_power_law.nc")
    assert float(idata.posterior["sigma_item"].max()) == 0.0  # no item effects without ids
    assert idata.attrs["item_effects"] == 0
