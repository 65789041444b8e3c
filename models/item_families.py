"""How item difficulty is distributed: the families of ``u`` in ``η = μ(x) + u``.

Difficulty is integrated out on a grid of standardized values ``z`` (``u = σ_item·z``), so a
family is a set of log weights on that grid; ``σ_item`` stays the standard deviation of ``u`` and
``μ`` its mean under every family.

* ``normal`` (the default): ``z ~ Normal(0, 1)``. Its tails are symmetric and light.
* ``log_gamma``: the generalized log-gamma law of Prentice (1974), standardized, with a signed
  shape ``Q`` learnt from the data (``item_shape ~ Normal(0, 0.75)``): ``w = log(Q²G)/Q`` with
  ``G ~ Gamma(1/Q², 1)``, so ``log f(w) = (Q·w − e^{Q·w})/Q²`` up to a constant. ``Q = 0`` *is*
  the normal (the limit is taken by a series, so the sampler crosses it smoothly), which is why
  this family can only gain on the normal: items that are normal give ``Q ≈ 0``. ``Q > 0``
  gives a light hard-item tail, ``P(u > v)`` falling like ``exp(−c·e^{Q·v/σ})``, and a heavy,
  exponential easy-item tail; ``Q = 1`` is the Gumbel law of ``log(−log a)`` when an item's
  success probability ``a`` is uniform, or Beta(α, 1). Items whose success probabilities are
  beta distributed map closely onto ``Q > 0``: Beta(0.3, 3) to ``Q ≈ 0.4``
  (``validation/run_attempts_validation.py tails``). ``Q < 0`` mirrors it: a heavy hard-item
  tail. Since the hardest items set how pass@k grows with ``k``, this is the family to compare
  with the normal (by LOO) when a task has repeated attempts.

The grid is the same equally spaced trapezoid rule for both; the log-gamma family's long tails
need it to reach further out (:attr:`ItemFamily.limits`).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial
from types import SimpleNamespace
from typing import ClassVar

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import digamma, logsumexp, polygamma

__all__ = ["ITEM_FAMILIES", "ItemFamily", "family_of", "grid_log_weights"]

SHAPE_PRIOR_SD = 0.75  # item_shape ~ Normal(0, 0.75): |Q| < 1.5 with probability 0.95
SHAPE_PARAMETER = "item_shape"
# Below this |Q| the exact expressions lose digits to cancellation (1/Q² times a difference of
# order Q²); the series used instead are exact to 1e-9 there (to 1e-6 at |z| = 12).
_SERIES_BELOW = 0.02


@dataclass(frozen=True)
class ItemFamily:
    """A distribution of standardized item difficulty ``z`` and its grid."""

    name: ClassVar[str]
    description: ClassVar[str]
    parameters: ClassVar[tuple[str, ...]]
    # z range of the grid: the mass outside it is below 1e-6 for every shape the prior allows
    # with probability 0.95 (below 1e-5 for |Q| ≤ 2.5).
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
    """``z`` a standardized generalized log-gamma variable with shape ``Q`` (module docstring)."""

    name = "log_gamma"
    description = "generalized log-gamma (skew learnt; shape Q = 0 is the normal)"
    parameters = (SHAPE_PARAMETER,)
    limits = (-12.0, 12.0)

    def build(self, nodes) -> pt.TensorVariable:
        q = pm.Normal(SHAPE_PARAMETER, 0.0, SHAPE_PRIOR_SD)
        log_density = _log_gamma_density(pt.as_tensor(np.asarray(nodes)), q, _PYTENSOR)
        return log_density - pt.logsumexp(log_density)

    def log_weights(self, nodes, shape):
        if shape is None:
            raise ValueError("the log-gamma family needs its shape (item_shape) per draw")
        q = np.asarray(shape, dtype=np.float64).reshape(-1, 1)
        log_density = _log_gamma_density(np.asarray(nodes)[None, :], q, _NUMPY)
        return log_density - logsumexp(log_density, axis=1, keepdims=True)


# One formula for the sampler (PyTensor) and for the draw-by-draw quantities (NumPy).
_NUMPY = SimpleNamespace(
    where=np.where, psi=digamma, trigamma=lambda k: polygamma(1, k), expm1=np.expm1,
    log=np.log, sqrt=np.sqrt, abs=np.abs,
)  # fmt: skip
_PYTENSOR = SimpleNamespace(
    where=pt.switch, psi=pt.psi, trigamma=pt.tri_gamma, expm1=pt.expm1,
    log=pt.log, sqrt=pt.sqrt, abs=pt.abs,
)  # fmt: skip


def _log_gamma_density(z, q, ops):
    """Unnormalised log density of the standardized generalized log-gamma at ``z``.

    ``w = m(Q) + s(Q)·z`` has mean ``m = (ψ(k) − log k)/Q`` and standard deviation
    ``s = √(k·ψ′(k))`` (``k = 1/Q²``); ``log f(w) = −(e^{Qw} − 1 − Qw)/Q²``. Near ``Q = 0`` all
    three are replaced by their series, which tend to the normal's ``m = 0, s = 1, −w²/2``.
    """
    small = ops.abs(q) < _SERIES_BELOW
    # The exact branch sees a safe Q: a switch still differentiates the branch it discards.
    q_exact = ops.where(small, _SERIES_BELOW, q)
    k = 1.0 / q_exact**2
    q2 = q * q
    m = ops.where(small, -q / 2 - q * q2 / 12, (ops.psi(k) - ops.log(k)) / q_exact)
    s = ops.where(small, ops.sqrt(1 + q2 / 2 + q2 * q2 / 6), ops.sqrt(k * ops.trigamma(k)))
    w = m + s * z
    x = q * w
    series = sum(x**n / factorial(n + 2) for n in range(8))  # (e^x − 1 − x)/x²
    x_exact = q_exact * w
    return ops.where(small, -(w**2) * series, -(ops.expm1(x_exact) - x_exact) * k)


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
