"""The shared argument types: each accepts its range and refuses the rest with one message."""

from __future__ import annotations

import argparse

import pytest

from mirage_bayes.cli import args


@pytest.mark.parametrize(
    ("parse", "good", "bad"),
    [
        (args.chance_rate, ["0", "0.25", "0.999"], ["1", "-0.1", "nan", "a quarter"]),
        (args.probability, ["0.05", "0.999"], ["0", "1", "nan", "inf", "five percent"]),
        (args.positive_number, ["1e-9", "3", "1e12"], ["0", "-2", "inf", "nan", "big"]),
        (args.positive, ["1", "40"], ["0", "-3", "1.5", "many"]),
    ],
)
def test_each_type_accepts_its_range_and_refuses_the_rest(parse, good, bad):
    for text in good:
        assert parse(text) == float(text)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match=f"^expected .*, got '{text}'$"):
            parse(text)
