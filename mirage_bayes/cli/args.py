"""Argument types shared by the subcommands: each turns bad text into one argparse error line."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from mirage_bayes.settings import MIN_CHAINS, MIN_DRAWS, TREND_NAMES

__all__ = [
    "chains",
    "chance_rate",
    "draws",
    "float_list",
    "int_at_least",
    "int_list",
    "positive",
    "positive_number",
    "sampler_settings",
    "seed",
    "trend_list",
]


def int_list(text: str) -> list[int]:
    """Comma-separated positive integers (target lengths, numbers of attempts)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def float_list(text: str) -> list[float]:
    """Comma-separated numbers, at least one."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def int_at_least(minimum: int, what: str) -> Callable[[str], int]:
    """An argparse type for integers ``>= minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


positive = int_at_least(1, "a positive integer")
seed = int_at_least(0, "a non-negative integer")
draws = int_at_least(MIN_DRAWS, f"at least {MIN_DRAWS} draws per chain (ESS and HDIs need them)")
chains = int_at_least(MIN_CHAINS, f"at least {MIN_CHAINS} chains (r̂ compares chains)")


def number_where(valid: Callable[[float], bool], what: str) -> Callable[[str], float]:
    """An argparse type for numbers for which ``valid`` holds; ``what`` names them."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")  # fails every test below, so one message covers both cases
        if not valid(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


chance_rate = number_where(lambda v: 0.0 <= v < 1.0, "a chance-match rate in [0, 1)")
probability = number_where(lambda v: 0.0 < v < 1.0, "a number between 0 and 1")
positive_number = number_where(lambda v: 0.0 < v < float("inf"), "a positive number")


def trend_list(text: str) -> list[str]:
    """Comma-separated trend names, each one of :data:`~mirage_bayes.settings.TREND_NAMES`."""
    names = list(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    unknown = [n for n in names if n not in TREND_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown trend(s) {', '.join(unknown) or '(none given)'}; choose from "
            + ", ".join(sorted(TREND_NAMES))
        )
    return names


def sampler_settings(namespace: argparse.Namespace) -> dict[str, int]:
    """The sampler keywords of ``fit`` and ``forecast`` from the options of
    :func:`mirage_bayes.cli.parsers.add_sampler_options`."""
    return {
        "draws": namespace.draws,
        "tune": namespace.tune,
        "chains": namespace.chains,
        "seed": namespace.seed,
    }
