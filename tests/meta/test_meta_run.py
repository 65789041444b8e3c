"""``mirage-bayes meta`` end to end: outputs, compile-once reuse, identical local and Dask
results, and the calibration claim on simulated triplets (quick version; the larger run is
``validation/run_meta_validation.py``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mirage_bayes.cli import main
from mirage_bayes.errors import InputError
from mirage_bayes.meta import run as meta_module
from mirage_bayes.meta.fit import COMPILE_COUNT, MetaConfig
from mirage_bayes.meta.io import triplets_from_frame
from mirage_bayes.meta.run import CSV_COLUMNS, analyse
from mirage_bayes.meta.triplet import fit_triplet
from mirage_bayes.simulate.meta import simulate_triplets

pytestmark = pytest.mark.slow

FAST = MetaConfig(draws=150, tune=200, chains=2, broken=False, retries=0)


def _mixed_table() -> pd.DataFrame:
    smooth, _ = simulate_triplets(3, shape="smooth", family="smooth", seed=11)
    sharp, _ = simulate_triplets(2, shape="sharp", family="sharp", metric="exact_match", seed=12)
    cont, _ = simulate_triplets(2, shape="continuous", n_scales=4, family="cont", seed=13)
    cont = cont.assign(higher_is_better=False)
    short = smooth[smooth["task"] == "task_0000"].head(2).assign(task="two_sizes")
    flat = cont[cont["task"] == "task_0000"].assign(task="flat", score=0.5)
    return pd.concat([smooth, sharp, cont, short, flat], ignore_index=True)


def test_end_to_end_on_an_unseen_table(tmp_path, capsys):
    path = tmp_path / "published.parquet"
    _mixed_table().to_parquet(path, index=False)
    out = tmp_path / "out"
    args = ["meta", str(path), "--out", str(out), "--draws", "150", "--tune", "200",
            "--chains", "2", "--retries", "0", "--workers", "1", "--quiet",
            "--late-alpha", "0.02"]  # fmt: skip
    assert main(args) == 0
    assert "Late jumps beyond the smooth law" in capsys.readouterr().out
    table = pd.read_csv(out / "meta.csv")
    assert list(table.columns[: len(CSV_COLUMNS)]) == CSV_COLUMNS
    assert len(table) == 9
    summary = json.loads((out / "meta_summary.json").read_text())
    for key in ("n_triplets", "threshold", "n_emergent_observed", "n_emergent_expected_mean",
                "n_emergent_expected_hdi", "n_significant_q05", "n_late_jumps_observed",
                "n_late_jumps_expected_mean", "n_late_jumps_expected_hdi", "classes",
                "verdict", "warnings"):  # fmt: skip
        assert key in summary
    assert summary["n_triplets"] == 9  # the two-size triplet gets a class, but no ppp
    assert summary["late_alpha"] == 0.02
    assert sum(summary["classes"].values()) == 9
    short = table[table["task"] == "two_sizes"].iloc[0]
    assert np.isnan(short["ppp"]) and "needs 3" in short["note"]
    assert short["class"] in ("too_few", "worse")
    flat = table[table["task"] == "flat"].iloc[0]
    assert flat["emergence_score"] == 0 and flat["ppp"] == 1 and flat["class"] == "flat"
    # Every empty p-value or LOO cell says why.
    empty = table["p_late"].isna() | table["elpd_diff_broken"].isna()
    assert table.loc[empty, "note"].fillna("").str.len().gt(0).all()
    # The broken power law is fitted where there are at least 5 sizes (the 8-size curves).
    assert table.loc[table["n_scales"] >= 5, "elpd_diff_broken"].notna().all()
    assert table.loc[table["n_scales"] < 5, "elpd_diff_broken"].isna().all()
    assert (table["q_value"].dropna() >= table["ppp"].dropna().loc[table["q_value"].notna()]).all()
    assert summary["n_broken_pareto_k_above_07"] == 0
    assert summary["n_broken_pareto_k_above_07"] <= summary["n_loo_compared"]
    assert set(summary["by_metric"]) == {"accuracy", "exact_match", "score"}
    html = (out / "meta_report.html").read_text()
    assert "data:image/png;base64," in html and "late jumps expected under the smooth null" in html
    assert "M = 9 triplets" in html
    assert (out / "figures" / "by_metric.png").exists()
    assert (out / "figures" / "flagged.png").exists()
    # Compiled once per model in this process, whatever the number of sizes (8, 4, 2).
    assert COMPILE_COUNT[("proportion", "power_law")] == 1
    assert COMPILE_COUNT[("continuous", "power_law")] == 1


def test_model_reused_and_seeded_per_triplet():
    triplets = triplets_from_frame(simulate_triplets(3, seed=5)[0])
    before = sum(COMPILE_COUNT.values())
    first = [fit_triplet(t, FAST) for t in triplets]
    again = [fit_triplet(t, FAST) for t in reversed(triplets)][::-1]
    assert sum(COMPILE_COUNT.values()) - before <= 1  # at most the first compile in this file
    for a, b in zip(first, again, strict=True):
        assert a["ppp"] == b["ppp"]
        np.testing.assert_array_equal(a["above_null"], b["above_null"])
    other = fit_triplet(triplets[0], MetaConfig(**{**FAST.to_dict(), "seed": 1}))
    assert other["curve"]["smooth_mean"] != first[0]["curve"]["smooth_mean"]
    for a, b in zip(first, again, strict=True):
        assert a["p_late"] == b["p_late"] and a["class"] == b["class"]
        np.testing.assert_array_equal(a["late_null"], b["late_null"])


def test_local_processes_and_dask_give_identical_results():
    distributed = pytest.importorskip("distributed")
    triplets = triplets_from_frame(simulate_triplets(4, seed=21)[0])
    here = analyse(triplets, FAST, workers=1, progress=False)
    pool = analyse(triplets, FAST, workers=2, batch_size=2, progress=False)
    # An in-process worker reached over TCP on loopback: it shares this process's compiled
    # models, so the test pays no extra compilation.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:  # fmt: skip
        dask = analyse(triplets, FAST, scheduler=cluster.scheduler_address, batch_size=3,
                       progress=False)  # fmt: skip
    for other in (pool, dask):
        pd.testing.assert_frame_equal(here.table, other.table)
        np.testing.assert_array_equal(here.null_counts, other.null_counts)
    assert "Dask" in dask.meta["ran_on"]


def test_calibration_quick():
    smooth = triplets_from_frame(simulate_triplets(24, n_items=100, seed=31)[0])
    result = analyse(smooth, FAST, workers=1, progress=False)
    ppp = result.table["ppp"].to_numpy()
    # About 5% (posterior predictive p-values err on the conservative side); 3 of 24 is 12.5%.
    assert np.mean(ppp < 0.05) <= 3 / 24
    low, high = result.summary["n_emergent_expected_hdi"]
    assert low <= result.summary["n_emergent_observed"] <= high
    sharp = triplets_from_frame(simulate_triplets(8, shape="sharp", seed=32)[0])
    flagged = analyse(sharp, FAST, workers=1, progress=False).table["ppp"] < 0.05
    assert flagged.sum() >= 6


def test_cli_scheduler_option(tmp_path):
    distributed = pytest.importorskip("distributed")
    path = tmp_path / "t.csv"
    simulate_triplets(3, seed=41)[0].to_csv(path, index=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:  # fmt: skip
        args = ["meta", str(path), "--out", str(tmp_path / "out"), "--scheduler",
                cluster.scheduler_address, "--draws", "150", "--tune", "200", "--no-broken",
                "--quiet"]  # fmt: skip
        assert main(args) == 0
    summary = json.loads((tmp_path / "out" / "meta_summary.json").read_text())
    assert summary["n_triplets"] == 3 and summary["ran_on"].startswith("Dask")


def _die_in_the_first_pool(batch, config):
    """A stand-in for run_batch that kills its worker process the first time it is called."""
    marker = Path(batch[0])
    if not marker.exists():
        marker.write_text("died")
        os._exit(9)
    return [{"batch": batch[1]}]


class _Bar:
    def update(self, n):
        pass


def test_a_dead_worker_s_batches_are_refitted_then_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(meta_module, "run_batch", _die_in_the_first_pool)
    marker = str(tmp_path / "died")
    batches = [[marker, "a"], [marker, "b"]]
    notes = []
    results = meta_module._run_local(batches, None, 2, _Bar(), notes.append)
    assert results == [[{"batch": "a"}], [{"batch": "b"}]]
    assert notes and "a worker process died" in notes[0]

    monkeypatch.setattr(meta_module, "run_batch", _always_die)
    with pytest.raises(InputError, match="a worker process died twice") as caught:
        meta_module._run_local(batches, None, 2, _Bar())
    assert caught.value.code == 1


def _always_die(batch, config):
    os._exit(9)


@pytest.mark.parametrize("alpha", ["0", "1", "x"])
def test_late_alpha_must_be_a_probability(alpha, tmp_path, capsys):
    path = tmp_path / "t.csv"
    _mixed_table().to_csv(path, index=False)
    with pytest.raises(SystemExit) as stop:
        main(["meta", str(path), "--out", str(tmp_path / "o"), "--late-alpha", alpha])
    assert stop.value.code == 2
    assert "between 0 and 1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
