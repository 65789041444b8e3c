"""How a chance match enters the scored error rate: ``P(scored wrong) = ε·(1 − g·ε^m)``.

``g`` (:mod:`mirage_bayes.inputs.chance`) is measured by pairing outputs with the targets of *other*
items, where nearly every token is wrong. Inside one output the alignment only shifts past a
wrong token when that pays, and a shift pays only where neighbouring tokens are wrong too: a
single wrong token among right ones is a substitution and is never matched by chance. So the
chance-match rate of a wrong token grows with the item's error rate, from 0 for a lone error to
``g`` when every token is wrong. ``g·ε^m`` with ``m = 2`` follows it on simulated outputs whose
wrong digits are any other digit, with insertions, deletions, echoes and empty outputs
(``validation/chance_floor.py --by-epsilon``); a constant ``g`` inflated ε by ``1/(1 − g)``
where ε is small (about 10% at 8 tokens), a shape ``g·ε^(L−1)`` moved that bias to the middle
of the range.

The scored rate must rise with ε, or ε is not identified near 1: ``d/dε [ε − g·ε^(m+1)] ≥ 0``
needs ``g·(m + 1) ≤ 1``, so a large ``g`` (a tiny vocabulary) lowers the exponent to
``m = 1/g − 1``. With ``g = 0`` every formula reduces to ``P(scored wrong) = ε``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CHANCE_CAP",
    "CHANCE_EXPONENT",
    "CHANCE_SCALE_SD",
    "chance_exponent",
    "effective_chance",
    "produced_error",
    "scored_error",
]

CHANCE_EXPONENT = 2.0
"""``m`` of ``g·ε^m``, the chance-match rate of a wrong token in an item with error rate ε."""


CHANCE_SCALE_SD = 0.5
"""Prior standard deviation of ``log κ``, the task's factor on the measured chance rates.

The permutation null pairs outputs with *other* items' targets, so it cannot see an output's
chance alignment with its own target: an echoed operand shares more digits with its own answer
(a sum begins with its larger operand's leading digits) than with another item's. Simulated
outputs with echoes score 1.3–2 times the null rate at short targets; the substitution-only
rendering scores it exactly. The model therefore multiplies the measured rates by ``κ``,
``log κ ~ Normal(0, 0.5)``, learnt from the sizes whose outputs are (nearly) all wrong, where
the scored error rate is ``1 − κ·g``.
"""

CHANCE_CAP = 0.9
"""Largest chance-match rate ``κ·g`` the model uses: at 1 a wrong token would always be
reproduced and ε near 1 would not be identified."""


def effective_chance(g: np.ndarray | float, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """The chance-match rate the model uses: ``min(κ·g, CHANCE_CAP)`` with ``κ = scale``."""
    return np.minimum(np.asarray(g, dtype=np.float64) * scale, CHANCE_CAP)


def chance_exponent(g: np.ndarray | float) -> np.ndarray:
    """``m`` for chance-match rate ``g``: :data:`CHANCE_EXPONENT`, lowered to ``1/g − 1`` where
    that keeps the scored rate increasing in ε."""
    g = np.asarray(g, dtype=np.float64)
    bound = np.where(g > 0, 1.0 / np.maximum(g, 1e-300) - 1.0, np.inf)
    return np.minimum(CHANCE_EXPONENT, bound)


def scored_error(eps: np.ndarray | float, g: np.ndarray | float) -> np.ndarray:
    """Probability that a token with error rate ``eps`` is scored wrong: ``ε·(1 − g·ε^m)``."""
    eps = np.asarray(eps, dtype=np.float64)
    return eps * (1.0 - np.asarray(g) * eps ** chance_exponent(g))


def produced_error(
    errors: np.ndarray, weights: np.ndarray, chance: np.ndarray, *, iterations: int = 60
) -> np.ndarray:
    """The ε per column that makes the expected scored errors equal ``errors``.

    ``weights`` and ``chance`` are ``(cells, columns)``: tokens and ``g`` of each cell (e.g. the
    items of one size). Solves ``Σ_c w_c·scored_error(ε, g_c) = errors`` by bisection, which is
    exact to ``2^−iterations`` since the left side rises with ε; a column whose errors exceed
    what ε = 1 gives is 1, and one without tokens NaN.
    """
    weights = np.asarray(weights, dtype=np.float64)
    chance = np.asarray(chance, dtype=np.float64)
    errors = np.asarray(errors, dtype=np.float64)
    low, high = np.zeros(errors.shape), np.ones(errors.shape)
    for _ in range(iterations):
        mid = 0.5 * (low + high)
        below = (weights * scored_error(mid[None], chance)).sum(0) < errors
        low, high = np.where(below, mid, low), np.where(below, high, mid)
    return np.where(weights.sum(0) > 0, 0.5 * (low + high), np.nan)
