"""Sampling the laws of :mod:`mirage_bayes.meta.laws` for one curve: compile once, swap data,
retry what fails its diagnostics, and leave-one-size-out where PSIS cannot be trusted.

Speed comes from compiling each model once per process: :func:`compiled_model` keeps nutpie's
compiled model (Numba backend) in a module-level dict keyed by (kind, trend) and every fit only
swaps the data in (``CompiledPyMCModel.with_data``), which copies a few arrays. The same compiled
model fits a curve, its smaller sizes alone (the leave-future-out forecast) and the curve less one
size (exact leave-one-out), because PyTensor's shared data have a dynamic length.

Adaptive sampling: a fit whose r̂, bulk ESS or divergences fail (:class:`Diagnostics`) is run
again with twice the tuning steps and draws, a higher target acceptance rate
(``RETRY_TARGET_ACCEPT``: smaller steps, the usual cure for divergences) and a fresh seed, up to
``config.retries`` times; the last fit is kept and its diagnostics reported.

Reproducibility: every triplet's seeds come from ``SeedSequence([seed, *bytes(family, task,
metric)])``, so a triplet gets the same numbers whichever process, worker or batch runs it.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, replace
from typing import Any

import arviz as az
import numpy as np
import nutpie
import pyarrow
from scipy.special import logsumexp

from mirage_bayes.fitting.inference import Diagnostics
from mirage_bayes.meta.emergence import DEFAULT_THRESHOLD
from mirage_bayes.meta.grid import grid_posterior
from mirage_bayes.meta.io import Triplet
from mirage_bayes.meta.laws import (
    build_model,
    curve_draws,
    fitted_value,
    information_center,
    parameter_names,
    pointwise_loglik,
)
from mirage_bayes.seeds import seed_sequence
from mirage_bayes.settings import (
    BROKEN_TREND,
    LATE_ALPHA,
    META_CHAINS,
    META_DRAWS,
    META_RETRIES,
    META_TUNE,
    RETRY_TARGET_ACCEPT,
    SMOOTH_TREND,
)

__all__ = [
    "COMPILE_COUNT", "MetaConfig", "compiled_model", "model_data", "sample_posterior",
    "subset", "triplet_seeds", "psis_elpd", "exact_elpd",
]  # fmt: skip

_COMPILED: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()  # Dask workers may run several threads in one process
COMPILE_COUNT: Counter = Counter()  # compilations in this process, per (kind, trend)
REFIT_DRAWS = 2  # exact leave-one-out refits: tune and draws // REFIT_DRAWS per chain first
REFIT_MCSE_MAX = 0.05  # largest Monte Carlo standard error of a refit's held-out elpd
PARETO_K_MAX = 0.7
_MODEL_INPUTS = {
    "proportion": ("x", "x_center", "k", "n", "chance"),
    "continuous": ("x", "x_center", "z", "floor"),
    "loss": ("x", "x_center", "ell", "floor"),
}
_PER_SIZE = ("x", "k", "n", "z", "ell", "floor")


@dataclass(frozen=True)
class MetaConfig:
    """Sampler and analysis settings shared by every triplet.

    The defaults (4 chains × 500 draws after 500 tuning steps, two adaptive retries) are those
    under which the bundled BIG-G and Pythia tables pass r̂ ≤ 1.01, bulk ESS ≥ 400 and no
    divergences (README, "Diagnostics").
    """

    draws: int = META_DRAWS
    tune: int = META_TUNE
    chains: int = META_CHAINS
    seed: int = 0
    threshold: float = DEFAULT_THRESHOLD
    broken: bool = True
    target_accept: float = 0.9
    retries: int = META_RETRIES
    late_alpha: float = LATE_ALPHA
    # "grid": a proportion's power law from its exact grid posterior (mirage_bayes.meta.grid),
    # nothing compiled; every other model, and every model with "nuts", by NUTS (nutpie).
    sampler: str = "nuts"

    def to_dict(self) -> dict:
        """Plain dict, for JSON."""
        return asdict(self)


def compiled_model(kind: str, trend: str):
    """nutpie's compiled model for (kind, trend), compiled on first use in this process."""
    key = (kind, trend)
    with _LOCK:
        if key not in _COMPILED:
            _COMPILED[key] = nutpie.compile_pymc_model(build_model(kind, trend), backend="numba")
            COMPILE_COUNT[key] += 1
        return _COMPILED[key]


def triplet_seeds(seed: int, key: tuple[str, str, str]) -> np.ndarray:
    """Eight 63-bit seeds for one triplet (fits, replicates, refits)."""
    state = seed_sequence(seed, key).generate_state(8, dtype=np.uint64)
    return state >> np.uint64(1)


def model_data(triplet: Triplet) -> dict[str, np.ndarray]:
    """The arrays of the model at every size, plus ``center``/``scale`` (continuous, loss) that
    map the model's scale back to the analysis scale (:func:`~.meta_models.to_value`)."""
    data = {"x": triplet.x.astype(float)}
    if triplet.kind == "proportion":
        data["k"] = triplet.counts.astype(float)
        data["n"] = triplet.n_items.astype(float)
        data["chance"] = np.array([triplet.chance])
    elif triplet.kind == "continuous":
        v, floor = triplet.value, np.asarray(triplet.floor, float)
        center, scale = float(v.mean()), max(float(v.std()), float(np.median(floor)), 1e-12)
        data |= {"z": (v - center) / scale, "floor": floor / scale,
                 "center": np.array([center]), "scale": np.array([scale])}  # fmt: skip
    else:
        ell = np.log(triplet.values)
        center = float(ell.mean())
        data |= {"ell": ell - center, "floor": np.asarray(triplet.floor, float),
                 "center": np.array([center]), "scale": np.array([1.0])}  # fmt: skip
    data["x_center"] = np.array([information_center(triplet.kind, data)])
    return data


def subset(kind: str, data: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    """The data at the sizes ``keep`` (indices or mask), with its own intercept centre."""
    out = {k: (v[keep] if k in _PER_SIZE else v) for k, v in data.items()}
    out["x_center"] = np.array([information_center(kind, out)])
    return out


def at_sizes(data: dict[str, np.ndarray], x_center: float) -> dict[str, np.ndarray]:
    """The full data with another fit's intercept centre (to evaluate that fit everywhere)."""
    return {**data, "x_center": np.array([x_center])}


def _once(kind, trend, data, config: MetaConfig, seed: int, tune: int, draws: int,
          target_accept: float):  # fmt: skip
    inputs = {k: data[k] for k in _MODEL_INPUTS[kind]}
    model = compiled_model(kind, trend).with_data(**inputs)
    trace = nutpie.sample(
        model, draws=draws, tune=tune, chains=config.chains, cores=1, seed=int(seed),
        progress_bar=False, return_raw_trace=True, save_warmup=False,
        target_accept=target_accept,
        # The broken law's parameters stay correlated (slope, departure and break trade off);
        # a low-rank mass-matrix update about halves its leapfrog steps.
        low_rank_modified_mass_matrix=trend == BROKEN_TREND,
        store_unconstrained=False, store_gradient=False, store_mass_matrix=False,
    )  # fmt: skip
    draw_batches, stat_batches = trace.get_arrow_trace()
    keep = [~_column(batch, "tuning") for batch in stat_batches]
    by_chain = {
        name: np.stack([_column(b, name)[k] for b, k in zip(draw_batches, keep, strict=True)])
        for name in parameter_names(kind, trend)
    }
    divergences = sum(
        int(_column(b, "diverging")[k].sum()) for b, k in zip(stat_batches, keep, strict=True)
    )
    posterior = {n: v.reshape(-1) for n, v in by_chain.items()}
    fitted = _fitted_by_chain(kind, trend, posterior, data, config.chains)
    return posterior, _diagnostics(fitted, divergences)


def sample_posterior(
    kind: str,
    trend: str,
    data: dict[str, np.ndarray],
    config: MetaConfig,
    seed: int,
) -> tuple[dict[str, np.ndarray], Diagnostics, int]:
    """Draws of every parameter (chains stacked), their diagnostics and the number of attempts.

    The diagnostics look at what the results are computed from: the fitted curve at the
    observed sizes (the smallest and largest for the power law, whose two parameters they
    determine, every size for the broken law) and the noise scale. Parameters themselves can
    be unidentified without harm: a curve without a break leaves the break location free.
    A fit that fails is rerun with more tuning and draws (module docstring).
    """
    if config.sampler == "grid" and (kind, trend) == ("proportion", SMOOTH_TREND):
        rng = np.random.default_rng(seed)
        return (*grid_posterior(data, config.draws * config.chains, rng), 1)
    for attempt in range(config.retries + 1):
        scale = 2**attempt
        accept = (config.target_accept, *RETRY_TARGET_ACCEPT)[min(attempt, 2)]
        accept = max(accept, config.target_accept)
        tune, draws = config.tune * scale, config.draws * scale
        posterior, diag = _once(kind, trend, data, config, seed + attempt, tune, draws, accept)
        if diag.ok:
            break
    return posterior, diag, attempt + 1


def _fitted_by_chain(kind, trend, posterior, data, chains: int) -> dict[str, np.ndarray]:
    """The fitted curve at the sizes the diagnostics check, shaped (chain, draw)."""
    n_sizes = data["x"].size
    sizes = range(n_sizes) if trend == BROKEN_TREND else sorted({0, n_sizes - 1})
    curve = fitted_value(kind, curve_draws(kind, trend, posterior, data), data)
    curve = curve.reshape(chains, -1, n_sizes)
    fitted = {f"fitted_{s}": curve[..., s] for s in sizes}
    if "sigma" in posterior:
        fitted["sigma"] = posterior["sigma"].reshape(chains, -1)
    return fitted


def _column(batch, name: str) -> np.ndarray:
    """One column of nutpie's raw (Arrow) trace as a NumPy array."""
    return pyarrow.array(batch.column(name)).to_numpy(zero_copy_only=False)


def _diagnostics(by_chain: dict[str, np.ndarray], divergences: int) -> Diagnostics:
    # A quantity that does not move at all (a probability pinned at the chance floor to machine
    # precision) has converged trivially; r̂ and ESS are undefined for it.
    moving = [v for v in by_chain.values() if np.ptp(v) > 1e-12 * max(1.0, np.abs(v).max())]
    rhat = max((float(az.rhat(v)) for v in moving), default=1.0)
    size = next(iter(by_chain.values())).size
    ess = min((float(az.ess(v, method="bulk")) for v in moving), default=float(size))
    return Diagnostics(max_rhat=rhat, min_ess_bulk=ess, divergences=divergences)


def psis_elpd(loglik: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise PSIS-LOO elpd and Pareto k per size (ArviZ ``psislw``).

    A size whose log-likelihood hardly moves between draws (less than 1e-9) has uniform
    importance weights: its leave-one-out density is the plain average, k is set to 0.
    """
    log_weights, k_hat = az.psislw(-loglik.T)  # last axis: draws
    elpd = logsumexp(log_weights + loglik.T, axis=-1)
    k_hat = np.asarray(k_hat, float)
    still = np.ptp(loglik, axis=0) < 1e-9
    if still.any():
        elpd[still] = logsumexp(loglik[:, still], axis=0) - np.log(loglik.shape[0])
        k_hat[still] = 0.0
    return elpd, k_hat


def exact_elpd(
    kind: str,
    trend: str,
    data: dict[str, np.ndarray],
    size: int,
    config: MetaConfig,
    seed: int,
) -> tuple[float, float, bool]:
    """Exact leave-one-size-out: refit without ``size`` and score its observation.

    A refit only feeds ``elpd_i = log mean_draws p(y_size | θ)``, so it is judged by what matters
    for that number: divergences, and the Monte Carlo standard error of ``elpd_i`` (from the bulk
    ESS of ``p(y_size | θ)`` over the chains). It runs first with half the tuning steps and draws
    (``REFIT_DRAWS``), and once more with the full ones when there are divergences or the
    standard error exceeds ``REFIT_MCSE_MAX``. (A size the other sizes predict badly has a
    heavy-tailed ``p(y_size | θ)``: its ``elpd_i`` is far below the others and its standard
    error can stay above the target; the caller adds these errors up and compares them with
    the LOO difference's standard error.)

    Returns
    -------
    (float, float, bool)
        ``elpd_i``, its Monte Carlo standard error and whether the refit had divergences.
    """
    keep = np.arange(data["x"].size) != size
    part = subset(kind, data, keep)
    held = subset(kind, data, np.array([size]))
    held["x_center"] = part["x_center"]
    for attempt, divide in enumerate((REFIT_DRAWS, 1)):
        refit = replace(config, retries=0, draws=max(config.draws // divide, 100),
                        tune=max(config.tune // divide, 100))  # fmt: skip
        posterior, diag = _once(kind, trend, part, refit, seed + attempt, refit.tune,
                                refit.draws, config.target_accept)  # fmt: skip
        curve = curve_draws(kind, trend, posterior, held)
        loglik = pointwise_loglik(kind, curve, posterior, held)[:, 0]
        elpd = float(logsumexp(loglik) - np.log(loglik.size))
        mcse = _elpd_mcse(loglik, config.chains)
        if diag.divergences == 0 and mcse <= REFIT_MCSE_MAX:
            break
    return elpd, mcse, diag.divergences > 0


def _elpd_mcse(loglik: np.ndarray, chains: int) -> float:
    """Monte Carlo standard error of ``log mean exp(loglik)`` (delta method, bulk ESS)."""
    density = np.exp(loglik - loglik.max())
    mean = float(density.mean())
    if not mean > 0 or np.ptp(density) == 0:
        return 0.0
    ess = float(az.ess(density.reshape(chains, -1), method="bulk"))
    return float(density.std() / np.sqrt(max(ess, 1.0)) / mean)
