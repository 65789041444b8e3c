"""Repeated attempts per item: reading them, pooling them into the item-level model, pass@k
from the posterior against simulation, the unbiased estimator, the chance null and the report."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirage_bayes.fitting.attempts import (
    exponent_draws,
    observed_pass_at_k,
    unbiased_pass_at_k,
)
from mirage_bayes.fitting.data import split_tasks
from mirage_bayes.fitting.generation import fit
from mirage_bayes.inputs.chance import chance_match_rates
from mirage_bayes.inputs.io import read_outputs
from mirage_bayes.inputs.scoring import score_outputs
from mirage_bayes.models.attempts import default_ks, log_pass_exponent, pass_at_k
from mirage_bayes.models.chance_link import scored_error
from mirage_bayes.simulate.attempts import item_success, population_pass_at_k, simulate_attempts
from mirage_bayes.simulate.generation import simulate_outputs

from support import EXAMPLE, one_error_line, run_main


@given(n=st.integers(1, 40), data=st.data())
def test_unbiased_estimator_is_the_combinatorial_formula(n, data):
    c = data.draw(st.integers(0, n))
    k = data.draw(st.integers(1, n))
    expected = 1.0 - math.comb(n - c, k) / math.comb(n, k)
    assert unbiased_pass_at_k(np.array([n]), np.array([c]), k)[0] == pytest.approx(expected)


def test_unbiased_estimator_is_undefined_beyond_the_attempts():
    assert np.isnan(unbiased_pass_at_k(np.array([3]), np.array([1]), 5)[0])


def test_default_ks():
    assert default_ks(1) == [1]
    assert default_ks(20) == [1, 2, 5, 10, 20]
    assert default_ks(30) == [1, 2, 5, 10, 20, 30]


@pytest.mark.parametrize("g", [0.0, 0.2])
def test_pass_at_k_is_the_item_average_monte_carlo_gives(g):
    # pass@k = 1 − E_u[(1 − a_u)^k] with a_u = (1 − r_u)^L: compare the quadrature with a
    # million simulated items.
    mu, sigma, length, ks = np.array([[-1.0, 0.5]]), np.array([0.8]), 3, [1, 4, 50]
    rng = np.random.default_rng(0)
    u = rng.normal(0.0, sigma[0], 1_000_000)
    got = pass_at_k(mu, sigma, [length], np.full((2, 1), g), ks)
    for s in range(2):
        eps = -np.expm1(-np.exp(mu[0, s] + u))
        a = (1.0 - scored_error(eps, g)) ** length
        for m, k in enumerate(ks):
            assert got[0, s, 0, m] == pytest.approx(1.0 - np.mean((1.0 - a) ** k), abs=2e-3)


def _write(frame: pd.DataFrame, tmp_path, name="t.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _attempt_table() -> pd.DataFrame:
    return pd.DataFrame({
        "model": ["s", "s", "s", "s", "b", "b", "b", "b"],
        "n_params": [1e8] * 4 + [1e9] * 4,
        "item": ["q1", "q1", "q2", "q2"] * 2,
        "attempt": [1, 2, 1, 2] * 2,
        "target": ["123", "123", "45", "45"] * 2,
        "output": ["123", "129", "", "45", "123", "123", "45", "45"],
    })  # fmt: skip


def test_attempts_pool_into_one_cell_per_item_and_size(tmp_path):
    rows = read_outputs(_write(_attempt_table(), tmp_path))
    scored, _ = score_outputs(rows)
    (data,) = split_tasks(scored)
    assert data.items == ["q1", "q2"] and data.models == ["s", "b"]
    assert data.attempts.tolist() == [[2, 2], [2, 2]]
    assert data.successes.tolist() == [[1, 2], [1, 2]]
    assert data.trials.tolist() == [[6, 6], [4, 4]]
    assert data.errors.tolist() == [[1, 0], [2, 0]]
    assert data.item_length.tolist() == [[3, 3], [2, 2]]
    observed = data.observed_by_length().set_index(["model", "length"])
    assert observed.loc[("s", 3), "n_items"] == 1
    assert observed.loc[("s", 3), "attempts_per_item"] == 2
    assert observed.loc[("s", 3), "accuracy"] == 0.5
    estimate = observed_pass_at_k(data, [2, 3], [1, 2])
    assert estimate[0].tolist() == [[0.5, 1.0], [0.5, 1.0]]


def test_a_repeated_attempt_is_refused(tmp_path, capsys):
    table = _attempt_table()
    table.loc[1, "attempt"] = 1
    assert run_main(["fit", _write(table, tmp_path), "--out", tmp_path / "o"]) == 2
    line = one_error_line(capsys)
    assert "item 'q1', attempt '1'" in line and "number each attempt" in line
    assert not (tmp_path / "o").exists()
    # The same attempt written as 1.0 is the same attempt.
    table["attempt"] = table["attempt"].astype(object)
    table.loc[1, "attempt"] = "1.0"
    assert run_main(["fit", _write(table, tmp_path), "--out", tmp_path / "o"]) == 2
    assert "attempt '1'" in one_error_line(capsys)


def test_attempts_need_item_ids(tmp_path, capsys):
    table = _attempt_table().drop(columns="item")
    assert run_main(["fit", _write(table, tmp_path), "--out", tmp_path / "o"]) == 2
    assert "'attempt' column needs an 'item' column" in one_error_line(capsys)


def test_duplicate_items_without_attempts_point_to_the_attempt_column(tmp_path, capsys):
    table = _attempt_table().drop(columns="attempt")
    assert run_main(["fit", _write(table, tmp_path), "--out", tmp_path / "o"]) == 2
    assert "'attempt' column" in one_error_line(capsys)


def test_the_chance_null_does_not_pair_attempts_of_one_item():
    # Each output is a rotation of its item's target: paired with the target of another
    # attempt of the same item, the alignment credits two of three digits; the other items'
    # targets share no digit with it.
    targets = ["123", "123", "456", "456", "789", "789"]
    outputs = ["231", "312", "564", "645", "897", "978"]

    def encode(texts):
        return [np.frombuffer(t.encode(), np.uint8).astype(np.int64) for t in texts]

    sizes, lengths = np.zeros(6, np.int64), np.full(6, 3)
    keys = [f"{i}" for i in range(6)]
    items = np.array([0, 0, 1, 1, 2, 2])
    pooled = chance_match_rates(encode(targets), encode(outputs), sizes, lengths, keys, 0)
    apart = chance_match_rates(encode(targets), encode(outputs), sizes, lengths, keys, 0,
                               items=items)  # fmt: skip
    assert pooled[0] > 0.1 and apart[0] == 0.0


@pytest.mark.slow
def test_fit_with_attempts_reports_pass_at_k(tmp_path):
    outputs, truth = simulate_outputs(n_items=40, lengths=(3,), attempts=12, seed=5,
                                      n_params=np.logspace(8, 11, 6))  # fmt: skip
    path = _write(outputs, tmp_path, "attempts.csv")
    out = tmp_path / "fit"
    code = run_main(["fit", path, "--out", out, "--trends", "power_law", "--draws", "300",
                     "--tune", "300", "--seed", "1", "--quiet"])  # fmt: skip
    assert code in (0, 3)
    summary = pd.read_csv(out / "summary.csv")
    rows = summary[(summary["trend"] == "power_law") & (summary["quantity"] == "pass_at_12")]
    assert len(rows) == 6 and rows["observed"].notna().all()
    assert (rows["hdi_low"] <= rows["mean"]).all() and (rows["mean"] <= rows["hdi_high"]).all()
    want = truth[(truth["quantity"] == "pass_at_k") & (truth["k"] == 1)].set_index("model")
    one = summary[(summary["trend"] == "power_law") & (summary["quantity"] == "pass_at_1")]
    one = one.set_index("model")
    covered = (one["hdi_low"] <= want["value"]) & (want["value"] <= one["hdi_high"])
    assert covered.sum() >= 4, one.join(want)
    exponent = summary[summary["quantity"] == "pass_exponent"]
    assert exponent["mean"].between(0.0, 50.0).all()
    report = (out / "report.md").read_text()
    assert "### Repeated attempts: pass@k" in report and "With 12 attempts per item" in report
    assert (out / "figures" / "simulated_arithmetic_pass_at_k.png").exists()
    entry = json.loads((out / "summary.json").read_text())["tasks"]["simulated_arithmetic"]
    # --items auto: repeated attempts get the log-gamma family, and the report says so.
    assert entry["item_family"] == {"family": "log_gamma"}
    assert "Item difficulty is log-gamma" in report and "with shape Q = " in report
    floors = entry["resolution"]
    assert floors[0]["attempts_per_item"] == 12
    assert floors[0]["floor_attempts"] == pytest.approx(1 / (40 * 12))


# --- counted attempts: n_attempts/n_success and attempts_to_pass/max_attempts -----------------


def _counted(tmp_path, **columns) -> pd.DataFrame:
    frame = pd.DataFrame({"model": ["s", "s", "b", "b"], "n_params": [1e8, 1e8, 1e9, 1e9],
                          "item": ["q1", "q2", "q1", "q2"], **columns})  # fmt: skip
    return read_outputs(_write(frame, tmp_path))


def test_attempts_until_pass_become_attempts_and_one_success(tmp_path):
    rows = _counted(tmp_path, attempts_to_pass=[3, None, 1, 2], max_attempts=[5, 5, 5, 5])
    assert rows["n_attempts"].tolist() == [3, 5, 1, 2]
    assert rows["n_success"].tolist() == [1, 0, 1, 1]
    (data,) = split_tasks(score_outputs(rows)[0])
    assert data.until_pass and data.attempts.tolist() == [[3, 1], [5, 2]]
    assert data.trials.tolist() == [[3, 1], [5, 2]] and data.errors.tolist() == [[2, 0], [5, 1]]
    observed = data.observed_by_length().set_index("model")
    assert observed.loc["s", "accuracy"] == 0.0 and observed.loc["b", "accuracy"] == 0.5
    assert observed.loc["s", "design"] == "until pass"
    # Passed within k: known up to each item's cap, unknown beyond it without a pass.
    within = observed_pass_at_k(data, [1], [1, 3, 5, 8])[:, 0, :]
    assert within[0].tolist()[:3] == [0.0, 0.5, 0.5] and within[1].tolist()[:3] == [0.5, 1.0, 1.0]
    assert within[0, 3] == 1.0  # only q1 (passed at 3) is known at k = 8


def test_counted_attempts_are_binomial_counts(tmp_path):
    rows = _counted(tmp_path, n_attempts=[10, 10, 10, 10], n_success=[0, 2, 5, 10])
    (data,) = split_tasks(score_outputs(rows)[0])
    assert not data.until_pass and data.successes.tolist() == [[0, 5], [2, 10]]
    observed = data.observed_by_length().set_index("model")
    assert observed.loc["s", "accuracy"] == 0.1 and observed.loc["s", "design"] == "counted"
    assert observed.loc["s", "attempts_per_item"] == 10


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"n_attempts": [1, 2, 3, 4]}, "'n_attempts' needs a column 'n_success'"),
        ({"n_attempts": [1, 2, 3, 4], "n_success": [0, 3, 0, 0]}, "n_success 3 is larger"),
        ({"n_attempts": [0, 2, 3, 4], "n_success": [0, 0, 0, 0]}, "n_attempts 0 is not a whole"),
        ({"attempts_to_pass": [1, 9, 1, 1], "max_attempts": [5] * 4}, "larger than max_attempts"),
        ({"attempts_to_pass": [1.5, 2, 1, 1], "max_attempts": [5] * 4}, "not a whole number"),
        ({"n_attempts": [1] * 4, "n_success": [1] * 4, "target": ["1"] * 4}, "beside target"),
    ],
)
def test_counted_attempts_refuse_bad_cells_in_one_line(columns, message, tmp_path, capsys):
    frame = pd.DataFrame({"model": ["s", "s", "b", "b"], "n_params": [1e8, 1e8, 1e9, 1e9],
                          "item": ["q1", "q2", "q1", "q2"], **columns})  # fmt: skip
    assert run_main(["fit", _write(frame, tmp_path), "--out", tmp_path / "o"]) == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_until_pass_recovers_accuracy_below_one_over_the_items(tmp_path):
    # 50 items resolve 0.02 alone; attempting each until it passes (up to 2000 times) resolves
    # the smallest model's pass@1 of about 0.006, and the interval covers the truth.
    outputs, truth = simulate_attempts(n_params=np.logspace(8, 11, 6), n_items=50, length=4,
                                       max_attempts=2000, seed=2)  # fmt: skip
    out = tmp_path / "fit"
    # Normal items, at half the sampling of the default family: the default (log-gamma) fit of
    # until-pass data is checked by notebook 07 and validation/run_attempts_validation.py.
    code = run_main(["fit", _write(outputs, tmp_path, "until.csv"), "--out", out, "--trends",
                     "power_law", "--draws", "400", "--tune", "400", "--items", "normal",
                     "--quiet"])  # fmt: skip
    assert code in (0, 3)
    summary = pd.read_csv(out / "summary.csv")
    one = summary[(summary["trend"] == "power_law") & (summary["quantity"] == "pass_at_1")]
    both = one.merge(truth[truth["k"] == 1], on="model")
    assert both["pass_at_k"].iloc[0] < 0.02 and both["hdi_low"].iloc[0] > 0
    covered = both["hdi_low"].le(both["pass_at_k"]) & both["pass_at_k"].le(both["hdi_high"])
    assert covered.sum() >= 5, both
    report = (out / "report.md").read_text()
    assert "Attempted until the first exact match" in report


def test_the_exponent_leaves_out_saturated_k():
    # −log pass@k = A·k^(−b) exactly, b = 0.5; at the second size pass@k reaches 0.999 by k = 20.
    ks = np.array([1, 2, 5, 10, 20, 50])
    curves = np.stack([1.0 - np.exp(-0.3 * ks**-0.5), np.exp(-0.05 * ks**-2.0)])  # (scales, ks)
    draws = np.repeat(curves[None], 4, axis=0)
    exponent, seen = exponent_draws(ks, draws, curves)
    b_first = log_pass_exponent(ks, np.exp(-(0.3 * ks**-0.5)))
    assert exponent[:, 1] == pytest.approx(2.0)  # read over k = 1, 2, 5 only
    assert seen[1] == pytest.approx(2.0)
    assert np.isfinite(exponent[:, 0]).all() and np.isfinite(b_first)
    saturated = np.repeat(np.ones((1, 6))[None] * 0.9999, 4, axis=0)
    assert np.isnan(exponent_draws(ks, saturated, saturated[0])[0]).all()


@pytest.mark.parametrize("population", ["lognormal", "beta"])
def test_population_truth_is_the_item_average(population):
    eta = np.log(np.array([3.0, 0.5, 0.05]))
    rng = np.random.default_rng(1)
    a = item_success(eta, 400_000, rng, population=population, length=2)
    for size in range(3):
        truth = population_pass_at_k(eta, size, [1, 10], population=population, length=2)
        sampled = [1 - np.mean((1 - a[:, size]) ** k) for k in (1, 10)]
        assert truth == pytest.approx(sampled, abs=3e-3)


def test_k_without_attempts_is_said():
    class Said(Exception):
        pass

    def log(message):
        if "--k applies" in message:
            raise Said(message)

    outputs = read_outputs(EXAMPLE)
    with pytest.raises(Said, match="attempted once"):
        fit(outputs, ks=[3], log=log, progressbar=False)
