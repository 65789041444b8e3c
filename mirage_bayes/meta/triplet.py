"""Everything ``mirage-bayes meta`` computes for one triplet.

1. The paper's emergence score (Eq. 1, :mod:`mirage_bayes.meta.emergence`), kept for comparability,
   with its resolution: one item for a proportion, the noise floor otherwise.
2. The smooth law (:mod:`mirage_bayes.meta.laws`) fitted to every size: the posterior
   predictive p-value of the score, ``ppp = P(score(y_rep) ≥ score(y_obs))``, and for every
   draw whether a replicate scores above the threshold (the Eq. 1 null count).
3. The claim itself — sharp and unpredictable from smaller models — as a leave-future-out check:
   the smooth law fitted to all but the ``h`` largest sizes forecasts them (posterior
   predictive, at the observed test-set sizes) and two one-sided posterior predictive p-values
   ``P(T_rep ≥ T_obs)``: the *level*, ``T`` = the mean of the ``h`` largest sizes on the analysis
   scale (higher than forecast), and the *surprise*, ``T = −log p(y_largest | y_smaller)`` (the
   posterior predictive density, which also sees a jump between the two largest sizes that no
   smooth law makes), signed by whether their mean lies above (+) or below (−) the forecast
   median. ``p_late = min(1, 2·min(p_level, p_surprise))`` (Bonferroni). With the shape rules of
   :mod:`mirage_bayes.meta.classify` it gives the triplet's class, and for every draw whether
   the forecast replicate would have been classed a late jump (the late-jump null count, given
   the triplet's smaller sizes).
4. With ≥ 5 sizes, the broken power law and the LOO difference ``elpd(broken) − elpd(smooth)``:
   PSIS-LOO per size, and an exact leave-one-size-out refit of both laws for every size whose
   Pareto k exceeds 0.7 (up to ``EXACT_LOO_MAX_SIZES`` sizes), so that no unreliable PSIS term
   is left in a reported comparison.

Every cell left empty gets its reason in ``note``.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
from scipy.special import logsumexp

from mirage_bayes.meta.classify import (
    MIN_SIZES_LATE,
    classify,
    has_drop,
    late_shape,
    n_future,
    proportion_se,
)
from mirage_bayes.meta.emergence import emergence_score
from mirage_bayes.meta.fit import (
    PARETO_K_MAX,
    MetaConfig,
    at_sizes,
    exact_elpd,
    model_data,
    psis_elpd,
    sample_posterior,
    subset,
    triplet_seeds,
)
from mirage_bayes.meta.io import Triplet
from mirage_bayes.meta.laws import (
    MIN_SCALES,
    curve_draws,
    fitted_value,
    log_predictive,
    pointwise_loglik,
    replicate,
    to_oriented,
    to_value,
)
from mirage_bayes.settings import BROKEN_TREND, SMOOTH_TREND

__all__ = ["fit_triplet", "run_batch", "EXACT_LOO_MAX_SIZES", "NO_BROKEN_NOTE"]

EXACT_LOO_MAX_SIZES = 12
NO_BROKEN_NOTE = "broken law not fitted (--no-broken)"
LOO_MCSE_SHARE = 0.25  # refits' Monte Carlo error above this share of dse is noted
BAND = (0.03, 0.97)


def _base(triplet: Triplet) -> dict[str, Any]:
    proportion = triplet.kind == "proportion"
    return {
        "family": triplet.family, "task": triplet.task, "metric": triplet.metric,
        "kind": triplet.kind, "n_scales": triplet.n_scales,
        "n_items_min": int(triplet.n_items.min()) if proportion else None,
        "n_replicates": triplet.n_replicates, "chance": triplet.chance if proportion else None,
        "emergence_score": np.nan, "ppp": np.nan, "p_above_null": np.nan, "above_null": None,
        "p_late": np.nan, "late_null": None, "class": "not_analysed",
        "elpd_diff_broken": np.nan, "dse": np.nan, "pareto_k_max": np.nan, "loo_refits": 0,
        "notes": [triplet.floor_note] if triplet.floor_note else [],
    }  # fmt: skip


def fit_triplet(triplet: Triplet, config: MetaConfig) -> dict[str, Any]:
    """Emergence score, smooth-law ppp, late-jump check, class and LOO comparison of a triplet.

    Returns
    -------
    dict
        Plain values (picklable). ``above_null`` and ``late_null`` are one bool per draw,
        packed with ``numpy.packbits`` (``n_draws`` long); ``curve`` holds what the report
        plots; ``note`` says why any cell is empty.
    """
    out = _base(triplet)
    notes = out.pop("notes")
    try:
        _fill(triplet, config, out, notes)
    finally:
        out["note"] = "; ".join(n for n in notes if n)
    return out


def _fill(triplet: Triplet, config: MetaConfig, out: dict, notes: list[str]) -> None:
    kind, n_sizes = triplet.kind, triplet.n_scales
    v, se = triplet.value, triplet.value_se
    if n_sizes < 2:
        notes.append("fewer than 2 sizes: nothing to compare")
        return
    if kind != "proportion" and np.ptp(triplet.values) == 0:
        out.update(emergence_score=0.0, ppp=1.0, p_late=1.0, **{"class": "flat"})
        notes.append("constant curve: score 0, not fitted")
        return
    out["emergence_score"] = float(emergence_score(triplet.oriented, triplet.resolution))
    out["class"] = classify(v, se, None)
    if n_sizes < MIN_SCALES[SMOOTH_TREND]:
        notes.append(f"{n_sizes} sizes: the smooth law needs 3 (no ppp, no late-jump check)")
        return
    seeds = triplet_seeds(config.seed, triplet.key)
    data = model_data(triplet)
    posterior, diag, attempts = sample_posterior(kind, SMOOTH_TREND, data, config, int(seeds[0]))
    curve = curve_draws(kind, SMOOTH_TREND, posterior, data)
    reps = replicate(kind, curve, posterior, data, np.random.default_rng(seeds[2]))
    rep_scores = emergence_score(to_oriented(kind, reps, data), triplet.resolution)
    above = _thin(rep_scores > config.threshold, config)
    fitted = fitted_value(kind, curve, data)
    out.update(
        ppp=float(np.mean(rep_scores >= out["emergence_score"])),
        p_above_null=float(np.mean(rep_scores > config.threshold)),
        above_null=np.packbits(above), n_draws=int(above.size),
        smooth_max_rhat=diag.max_rhat, smooth_min_ess_bulk=diag.min_ess_bulk,
        smooth_divergences=diag.divergences, smooth_ok=diag.ok, smooth_attempts=attempts,
    )  # fmt: skip
    out["curve"] = {
        "kind": kind, "n_params": triplet.n_params.tolist(), "value": v.tolist(),
        "se": se.tolist(), "smooth_mean": fitted.mean(axis=0).tolist(),
        **dict(zip(("smooth_low", "smooth_high"),
                   np.quantile(fitted, BAND, axis=0).tolist(), strict=True)),
    }  # fmt: skip
    if n_sizes >= MIN_SCALES[SMOOTH_TREND] + 1:
        _late(triplet, config, data, seeds, out, notes)
    else:
        notes.append("3 sizes: too few to forecast the largest from the smaller ones")
    if not config.broken:
        notes.append(NO_BROKEN_NOTE)
    elif n_sizes < MIN_SCALES[BROKEN_TREND]:
        notes.append(f"{n_sizes} sizes: the broken law needs {MIN_SCALES[BROKEN_TREND]}")
    else:
        _loo(triplet, config, data, seeds, posterior, curve, out, notes)


def _thin(flags: np.ndarray, config: MetaConfig) -> np.ndarray:
    """``draws × chains`` evenly spaced entries: a retried fit has more draws, and the null
    counts add one entry per draw across triplets."""
    size = config.draws * config.chains
    if flags.size == size:
        return flags
    return flags[np.linspace(0, flags.size - 1, size).round().astype(int)]


def _upper(values: np.ndarray) -> np.ndarray:
    """``P(T ≥ t)`` of each entry among all of them (its p-value against the others)."""
    order = np.sort(values)
    return 1.0 - np.searchsorted(order, values, side="left") / values.size


def _surprise(kind, model_reps, curve, posterior, full, reps, v, h):
    """Signed surprise of the largest ``h`` sizes under the forecast, for the replicates and the
    observation: ``−log p(y_future | smaller sizes)`` (posterior predictive density), with the
    sign of the future mean's side of the forecast median (``+`` above: better than forecast).
    """
    future = subset(kind, full, np.arange(full["x"].size - h, full["x"].size))
    future["x_center"] = full["x_center"]
    name = {"proportion": "k", "continuous": "z", "loss": "ell"}[kind]
    observed = future[name][None, :]
    replicated = model_reps[:, -h:] * (future["n"][None, :] if kind == "proportion" else 1.0)
    both = np.vstack([observed, replicated])
    log_p = log_predictive(kind, both, curve[:, -h:], posterior, future)
    surprise = -(logsumexp(log_p, axis=1) - np.log(log_p.shape[1]))
    means = np.concatenate([[v[-h:].mean()], reps[:, -h:].mean(axis=1)])
    signed = np.where(means >= np.median(reps[:, -h:].mean(axis=1)), surprise, -surprise)
    return signed[1:], signed[0]


def _late(triplet, config: MetaConfig, data, seeds, out: dict, notes: list[str]) -> None:
    """Leave-future-out: forecast the largest sizes from the smaller ones (module docstring)."""
    kind, n_sizes = triplet.kind, triplet.n_scales
    h = n_future(n_sizes)
    past = subset(kind, data, np.arange(n_sizes - h))
    posterior, diag, attempts = sample_posterior(kind, SMOOTH_TREND, past, config, int(seeds[3]))
    full = at_sizes(data, float(past["x_center"][0]))
    curve = curve_draws(kind, SMOOTH_TREND, posterior, full)
    rng = np.random.default_rng(seeds[4])
    model_reps = replicate(kind, curve, posterior, full, rng)
    reps = to_value(kind, model_reps, full)
    v, se = triplet.value, triplet.value_se
    s_rep, s_obs = _surprise(kind, model_reps, curve, posterior, full, reps, v, h)
    m_rep, m_obs = reps[:, -h:].mean(axis=1), v[-h:].mean()
    p_level, p_surprise = float(np.mean(m_rep >= m_obs)), float(np.mean(s_rep >= s_obs))
    p_late = min(1.0, 2.0 * min(p_level, p_surprise))
    out.update(p_late=p_late, p_level=p_level, p_surprise=p_surprise,
               late_max_rhat=diag.max_rhat, late_min_ess_bulk=diag.min_ess_bulk,
               late_divergences=diag.divergences, late_ok=diag.ok,
               late_attempts=attempts)  # fmt: skip
    out["class"] = classify(v, se, p_late, config.late_alpha)
    # The null: each draw's forecast of the largest sizes in place of the observed ones.
    if n_sizes >= MIN_SIZES_LATE and not has_drop(v[:-h], se[:-h]):
        p_rep = np.minimum(1.0, 2.0 * np.minimum(_upper(m_rep), _upper(s_rep)))
        if kind == "proportion":
            se_rep = proportion_se(reps[:, -h:] * data["n"][-h:], data["n"][-h:])
        else:
            se_rep = np.broadcast_to(se[-h:], reps[:, -h:].shape)
        shape = late_shape(v[:-h], se[:-h], reps[:, -h:], se_rep)
        late = (p_rep < config.late_alpha) & shape
    else:
        late = np.zeros(m_rep.size, bool)
        if n_sizes < MIN_SIZES_LATE:
            notes.append(f"{n_sizes} sizes: a steep smooth law and a step look alike below "
                         f"{MIN_SIZES_LATE} (class too_few)")  # fmt: skip
    out["late_null"] = np.packbits(_thin(late, config))
    fitted = fitted_value(kind, curve, full)
    band = np.where(np.arange(n_sizes) >= n_sizes - h, 1, 0)[None, :]
    forecast = np.where(band == 1, reps, fitted)
    out["curve"] |= {
        "n_future": h, "forecast_mean": forecast.mean(axis=0).tolist(),
        **dict(zip(("forecast_low", "forecast_high"),
                   np.quantile(forecast, BAND, axis=0).tolist(), strict=True)),
    }  # fmt: skip


def _loo(triplet, config, data, seeds, posterior, curve, out: dict, notes: list[str]) -> None:
    """Broken vs smooth law: PSIS-LOO per size, exact refits where Pareto k > 0.7."""
    kind, n_sizes = triplet.kind, triplet.n_scales
    smooth_ll = pointwise_loglik(kind, curve, posterior, data)
    post_b, diag_b, attempts = sample_posterior(kind, BROKEN_TREND, data, config,
                                                int(seeds[1]))  # fmt: skip
    curve_b = curve_draws(kind, BROKEN_TREND, post_b, data)
    broken_ll = pointwise_loglik(kind, curve_b, post_b, data)
    out.update(broken_max_rhat=diag_b.max_rhat, broken_min_ess_bulk=diag_b.min_ess_bulk,
               broken_divergences=diag_b.divergences, broken_ok=diag_b.ok,
               broken_attempts=attempts)  # fmt: skip
    if not (np.isfinite(smooth_ll).all() and np.isfinite(broken_ll).all()):
        notes.append("non-finite log-likelihood: no LOO comparison")
        return
    elpd_s, k_s = psis_elpd(smooth_ll)
    elpd_b, k_b = psis_elpd(broken_ll)
    k = np.maximum(k_s, k_b)
    bad = np.flatnonzero(~(k <= PARETO_K_MAX))
    if bad.size and n_sizes > EXACT_LOO_MAX_SIZES:
        notes.append(f"Pareto k > {PARETO_K_MAX} at {bad.size} size(s) and more than "
                     f"{EXACT_LOO_MAX_SIZES} sizes: PSIS-LOO kept, approximate")  # fmt: skip
        out["pareto_k_max"] = float(np.nanmax(k))
    else:
        divergent, variance = 0, 0.0
        for i, size in enumerate(bad):
            seed = int(seeds[5]) + 7919 * i
            for trend, elpd in ((SMOOTH_TREND, elpd_s), (BROKEN_TREND, elpd_b)):
                elpd[size], mcse, diverged = exact_elpd(kind, trend, data, int(size), config,
                                                        seed + (trend != SMOOTH_TREND))  # fmt: skip
                divergent += int(diverged)
                variance += mcse**2
        k[bad] = np.nan
        out["pareto_k_max"] = float(np.nanmax(k)) if np.isfinite(k).any() else np.nan
        out["loo_refits"] = int(bad.size)
        out["loo_refits_failed"] = divergent
        out["loo_mcse"] = float(np.sqrt(variance))
        if bad.size:
            notes.append(f"exact leave-one-size-out at {bad.size} size(s) with Pareto k > "
                         f"{PARETO_K_MAX}" + (f" ({divergent} refit(s) with divergences)"
                                              if divergent else ""))  # fmt: skip
        if not np.isfinite(k).any():
            notes.append("every size refitted exactly: no Pareto k left")
    diff = elpd_b - elpd_s
    dse = float(np.sqrt(diff.size * np.var(diff)))
    out.update(elpd_diff_broken=float(diff.sum()), dse=dse)
    if out.get("loo_mcse", 0.0) > LOO_MCSE_SHARE * dse:
        notes.append(
            f"Monte Carlo error of the exact refits ({out['loo_mcse']:.2g}) is large "
            "next to dse: rerun with more --draws before reading elpd_diff_broken"
        )


def run_batch(triplets: list[Triplet], config: MetaConfig) -> list[dict[str, Any]]:
    """Fit a batch of triplets in this process (the unit of work of a pool or Dask worker)."""
    logging.getLogger("pymc").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        # ArviZ warns on every short or constant chain; the diagnostics carry that information.
        warnings.simplefilter("ignore")
        return [fit_triplet(t, config) for t in triplets]
