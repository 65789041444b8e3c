"""``fit --items``: the item-difficulty families end to end, and the LOO choice between them."""

from __future__ import annotations

import json
from types import SimpleNamespace

import arviz as az
import numpy as np
import pandas as pd
import pytest

from mirage_bayes.fitting.comparison import compare_trends
from mirage_bayes.fitting.generation import fit
from mirage_bayes.fitting.inference import Diagnostics
from mirage_bayes.fitting.item_choice import (
    auto_item_family,
    choose_item_families,
    task_item_family,
)
from mirage_bayes.fitting.trend_loop import TrendLoop
from mirage_bayes.simulate.attempts import simulate_attempts

from support import EXAMPLE, one_error_line, run_main


def _idata(loglik: np.ndarray) -> az.InferenceData:
    """A fit with only what LOO reads: ``(chains, draws, items)`` log-likelihoods."""
    return az.from_dict(
        posterior={"mu": np.zeros(loglik.shape[:2])}, log_likelihood={"n_errors": loglik}
    )


def _loop(task: str, by_trend: dict[str, np.ndarray], note: str) -> TrendLoop:
    idatas = {trend: _idata(values) for trend, values in by_trend.items()}
    loop = TrendLoop(warnings=["shared warning"], refits=[note])
    loop.idatas[task] = idatas
    loop.comparisons.append(compare_trends(task, idatas))
    loop.verdicts[task] = f"verdict under {note}."
    loop.late_checks[task] = {"note": note}
    loop.diagnostics |= {(task, t): Diagnostics(1.0, 1000.0, 0) for t in idatas}
    return loop


def test_each_task_keeps_the_family_with_the_higher_elpd():
    rng = np.random.default_rng(0)
    base = rng.normal(-2.0, 0.3, (2, 200, 50))
    loops = {
        # Task "a": the log-gamma fits are better item by item; task "b": the normal ones.
        "normal": TrendLoop(),
        "log_gamma": TrendLoop(),
    }
    for task, better in (("a", "log_gamma"), ("b", "normal")):
        for family in loops:
            shift = 0.5 if family == better else 0.0
            one = _loop(task, {"scale_free": base - 1.0, "power_law": base + shift}, family)
            loops[family].idatas |= one.idatas
            loops[family].comparisons += one.comparisons
            loops[family].verdicts |= one.verdicts
            loops[family].late_checks |= one.late_checks
            loops[family].diagnostics |= one.diagnostics
            loops[family].refits += one.refits
            loops[family].warnings = one.warnings
    tasks = [SimpleNamespace(task="a"), SimpleNamespace(task="b")]
    merged, records = choose_item_families(loops, tasks)
    assert merged.idatas["a"] is loops["log_gamma"].idatas["a"]
    assert merged.idatas["b"] is loops["normal"].idatas["b"]
    assert merged.late_checks["a"] == {"note": "log_gamma"}
    assert merged.verdicts["a"].startswith("verdict under log_gamma.")
    assert "the log-gamma family fits better (ELPD 25.0" in merged.verdicts["a"]
    assert merged.warnings == ["shared warning"]
    # The families are compared on the best trend under the normal family.
    assert {r["trend"] for r in records} == {"power_law"}
    kept = {r["task"]: r["items"] for r in records if r["kept"]}
    assert kept == {"a": "log_gamma", "b": "normal"}
    meta = {"items": "compare", "item_families": records}
    assert task_item_family(meta, "b")["family"] == "normal"
    assert len(task_item_family(meta, "b")["comparison"]) == 2
    assert task_item_family({"items": "log_gamma"}, "b") == {"family": "log_gamma"}


def test_auto_gives_repeated_attempts_the_log_gamma_family():
    assert auto_item_family(SimpleNamespace(has_attempts=True)) == "log_gamma"
    assert auto_item_family(SimpleNamespace(has_attempts=False)) == "normal"
    meta = {"items": "auto", "task_items": {"a": "log_gamma", "b": "normal"}}
    assert task_item_family(meta, "a") == {"family": "log_gamma"}
    assert task_item_family(meta, "b") == {"family": "normal"}
    # A summary.json written before --items auto names one family for every task.
    assert task_item_family({"items": "normal"}, "a") == {"family": "normal"}


def test_an_unknown_family_is_refused():
    frame = pd.read_csv(EXAMPLE)
    with pytest.raises(ValueError, match="unknown item family 'student'; choose from"):
        fit(frame, items="student", log=None)


def test_items_option_is_checked(tmp_path, capsys):
    assert run_main(["fit", EXAMPLE, "--out", tmp_path / "o", "--items", "student"]) == 2
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_compare_finds_a_skewed_item_population(tmp_path):
    """Items whose success probability is uniform at the middle size are Gumbel-distributed on
    the log cross-entropy scale (log-gamma with Q = 1): LOO prefers the log-gamma family, whose
    shape is recovered, and the report and summary.json say so."""
    outputs, _ = simulate_attempts(n_params=np.logspace(8, 11, 4), n_items=80, length=4,
                                   max_attempts=20, until_pass=False, population="beta",
                                   beta=(0.5, 1.0), seed=4)  # fmt: skip
    path = tmp_path / "skewed.csv"
    outputs.to_csv(path, index=False)
    out = tmp_path / "fit"
    code = run_main(["fit", path, "--out", out, "--items", "compare", "--trends", "power_law",
                     "--draws", "250", "--tune", "250", "--quiet"])  # fmt: skip
    assert code in (0, 3)
    entry = json.loads((out / "summary.json").read_text())["tasks"]["attempts"]["item_family"]
    assert entry["family"] == "log_gamma"
    normal = next(r for r in entry["comparison"] if r["items"] == "normal")
    assert normal["elpd_diff"] > 2 * normal["dse"]
    parameters = pd.read_csv(out / "parameters.csv") if (out / "parameters.csv").exists() else None
    report = (out / "report.md").read_text()
    assert "### Item difficulty" in report and "the log-gamma family fits better" in report
    shape = report.split("with shape Q = ")[1].split(" (")[0]
    low, high = (float(v) for v in shape.split("[")[1].rstrip("]").split(", "))
    assert low < 1.0 < high, shape
    assert parameters is None or "item_shape" in set(parameters["parameter"])
    # plan reads the log-gamma fit with its shape: attempts the 80 items need.
    plan = tmp_path / "plan.csv"
    assert run_main(["plan", out, "--items", "80", "--out", plan]) == 0
    assert pd.read_csv(plan)["attempts_any_correct"].notna().any()


def test_items_do_not_apply_to_multiple_choice(tmp_path, capsys):
    path = EXAMPLE.parent / "multiple_choice_outputs.csv"
    assert run_main(["fit", path, "--out", tmp_path / "o", "--items", "log_gamma"]) == 2
    assert "to which --items does not apply" in one_error_line(capsys)
    assert not (tmp_path / "o").exists()
