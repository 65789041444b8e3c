"""From per-token error rates to the metrics a researcher reports.

The paper's mathematical model: with per-token error rate ε and a target of ``L`` tokens,

* exact-match accuracy is ``(1 − ε)^L`` when tokens fail independently (sharp in scale);
  with items of different difficulty it is ``E_items[(1 − ε_i)^L]``
  (:func:`mirage_bayes.models.generation.population_quantities`);
* expected token edit distance is ``L·ε`` (main text and Eq. 8 of Schaeffer et al.; the appendix's
  Eq. 9 prints ``L(1 − ε)``, a typo) — linear in ε, hence smooth;
* the Brier score of a ``K``-way choice that puts ``1 − ε`` on the correct option and spreads
  ``ε`` evenly over the others is ``ε² + (K − 1)·(ε/(K − 1))² = ε²·K/(K − 1)``.
"""

from __future__ import annotations

import numpy as np


def accuracy_independent(epsilon: np.ndarray, length: float) -> np.ndarray:
    """Exact-match accuracy under token independence: ``(1 − ε)^L``."""
    return (1.0 - np.asarray(epsilon)) ** length


def token_edit_distance(epsilon: np.ndarray, length: float) -> np.ndarray:
    """Expected token edit distance of a target of ``length`` tokens: ``L·ε``."""
    return length * np.asarray(epsilon)


def brier_score(epsilon: np.ndarray, choices: int = 2) -> np.ndarray:
    """Brier score ``ε²·K/(K − 1)`` of a ``K``-way choice with ``1 − ε`` on the right option."""
    if choices < 2:
        raise ValueError("a multiple-choice question needs at least 2 choices")
    eps = np.asarray(epsilon)
    return eps**2 * choices / (choices - 1)


def jeffreys_interval(
    successes: np.ndarray, trials: np.ndarray, prob: float = 0.94
) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed Jeffreys interval (Beta(k + ½, n − k + ½)) for binomial proportions."""
    from scipy.stats import beta

    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    tail = (1 - prob) / 2
    low = np.where(k > 0, beta.ppf(tail, k + 0.5, n - k + 0.5), 0.0)
    high = np.where(k < n, beta.ppf(1 - tail, k + 0.5, n - k + 0.5), 1.0)
    return low, high
