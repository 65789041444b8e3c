"""Repeated attempts per item: pass@k of the item population, from the per-token model.

An item of difficulty ``u`` at a size whose trend is at ``μ`` has per-token error rate
``ε_u = 1 − exp(−exp(μ + σ·u))``; one attempt reproduces its ``L``-token target with probability
``a_u = (1 − r_u)^L``, where ``r = ε·(1 − g·ε^m)`` is the rate the scorer counts (chance matches
included, :mod:`mirage_bayes.models.chance_link`). Attempts are independent given the item, so
``k`` attempts get it right at least once with probability ``1 − (1 − a_u)^k``, and over the
item population

    pass@k = 1 − E_u[(1 − a_u)^k].

How fast pass@k rises with ``k`` is set by the left tail of ``a_u`` (the hardest items): with a
normal ``u`` on the log cross-entropy scale that tail is what the model assumes, and the data
(the same items attempted many times) are what tell whether it holds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mirage_bayes.models.chance_link import effective_chance, scored_error
from mirage_bayes.models.generation import population_mean, population_weights

__all__ = [
    "KS_STEPS", "SATURATED", "default_ks", "exponent_ks", "log_pass_exponent", "pass_at_k",
]  # fmt: skip

N_NODES = 401  # (1 − a_u)^k varies fast in u when k is large: a finer grid than for accuracy
KS_STEPS = (1, 2, 5)  # k = 1, 2, 5, 10, 20, 50, ...
SATURATED = 0.999  # pass@k above this is left out of the exponent (see exponent_ks)


def default_ks(max_k: int) -> list[int]:
    """``1, 2, 5, 10, 20, 50, ...`` up to ``max_k``, and ``max_k`` itself."""
    out, decade = [], 1
    while decade <= max_k:
        out += [step * decade for step in KS_STEPS if step * decade <= max_k]
        decade *= 10
    return sorted(set(out) | {int(max_k)})


def pass_at_k(
    mu: np.ndarray,
    sigma: np.ndarray,
    lengths: Sequence[int],
    chance: np.ndarray,
    ks: Sequence[int],
    chance_scale: np.ndarray | None = None,
    item_shape: np.ndarray | None = None,
) -> np.ndarray:
    """pass@k per draw, scale, target length and ``k``: ``(draws, scales, lengths, ks)``.

    Parameters
    ----------
    mu
        ``(draws, scales)``: the trend (log per-token cross-entropy of the median item).
    sigma
        ``(draws,)``: the item spread.
    lengths
        Target lengths in tokens.
    chance
        ``(scales, lengths)``: chance-match rates ``g``.
    ks
        Numbers of attempts.
    chance_scale
        ``(draws,)``: the task's factor ``κ`` on ``g`` (default 1).
    item_shape
        ``(draws,)``: shapes of the log-gamma item family (``None``: normal items).
    """
    nodes, w = population_weights(N_NODES, item_shape, np.asarray(mu).shape[0])
    eta = np.asarray(mu)[..., None] + np.asarray(sigma)[:, None, None] * nodes
    eps = -np.expm1(-np.exp(np.minimum(eta, 700.0)))  # (draws, scales, nodes)
    scale = np.ones(eps.shape[0]) if chance_scale is None else np.asarray(chance_scale)
    chance = np.asarray(chance, dtype=np.float64)
    out = np.empty((*eps.shape[:2], len(lengths), len(ks)))
    for j, length in enumerate(lengths):
        g = effective_chance(chance[None, :, j, None], scale[:, None, None])
        with np.errstate(divide="ignore"):
            log_right = float(length) * np.log1p(-scored_error(eps, g))  # log a_u
            # log(1 − a_u), exact where a_u is tiny (most items at small sizes)
            log_miss = np.log(-np.expm1(log_right))
        for m, k in enumerate(ks):
            out[:, :, j, m] = 1.0 - population_mean(np.exp(float(k) * log_miss), w)
    return out


def exponent_ks(pass_k: np.ndarray) -> np.ndarray:
    """Which ``k`` the exponent is read over (last axis): those where pass@k is below
    :data:`SATURATED`. Closer to 1, ``1 − pass@k`` is set by the few hardest items of the
    population, which neither a finite test set nor the quadrature over item difficulty
    resolves; with fewer than two such ``k`` the exponent is undefined (pass@k saturates)."""
    return np.asarray(pass_k) < SATURATED


def log_pass_exponent(ks: np.ndarray, pass_k: np.ndarray) -> np.ndarray:
    """The exponent ``b`` of ``−log(pass@k) ≈ A·k^(−b)``, per draw, from a least-squares line
    through ``(log k, log(−log pass@k))`` (last axis: ``ks``; pass in ``(0, 1)``)."""
    x = np.log(np.asarray(ks, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(-np.log(np.clip(pass_k, 1e-300, 1.0 - 1e-16)))
    x = x - x.mean()
    return -(((y - y.mean(-1, keepdims=True)) * x).sum(-1) / (x**2).sum())
