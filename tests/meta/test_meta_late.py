"""The late-jump check, the metric families and the population numbers of ``mirage-bayes meta``
on small simulated tables, and a folder of lm-evaluation-harness results in one command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mirage_bayes.cli import main
from mirage_bayes.meta.fit import MetaConfig
from mirage_bayes.meta.io import triplets_from_frame
from mirage_bayes.meta.run import analyse

from support import DATA

pytestmark = pytest.mark.slow

FAST = MetaConfig(draws=200, tune=300, chains=2, retries=1, broken=False)
TOY = DATA / "meta_lmeval" / "toy_family"
SIZES = np.logspace(8, 11, 8)


def _curve(task: str, scores, metric: str = "accuracy", **extra) -> pd.DataFrame:
    return pd.DataFrame({"family": "F", "model": [f"m{i}" for i in range(len(scores))],
                         "n_params": SIZES[: len(scores)], "task": task, "metric": metric,
                         "score": scores, **extra})  # fmt: skip


def test_classes_of_typical_curves():
    frame = pd.concat([
        _curve("late", [0.0, 0.002, 0.0, 0.0, 0.002, 0.0, 0.12, 0.58], n_items=500),
        _curve("sciq", [0.61, 0.85, 0.91, 0.92, 0.92, 0.93, 0.92, 0.92], n_items=1000),
        _curve("worse", [0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.35], n_items=300),
        _curve("failed", [0.51, 0.50, 0.05, 0.47], n_items=300),
        _curve("step4", [0.0, 0.0, 0.0, 0.992], n_items=500),
        # An exact power law in perplexity (α = 1, 0.2% noise): the loss null itself.
        _curve("ppl", 300.0 * (SIZES / 1e8) ** -1.0 * np.exp(0.002 * np.sin(np.arange(8))),
               metric="perplexity"),
    ])  # fmt: skip
    result = analyse(triplets_from_frame(frame), FAST, workers=1, progress=False)
    classes = dict(zip(result.table["task"], result.table["class"], strict=True))
    assert classes == {"late": "late_jump", "sciq": "saturating", "worse": "worse",
                       "failed": "irregular", "step4": "too_few", "ppl": "smooth"}  # fmt: skip
    s = result.summary
    assert s["n_late_jumps_observed"] == 1 and s["classes"]["late_jump"] == 1
    assert s["n_late_jumps_expected_mean"] < 0.2
    ppl = result.table.set_index("task").loc["ppl"]
    assert ppl["p_late"] > 0.05 and ppl["ppp"] > 0.01
    assert "4 sizes" in result.table.set_index("task").loc["step4", "note"]


def test_chance_sensitivity_and_warning():
    frame = pd.concat([
        _curve("mc", [0.25, 0.26, 0.24, 0.27, 0.25, 0.3, 0.45, 0.7], n_items=400, chance=0.25),
        _curve("below", [0.2, 0.22, 0.18, 0.21, 0.2, 0.19], n_items=200, chance=0.25),
    ])  # fmt: skip
    result = analyse(triplets_from_frame(frame), FAST, workers=1, progress=False,
                     chance_sensitivity=True)  # fmt: skip
    sensitivity = result.summary["chance_sensitivity"]
    assert sensitivity["n_refitted"] == 2
    assert "at chance 0" in sensitivity["statement"]
    assert isinstance(sensitivity["conclusion_changes"], bool)
    assert any("F/below/accuracy" in w for w in result.summary["warnings"])


def test_exact_leave_one_out_replaces_high_pareto_k():
    frame = _curve("late", [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.13], n_items=204)
    config = MetaConfig(draws=200, tune=300, chains=2, retries=1, broken=True)
    result = analyse(triplets_from_frame(frame), config, workers=1, progress=False)
    row = result.table.iloc[0]
    assert row["loo_refits"] > 0 and "exact leave-one-size-out" in row["note"]
    # The refits' diagnostics reach summary.json and the terminal, not the report alone.
    assert any("exact leave-one-size-out refits" in w for w in result.summary["warnings"])
    assert not row["pareto_k_max"] > 0.7
    assert np.isfinite(row["elpd_diff_broken"]) and np.isfinite(row["dse"])


def test_lmeval_folder_in_one_command(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["meta", str(TOY), "--from", "lm-eval", "--out", str(out), "--draws", "200",
                 "--tune", "300", "--chains", "2", "--retries", "1", "--no-broken",
                 "--workers", "1", "--quiet"])  # fmt: skip
    assert code == 0
    assert "M = 5 triplets" in capsys.readouterr().out
    table = pd.read_csv(out / "meta.csv").set_index("task")
    assert table.loc["arith_late", "class"] == "late_jump"
    assert table.loc["sciq_like", "class"] == "saturating"
    assert set(table.loc["wikitext", "class"]) <= {"smooth", "saturating"}
    summary = json.loads((out / "meta_summary.json").read_text())
    assert summary["n_late_jumps_observed"] == 1 and summary["verdict"].startswith("M = 5")
    assert "Late jumps and their forecasts" in (out / "meta_report.html").read_text()
