"""Simulated repeated attempts, counted per item: a fixed number each, or "sample until it
passes" (PassUntil, Hu et al. 2024), from item populations inside and outside the fitted model.

Each item has a success probability per attempt at every size. Two item populations:

* ``"lognormal"``: the paper's model, ``a_i = exp(−L·L_CE·exp(u_i))`` with ``u_i ~ Normal(0, σ)``
  (what ``mirage-bayes fit`` assumes);
* ``"beta"``: at the middle size the item's success probability is ``Beta(α, β)`` (the design of
  Schaeffer et al. 2025, whose left tail near 0, ``∝ a^(α − 1)``, sets the power law of pass@k in
  k), carried to the other sizes by the same shift of ``log(−log a)`` as the power law gives the
  median item: the items keep their order of difficulty across sizes.

The truth is computed by Monte Carlo over a large item population of the same law (``truth``:
pass@k per size for the requested ``k``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mirage_bayes.simulate.generation import log_cross_entropy, model_name

__all__ = ["item_success", "simulate_attempts"]

TRUTH_ITEMS = 200_000


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
    population_a = item_success(eta, TRUTH_ITEMS, np.random.default_rng(seed + 1), **options)
    truth = [
        {"model": model_name(size), "n_params": size, "k": int(k),
         "pass_at_k": float(1.0 - np.mean(np.exp(k * np.log1p(-population_a[:, s]))))}
        for s, size in enumerate(sizes)
        for k in ks
    ]  # fmt: skip
    outputs = pd.DataFrame(rows).sort_values(["n_params", "item"], kind="stable")
    if until_pass:
        outputs["attempts_to_pass"] = outputs["attempts_to_pass"].astype("Int64")
    return outputs.reset_index(drop=True), pd.DataFrame(truth)
