"""Quick versions of the validation studies (the full ones live in validation/)."""

import numpy as np
import pytest

from mirage_bayes.simulate.calibration import (
    Design,
    coverage_run,
    prior_draws,
    sbc_ranks,
    uniformity,
)

SMALL = Design(n_params=(1e8, 1e9, 1e10, 1e11), n_items=40, lengths=(2, 4))


def test_prior_draws_have_the_design_shape():
    draws = prior_draws("power_law", SMALL, 50, seed=1)
    assert draws["mu"].shape == (50, 4)
    assert np.all(draws["sigma_item"] > 0)


def test_prior_draws_include_the_chance_factor_only_with_chance_rates():
    assert "chance_scale" not in prior_draws("power_law", SMALL, 10, seed=1)
    design = Design(n_params=SMALL.n_params, n_items=40, lengths=(2, 4), chance=(0.0, 0.1))
    kappa = prior_draws("power_law", design, 2000, seed=1)["chance_scale"]
    assert kappa.shape == (2000,)
    assert np.std(np.log(kappa)) == pytest.approx(0.5, rel=0.1)  # log κ ~ Normal(0, 0.5)


def test_uniformity_flags_piled_up_ranks():
    import pandas as pd

    rng = np.random.default_rng(0)
    flat = pd.DataFrame({"quantity": "a", "rank": rng.integers(0, 100, 400)})
    piled = pd.DataFrame({"quantity": "b", "rank": rng.integers(0, 10, 400)})
    table = uniformity(pd.concat([flat, piled]), thin_to=99).set_index("quantity")
    assert table.loc["a", "p_value"] > 0.001
    assert table.loc["b", "p_value"] < 1e-6


@pytest.mark.slow
def test_sbc_ranks_run_and_lie_in_range():
    ranks = sbc_ranks("power_law", n_simulations=3, design=SMALL, draws=200, seed=2)
    assert set(ranks["quantity"]) >= {"a", "beta", "sigma_item", "epsilon[0]"}
    assert ranks["rank"].between(0, 99).all()


@pytest.mark.slow
def test_ninety_percent_intervals_cover_most_of_the_time():
    table = coverage_run(design=SMALL, n_simulations=4, draws=300, seed=5)
    rate = table[table["prob"] == 0.9]["covered"].mean()
    # 4 simulations × 4 sizes × 3 quantities: a gross miscalibration (say 50%) fails this.
    assert rate >= 0.75
