"""Tests of the simulator and the metric transforms (no sampling)."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pandas as pd
import pytest
from rapidfuzz.distance import LCSseq

from mirage_bayes.cli import main
from mirage_bayes.fitting.transforms import (
    accuracy_independent,
    brier_score,
    jeffreys_interval,
    token_edit_distance,
)
from mirage_bayes.inputs.scoring import score_outputs
from mirage_bayes.models import population_quantities
from mirage_bayes.simulate.generation import (
    GPT3_SIZES,
    Break,
    _Noise,
    _simulate,
    log_cross_entropy,
    population_truth,
    simulate_outputs,
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


# The rendering options of simulate_outputs and their documented defaults.
DEFAULT_RATES = {
    "insert_rate": 0.02, "delete_rate": 0.1, "echo_rate": 0.2, "empty_rate": 0.05,
    "truncate_rate": 0.0,
}  # fmt: skip
NO_NOISE = dict.fromkeys(DEFAULT_RATES, 0.0)


def run(**kwargs) -> tuple[pd.DataFrame, pd.DataFrame, list[np.ndarray]]:
    """``_simulate`` (outputs, truth and per-row masks of produced target tokens)."""
    settings = {
        "n_params": (1e8, 1e10), "c": C_TRUE, "alpha": ALPHA_TRUE, "n_items": 200,
        "lengths": (1, 2, 3, 4, 5), "sigma_item": 0.5, "brk": None, "task": "t", "family": "f",
        "seed": 0, "operation": "add",
    }  # fmt: skip
    rates = dict(DEFAULT_RATES)
    for key in list(kwargs):
        (rates if key in rates else settings)[key] = kwargs.pop(key)
    return _simulate(**settings, noise=_Noise(**rates))


def operands(question: str) -> tuple[str, str]:
    a, b = re.findall(r"\d+", question)
    return a, b


def test_defaults_are_documented_and_shared_with_the_helper():
    signature = inspect.signature(simulate_outputs)
    assert {k: signature.parameters[k].default for k in DEFAULT_RATES} == DEFAULT_RATES
    assert signature.parameters["operation"].default == "add"
    for key in (*DEFAULT_RATES, "operation"):
        assert f"\n    {key}\n" in simulate_outputs.__doc__, key
    # The public function is the helper without its masks.
    outputs, truth = simulate_outputs(n_params=(1e8, 1e10), c=C_TRUE, n_items=30, seed=2)
    same, same_truth, _ = run(n_items=30, seed=2, task="simulated_arithmetic", family="simulated")
    pd.testing.assert_frame_equal(outputs, same)
    pd.testing.assert_frame_equal(truth, same_truth)


@pytest.mark.parametrize("operation", ["add", "multiply"])
def test_items_are_arithmetic_problems_of_the_requested_length(operation):
    outputs, _, _ = run(n_params=(1e9,), n_items=60, lengths=(1, 2, 3, 7, 25), operation=operation)
    symbol = {"add": "+", "multiply": "*"}[operation]
    for question, target in zip(outputs["question"], outputs["target"], strict=True):
        a, b = (int(v) for v in operands(question))
        assert f" {symbol} " in question
        assert str(a + b if operation == "add" else a * b) == target
        assert len(target) == 1 or target[0] != "0"
    assert outputs["target"].str.len().tolist() == [1, 2, 3, 7, 25] * 12


def test_substitution_only_outputs_differ_exactly_where_tokens_were_not_produced():
    outputs, truth, masks = run(n_items=50, lengths=(3, 6), seed=4, **NO_NOISE)
    for target, output, produced in zip(outputs["target"], outputs["output"], masks, strict=True):
        assert len(output) == len(target)
        assert [o == t for o, t in zip(output, target, strict=True)] == produced.tolist()
    scored, tokenizers = score_outputs(outputs)
    assert tokenizers == {"t": "char"}
    wrong = np.array([int((~m).sum()) for m in masks])
    # An alignment can only credit more than the produced tokens (chance matches), never less.
    assert np.all(scored["n_errors"].to_numpy() <= wrong)
    assert np.all(scored["token_edit_distance"].to_numpy() <= wrong)
    assert (scored["n_errors"].to_numpy() < wrong).any()
    assert set(scored["n_tokens"]) == {3, 6}
    assert sorted(set(truth["model"])) == ["100M", "10B"]
    # More errors at the smaller size, as alpha < 0 says.
    rate = (
        scored.groupby("n_params")["n_errors"].sum() / scored.groupby("n_params")["n_tokens"].sum()
    )
    assert rate.loc[1e8] > rate.loc[1e10]


def test_wrong_tokens_are_any_other_digit_so_chance_matches_happen():
    outputs, _, masks = run(n_params=(1e7,), n_items=2000, lengths=(4,), seed=1, **NO_NOISE)
    all_wrong = np.array([not m.any() for m in masks])
    assert all_wrong.sum() > 1500
    targets = outputs["target"][all_wrong].tolist()
    wrong = outputs["output"][all_wrong].tolist()
    pairs = [(t[j], o[j]) for t, o in zip(targets, wrong, strict=True) for j in range(4)]
    assert all(t != o for t, o in pairs)
    # Uniform over the nine other digits: the offset (o - t) mod 10 takes each of 1..9 equally.
    offsets = np.bincount([(int(o) - int(t)) % 10 for t, o in pairs], minlength=10)
    assert offsets[0] == 0
    expected = len(pairs) / 9
    assert np.all(np.abs(offsets[1:] - expected) < 5 * np.sqrt(expected))
    # A wrong digit equal to another digit of the target: the old simulator never made one.
    assert np.mean([any(d in t for d in o) for t, o in zip(targets, wrong, strict=True)]) > 0.5
    share = np.mean([LCSseq.similarity(t, o) for t, o in zip(targets, wrong, strict=True)]) / 4
    assert 0.15 < share < 0.3  # about 0.21 target tokens in 1 matched by chance


def test_echo_replaces_all_wrong_outputs_by_an_operand():
    _, _, masks = run(n_params=(1e7, 1e10), n_items=300, seed=5, **NO_NOISE)
    echo, _, same_masks = run(
        n_params=(1e7, 1e10), n_items=300, seed=5, **NO_NOISE | {"echo_rate": 1.0}
    )
    assert all(np.array_equal(a, b) for a, b in zip(masks, same_masks, strict=True))
    all_wrong = np.array([not m.any() for m in masks])
    echoed = 0
    for k in np.flatnonzero(all_wrong):
        row = echo.iloc[k]
        choices = [v for v in operands(row["question"]) if v != row["target"]]
        if choices:
            assert row["output"] in choices
            echoed += 1
    assert echoed > 200
    # An output with a produced token is not echoed: it differs exactly where tokens were wrong.
    for k in np.flatnonzero(~all_wrong):
        target, output = echo["target"].iloc[k], echo["output"].iloc[k]
        assert [o == t for o, t in zip(output, target, strict=True)] == masks[k].tolist()


def test_empty_rate_empties_that_share_of_all_wrong_outputs():
    outputs, _, masks = run(n_params=(1e7,), n_items=3000, seed=6, **NO_NOISE | {"empty_rate": 0.3})
    all_wrong = np.array([not m.any() for m in masks])
    empty = (outputs["output"] == "").to_numpy()
    assert not empty[~all_wrong].any()
    n = all_wrong.sum()
    assert abs(empty[all_wrong].mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n)
    every, _, masks = run(n_params=(1e7,), n_items=300, seed=6, **NO_NOISE | {"empty_rate": 1.0})
    assert all((o == "") == (not m.any()) for o, m in zip(every["output"], masks, strict=True))


def test_insertions_and_deletions_change_output_lengths():
    inserted, _, masks = run(n_items=200, seed=7, **NO_NOISE | {"insert_rate": 1.0})
    for target, output, produced in zip(inserted["target"], inserted["output"], masks, strict=True):
        # Every wrong token is followed by an extra digit; produced tokens are not.
        assert len(output) == len(target) + int((~produced).sum())
    deleted, _, masks = run(n_items=200, seed=7, **NO_NOISE | {"delete_rate": 1.0})
    for target, output, produced in zip(deleted["target"], deleted["output"], masks, strict=True):
        assert output == "".join(t for t, ok in zip(target, produced, strict=True) if ok)
    some, _, masks = run(
        n_params=(1e7, 1e11), n_items=3000, seed=8, **NO_NOISE | {"insert_rate": 0.1}
    )
    extra = (some["output"].str.len() - some["target"].str.len()).to_numpy()
    assert extra.min() >= 0
    wrong = sum(int((~m).sum()) for m in masks)
    assert abs(extra.sum() / wrong - 0.1) < 4 * np.sqrt(0.1 * 0.9 / wrong)
    # Insertions only follow wrong tokens: an output whose every token was produced is right.
    right = np.array([m.all() for m in masks])
    exact = (some["output"] == some["target"]).to_numpy()
    assert exact[right].all() and not exact[~right].any()


def test_truncation_stops_after_the_first_wrong_token():
    outputs, _, masks = run(n_items=200, seed=9, **NO_NOISE | {"truncate_rate": 1.0})
    for target, output, produced in zip(outputs["target"], outputs["output"], masks, strict=True):
        if produced.all():
            assert output == target
            continue
        first = int(np.argmin(produced))
        assert output[:first] == target[:first]
        assert len(output) == first + 1 and output[first] != target[first]


def test_produced_tokens_follow_the_population_truth():
    # Render noise does not touch which tokens are produced: same seed, same masks.
    _, _, quiet_masks = run(n_items=100, seed=10, **NO_NOISE | {"truncate_rate": 0.5})
    _, _, masks = run(n_items=100, seed=10)
    assert all(np.array_equal(a, b) for a, b in zip(quiet_masks, masks, strict=True))
    sizes = (1e8, 1e9, 1e10)
    outputs, truth, masks = run(n_params=sizes, n_items=4000, seed=11)
    eps = truth[truth["quantity"] == "epsilon"].set_index("n_params")["value"]
    share = np.array([1 - m.mean() for m in masks]).reshape(len(sizes), -1)
    for s, size in enumerate(sizes):
        # Items (difficulty and length) vary, so the error is that of a mean over items.
        se = share[s].std() / np.sqrt(share.shape[1])
        assert abs(share[s].mean() - eps.loc[size]) < 4 * se, (size, share[s].mean(), se)
    for length in (1, 5):
        acc = truth[(truth["quantity"] == "accuracy") & (truth["length"] == length)]
        rows = (outputs["target"].str.len() == length).to_numpy().reshape(len(sizes), -1)
        right = np.array([m.all() for m in masks]).reshape(len(sizes), -1)
        for s, size in enumerate(sizes):
            p = acc.set_index("n_params")["value"].loc[size]
            n = rows[s].sum()
            assert abs(right[s][rows[s]].mean() - p) < 4 * np.sqrt(p * (1 - p) / n)


def test_same_seed_same_outputs():
    settings = {"n_params": (1e8, 1e9, 1e10), "n_items": 80, "truncate_rate": 0.2}
    first, truth = simulate_outputs(**settings, seed=3)
    second, same_truth = simulate_outputs(**settings, seed=3)
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(truth, same_truth)
    other, _ = simulate_outputs(**settings, seed=4)
    assert not first["output"].equals(other["output"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"insert_rate": -0.1}, "insert_rate"),
        ({"delete_rate": 1.5}, "delete_rate"),
        ({"truncate_rate": float("nan")}, "truncate_rate"),
        ({"echo_rate": 0.7, "empty_rate": 0.4}, "echo_rate \\+ empty_rate"),
        ({"operation": "divide"}, "operation"),
        ({"lengths": (2, 0)}, "lengths"),
    ],
)
def test_bad_options_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_outputs(n_items=3, **kwargs)


@pytest.mark.parametrize(
    "extra",
    [
        ["--insert-rate", "-0.1"],
        ["--delete-rate", "2"],
        ["--echo-rate", "nan"],
        ["--empty-rate", "1.01"],
        ["--truncate-rate", "-1"],
        ["--echo-rate", "0.6", "--empty-rate", "0.6"],
    ],
)
def test_cli_refuses_impossible_rates(extra, tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert main(["simulate", "--out", str(out), "--items", "4", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mirage-bayes: error: --"), err
    assert extra[0] in err[0]
    assert not out.exists()


def test_cli_passes_the_rates_on(tmp_path, capsys):
    out = tmp_path / "x.csv"
    args = ["simulate", "--out", str(out), "--items", "50", "--scales", "1e6,1e7", "--seed", "1"]
    args += ["--echo-rate", "0", "--empty-rate", "1", "--insert-rate", "0", "--delete-rate", "0"]
    assert main([*args, "--operation", "multiply"]) == 0
    assert "100 rows" in capsys.readouterr().out
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    expected, _ = simulate_outputs(
        n_params=(1e6, 1e7), n_items=50, seed=1, echo_rate=0, empty_rate=1, insert_rate=0,
        delete_rate=0, operation="multiply",
    )  # fmt: skip
    assert table["output"].tolist() == expected["output"].tolist()
    assert (table["output"] == "").sum() > 20
    assert table["question"].str.contains(" \\* ").all()


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
