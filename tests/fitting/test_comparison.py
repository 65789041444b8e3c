"""The verdict says when the data cannot tell a smooth law from a break."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mirage_bayes.fitting.comparison import VERDICT_WORDS, verdict, word_of
from mirage_bayes.fitting.data import TaskData


def task_data(n_params, trials, errors) -> TaskData:
    trials = np.asarray(trials, dtype=np.int64)
    return TaskData(
        task="t", models=[f"m{s}" for s in range(trials.shape[1])],
        n_params=np.asarray(n_params, float), items=[f"q{i}" for i in range(trials.shape[0])],
        trials=trials, errors=np.asarray(errors, dtype=np.int64), item_ids_shared=True,
        rows=pd.DataFrame(),
    )  # fmt: skip


def _table(pairs: dict) -> pd.DataFrame:
    table = pd.DataFrame({"trend": ["power_law", "broken_power_law", "scale_free"]})
    table.attrs["pairs"] = pairs
    return table


UNDECIDED = {
    ("broken_power_law", "power_law"): ("power_law", 0.8, 1.5),
    ("power_law", "scale_free"): ("power_law", 30.0, 6.0),
    ("broken_power_law", "scale_free"): ("broken_power_law", 29.0, 6.0),
}


def test_undecided_says_what_undecided_means():
    text = verdict("t", _table(UNDECIDED), 6, [])
    assert "cannot tell them apart" in text
    assert "Undecided is what a true single power law usually gives" in text
    assert "changes its scaling" not in text


def test_a_clear_single_law_is_not_called_undecided():
    pairs = dict(UNDECIDED)
    pairs[("broken_power_law", "power_law")] = ("power_law", 9.0, 2.0)
    text = verdict("t", _table(pairs), 8, [])
    assert "Undecided" not in text and "changes its scaling" not in text


def test_a_clear_break_is_not_called_undecided():
    pairs = dict(UNDECIDED)
    pairs[("broken_power_law", "power_law")] = ("broken_power_law", 25.0, 4.0)
    text = verdict("t", _table(pairs), 5, [])
    assert "clear preference" in text and "Undecided" not in text
    assert "changes its scaling" in text


def test_too_few_sizes_for_a_break_is_said_plainly():
    pairs = {("power_law", "scale_free"): ("power_law", 10.0, 3.0)}
    text = verdict("t", _table(pairs), 4, ["broken_power_law"])
    assert "broken power law could not be identified" in text
    assert "cannot tell a smooth law from a break" in text and "at least 5 model sizes" in text


def test_each_verdict_opens_with_its_word():
    pairs = dict(UNDECIDED)
    assert verdict("t", _table(pairs), 6, []).startswith("Verdict: undecided. ")
    pairs[("broken_power_law", "power_law")] = ("power_law", 9.0, 2.0)
    assert verdict("t", _table(pairs), 8, []).startswith("Verdict: smooth. ")
    pairs[("broken_power_law", "power_law")] = ("broken_power_law", 25.0, 4.0)
    text = verdict("t", _table(pairs), 8, [])
    assert text.startswith("Verdict: broken. ") and word_of(text) == "broken"
    few = {("power_law", "scale_free"): ("power_law", 10.0, 3.0)}
    assert word_of(verdict("t", _table(few), 4, ["broken_power_law"])) == "too few sizes"
    assert word_of(verdict("t", _table(few), 8, [])) == "not compared"
    assert {word_of(t) for t in ("", "no verdict")} == {""}
    assert set(VERDICT_WORDS) >= {"smooth", "broken", "undecided", "too few sizes", "no signal"}


def test_no_signal_and_sampler_trouble_come_first():
    """All outputs right at every size: a tiny ELPD difference with SE 0 is no preference."""
    pairs = dict(UNDECIDED)
    pairs[("broken_power_law", "power_law")] = ("power_law", 0.1, 0.0)
    text = verdict(
        "t", _table(pairs), 6, [], no_signal="every target token is reproduced at every size",
        trouble=["scale_free", "broken_power_law"],
    )  # fmt: skip
    first, second, third = text.split(". ")[:3]
    assert first == "Verdict: no signal"
    assert second.startswith("The data carry no scaling signal: every target token")
    assert "sampler failed its checks for the scale free and broken power law fits" in text
    # No preference or change of scaling is read into differences without a signal.
    pairs[("broken_power_law", "power_law")] = ("broken_power_law", 0.1, 0.0)
    text = verdict("t", _table(pairs), 6, [], no_signal="every target token is wrong",
                   late=lambda broken: "Late-jump check: a late jump.")  # fmt: skip
    assert "better" not in text and "standard errors" not in text
    assert "changes its scaling" not in text and "Late-jump" not in text


def test_no_signal_of_the_data():
    n_params = np.array([1e8, 1e9, 1e10])
    trials = np.full((4, 3), 3)
    right = task_data(n_params, trials, np.zeros((4, 3)))
    wrong = task_data(n_params, trials, trials.copy())
    mixed = task_data(n_params, trials, np.array([[3, 1, 0]] * 4))
    assert right.no_signal() == "every target token is reproduced at every size"
    assert wrong.no_signal() == "no target token is reproduced at any size"
    assert mixed.no_signal() is None
