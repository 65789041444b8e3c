"""Edge regimes: extreme data, tiny and huge test sets (issue: trust)."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from mirage_bayes.fitting import inference
from mirage_bayes.fitting.comparison import compare_trends
from mirage_bayes.fitting.data import split_tasks
from mirage_bayes.simulate.edge_regimes import (
    many_items,
    one_item,
    one_token,
    perfect_and_hopeless,
    run_case,
)


def _fake_fit(data, shift: float, seed: int) -> az.InferenceData:
    """A posterior-shaped InferenceData around a power law, without sampling."""
    rng = np.random.default_rng(seed)
    mu = -0.6 * np.log(data.n_params / 3e8) + shift
    draws = mu[None, None, :] + rng.normal(0, 0.05, size=(2, 100, data.n_scales))
    sigma = np.abs(0.5 + rng.normal(0, 0.03, size=(2, 100)))
    return az.from_dict(posterior={"mu": draws, "sigma_item": sigma})


@pytest.fixture(scope="module")
def repeated_task():
    """Few items, many of them with identical data: patterns carry the information."""
    return split_tasks(perfect_and_hopeless(n_items=300, seed=3))[0]


def _groups(data, limit, monkeypatch):
    monkeypatch.setattr(inference, "ITEM_GROUP_LIMIT", limit)
    idatas = {}
    for trend, shift in (("power_law", 0.0), ("scale_free", 0.4)):
        idata = _fake_fit(data, shift, seed=len(trend))
        inference._add_item_groups(idata, data, np.random.default_rng(0))
        idatas[trend] = idata
    return idatas


def test_pattern_storage_gives_the_item_level_loo(repeated_task, monkeypatch):
    data = repeated_task
    assert len(data.pattern_counts) < len(data.items)  # the case is worth testing
    per_item = _groups(data, 10**12, monkeypatch)
    per_pattern = _groups(data, 0, monkeypatch)
    assert "item" in per_item["power_law"].log_likelihood.dims
    assert per_pattern["power_law"].log_likelihood.sizes["pattern"] == len(data.pattern_counts)
    counts = per_pattern["power_law"].constant_data["pattern_count"].to_numpy()
    assert counts.sum() == len(data.items)
    a = compare_trends("t", per_item).set_index("trend")
    b = compare_trends("t", per_pattern).set_index("trend")
    columns = ["elpd_loo", "se", "p_loo", "elpd_diff", "dse", "weight"]
    np.testing.assert_allclose(
        a[columns].to_numpy(float), b[columns].to_numpy(float), rtol=1e-6, atol=1e-6
    )
    assert compare_trends("t", per_pattern).attrs["n_points"]["power_law"] == len(data.items)


def test_many_items_collapse_to_few_patterns():
    data = split_tasks(many_items(n_items=200_000, seed=1))[0]
    assert len(data.items) == 200_000
    # 4 sizes × 3-token targets: at most 4**4 distinct outcome rows, whatever the item count.
    assert len(data.pattern_counts) <= 4**4
    assert data.pattern_counts.sum() == 200_000


@pytest.mark.slow
@pytest.mark.parametrize(
    "make", [perfect_and_hopeless, one_item, one_token], ids=lambda f: f.__name__
)
def test_edge_cases_fit_without_missing_values(make):
    report = run_case(make(), draws=200, memory=False)
    assert report["missing_values"] == 0
    result = report["result"]
    diagnostics = result.diagnostics()
    # Never silent: a fit whose diagnostics fail makes the result (and so the CLI) say so.
    assert result.ok == bool(diagnostics["ok"].all())
    eps = result.summary().query("trend == 'power_law' and quantity == 'epsilon'")
    assert np.all(np.diff(eps["mean"].to_numpy()) < 0)  # error falls with size
    if make is perfect_and_hopeless:
        assert eps["mean"].iloc[0] > 0.8 and eps["mean"].iloc[-1] < 0.1


@pytest.mark.slow
def test_a_large_test_set_is_fitted_from_patterns(monkeypatch):
    # The 10⁶-item run (time and memory) is in validation/run_validation.py edge; here the same
    # code path on a test set small enough for the suite, forced to pattern storage.
    monkeypatch.setattr(inference, "ITEM_GROUP_LIMIT", 0)
    report = run_case(many_items(n_items=5_000, seed=2), draws=150, memory=False)
    assert report["missing_values"] == 0
    assert report["loo_points"] == 5_000
    idata = report["result"].idatas["many_items"]["power_law"]
    assert "pattern" in idata.log_likelihood.dims
    assert idata.constant_data["pattern_count"].sum() == 5_000
