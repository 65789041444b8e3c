"""The verdict says when the data cannot tell a smooth law from a break."""

from __future__ import annotations

import pandas as pd

from mirage_bayes.comparison import verdict


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
