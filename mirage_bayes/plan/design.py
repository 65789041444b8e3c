"""How many test items does each model size need? The ``mirage-bayes plan`` computations.

Two criteria, per task, scale and target length, both for a test set of ``n`` *new* items drawn
from the item population (see :mod:`mirage_bayes.fitting.resolution` for why) and both averaged
over the posterior of the population accuracy ``a`` (draws ``a_d``):

(a) ``items_any_correct``: the smallest ``n`` with ``P(at least one correct) ≥ prob``, where
    ``P(≥ 1 correct) = 1 − mean_d (1 − a_d)^n`` (exact: given a draw the count is
    ``Binomial(n, a_d)``). Without posterior spread this is ``⌈log(1 − prob) / log(1 − a)⌉``.
(b) ``items_halfwidth``: the smallest ``n`` whose *expected* 94% HDI half-width of the accuracy
    estimate is at most ``δ``. After observing ``k`` of ``n`` correct, the accuracy's posterior
    under the Jeffreys prior Beta(½, ½) is Beta(k + ½, n − k + ½); its 94% highest-density
    interval has half-width ``w(k, n)/2``. The criterion averages that over the posterior
    predictive count: ``E_d E_{k ~ Binomial(n, a_d)} [w(k, n)/2] ≤ δ``.

Both quantities fall with ``n`` (the first strictly, the second up to the discreteness of ``k``),
so the search doubles ``n`` until the criterion holds and then bisects; past ``max_items`` it
stops and reports "more than max_items" (an empty cell in ``plan.csv``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.optimize import brentq
from scipy.special import betaincinv
from scipy.stats import binom

from mirage_bayes.errors import InputError
from mirage_bayes.fitting.resolution import (  # re-exported: the planner's searches
    items_for_any_correct,
    smallest_n,
)
from mirage_bayes.models.generation import population_quantities
from mirage_bayes.output.figures import new_figure
from mirage_bayes.output.formatting import format_number, format_params
from mirage_bayes.output.load import load_fit
from mirage_bayes.plan.attempts import ATTEMPT_COLUMNS, MAX_ATTEMPTS, attempt_columns
from mirage_bayes.settings import DEFAULT_MAX_ITEMS, HDI_PROB, TREND_PREFERENCE
from mirage_bayes.simulate.generation import model_name

MAX_ITEMS = DEFAULT_MAX_ITEMS
QUANTILE_POINTS = 64  # posterior quantiles of a that stand in for the draws in criterion (b)
PLAN_COLUMNS = [
    "task", "model", "n_params", "length", "items_any_correct", "items_halfwidth",
    "trend", "epsilon", "accuracy", "max_items",
]  # fmt: skip
_TAIL = 1e-10  # binomial mass left out of the window of counts summed over in (b)
_EXACT_COUNTS = 2000  # below this n every count's HDI is computed; beyond, interpolated


# --- the searches ------------------------------------------------------------------------------


def beta_hdi(a: np.ndarray, b: np.ndarray, prob: float = HDI_PROB) -> tuple[np.ndarray, np.ndarray]:
    """Highest-density interval of Beta(a, b), vectorised.

    A density that only falls (``a ≤ 1 ≤ b``) has its HDI at 0, one that only rises at 1. A
    unimodal density has equal height at both ends of its HDI: with ``l = F⁻¹(t)`` and
    ``u = F⁻¹(t + prob)`` the height difference falls monotonically in the lower tail mass ``t``,
    so 30 bisection steps in ``t`` pin the interval down (its width is flat at the optimum).
    """
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    if np.any((a < 1) & (b < 1)):
        raise ValueError("a U-shaped Beta (a < 1 and b < 1) has no single HDI interval")
    low, high = np.zeros(a.shape), np.ones(a.shape)
    falling = (a <= 1) & (b >= 1)
    rising = (b <= 1) & ~falling
    middle = ~(falling | rising)
    high[falling] = betaincinv(a[falling], b[falling], prob)
    low[rising] = betaincinv(a[rising], b[rising], 1.0 - prob)
    am, bm = a[middle], b[middle]
    lo, hi = np.zeros(am.shape), np.full(am.shape, 1.0 - prob)
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(30):
            t = 0.5 * (lo + hi)
            left, right = betaincinv(am, bm, t), betaincinv(am, bm, t + prob)
            gap = (am - 1) * np.log(right / left) + (bm - 1) * (np.log1p(-right) - np.log1p(-left))
            higher_right = gap > 0  # density higher at the right end: move the interval right
            lo = np.where(higher_right, t, lo)
            hi = np.where(higher_right, hi, t)
    t = 0.5 * (lo + hi)
    low[middle], high[middle] = betaincinv(am, bm, t), betaincinv(am, bm, t + prob)
    return low, high


def jeffreys_halfwidths(k: np.ndarray, n_items: int, prob: float = HDI_PROB) -> np.ndarray:
    """Half-width of the ``prob`` HDI of Beta(k + ½, n − k + ½) for each count ``k``."""
    k = np.asarray(k, dtype=float)
    low, high = beta_hdi(k + 0.5, n_items - k + 0.5, prob)
    return 0.5 * (high - low)


@functools.lru_cache(maxsize=256)
def _all_halfwidths(n_items: int, prob: float) -> np.ndarray:
    """``w(k, n)/2`` for every ``k = 0 … n`` (cached: the searches revisit the same ``n``)."""
    return jeffreys_halfwidths(np.arange(n_items + 1), n_items, prob)


def _halfwidths_on(k_lo: int, k_hi: int, n_items: int, prob: float) -> Callable:
    """``k ↦ w(k, n)/2`` on ``[k_lo, k_hi]``: exact for a small ``n``, else interpolated.

    The half-width is smooth in ``k``; it bends most near ``k = 0`` and ``k = n``, so the first
    and last 100 counts of the range are computed exactly and the interior on 300 evenly spaced
    counts.
    """
    if n_items < _EXACT_COUNTS:
        table = _all_halfwidths(n_items, prob)
        return lambda k: table[k]
    counts = np.unique(
        np.concatenate(
            [
                np.arange(k_lo, min(k_lo + 100, k_hi + 1)),
                np.linspace(k_lo, k_hi, 300).round(),
                np.arange(max(k_hi - 99, k_lo), k_hi + 1),
            ]
        )
    )
    widths = jeffreys_halfwidths(counts, n_items, prob)
    return lambda k: np.interp(k, counts, widths)


def _quantile_points(accuracy: np.ndarray, n_points: int) -> np.ndarray:
    """The draws themselves, or ``n_points`` midpoint quantiles of them when there are more."""
    a = np.clip(np.asarray(accuracy, dtype=float).ravel(), 0.0, 1.0)
    if a.size <= n_points:
        return a
    return np.quantile(a, (np.arange(n_points) + 0.5) / n_points)


def expected_halfwidth(
    accuracy: np.ndarray,
    n_items: int,
    *,
    hdi_prob: float = HDI_PROB,
    n_points: int = QUANTILE_POINTS,
) -> float:
    """Criterion (b)'s left-hand side: ``E_d E_{k ~ Bin(n, a_d)} [HDI half-width of Beta(k + ½,
    n − k + ½)]``.

    The expectation over draws uses ``n_points`` midpoint quantiles of the accuracy posterior (a
    deterministic quadrature of a smooth function of ``a``); the one over ``k`` sums the binomial
    probabilities of all counts but the outer ``1e-10`` tails.
    """
    n = int(n_items)
    points = _quantile_points(accuracy, n_points)
    k_lo = np.clip(np.nan_to_num(binom.ppf(_TAIL, n, points)), 0, n).astype(np.int64)
    k_hi = np.clip(np.nan_to_num(binom.isf(_TAIL, n, points), nan=n), 0, n).astype(np.int64)
    # Every point's window of counts, concatenated, so that one vectorised call covers them all.
    sizes = k_hi - k_lo + 1
    owner = np.repeat(np.arange(len(points)), sizes)
    k = np.arange(owner.size) - np.repeat(np.cumsum(sizes) - sizes, sizes) + k_lo[owner]
    pmf = binom.pmf(k, n, points[owner])
    halfwidth = _halfwidths_on(int(k_lo.min()), int(k_hi.max()), n, hdi_prob)
    weighted = np.bincount(owner, pmf * halfwidth(k), minlength=len(points))
    mass = np.bincount(owner, pmf, minlength=len(points))
    return float(np.mean(weighted / mass))


def items_for_halfwidth(
    accuracy: np.ndarray,
    *,
    halfwidth: float = 0.05,
    hdi_prob: float = HDI_PROB,
    max_items: int = MAX_ITEMS,
) -> int | None:
    """Criterion (b): the smallest ``n`` with expected HDI half-width ``≤ halfwidth``."""
    a = np.asarray(accuracy, dtype=float).ravel()
    return smallest_n(lambda n: expected_halfwidth(a, n, hdi_prob=hdi_prob) <= halfwidth, max_items)


# --- plans from a fit or from given error rates ------------------------------------------------


# The item-population centres η searched; beyond them every item is right, or wrong.
MU_RANGE = (-60.0, 10.0)


def _centre(excess: Callable[[float], float], wanted: str, sigma_item: float) -> float:
    """The centre η in :data:`MU_RANGE` where ``excess`` crosses 0 (it rises with η), or one
    line saying that no centre gives ``wanted``: a wide item spread keeps the population
    average away from the extremes (the easiest items stay right, the hardest wrong)."""
    low, high = (excess(mu) for mu in MU_RANGE)
    if not low <= 0.0 <= high:
        raise InputError(
            f"no item population with --sigma-item {sigma_item:g} has {wanted}: items spread "
            "that widely keep the population average away from it",
            fix="give a smaller --sigma-item, or a target nearer the middle",
        )
    return float(brentq(excess, *MU_RANGE, xtol=1e-12))


def mu_for_epsilon(epsilon: float, sigma_item: float) -> float:
    """η = log L_CE at the item-population centre whose population-mean ε equals ``epsilon``."""
    if sigma_item == 0:
        return float(np.log(-np.log1p(-epsilon)))

    def excess(mu: float) -> float:
        eps = population_quantities(np.array([[mu]]), np.array([sigma_item]), [1])["epsilon"]
        return float(eps[0, 0]) - epsilon

    return _centre(excess, f"a mean per-token error rate of {epsilon:g}", sigma_item)


def epsilon_for_accuracy(accuracy: float, length: int, sigma_item: float) -> float:
    """The population-mean ε at which targets of ``length`` tokens are matched with population
    accuracy ``accuracy`` (items spread by ``sigma_item``)."""

    def excess(mu: float) -> float:  # rises with η: accuracy falls
        acc = population_quantities(np.array([[mu]]), np.array([sigma_item]), [length])
        return float(np.log(accuracy)) - float(np.log(max(acc["accuracy"][0, 0, 0], 1e-300)))

    wanted = f"an accuracy of {accuracy:g} on {length}-token targets"
    mu = _centre(excess, wanted, sigma_item)
    eps = population_quantities(np.array([[mu]]), np.array([sigma_item]), [length])["epsilon"]
    return float(eps[0, 0])


def _cell(
    labels: tuple[str, str, str, float],
    length: int,
    epsilon: np.ndarray,
    accuracy: np.ndarray,
    criteria: tuple[float, float, int],
    attempts: tuple[np.ndarray, np.ndarray, int, np.ndarray | None] | None = None,
) -> dict:
    """One plan row: both item counts at one scale (``task, trend, model, n_params``), length;
    with ``attempts`` (``mu`` and ``sigma`` draws at the scale, items at hand, the log-gamma
    item shape's draws or ``None``) the attempt columns of :mod:`mirage_bayes.plan.attempts` too."""
    task, trend, model, n_params = labels
    prob, halfwidth, max_items = criteria
    any_correct = items_for_any_correct(accuracy, prob=prob, max_items=max_items)
    precise = items_for_halfwidth(accuracy, halfwidth=halfwidth, max_items=max_items)
    row = {
        "task": task,
        "model": model,
        "n_params": n_params,
        "length": int(length),
        "items_any_correct": any_correct,
        "items_halfwidth": precise,
        "trend": trend,
        "epsilon": float(np.mean(epsilon)),
        "accuracy": float(np.mean(accuracy)),
        "max_items": int(max_items),
    }
    if attempts is not None:
        mu, sigma, items, shape = attempts
        row |= attempt_columns(mu, sigma, int(length), items=items, prob=prob, item_shape=shape)
    return row


def _frame(rows: list[dict]) -> pd.DataFrame:
    with_attempts = bool(rows) and "items" in rows[0]
    frame = pd.DataFrame(rows, columns=PLAN_COLUMNS + (ATTEMPT_COLUMNS if with_attempts else []))
    counts = ["items_any_correct", "items_halfwidth"]
    counts += ["attempts_any_correct", "attempts_first_success", "generations"] * with_attempts
    for column in counts:
        frame[column] = pd.array([pd.NA if pd.isna(v) else int(v) for v in frame[column]], "Int64")
    return frame


def plan_from_epsilon(
    epsilon: Sequence[float],
    lengths: Sequence[int],
    *,
    sigma_item: float = 0.0,
    n_params: Sequence[float] | None = None,
    prob: float = 0.95,
    halfwidth: float = 0.05,
    max_items: int = MAX_ITEMS,
    task: str = "hypothetical",
    items: int | None = None,
) -> pd.DataFrame:
    """Items needed at hypothetical scales given by their per-token error rate.

    ``epsilon`` is the population-mean per-token error rate at each scale (as ``summary.csv``
    reports it). With ``sigma_item = 0`` every item has that rate and the accuracy is
    ``(1 − ε)^L``; otherwise item difficulty spreads on the log cross-entropy scale with that
    standard deviation around the centre that keeps the mean ``ε``. The accuracy is known, so
    there is no posterior spread. Returns a table with :data:`PLAN_COLUMNS`, and with ``items``
    (the items at hand) the attempt columns of :mod:`mirage_bayes.plan.attempts`.
    """
    criteria = (prob, halfwidth, max_items)
    rows = []
    for s, eps in enumerate(epsilon):
        mu = mu_for_epsilon(float(eps), sigma_item)
        acc = population_quantities(np.array([[mu]]), np.array([sigma_item]), list(lengths))
        size = float(n_params[s]) if n_params is not None else np.nan
        labels = (task, "given", f"eps={eps:g}" if n_params is None else model_name(size), size)
        extra = None if items is None else (np.array([mu]), np.array([sigma_item]), items, None)
        for j, length in enumerate(lengths):
            accuracy = acc["accuracy"][:, 0, j]
            rows.append(_cell(labels, length, np.array([eps]), accuracy, criteria, extra))
    return _frame(rows)


def plan_for_resolution(
    accuracies: Sequence[float],
    lengths: Sequence[int],
    *,
    sigma_item: float = 0.0,
    items: int | None = None,
    prob: float = 0.95,
    halfwidth: float = 0.05,
    max_items: int = MAX_ITEMS,
) -> pd.DataFrame:
    """Designs that resolve given accuracies: for each accuracy and length, the items needed
    with one attempt each and, with ``items``, the attempts those items need (P(≥ 1 exact
    match) ≥ ``prob`` either way). :func:`plan_from_epsilon` at the ε that gives the accuracy."""
    frames = []
    for length in lengths:
        eps = [epsilon_for_accuracy(a, int(length), sigma_item) for a in accuracies]
        frame = plan_from_epsilon(eps, [length], sigma_item=sigma_item, prob=prob, items=items,
                                  halfwidth=halfwidth, max_items=max_items,
                                  task="resolution")  # fmt: skip
        frames.append(frame.assign(model=[f"acc={a:g}" for a in accuracies]))
    return pd.concat(frames, ignore_index=True)


def plan_from_fit(
    fit_dir: str | Path,
    *,
    trend: str | None = None,
    lengths: Sequence[int] | None = None,
    prob: float = 0.95,
    halfwidth: float = 0.05,
    max_items: int = MAX_ITEMS,
    items: int | None = None,
) -> pd.DataFrame:
    """Items needed at every fitted scale and length, from a saved fit's posterior.

    Parameters
    ----------
    fit_dir
        Folder written by ``mirage-bayes fit``.
    trend
        Trend whose posterior to use; default the power law (the smooth law), else the first of
        :data:`TREND_PREFERENCE` the task has.
    lengths
        Target lengths; default those of the fit (data and ``--lengths``).
    prob, halfwidth, max_items
        Criteria (a) and (b) and the largest test set considered.
    items
        Items at hand: adds the attempts per item they need (:mod:`mirage_bayes.plan.attempts`).
    """
    fits = load_fit(fit_dir)
    criteria = (prob, halfwidth, max_items)
    rows = []
    for task in dict.fromkeys(f["task"] for f in fits):
        by_trend = {f["trend"]: f for f in fits if f["task"] == task}
        if trend is not None and trend not in by_trend:
            raise InputError(
                f"task {task!r} has no {trend} fit (it has {', '.join(sorted(by_trend))})",
                where=str(fit_dir), fix="choose one of those with --trend",
            )  # fmt: skip
        chosen = trend or next(t for t in (*TREND_PREFERENCE, *by_trend) if t in by_trend)
        fit = by_trend[chosen]
        wanted = list(lengths) if lengths else fit["lengths"]
        draws = population_quantities(fit["mu"], fit["sigma"], wanted, item_shape=fit["item_shape"])
        for s, model in enumerate(fit["models"]):
            for j, length in enumerate(wanted):
                labels = (task, chosen, model, float(fit["n_params"][s]))
                epsilon, accuracy = draws["epsilon"][:, s], draws["accuracy"][:, s, j]
                extra = (
                    None if items is None
                    else (fit["mu"][:, s], fit["sigma"], items, fit["item_shape"])
                )  # fmt: skip
                rows.append(_cell(labels, length, epsilon, accuracy, criteria, extra))
    return _frame(rows)


# --- output ------------------------------------------------------------------------------------


def _count(value, cap: int) -> str:
    return f"> {cap:,}" if pd.isna(value) else f"{int(value):,}"


def format_plan(plan: pd.DataFrame, *, prob: float, halfwidth: float) -> str:
    """The plan as an aligned plain-text table (text left, numbers right)."""

    headers = ["task", "model", "parameters", "L", "ε", "accuracy"]
    headers += [f"items for P(≥1 correct) ≥ {prob:g}", f"items for HDI half-width ≤ {halfwidth:g}"]
    with_attempts = "attempts_any_correct" in plan
    if with_attempts:
        headers += ["items × attempts for P(≥1 correct)", "resolves",
                    f"attempts for one item's first success (P ≥ {prob:g})"]  # fmt: skip
    body = []
    for r in plan.itertuples(index=False):
        row = [
            str(r.task), str(r.model), format_params(r.n_params), str(r.length),
            format_number(r.epsilon), format_number(r.accuracy),
            _count(r.items_any_correct, r.max_items), _count(r.items_halfwidth, r.max_items),
        ]  # fmt: skip
        if with_attempts:
            design = f"{r.items:,} × {_count(r.attempts_any_correct, MAX_ATTEMPTS)}"
            row += [design, format_number(r.floor_attempts),
                    _count(r.attempts_first_success, MAX_ATTEMPTS)]  # fmt: skip
        body.append(row)
    widths = [max(len(row[i]) for row in [headers, *body]) for i in range(len(headers))]
    left = {0, 1}
    lines = []
    for row in [headers, *body]:
        cells = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def plot_plan(plan: pd.DataFrame, *, prob: float = 0.95, halfwidth: float = 0.05) -> Figure:
    """Items needed against scale on log–log axes: a row per task, a column per criterion.

    One line per target length. The x axis is the parameter count, or the per-token error rate
    (decreasing to the right, as with growing models) for hypothetical scales without sizes.
    Cells past ``max_items`` are drawn as open triangles at the cap.
    """
    tasks = list(dict.fromkeys(plan["task"]))
    fig = new_figure(figsize=(10.0, 3.6 * len(tasks)))
    axes = fig.subplots(len(tasks), 2, squeeze=False)
    titles = (f"P(≥1 correct) ≥ {prob:g}", f"expected 94% HDI half-width ≤ {halfwidth:g}")
    for row, task in zip(axes, tasks, strict=True):
        rows = plan[plan["task"] == task]
        by_size = bool(np.isfinite(rows["n_params"].astype(float)).all())
        x_column = "n_params" if by_size else "epsilon"
        for ax, column, title in zip(
            row, ("items_any_correct", "items_halfwidth"), titles, strict=True
        ):
            for i, (length, cells) in enumerate(rows.groupby("length", sort=True)):
                cells = cells.sort_values(x_column)
                x = cells[x_column].to_numpy(float)
                y = cells[column].astype("Float64").to_numpy(float, na_value=np.nan)
                ax.plot(x, y, "o-", color=f"C{i % 10}", ms=4, label=f"L = {length}")
                capped = np.isnan(y)
                if capped.any():
                    cap = cells["max_items"].to_numpy(float)[capped]
                    ax.plot(x[capped], cap, "^", mfc="none", color=f"C{i % 10}", ms=7)
            ax.set(xscale="log", yscale="log", ylabel="test items needed")
            ax.set_xlabel("parameters" if by_size else "per-token error rate ε (larger models →)")
            if not by_size:
                ax.invert_xaxis()
            ax.set_title(f"{task}: {title}", fontsize="medium")
            ax.legend(fontsize="x-small")
    return fig
