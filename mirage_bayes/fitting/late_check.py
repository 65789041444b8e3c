"""The question of ``meta`` asked of one ``fit``: is the rise at the largest sizes a late jump?

A broken power law that fits better than a single one says the curve bends in log–log; it does
not say the bend was unpredictable. A multiple-choice task whose logit margin grows linearly in
log N is smooth and predictable, yet not a single power law in ``−log p_correct`` (the margin
crosses zero), and the shape comparison prefers the broken law. Emergence, as claimed, is
"sharp and unpredictable from smaller models", so beside the shape comparison ``fit`` runs the
leave-future-out check of :mod:`mirage_bayes.meta.triplet` on the task's headline curve (exact
match for generation tasks, multiple-choice grade for choice tasks: correct items out of items
per size, with the task's chance level) and words the verdict in its classes
(:data:`mirage_bayes.meta.classify.CLASSES`). Only ``late_jump`` reads as a break in ability.

Exact match is checked on the items of one target length (:func:`headline_length`): a curve that
pools lengths is a mixture of ``(1 − ε)^L`` curves, not one smooth law even when ε is, and on
the bundled example (one power law, lengths 1–5 pooled) the pooled curve read as accelerating
(p = 0.001) where every single length is smooth (p 0.22–1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from mirage_bayes.meta.classify import CLASSES, MIN_SIZES_LATE, n_future
from mirage_bayes.meta.fit import MetaConfig
from mirage_bayes.meta.io import Triplet
from mirage_bayes.meta.triplet import NO_BROKEN_NOTE, fit_triplet

__all__ = ["LateCheck", "headline_length", "late_check", "late_check_rows"]


@dataclass(frozen=True)
class LateCheck:
    """Outcome of the late-jump check of one task.

    Attributes
    ----------
    task, metric
        What was checked (``metric``: ``exact_match`` or ``mc_grade``).
    klass
        A key of :data:`~mirage_bayes.meta.classify.CLASSES`.
    p_late
        Leave-future-out p-value of the largest sizes (NaN when not computed).
    n_scales
        Model sizes in the curve.
    ok
        Whether the smooth-law fit passed r̂, ESS and divergence checks.
    note
        Why a cell is empty, if one is.
    length
        The target length whose exact-match curve was checked (``None``: multiple choice).
    """

    task: str
    metric: str
    klass: str
    p_late: float
    n_scales: int
    ok: bool
    note: str = ""
    length: int | None = None

    @property
    def late_jump(self) -> bool:
        """Whether the curve is a late jump beyond the smooth law."""
        return self.klass == "late_jump"

    def to_dict(self) -> dict:
        """Plain values for ``summary.json``."""
        p = None if not np.isfinite(self.p_late) else float(self.p_late)
        return {"metric": self.metric, "class": self.klass, "description": CLASSES[self.klass],
                "p_late": p, "n_future": n_future(self.n_scales), "fit_ok": self.ok,
                "note": self.note, "length": self.length}  # fmt: skip

    def sentence(self, broken_preferred: bool) -> str:
        """The verdict's words for this check; ``broken_preferred``: whether the shape
        comparison clearly preferred the broken law."""
        name = "exact-match accuracy" if self.metric == "exact_match" else "multiple-choice grade"
        if self.length is not None:
            name += f" of the {self.length}-token targets"
        if self.klass == "too_few":
            return (
                f"Late-jump check: with {self.n_scales} sizes a step and a steep smooth law look "
                f"alike in {name}; telling them apart takes at least {MIN_SIZES_LATE} sizes."
            )
        if self.klass == "not_analysed":
            return f"Late-jump check: not run ({self.note})."
        h = n_future(self.n_scales)
        largest = "the largest size" if h == 1 else f"the largest {h} sizes"
        p = f"p = {self.p_late:.3g}" if np.isfinite(self.p_late) else "no forecast"
        text = (
            f"Late-jump check of {name} ({largest} against the smooth law fitted to the smaller "
            f"ones, {p}): {CLASSES[self.klass]}."
        )
        if self.late_jump:
            text += (
                " This is the pattern claimed as emergence: the smaller sizes did not predict it."
            )
        elif broken_preferred:
            text += (
                " The bend is one the smaller sizes predicted: the curve is smooth but not a "
                "single power law, which is not a break in ability."
            )
        if not self.ok:
            text += " The check's own fit had sampler trouble: read it with care."
        return text


def late_check(
    task: str,
    metric: str,
    n_params: np.ndarray,
    correct: np.ndarray,
    n_items: np.ndarray,
    *,
    chance: float = 0.0,
    seed: int = 0,
) -> LateCheck:
    """Run the leave-future-out late-jump check on one accuracy curve.

    Parameters
    ----------
    task, metric
        Names for the result.
    n_params
        Model sizes, smallest first.
    correct, n_items
        Items right and items evaluated per size.
    chance
        Accuracy of guessing (``1/choices`` for multiple choice; 0 for exact match).
    seed
        Seed of the check's sampler.

    Returns
    -------
    LateCheck
    """
    n_params = np.asarray(n_params, float)
    models = tuple(f"size {i}" for i in range(n_params.size))
    n_items = np.asarray(n_items, float)
    triplet = Triplet(
        family="fit", task=task, metric=metric, kind="proportion", higher_is_better=True,
        models=models, n_params=n_params, values=np.asarray(correct, float) / n_items,
        n_items=n_items, chance=float(chance), counts=np.asarray(correct, float),
    )  # fmt: skip
    # The smooth law is a proportion's two-parameter power law: its grid posterior needs no
    # compiler (mirage_bayes.meta.grid), where NUTS cost a Numba compilation per process.
    out = fit_triplet(triplet, MetaConfig(seed=seed, broken=False, sampler="grid"))
    notes = [n for n in out.get("note", "").split("; ") if n and n != NO_BROKEN_NOTE]
    p = out.get("p_late")
    return LateCheck(
        task=task,
        metric=metric,
        klass=out.get("class") or "not_analysed",
        p_late=float(p) if p is not None else float("nan"),
        n_scales=int(n_params.size),
        ok=bool(out.get("smooth_ok", True)) and bool(out.get("late_ok", True)),
        note="; ".join(notes),
    )


def headline_length(rows: pd.DataFrame, models: list[str]) -> int | None:
    """The target length whose exact-match curve the check reads: among the lengths tested at
    every size, the one with the most items at its least-tested size, the longest on a tie (the
    curve that looks most emergent); ``None`` when no length is tested at every size."""
    counts = rows.groupby(["n_tokens", "model"]).size().unstack("model")
    counts = counts.reindex(columns=models).fillna(0)
    least = counts.min(axis=1)
    least = least[least > 0]
    if least.empty:
        return None
    best = least.max()
    return int(max(length for length, n in least.items() if n == best))


def late_check_rows(
    task: str,
    rows: pd.DataFrame,
    models: list[str],
    n_params: np.ndarray,
    metric: str,
    *,
    chance: float = 0.0,
    seed: int = 0,
    length: int | None = None,
) -> LateCheck:
    """:func:`late_check` of a task's scored rows: items right (``metric`` is 0/1 per row) and
    items evaluated per model, in the order of ``models``; with ``length``, only the rows whose
    target has that many tokens."""
    if length is not None:
        rows = rows[rows["n_tokens"] == length]
    grouped = rows.groupby("model", sort=False)[metric].agg(["sum", "size"])
    grouped = grouped.reindex(models)
    check = late_check(
        task, metric, np.asarray(n_params, float), grouped["sum"].to_numpy(float),
        grouped["size"].to_numpy(float), chance=chance, seed=seed,
    )  # fmt: skip
    return replace(check, length=length)
