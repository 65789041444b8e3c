"""Simulated repeated attempts, counted per item: a fixed number each, or "sample until it
passes" (PassUntil, Hu et al. 2024), from item populations inside and outside the fitted model.

Each item has a success probability per attempt at every size. Two item populations:

* ``"lognormal"``: the paper's model, ``a_i = exp(−L·L_CE·exp(u_i))`` with ``u_i ~ Normal(0, σ)``
  (what ``mirage-bayes fit`` assumes);
* ``"beta"``: at the middle size the item's success probability is ``Beta(α, β)`` (the design of
  Schaeffer et al. 2025, whose left tail near 0, ``∝ a^(α − 1)``, sets the power law of pass@k in
  k), carried to the other sizes by the same shift of ``log(−log a)`` as the power law gives the
  median item: the items keep their order of difficulty across sizes.

The truth (pass@k per size for the requested ``k``) is integrated over the item population by
quadrature (:func:`population_pass_at_k`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mirage_bayes.simulate.generation import log_cross_entropy, model_name

__all__ = ["item_success", "population_pass_at_k", "simulate_attempts"]

TRUTH_NODES = 200_001


def item_success(
    eta: np.ndarray,
    n_items: int,
    rng: np.random.Generator,
    *,
    population: str = "lognormal",
    sigma_item: float = 0.5,
    beta: tuple[float, float] = (0.3, 3.0),
    length: int = 1,
) -> np.ndarray:
    """``(items, sizes)`` success probability of one attempt; ``eta`` is log L_CE per size."""
    if population == "lognormal":
        u = rng.normal(0.0, sigma_item, n_items)
        return np.exp(-length * np.exp(eta[None, :] + u[:, None]))
    if population == "beta":
        a_mid = np.clip(rng.beta(*beta, n_items), 1e-300, 1.0 - 1e-16)
        middle = 0.5 * (eta.max() + eta.min())
        shift = np.log(-np.log(a_mid))[:, None] + (eta - middle)[None, :]
        return np.exp(-np.exp(shift))
    raise ValueError(f"unknown item population {population!r}; choose lognormal or beta")


def population_pass_at_k(
    eta: np.ndarray,
    size: int,
    ks: Sequence[int],
    *,
    population: str = "lognormal",
    sigma_item: float = 0.5,
    beta: tuple[float, float] = (0.3, 3.0),
    length: int = 1,
) -> list[float]:
    """pass@k at one size for new items of the population, by quadrature (deterministic: the
    truth a validation compares with, down to ``1 − pass@k`` far below what sampled items
    could resolve).

    Lognormal: ``u = σ·z`` on ``TRUTH_NODES`` standard-normal nodes over ±8. Beta: with
    ``x = a_mid ~ Beta(α, β)`` the item's success at the size is ``x^c``,
    ``c = exp(η_s − η_mid)``; substituting ``x = exp(v/α)`` makes the integrand smooth down to
    ``v = −700``, so the hardest items are integrated too.
    """
    if population == "lognormal":
        z = np.linspace(-8.0, 8.0, TRUTH_NODES)
        log_w = -0.5 * z**2 - np.log(np.exp(-0.5 * z**2).sum())
        log_a = -length * np.exp(eta[size] + sigma_item * z)
    elif population == "beta":
        alpha, b = beta
        v = np.linspace(-700.0, 0.0, TRUTH_NODES)
        c = np.exp(eta[size] - 0.5 * (eta.max() + eta.min()))
        log_x = v / alpha
        # Beta density in v: x^α (1 − x)^(β − 1) / (α·B(α, β)) per unit v, normalised on the grid.
        with np.errstate(divide="ignore"):  # x = 1 at v = 0: density 0 there (for β > 1)
            log_w = v + (b - 1.0) * np.log1p(-np.exp(log_x)) if b != 1.0 else v.copy()
        log_w -= np.logaddexp.reduce(log_w)
        log_a = c * log_x
    else:
        raise ValueError(f"unknown item population {population!r}; choose lognormal or beta")
    log_miss = np.log(-np.expm1(np.minimum(log_a, -1e-300)))  # log(1 − a)
    return [float(-np.expm1(np.logaddexp.reduce(k * log_miss + log_w))) for k in ks]


def simulate_attempts(
    *,
    n_params: Sequence[float],
    c: float = 3.0e8,
    alpha: float = -0.6,
    n_items: int = 50,
    length: int = 4,
    max_attempts: int = 1000,
    until_pass: bool = True,
    population: str = "lognormal",
    sigma_item: float = 0.5,
    beta: tuple[float, float] = (0.3, 3.0),
    ks: Sequence[int] = (1,),
    task: str = "attempts",
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Attempts per (model, item), and the population truth.

    With ``until_pass`` each item is attempted until its first exact match or ``max_attempts``
    (columns ``attempts_to_pass``, empty when none passed, and ``max_attempts``); otherwise
    exactly ``max_attempts`` times (columns ``n_attempts`` and ``n_success``).

    Returns
    -------
    outputs, truth
        ``outputs``: ``task, model, n_params, item`` and the attempt columns. ``truth``:
        ``model, n_params, k, pass_at_k`` (pass@1 is the accuracy) for new items from the same
        population.
    """
    rng = np.random.default_rng(seed)
    sizes = np.sort(np.asarray(n_params, dtype=float))
    eta = log_cross_entropy(sizes, c, alpha, None)
    options = {"population": population, "sigma_item": sigma_item, "beta": beta,
               "length": length}  # fmt: skip
    a = item_success(eta, n_items, rng, **options)
    if until_pass:
        first = rng.geometric(np.clip(a, 1e-300, 1.0))  # attempt of the first success
        columns = [
            {"attempts_to_pass": int(t) if t <= max_attempts else None,
             "max_attempts": int(max_attempts)}
            for t in first.ravel()
        ]  # fmt: skip
    else:
        success = rng.binomial(int(max_attempts), a)
        columns = [{"n_attempts": int(max_attempts), "n_success": int(k)} for k in success.ravel()]
    rows = [
        {"task": task, "model": model_name(sizes[s]), "n_params": sizes[s], "item": f"q{i:04d}",
         **columns[cell]}
        for cell, (i, s) in enumerate(np.ndindex(*a.shape))
    ]  # fmt: skip
    truth = [
        {"model": model_name(size), "n_params": size, "k": int(k), "pass_at_k": value}
        for s, size in enumerate(sizes)
        for k, value in zip(ks, population_pass_at_k(eta, s, ks, **options), strict=True)
    ]  # fmt: skip
    outputs = pd.DataFrame(rows).sort_values(["n_params", "item"], kind="stable")
    if until_pass:
        outputs["attempts_to_pass"] = outputs["attempts_to_pass"].astype("Int64")
    return outputs.reset_index(drop=True), pd.DataFrame(truth)
