"""Power law vs broken power law (and the scale-free reference) by PSIS-LOO; the verdict."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from mirage_bayes.models import TRENDS
from mirage_bayes.settings import BROKEN_TREND, REFERENCE_TREND, SMOOTH_TREND

# Below this, an ELPD difference is small whatever its standard error (Sivula et al. 2022).
SMALL_ELPD = 4.0
COLUMNS = [
    "task", "trend", "rank", "elpd_loo", "se", "p_loo", "elpd_diff", "dse", "weight", "warning"
]  # fmt: skip


def compare_trends(task: str, idatas: dict[str, az.InferenceData]) -> pd.DataFrame:
    """ArviZ ``compare`` (LOO, stacking weights) of the trends fitted to one task.

    The pointwise log-likelihood is per item, marginal over item difficulty: leave-one-item-out,
    the exchangeable unit of a test set. ``table.attrs["pairs"]`` holds, for every pair of
    trends, ``(better, ELPD difference, standard error of the difference)``.
    """
    with warnings.catch_warnings():
        # Pareto-k problems are reported in the table's ``warning`` column instead.
        warnings.simplefilter("ignore")
        loos = {trend: _item_loo(idata) for trend, idata in idatas.items()}
        if len(idatas) == 1:
            ((trend, loo),) = loos.items()
            table = pd.DataFrame(
                {"trend": [trend], "rank": [0], "elpd_loo": [loo.elpd_loo], "se": [loo.se],
                 "p_loo": [loo.p_loo], "elpd_diff": [0.0], "dse": [0.0], "weight": [1.0],
                 "warning": [bool(loo.warning)]}
            )  # fmt: skip
        else:
            table = az.compare(loos, ic="loo", method="stacking").reset_index(names="trend")
    table.insert(0, "task", task)
    table = table[COLUMNS]
    table.attrs["n_points"] = {trend: int(loo.n_data_points) for trend, loo in loos.items()}
    table.attrs["pairs"] = {
        (a, b): _pair(a, b, loos) for a in loos for b in loos if a < b
    }  # fmt: skip
    return table


def _item_loo(idata: az.InferenceData) -> az.ELPDData:
    """PSIS-LOO with one pointwise value per item.

    Large test sets store the log-likelihood per outcome pattern (see
    :data:`mirage_bayes.fitting.inference.ITEM_GROUP_LIMIT`). An item's leave-one-out ELPD depends
    only on its own log-likelihood draws, so every item of a pattern has the pattern's value: the
    pointwise values are repeated by the pattern counts, which is exact, not an approximation.
    """
    loo = az.loo(idata, pointwise=True)
    constant = getattr(idata, "constant_data", None)
    if constant is None or "pattern_count" not in constant:
        return loo
    counts = constant["pattern_count"].to_numpy()
    loglik = idata.log_likelihood["n_errors"].to_numpy()
    flat = loglik.reshape(-1, loglik.shape[-1])
    lppd = logsumexp(flat, axis=0) - np.log(flat.shape[0])
    loo_p = loo.loo_i.to_numpy()
    loo_i = np.repeat(loo_p, counts)
    expanded = loo.copy()
    expanded["loo_i"] = xr.DataArray(loo_i, dims=["item"])
    expanded["pareto_k"] = xr.DataArray(np.repeat(loo.pareto_k.to_numpy(), counts), dims=["item"])
    expanded["elpd_loo"] = float(loo_i.sum())
    expanded["se"] = float(np.sqrt(loo_i.size * np.var(loo_i)))
    expanded["p_loo"] = float(np.sum(counts * (lppd - loo_p)))
    expanded["n_data_points"] = int(loo_i.size)
    return expanded


def _pair(a: str, b: str, loos: dict) -> tuple[str, float, float]:
    """(better trend, ELPD difference ≥ 0, standard error) from the pointwise ELPDs."""
    diff = loos[a].loo_i.values - loos[b].loo_i.values
    se = float(np.sqrt(diff.size * np.var(diff)))
    total = float(diff.sum())
    return (a, total, se) if total >= 0 else (b, -total, se)


def pair(comparison: pd.DataFrame, a: str, b: str) -> tuple[str, float, float] | None:
    """The LOO comparison of two trends of a task, or ``None`` when one was not fitted."""
    pairs = comparison.attrs.get("pairs", {})
    return pairs.get((a, b)) or pairs.get((b, a))


def _strength(diff: float, se: float) -> str:
    if diff <= 2 * se:
        return "within two standard errors: the data cannot tell them apart"
    if diff < SMALL_ELPD:
        return "more than two standard errors but small in size (below 4): a weak preference"
    return "more than two standard errors: a clear preference"


def preference_sentence(task: str, result: tuple[str, float, float], a: str, b: str) -> str:
    better, diff, se = result
    worse = b if better == a else a
    return (
        f"{TRENDS[better].phrase.capitalize()} fits {task} better than {TRENDS[worse].phrase} "
        f"(ELPD difference {diff:.1f} ± {se:.1f}), {_strength(diff, se)}."
    )


@dataclass(frozen=True)
class Wording:
    """What a verdict calls the modelled quantity, the headline metric and what moves."""

    quantity: str = "the per-token error rate"
    metric: str = "exact-match accuracy"
    moves: str = "the error rate"


GENERATION_WORDING = Wording()
CHOICE_WORDING = Wording(
    "the cross-entropy of the correct choice", "multiple-choice grade", "the task"
)

VERDICT_WORDS = ("smooth", "broken", "undecided", "too few sizes", "not compared", "no signal")
"""The one-word verdicts, by the LOO comparison of the power law and the broken power law."""


def verdict_word(comparison: pd.DataFrame, n_scales: int) -> str:
    """``smooth`` or ``broken`` when one law beats the other by more than two standard errors,
    ``undecided`` within them, ``too few sizes`` when the data cannot identify the broken law,
    ``not compared`` when one of the two laws was not asked for."""
    main = pair(comparison, SMOOTH_TREND, BROKEN_TREND)
    if main is None:
        too_few = n_scales < TRENDS[BROKEN_TREND].min_scales
        return "too few sizes" if too_few else "not compared"
    better, diff, se = main
    if diff <= 2 * se:
        return "undecided"
    return "smooth" if better == SMOOTH_TREND else "broken"


def word_of(verdict_text: str) -> str:
    """The one-word verdict a paragraph of :func:`verdict` opens with."""
    head = verdict_text.removeprefix("Verdict: ")
    return head[: head.index(".")] if head != verdict_text and "." in head else ""


def verdict(
    task: str,
    comparison: pd.DataFrame,
    n_scales: int,
    skipped: list[str],
    late: Callable[[bool], str] | None = None,
    wording: Wording = GENERATION_WORDING,
    *,
    no_signal: str | None = None,
    trouble: Sequence[str] = (),
) -> str:
    """One paragraph that opens with the one-word verdict (:func:`verdict_word`) and says which
    trend the data prefer, how firmly, and whether the largest sizes are a late jump (``late``:
    the sentence of the late-jump check given whether the broken law is clearly better,
    :meth:`mirage_bayes.fitting.late_check.LateCheck.sentence`).

    A difference counts as clear when it exceeds two standard errors of the difference. What
    would make the comparison meaningless comes first: data without a scaling signal
    (``no_signal``, why; the word is then ``no signal``) and fits that failed the sampler
    checks (``trouble``, their trend names).
    """
    word = "no signal" if no_signal else verdict_word(comparison, n_scales)
    parts = [f"Verdict: {word}."]
    if no_signal:
        parts.append(
            f"The data carry no scaling signal: {no_signal}. The trends below are fitted to "
            "nothing that changes with size, so their comparison says nothing about scaling."
        )
    if trouble:
        names = [t.replace("_", " ") for t in trouble]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        plural = "s" if len(names) > 1 else ""
        parts.append(
            f"The sampler failed its checks for the {listed} fit{plural} (see the "
            "diagnostics): read the comparison below with care."
        )
    main = pair(comparison, SMOOTH_TREND, BROKEN_TREND)
    if no_signal:
        # Without a signal, ELPD differences are rounding noise (0.0 ± 0.0 can still "exceed"
        # two standard errors): no sentence may read a preference or a late jump into them.
        return " ".join(parts)
    if main is not None:
        parts.append(preference_sentence(task, main, SMOOTH_TREND, BROKEN_TREND))
        better, diff, se = main
        if better == SMOOTH_TREND or diff <= 2 * se:
            parts.append(
                f"Nothing here requires a change in how {wording.quantity} scales: a sharp rise "
                f"in {wording.metric} is what the smooth law predicts."
            )
        else:
            parts.append(
                f"{wording.quantity[0].upper()}{wording.quantity[1:]} itself changes its scaling "
                "within the range"
                + ("; the late-jump check below says whether the smaller sizes predicted it."
                   if late is not None else ".")
            )  # fmt: skip
        if diff <= 2 * se and wording == GENERATION_WORDING:
            parts.append(
                "Undecided is what a true single power law usually gives, since the broken law "
                "contains it; a real break was found every time from 6 model sizes on in the "
                "model-selection study (validation/README.md)."
            )
    for trend in (SMOOTH_TREND, BROKEN_TREND):
        versus = pair(comparison, trend, REFERENCE_TREND)
        if versus is None:
            continue
        clear_loss = versus[0] == REFERENCE_TREND and versus[1] > 2 * versus[2]
        if main is None or clear_loss:
            parts.append(preference_sentence(task, versus, trend, REFERENCE_TREND))
        if clear_loss:
            name = TRENDS[trend].phrase.capitalize()
            parts.append(f"{name} misses how {wording.moves} moves from size to size.")
    if skipped:
        names = " and ".join(t.replace("_", " ") for t in skipped)
        verb = "was" if len(skipped) == 1 else "were"
        parts.append(
            f"With {n_scales} model size{'s' if n_scales != 1 else ''}, {names} could not be "
            f"identified and {verb} not fitted."
        )
        if BROKEN_TREND in skipped:
            parts.append(
                "These data cannot tell a smooth law from a break in it: that takes at least "
                f"{TRENDS[BROKEN_TREND].min_scales} model sizes."
            )
    if len(parts) == 1:
        parts.append(f"Only the scale-free reference could be fitted to {task}.")
    if late is not None:
        parts.append(late(broken_clearly_better(main)))
    return " ".join(parts)


def task_entry(
    comparison: pd.DataFrame, diagnostics: pd.DataFrame, verdict_text: str, n_scales: int
) -> dict:
    """The part of a task's ``summary.json`` entry shared by every kind of fit: preferred trend,
    the power-versus-broken comparison, per-trend diagnostics, the one-word and the full verdict.

    ``diagnostics`` holds the task's rows of a result's ``diagnostics()`` table.
    """
    main = pair(comparison, SMOOTH_TREND, BROKEN_TREND)
    return {
        "preferred_trend": str(comparison.sort_values("rank").iloc[0]["trend"]),
        "power_vs_broken": None
        if main is None
        else {
            "preferred": main[0],
            "elpd_diff": main[1],
            "se": main[2],
            "exceeds_2se": bool(main[1] > 2 * main[2]),
        },  # fmt: skip
        "trends": {
            row.trend: {
                "max_rhat": float(row.max_rhat),
                "min_ess_bulk": float(row.min_ess_bulk),
                "divergences": int(row.divergences),
                "ok": bool(row.ok),
            }
            for row in diagnostics.itertuples()
        },
        "verdict_word": word_of(verdict_text) or verdict_word(comparison, n_scales),
        "verdict": verdict_text,
    }


def fit_repr(name: str, verdict_texts: dict[str, str], tasks: list, ok: bool) -> str:
    """A short ``repr`` of a fit result: per task its one-word verdict, sizes and items."""
    words = {task: word_of(text) for task, text in verdict_texts.items()}
    shown = [
        f"{data.task}: {words.get(data.task) or 'not compared'} ({data.n_scales} sizes, "
        f"{len(data.items)} items)"
        for data in tasks[:5]
    ]
    more = f"; … {len(tasks) - 5} more" if len(tasks) > 5 else ""
    status = "diagnostics ok" if ok else "sampler warnings, see .diagnostics()"
    return f"<{name} of {len(tasks)} task(s): {'; '.join(shown)}{more}; {status}>"


def broken_clearly_better(main: tuple[str, float, float] | None) -> bool:
    """Whether the broken law beats the power law by more than two standard errors."""
    return main is not None and main[0] == BROKEN_TREND and main[1] > 2 * main[2]
