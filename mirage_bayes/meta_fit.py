"""Fit the smooth (and broken) law to one triplet and compute its posterior predictive p-value.

Speed comes from compiling each model once per process: :func:`compiled_model` keeps nutpie's
compiled model (Numba backend) in a module-level dict keyed by (kind, trend) and every triplet
only swaps the data in (``CompiledPyMCModel.with_data``), which copies a few arrays. Compiling
takes seconds per model, sampling a 2-parameter curve then tens of milliseconds
(``bench/bench_meta.py`` measures both). A Dask or process-pool worker imports this module once
and so compiles once.

Reproducibility: each triplet's sampler seeds and its replicate stream come from
``SeedSequence([seed, *bytes(family, task, metric)])``, so a triplet gets the same numbers
whichever process, worker or batch runs it, and whatever other triplets are in the table.

The posterior predictive p-value is one-sided towards "more emergent"::

    ppp = P(score(y_rep) ≥ score(y_obs) | smooth law, data)

with ``y_rep`` drawn at the observed test-set sizes (finite ``n``), so a small ppp says the
observed curve is more abrupt than the fitted smooth law makes curves of this size look.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mirage_bayes.emergence import (
    DEFAULT_THRESHOLD,
    continuous_resolution,
    emergence_score,
    proportion_resolution,
)
from mirage_bayes.inference import Diagnostics
from mirage_bayes.meta_io import Triplet

_COMPILED: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()  # Dask workers may run several threads in one process
COMPILE_COUNT: Counter = Counter()  # compilations in this process, per (kind, trend)


@dataclass(frozen=True)
class MetaConfig:
    """Sampler and analysis settings shared by every triplet."""

    draws: int = 800
    tune: int = 300
    chains: int = 2
    seed: int = 0
    threshold: float = DEFAULT_THRESHOLD
    broken: bool = True
    target_accept: float = 0.9

    def to_dict(self) -> dict:
        """Plain dict, for JSON."""
        return asdict(self)


def compiled_model(kind: str, trend: str):
    """nutpie's compiled model for (kind, trend), compiled on first use in this process."""
    key = (kind, trend)
    with _LOCK:
        if key not in _COMPILED:
            import nutpie

            from mirage_bayes.models.aggregate import build_model

            _COMPILED[key] = nutpie.compile_pymc_model(build_model(kind, trend), backend="numba")
            COMPILE_COUNT[key] += 1
        return _COMPILED[key]


def triplet_seeds(seed: int, key: tuple[str, str, str]) -> np.ndarray:
    """Four 63-bit seeds for one triplet (smooth sampler, broken sampler, replicates, spare)."""
    words = "\x00".join(key).encode()
    state = np.random.SeedSequence([seed, *words]).generate_state(4, dtype=np.uint64)
    return state >> np.uint64(1)


def model_data(triplet: Triplet) -> dict[str, np.ndarray]:
    """The arrays handed to the compiled model (and to the NumPy likelihood)."""
    data = {"x": triplet.x.astype(float)}
    if triplet.kind == "proportion":
        data["k"] = triplet.counts.astype(float)
        data["n"] = triplet.n_items.astype(float)
        data["chance"] = np.array([triplet.chance])
    else:
        y = triplet.oriented
        data["z"] = (y - y.mean()) / y.std()
    from mirage_bayes.models.aggregate import information_center

    data["x_center"] = np.array([information_center(triplet.kind, data)])
    return data


def sample_posterior(
    kind: str,
    trend: str,
    data: dict[str, np.ndarray],
    config: MetaConfig,
    seed: int,
) -> tuple[dict[str, np.ndarray], Diagnostics]:
    """Draws of every parameter (chains stacked) and their convergence diagnostics.

    The diagnostics look at what the results are computed from: the fitted curve (success
    probability, or mean and noise scale) at the observed sizes — the smallest and largest for
    the power law, whose two parameters they determine, every size for the broken law.
    Parameters themselves can be unidentified without harm: a curve without a break leaves the
    break location free, and a curve at chance level leaves intercept and slope free along a
    ridge where the probability hardly moves. (Such near-chance curves still mix slowly in the
    probability too, and are reported: on BIG-G's multiple-choice tasks this is the common
    diagnostic warning.)
    """
    import nutpie

    from mirage_bayes.models.aggregate import parameter_names

    model = compiled_model(kind, trend).with_data(**data)
    trace = nutpie.sample(
        model, draws=config.draws, tune=config.tune, chains=config.chains, cores=1,
        seed=int(seed), progress_bar=False, return_raw_trace=True, save_warmup=False,
        target_accept=config.target_accept,
        # The broken law's parameters stay correlated (slope, departure and break trade off);
        # a low-rank mass-matrix update about halves its leapfrog steps. The power law, with
        # its intercept at the information centre, does as well with the cheaper diagonal one.
        low_rank_modified_mass_matrix=trend == "broken_power_law",
        # Only the draws and a few statistics are read: storing the unconstrained draw, the
        # gradient and the mass matrix at every draw cost ~15% of the sampling time.
        store_unconstrained=False, store_gradient=False, store_mass_matrix=False,
    )  # fmt: skip
    draw_batches, stat_batches = trace.get_arrow_trace()
    keep = [~_column(batch, "tuning") for batch in stat_batches]
    names = parameter_names(kind, trend)
    by_chain = {
        name: np.stack([_column(b, name)[k] for b, k in zip(draw_batches, keep, strict=True)])
        for name in names
    }
    divergences = sum(
        int(_column(b, "diverging")[k].sum()) for b, k in zip(stat_batches, keep, strict=True)
    )
    posterior = {n: v.reshape(-1) for n, v in by_chain.items()}
    return posterior, _diagnostics(_fitted_by_chain(kind, trend, posterior, data, config),
                                   divergences)  # fmt: skip


def _fitted_by_chain(kind, trend, posterior, data, config) -> dict[str, np.ndarray]:
    """The fitted curve at the sizes the diagnostics check, shaped (chain, draw)."""
    from mirage_bayes.models.aggregate import eta_draws, success_probability

    n_sizes = data["x"].size
    sizes = range(n_sizes) if trend == "broken_power_law" else sorted({0, n_sizes - 1})
    eta = eta_draws(kind, trend, posterior, data).reshape(config.chains, -1, n_sizes)
    if kind == "proportion":
        eta = success_probability(eta, float(data["chance"][0]))
    fitted = {f"fitted_{s}": eta[..., s] for s in sizes}
    if "sigma" in posterior:
        fitted["sigma"] = posterior["sigma"].reshape(config.chains, -1)
    return fitted


def _column(batch, name: str) -> np.ndarray:
    """One column of nutpie's raw (Arrow) trace as a NumPy array."""
    import pyarrow

    return pyarrow.array(batch.column(name)).to_numpy(zero_copy_only=False)


def _diagnostics(by_chain: dict[str, np.ndarray], divergences: int) -> Diagnostics:
    import arviz as az

    # A quantity that does not move at all (a probability pinned at the chance floor to machine
    # precision) has converged trivially; r̂ and ESS are undefined for it.
    moving = [v for v in by_chain.values() if np.ptp(v) > 0]
    rhat = max((float(az.rhat(v)) for v in moving), default=1.0)
    size = next(iter(by_chain.values())).size
    ess = min((float(az.ess(v, method="bulk")) for v in moving), default=float(size))
    return Diagnostics(max_rhat=rhat, min_ess_bulk=ess, divergences=divergences)


def _psis_elpd(loglik: np.ndarray) -> tuple[np.ndarray, float]:
    """Pointwise PSIS-LOO elpd (per scale) and the largest Pareto k (ArviZ ``psislw``)."""
    import arviz as az
    from scipy.special import logsumexp

    log_weights, k_hat = az.psislw(-loglik.T)  # last axis: draws
    elpd = logsumexp(log_weights + loglik.T, axis=-1)
    return elpd, float(np.max(k_hat))


def fit_triplet(triplet: Triplet, config: MetaConfig) -> dict[str, Any]:
    """Emergence score, smooth-law ppp, null exceedances and broken-vs-smooth LOO of one triplet.

    Returns
    -------
    dict
        Plain values (picklable): ``emergence_score``, ``ppp``, ``p_above_null`` (share of
        replicates above the threshold), ``above_null`` (one bool per draw, packed with
        ``numpy.packbits``), ``elpd_diff_broken``, ``dse``, ``pareto_k_max``, diagnostics,
        the smooth fit's curve at the observed sizes and a ``note`` when it was not fitted.
    """
    from mirage_bayes.models.aggregate import (
        MIN_SCALES,
        eta_draws,
        pointwise_loglik,
        replicate,
        success_probability,
    )

    y = triplet.oriented
    proportion = triplet.kind == "proportion"
    out: dict[str, Any] = {
        "family": triplet.family, "task": triplet.task, "metric": triplet.metric,
        "kind": triplet.kind, "n_scales": triplet.n_scales,
        "n_items_min": int(triplet.n_items.min()) if proportion else None,
        "emergence_score": np.nan, "ppp": np.nan, "p_above_null": np.nan, "above_null": None,
        "elpd_diff_broken": np.nan, "dse": np.nan, "pareto_k_max": np.nan, "note": "",
    }  # fmt: skip
    if triplet.n_scales < 2:
        out["note"] = "fewer than 2 sizes: no emergence score"
        return out
    if not proportion and np.ptp(y) == 0:
        # A constant continuous curve scores 0 and has no noise scale to estimate.
        out.update(emergence_score=0.0, ppp=1.0, note="constant curve: score 0, not fitted")
        return out
    data = model_data(triplet)
    observed = y if proportion else data["z"]
    resolution = (
        proportion_resolution(triplet.n_items) if proportion else continuous_resolution(observed)
    )
    out["emergence_score"] = float(emergence_score(observed, resolution))
    if triplet.n_scales < MIN_SCALES["power_law"]:
        out["note"] = f"{triplet.n_scales} sizes: the smooth law needs 3"
        return out
    seeds = triplet_seeds(config.seed, triplet.key)
    rng = np.random.default_rng(seeds[2])
    posterior, diag = sample_posterior(triplet.kind, "power_law", data, config, seeds[0])
    eta = eta_draws(triplet.kind, "power_law", posterior, data)
    reps = replicate(triplet.kind, eta, posterior, data, rng)
    rep_scores = emergence_score(reps, resolution)
    above = rep_scores > config.threshold
    out.update(
        ppp=float(np.mean(rep_scores >= out["emergence_score"])),
        p_above_null=float(above.mean()),
        above_null=np.packbits(above),
        n_draws=int(above.size),
        smooth_max_rhat=diag.max_rhat,
        smooth_min_ess_bulk=diag.min_ess_bulk,
        smooth_divergences=diag.divergences,
        smooth_ok=diag.ok,
    )
    fitted = success_probability(eta, triplet.chance) if proportion else eta
    low, high = np.quantile(fitted, [0.03, 0.97], axis=0)
    out["curve"] = {
        "kind": triplet.kind, "n_params": triplet.n_params.tolist(), "observed": observed.tolist(),
        "mean": fitted.mean(axis=0).tolist(), "low": low.tolist(), "high": high.tolist(),
    }  # fmt: skip
    if config.broken and triplet.n_scales >= MIN_SCALES["broken_power_law"]:
        smooth_ll = pointwise_loglik(triplet.kind, eta, posterior, data)
        post_b, diag_b = sample_posterior(triplet.kind, "broken_power_law", data, config, seeds[1])
        eta_b = eta_draws(triplet.kind, "broken_power_law", post_b, data)
        broken_ll = pointwise_loglik(triplet.kind, eta_b, post_b, data)
        elpd_s, k_s = _psis_elpd(smooth_ll)
        elpd_b, k_b = _psis_elpd(broken_ll)
        diff = elpd_b - elpd_s
        out.update(
            elpd_diff_broken=float(diff.sum()),
            dse=float(np.sqrt(diff.size * np.var(diff))),
            pareto_k_max=max(k_s, k_b),
            broken_max_rhat=diag_b.max_rhat,
            broken_min_ess_bulk=diag_b.min_ess_bulk,
            broken_divergences=diag_b.divergences,
            broken_ok=diag_b.ok,
        )
    return out


def run_batch(triplets: list[Triplet], config: MetaConfig) -> list[dict[str, Any]]:
    """Fit a batch of triplets in this process (the unit of work of a pool or Dask worker)."""
    import logging
    import warnings

    logging.getLogger("pymc").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        # ArviZ warns on every short or constant chain; the diagnostics carry that information.
        warnings.simplefilter("ignore")
        return [fit_triplet(t, config) for t in triplets]
