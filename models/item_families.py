"""How item difficulty is distributed: the families of ``u`` in ``η = μ(x) + u``.

Difficulty is integrated out on a grid of standardized values ``z`` (``u = σ_item·z``), so a
family is a set of log weights on that grid; ``σ_item`` stays the standard deviation of ``u`` and
``μ`` its mean under every family.

* ``normal`` (the default): ``z ~ Normal(0, 1)``. Its tails are symmetric and light.
* ``log_gamma``: ``z = (log G − ψ(k)) / √ψ′(k)`` with ``G ~ Gamma(k, 1)`` and a shape ``k``
  learnt from the data (``log item_shape ~ Normal(log 3, 1)``). On the log cross-entropy scale
  it has a light hard-item tail, ``P(u > v)`` falling like ``exp(−c·e^{v/σ'})``, and a heavy,
  exponential easy-item tail; small ``k`` is strongly skewed (``k = 1``: the Gumbel law of
  ``log(−log a)`` when an item's success probability ``a`` is uniform, or Beta(α, 1)), large
  ``k`` tends to the normal. Items whose success probabilities are beta distributed map
  closely onto it: Beta(0.3, 3) to ``k ≈ 5`` (``validation/run_attempts_validation.py tails``).
  Since the hardest items set how pass@k grows with ``k``, this is the family to compare with
  the normal (by LOO) when a task has repeated attempts.

The grid is the same equally spaced trapezoid rule for both; the log-gamma family's easy tail
needs it to reach further down (:attr:`ItemFamily.limits`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import digamma, logsumexp, polygamma

__all__ = ["ITEM_FAMILIES", "ItemFamily", "family_of", "grid_log_weights"]

SHAPE_PRIOR = (np.log(3.0), 1.0)  # log item_shape ~ Normal(log 3, 1): k within 0.4–21 (95%)
SHAPE_PARAMETER = "item_shape"


@dataclass(frozen=True)
class ItemFamily:
    """A distribution of standardized item difficulty ``z`` and its grid."""

    name: ClassVar[str]
    description: ClassVar[str]
    parameters: ClassVar[tuple[str, ...]]
    # z range of the grid: the mass outside it is below 1e-6 for every shape the prior allows.
    limits: ClassVar[tuple[float, float]]

    def build(self, nodes) -> pt.TensorVariable:
        """Declare the family's priors in the current PyMC model; normalised log weights."""
        raise NotImplementedError

    def log_weights(self, nodes: np.ndarray, shape: np.ndarray | None) -> np.ndarray:
        """Normalised log weights at ``nodes`` per draw: ``(draws, nodes)``."""
        raise NotImplementedError


class Normal(ItemFamily):
    """``z ~ Normal(0, 1)``."""

    name = "normal"
    description = "normal on the log cross-entropy scale"
    parameters = ()
    limits = (-5.5, 5.5)

    def build(self, nodes) -> pt.TensorVariable:
        return pt.as_tensor(_normal(np.asarray(nodes)))

    def log_weights(self, nodes, shape):
        draws = 1 if shape is None else np.asarray(shape).size
        return np.broadcast_to(_normal(nodes), (draws, nodes.size))


class LogGamma(ItemFamily):
    """``z`` a standardized log-gamma variable with shape ``k`` (module docstring)."""

    name = "log_gamma"
    description = "log-gamma (skewed: light hard-item tail, shape learnt)"
    parameters = (SHAPE_PARAMETER,)
    limits = (-12.0, 5.5)

    def build(self, nodes) -> pt.TensorVariable:
        log_k = pm.Normal(f"log_{SHAPE_PARAMETER}", *SHAPE_PRIOR)
        k = pm.Deterministic(SHAPE_PARAMETER, pt.exp(log_k))
        y = pt.psi(k) + pt.sqrt(pt.tri_gamma(k)) * nodes
        log_density = k * y - pt.exp(y)
        return log_density - pt.logsumexp(log_density)

    def log_weights(self, nodes, shape):
        if shape is None:
            raise ValueError("the log-gamma family needs its shape (item_shape) per draw")
        k = np.asarray(shape, dtype=np.float64).reshape(-1, 1)
        y = digamma(k) + np.sqrt(polygamma(1, k)) * np.asarray(nodes)[None, :]
        log_density = k * y - np.exp(y)
        return log_density - logsumexp(log_density, axis=1, keepdims=True)


def _normal(nodes: np.ndarray) -> np.ndarray:
    log_w = -0.5 * nodes**2
    return log_w - logsumexp(log_w)


ITEM_FAMILIES: dict[str, ItemFamily] = {f.name: f for f in (Normal(), LogGamma())}


def family_of(shape: np.ndarray | None) -> ItemFamily:
    """The family of a posterior: log-gamma where it has a shape (``item_shape``), else normal."""
    return ITEM_FAMILIES["normal" if shape is None else "log_gamma"]


def grid_log_weights(nodes: np.ndarray, shape: np.ndarray | None, n_draws: int) -> np.ndarray:
    """``(n_draws, nodes)`` normalised log weights of the posterior's family (see
    :func:`family_of`), contiguous, for the draw-by-draw kernels."""
    log_w = family_of(shape).log_weights(np.asarray(nodes, dtype=np.float64), shape)
    return np.ascontiguousarray(np.broadcast_to(log_w, (n_draws, log_w.shape[1])))
