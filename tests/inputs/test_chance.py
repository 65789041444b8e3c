"""Chance matches: the permutation null, the observation model with ``g``, and a fit that must
not read a smooth law as broken when wrong outputs share tokens with the target by chance.

The data here are simulated by a generator written for these tests (not
:mod:`mirage_bayes.simulate.generation`): two-digit multiplication, a wrong digit is any other
digit, digits are dropped and inserted where the model went wrong.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest

from mirage_bayes.fitting.data import split_tasks
from mirage_bayes.inputs.chance import MAX_PAIRS, chance_match_rates
from mirage_bayes.inputs.scoring import score_outputs
from mirage_bayes.models.generation import epsilon_from_eta, posterior_predictive_errors

DIGITS = "0123456789"
SIZES = np.geomspace(1e8, 1.75e11, 6)
C_TRUE, ALPHA_TRUE, SPREAD = 3e9, -0.8, 0.4


def multiplication_outputs(seed: int, n_items: int = 250, indel: float = 0.03):
    """Outputs of one power law; returns the table and the true population ε per size."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(10, 100, n_items), rng.integers(10, 100, n_items)
    targets = [str(x * y) for x, y in zip(a, b, strict=True)]
    u = rng.normal(0.0, SPREAD, n_items)
    rows, truth = [], []
    for size in SIZES:
        p_ok = np.exp(-((size / C_TRUE) ** ALPHA_TRUE) * np.exp(u))
        truth.append(1 - p_ok.mean())
        for i, target in enumerate(targets):
            out = []
            for digit in target:
                if rng.random() < p_ok[i]:
                    out.append(digit)
                    continue
                r = rng.random()
                if r < indel:
                    continue  # dropped
                out.append(rng.choice([d for d in DIGITS if d != digit]))
                if r > 1 - indel:
                    out.append(rng.choice(list(DIGITS)))  # and one more
            rows.append(
                {"model": f"m{size:.3g}", "n_params": size, "item": f"q{i}",
                 "target": target, "output": "".join(out)}
            )  # fmt: skip
    table = pd.DataFrame(rows).assign(task="mult")
    table.attrs.update(prescored=False, item_ids=True, source="simulated")
    return table, np.array(truth)


def random_wrong(rng, target: str) -> str:
    return "".join(rng.choice([d for d in DIGITS if d != t]) for t in target)


# --------------------------------------------------------------------------------------------
# The permutation null
# --------------------------------------------------------------------------------------------


def test_all_wrong_outputs_give_the_alignment_floor():
    """Every digit wrong (any other digit): g is what the alignment credits, a few percent."""
    rng = np.random.default_rng(0)
    for length, high in ((1, 0.0), (4, 0.06), (8, 0.15)):
        targets = ["".join(rng.choice(list(DIGITS), length)) for _ in range(200)]
        outputs = [random_wrong(rng, t) for t in targets]
        g = chance_match_rates(
            targets, outputs, np.zeros(200, int), np.full(200, length),
            [f"{i:04d}" for i in range(200)], seed=1,
        )  # fmt: skip
        assert np.ptp(g) == 0  # one cell, one rate
        assert 0.0 <= g[0] <= high
        # The scored floor of the outputs themselves is of the same size.
        scored, _ = score_outputs(
            pd.DataFrame({"task": "t", "model": "m", "n_params": 1e9, "target": targets,
                          "output": outputs, "item": [str(i) for i in range(200)]}),
            "char", chance=0.0,
        )  # fmt: skip
        floor = 1 - scored["n_errors"].sum() / scored["n_tokens"].sum()
        assert abs(floor - g[0]) < 0.03


def test_echoed_operands_are_chance_matches():
    """A model that answers 'a * b' with 'a' shares digits with the product: g rises."""
    rng = np.random.default_rng(3)
    a, b = rng.integers(10, 100, 300), rng.integers(10, 100, 300)
    targets = [str(x * y) for x, y in zip(a, b, strict=True)]
    echoes = [str(x) for x in a]
    lengths = np.array([len(t) for t in targets])
    keys = [str(i) for i in range(300)]
    g_echo = chance_match_rates(targets, echoes, np.zeros(300, int), lengths, keys, 1)
    g_right = chance_match_rates(targets, targets, np.zeros(300, int), lengths, keys, 1)
    assert g_echo.mean() > 0.05
    assert g_right.mean() < g_echo.mean() + 0.1


def test_rates_do_not_depend_on_row_order_and_sampled_cells_are_seeded():
    rng = np.random.default_rng(5)
    n = 200  # 39,800 pairs: more than MAX_PAIRS, so the cell is sampled
    assert n * (n - 1) > MAX_PAIRS
    targets = ["".join(rng.choice(list(DIGITS), 3)) for _ in range(n)]
    outputs = [random_wrong(rng, t) if i % 2 else t for i, t in enumerate(targets)]
    keys = [f"{i:04d}" for i in range(n)]
    args = (np.zeros(n, int), np.full(n, 3))
    first = chance_match_rates(targets, outputs, *args, keys, seed=9)
    order = rng.permutation(n)
    shuffled = chance_match_rates(
        [targets[i] for i in order], [outputs[i] for i in order], *args,
        [keys[i] for i in order], seed=9,
    )  # fmt: skip
    assert first[0] == shuffled[0]


def test_single_item_cells_borrow_the_size_and_lone_sizes_get_zero():
    g = chance_match_rates(
        ["12", "345", "678"], ["13", "354", "9"], np.array([0, 0, 1]), np.array([2, 3, 3]),
        ["a", "b", "c"], seed=0,
    )  # fmt: skip
    assert g[2] == 0.0
    assert 0.0 <= g[0] <= 1.0 and 0.0 <= g[1] <= 1.0


def test_given_and_column_rates_and_bad_values():
    table, _ = multiplication_outputs(0, n_items=20)
    scored, _ = score_outputs(table, chance=0.2)
    assert (scored["chance"] == 0.2).all() and scored.attrs["chance"] == {"mult": "given"}
    with pytest.raises(Exception, match=r"chance-match rate .* not a number in \[0, 1\)"):
        score_outputs(table, chance=1.0)
    pre = pd.DataFrame(
        {"task": "t", "model": "m", "n_params": 1e9, "n_tokens": [3, 3], "n_errors": [1, 3],
         "chance": [0.1, 0.1]}
    )  # fmt: skip
    pre.attrs.update(prescored=True, item_ids=False, source="p.csv")
    scored, _ = score_outputs(pre)
    assert scored["chance"].tolist() == [0.1, 0.1]
    assert scored.attrs["chance"] == {"t": "column"}


# --------------------------------------------------------------------------------------------
# The observation model against real alignments
# --------------------------------------------------------------------------------------------


def test_predicted_scored_errors_match_outputs_with_real_alignments():
    """At the true law, the replicated scored error counts (ε·(1 − g)) match what the scorer
    counted on outputs with chance alignments, at every size; ε alone (g = 0) does not."""
    table, _ = multiplication_outputs(1, n_items=400)
    scored, _ = score_outputs(table)
    (data,) = split_tasks(scored)
    eta = ALPHA_TRUE * (np.log(data.n_params) - np.log(C_TRUE))
    draws = 300
    mu, sigma = np.tile(eta, (draws, 1)), np.full(draws, SPREAD)
    replicated = posterior_predictive_errors(data, mu, sigma, np.random.default_rng(2))
    predicted = replicated.sum(1)  # (draws, scales)
    observed = data.errors.sum(0)
    low, high = np.quantile(predicted, [0.005, 0.995], axis=0)
    assert ((observed >= low) & (observed <= high)).all(), (observed, low, high)
    # Without the chance term the smallest sizes are predicted above what was scored.
    ignoring = (data.trials * epsilon_from_eta(eta[None, :] + 0.0)).sum(0)
    assert (ignoring[:2] > high[:2]).all()


# --------------------------------------------------------------------------------------------
# The fit: one power law stays one power law
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_smooth_law_with_chance_matches_is_not_called_broken():
    from mirage_bayes.fitting.generation import fit

    logging.getLogger("pymc").setLevel(logging.ERROR)
    table, truth = multiplication_outputs(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit(table, draws=500, tune=500, seed=1, progressbar=False, log=None)
    summary = result.summary()
    eps = summary[(summary["quantity"] == "epsilon") & (summary["trend"] == "power_law")]
    covered = (eps["hdi_low"].to_numpy() <= truth) & (truth <= eps["hdi_high"].to_numpy())
    assert covered.sum() >= len(truth) - 1, eps.assign(truth=truth)
    table = result.comparison().set_index("trend")
    if table.loc["broken_power_law", "rank"] < table.loc["power_law", "rank"]:
        # The broken law may win by noise, but never by more than two standard errors.
        assert table.loc["power_law", "elpd_diff"] <= 2 * table.loc["power_law", "dse"]
    g = summary[summary["quantity"] == "chance_token_match"]["observed"]
    assert g.between(0.0, 0.1).all() and g.max() > 0.0
