"""Trends of the log per-token cross-entropy η = log L_CE in model size.

Every trend works on the standardized log size ``x = (log N − m) / h``, where ``m`` and ``h`` are
the midpoint and half-width of the observed log-size range, so the observed scales span [-1, 1]
whatever the family. That makes one set of weakly informative priors sensible for any family:

* ``a ~ Normal(-1.5, 1.5)`` — η at the middle of the range. η = −1.5 is ε ≈ 0.2; two standard
  deviations span ε ≈ 0.003 … 0.99.
* ``beta ~ Normal(-1, 1)`` — change of η across half the range. Errors usually fall with scale,
  but a flat or rising trend keeps real prior mass.
* ``sigma_item ~ HalfNormal(1)`` (in :mod:`.generation`) — item difficulty spread.

The broken power law adds ``departure ~ Normal(0, 1.5)`` (η at the largest observed size minus the
unbroken line; it sets the change of slope ``delta``), the break location
``x_break ~ Uniform(-1.25, 1.25)`` (the observed range and a little beyond) and the sharpness
``f ~ LogNormal(log 0.3, 0.5)`` (width of the transition, in half-ranges; kinks much sharper
than the spacing between observed scales cannot be told apart and only make the posterior
hard to sample).
:func:`mirage_bayes.fitting.priors.prior_predictive_epsilon` checks that together these cover ε
from near 0 to near 1 without piling up at either edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pymc as pm
import pytensor.tensor as pt


def softplus(values: np.ndarray) -> np.ndarray:
    """``log(1 + exp(v))`` without overflow."""
    return np.logaddexp(0.0, values)


def _kink(x, x_break, f, softplus_fn):
    """``f·[softplus((x − x_break)/f) − softplus(−x_break/f)]``: 0 at x = 0, slope 0 → 1."""
    return f * (softplus_fn((x - x_break) / f) - softplus_fn(-x_break / f))


@dataclass(frozen=True)
class Trend:
    """A mean curve μ(x) of η over standardized log size, with its priors."""

    name: ClassVar[str]
    min_scales: ClassVar[int]
    description: ClassVar[str]
    parameters: ClassVar[tuple[str, ...]]
    # How reports and figures name and draw the trend, so that a new trend brings its own.
    label: ClassVar[str]  # in tables and legends
    phrase: ClassVar[str]  # in verdict sentences
    color: ClassVar[str]
    linestyle: ClassVar[str] = "-"

    def build(self, x: pt.TensorVariable, n_scales: int) -> pt.TensorVariable:
        """Declare the trend's priors in the current PyMC model and return μ at ``x``."""
        raise NotImplementedError

    def mu(self, posterior: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        """μ for every draw at standardized sizes ``x``: shape ``(draws, len(x))``."""
        raise NotImplementedError

    def natural_parameters(
        self, posterior: dict[str, np.ndarray], center: float, half_range: float
    ) -> dict[str, np.ndarray]:
        """The trend's parameters on the paper's scale (per draw), for reporting."""
        return {}


class ScaleFree(Trend):
    """Each scale its own level, partially pooled around a common mean: no shape imposed."""

    name = "scale_free"
    label = "scale-free"
    phrase = "the scale-free reference"
    color = "#2ca02c"
    min_scales = 1
    description = "each scale its own level (partially pooled), the data-driven reference"
    parameters = ("a", "tau")

    def build(self, x: pt.TensorVariable, n_scales: int) -> pt.TensorVariable:
        a = pm.Normal("a", -1.5, 1.5)
        tau = pm.HalfNormal("tau", 1.5)
        # Centred: every scale has many tokens, so the data pin each level down and the
        # non-centred form would be the one with the awkward geometry.
        return pm.Normal("level", a, tau, dims="scale")

    def mu(self, posterior: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        # Only defined at the observed scales: ``x`` must be those scales.
        return posterior["level"]


# Each trend declares every attribute of the Trend protocol, though some repeat: the class
# is the one place a trend is described, read top to bottom.
class PowerLaw(Trend):
    """``L_CE = (N / c)^alpha``: η linear in log N."""

    name = "power_law"
    label = "power law"
    phrase = "the single power law"
    color = "#1f77b4"
    min_scales = 3
    description = "L_CE = (N/c)^alpha, a straight line in log-log space"
    parameters = ("a", "beta")

    def build(self, x: pt.TensorVariable, n_scales: int) -> pt.TensorVariable:
        a = pm.Normal("a", -1.5, 1.5)
        beta = pm.Normal("beta", -1.0, 1.0)
        return a + beta * x

    def mu(self, posterior: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        return posterior["a"][:, None] + posterior["beta"][:, None] * np.asarray(x)[None, :]

    def natural_parameters(self, posterior, center, half_range):
        a, beta = posterior["a"], posterior["beta"]
        alpha = beta / half_range
        # log L_CE = alpha (log N − log c)  ⇒  log c = m − a·h / beta.
        with np.errstate(divide="ignore", invalid="ignore"):
            log10_c = (center - a * half_range / beta) / np.log(10)
        return {"alpha": alpha, "log10_c": log10_c}


class BrokenPowerLaw(Trend):
    """Smoothly broken power law with one break (Caballero et al. 2023).

    ``L_CE = b · N^(−c0) · (1 + (N/d)^(1/f))^(−c1·f)``; on the standardized scale
    ``η = a + beta·x + delta·f·[softplus((x − x_break)/f) − softplus(−x_break/f)]``: slope
    ``beta`` before the break, ``beta + delta`` after it. The subtracted constant pins ``a`` to
    η at the middle of the range whatever the break does, which keeps ``a`` from trading off
    against ``delta`` and ``f`` in the posterior.

    The sampler does not see ``delta`` itself but ``departure``: how far η at the largest
    observed size lies from the unbroken line. The data pin that down wherever the break sits,
    whereas ``delta`` alone is free when the break falls past the data and tight when it falls
    inside — a funnel that makes NUTS diverge.
    """

    name = "broken_power_law"
    label = "broken power law"
    phrase = "the broken power law"
    color = "#ff7f0e"
    # Dash-dots keep the two parametric curves apart in greyscale and where colour marks the
    # target length instead of the trend.
    linestyle = "-."
    min_scales = 5
    description = "smoothly broken power law with one break (Caballero et al.)"
    parameters = ("a", "beta", "delta", "x_break", "f")  # delta is derived from departure

    def build(self, x: pt.TensorVariable, n_scales: int) -> pt.TensorVariable:
        a = pm.Normal("a", -1.5, 1.5)
        beta = pm.Normal("beta", -1.0, 1.0)
        departure = pm.Normal("departure", 0.0, 1.5)
        x_break = pm.Uniform("x_break", -1.25, 1.25)
        f = pm.LogNormal("f", np.log(0.3), 0.5)
        unit_kink = _kink(x, x_break, f, pt.softplus)
        delta = pm.Deterministic("delta", departure / _kink(1.0, x_break, f, pt.softplus))
        return a + beta * x + delta * unit_kink

    def mu(self, posterior, x):
        x = np.asarray(x)[None, :]
        a, beta, delta, x_break, f = (posterior[p][:, None] for p in self.parameters)
        return a + beta * x + delta * _kink(x, x_break, f, softplus)

    def natural_parameters(self, posterior, center, half_range):
        a, beta, delta = posterior["a"], posterior["beta"], posterior["delta"]
        x_break, f = posterior["x_break"], posterior["f"]
        # Undo the centring constant: log b is η's intercept in log N before the break.
        a = a - delta * f * softplus(-x_break / f)
        return {
            "c0": -beta / half_range,
            "c1": -delta / half_range,
            "log10_b": (a - beta * center / half_range) / np.log(10),
            "log10_d": (center + half_range * posterior["x_break"]) / np.log(10),
            "f_natural": posterior["f"] * half_range,
        }


TRENDS: dict[str, Trend] = {t.name: t() for t in (ScaleFree, PowerLaw, BrokenPowerLaw)}
