"""Resolution bought with attempts instead of items: the ``mirage-bayes plan --items`` columns.

With ``n`` new items from the item population and ``A`` attempts at each, under a posterior draw
``d`` every item independently shows at least one exact match with probability ``pass@A_d``
(:mod:`mirage_bayes.models.attempts`), so

* ``attempts_any_correct``: the smallest ``A`` with ``P(≥ 1 exact match in n × A) =
  1 − mean_d (1 − pass@A_d)^n ≥ prob``, the attempts per item that make a zero unlikely for
  the ``n`` items at hand, and ``1/(n·A)`` the accuracy such a design resolves;
* ``attempts_first_success``: the smallest ``A`` with ``mean_d pass@A_d ≥ prob``, the attempts
  at which a single new item shows its first success with probability ``prob`` (PassUntil's
  "sample until it passes", Hu et al. 2024).

Per generation, items buy more than attempts: attempts at one item share its difficulty, so
``(1 − pass@A)^(1/A) ≥ 1 − pass@1`` and ``n·A`` items tried once each would show a success at
least as often. Attempts are the cheaper way where items are few (a fixed benchmark), and what
they cost is the ``items × attempts`` generations the table lists.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mirage_bayes.fitting.resolution import smallest_n
from mirage_bayes.models.attempts import pass_at_k

__all__ = ["ATTEMPT_COLUMNS", "MAX_ATTEMPTS", "attempt_columns"]

MAX_ATTEMPTS = 1_000_000
ATTEMPT_COLUMNS = ["items", "attempts_any_correct", "attempts_first_success", "generations",
                   "floor_attempts"]  # fmt: skip


def _pass_fn(
    mu: np.ndarray, sigma: np.ndarray, length: int, item_shape: np.ndarray | None = None
) -> Callable[[int], np.ndarray]:
    """``A ↦ pass@A`` per draw at one scale (``mu``: ``(draws,)``), chance-free as the plan's
    accuracy is; ``item_shape`` for log-gamma items."""
    mu = np.asarray(mu, dtype=float).reshape(-1, 1)
    sigma = np.asarray(sigma, dtype=float).reshape(-1)
    no_chance = np.zeros((1, 1))
    return lambda attempts: pass_at_k(
        mu, sigma, [length], no_chance, [attempts], item_shape=item_shape
    )[:, 0, 0, 0]


def attempt_columns(
    mu: np.ndarray,
    sigma: np.ndarray,
    length: int,
    *,
    items: int,
    prob: float,
    max_attempts: int = MAX_ATTEMPTS,
    item_shape: np.ndarray | None = None,
) -> dict[str, float | int | None]:
    """The attempt columns of one plan row (``None`` past ``max_attempts``)."""
    pass_at = _pass_fn(mu, sigma, length, item_shape)
    any_correct = smallest_n(
        lambda a: 1.0 - float(np.mean((1.0 - pass_at(a)) ** items)) >= prob, max_attempts
    )
    first = smallest_n(lambda a: float(np.mean(pass_at(a))) >= prob, max_attempts)
    return {
        "items": int(items),
        "attempts_any_correct": any_correct,
        "attempts_first_success": first,
        "generations": None if any_correct is None else int(items) * any_correct,
        "floor_attempts": None if any_correct is None else 1.0 / (int(items) * any_correct),
    }
