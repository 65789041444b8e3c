"""Sampling one task under one trend, and turning the draws into an ArviZ InferenceData.

The PyMC model (:mod:`mirage_bayes.models.generation`) sees only the trend parameters and the
item spread; everything item-level — the pointwise log-likelihood for LOO and the posterior
predictive error counts — is computed afterwards from the draws, in NumPy.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr

from mirage_bayes import __version__
from mirage_bayes.data import TaskData
from mirage_bayes.models import TRENDS
from mirage_bayes.models.generation import (
    build_model,
    item_log_likelihood,
    posterior_predictive_errors,
)

# Stan's diagnostics policy (Vehtari et al. 2021): the thresholds behind every warning.
RHAT_MAX = 1.01
ESS_BULK_MIN = 400


@dataclass(frozen=True)
class SamplerConfig:
    """How to run NUTS. ``seed`` makes a run reproducible draw for draw."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 2
    seed: int = 0
    target_accept: float = 0.9
    progressbar: bool = True

    def to_dict(self) -> dict:
        """Plain dict, for JSON and netCDF attributes."""
        return asdict(self)


@dataclass(frozen=True)
class Diagnostics:
    """Convergence summary of one fit, checked against :data:`RHAT_MAX` and :data:`ESS_BULK_MIN`."""

    max_rhat: float
    min_ess_bulk: float
    divergences: int

    @property
    def ok(self) -> bool:
        """Whether r̂, bulk ESS and divergences all pass."""
        return (
            self.max_rhat <= RHAT_MAX
            and self.min_ess_bulk >= ESS_BULK_MIN
            and self.divergences == 0
        )

    def problems(self) -> list[str]:
        """Human-readable description of every failed check."""
        out = []
        if not self.max_rhat <= RHAT_MAX:
            out.append(f"r̂ up to {self.max_rhat:.3f} (> {RHAT_MAX})")
        if not self.min_ess_bulk >= ESS_BULK_MIN:
            out.append(f"bulk ESS down to {self.min_ess_bulk:.0f} (< {ESS_BULK_MIN})")
        if self.divergences:
            out.append(f"{self.divergences} divergent transitions")
        return out


# Posterior variables computed from the sampled ones: their diagnostics add nothing.
DERIVED = frozenset({"mu", "delta"})


def diagnose(idata: az.InferenceData, var_names: list[str] | None = None) -> Diagnostics:
    """r̂, bulk ESS and divergences of ``var_names`` (default: every sampled parameter)."""
    if var_names is None:
        var_names = [name for name in idata.posterior.data_vars if name not in DERIVED]
    posterior = idata.posterior[var_names]
    rhat = az.rhat(posterior)
    ess = az.ess(posterior, method="bulk")
    max_rhat = max(float(np.nanmax(rhat[v].values)) for v in var_names)
    min_ess = min(float(np.nanmin(ess[v].values)) for v in var_names)
    divergences = int(idata.sample_stats["diverging"].sum())
    return Diagnostics(max_rhat=max_rhat, min_ess_bulk=min_ess, divergences=divergences)


def _seed_for(config: SamplerConfig, data: TaskData, trend: str) -> int:
    # One stream per (task, trend) so adding a task does not change another task's draws.
    words = f"{data.task}\x00{trend}".encode()
    return int(np.random.SeedSequence([config.seed, *words]).generate_state(1)[0])


def sample_trend(data: TaskData, trend_name: str, config: SamplerConfig) -> az.InferenceData:
    """Fit one trend to one task with NUTS.

    Parameters
    ----------
    data
        The task.
    trend_name
        Key of :data:`mirage_bayes.models.TRENDS`.
    config
        Sampler settings.

    Returns
    -------
    arviz.InferenceData
        Groups ``posterior``, ``sample_stats``, ``log_likelihood`` (marginal per item),
        ``posterior_predictive`` and ``observed_data`` (errors per item and scale),
        ``constant_data`` (tokens per item and scale, sizes); model metadata in ``attrs``.
    """
    trend = TRENDS[trend_name]
    model = build_model(data, trend)
    seed = _seed_for(config, data, trend_name)
    # Without a progress bar the caller wants quiet: PyMC's own "Initializing NUTS" lines too.
    pymc_logger = logging.getLogger("pymc")
    previous_level = pymc_logger.level
    if not config.progressbar:
        pymc_logger.setLevel(logging.WARNING)
    try:
        with model:
            idata = pm.sample(
                draws=config.draws,
                tune=config.tune,
                chains=config.chains,
                cores=min(config.chains, os.cpu_count() or 1),
                target_accept=config.target_accept,
                # Trend parameters are strongly correlated (intercept, slope, break): a dense mass
                # matrix roughly halves the leapfrog steps per draw in the broken power law.
                init="jitter+adapt_full",
                random_seed=seed,
                progressbar=config.progressbar,
                compute_convergence_checks=False,
                idata_kwargs={"log_likelihood": False},
            )
    finally:
        pymc_logger.setLevel(previous_level)
    _add_item_groups(idata, data, np.random.default_rng(seed + 1))
    idata.attrs.update(
        {
            "model": f"generation/{trend_name}",
            "trend": trend_name,
            "task": data.task,
            "mirage_bayes_version": __version__,
            "sampler_config": json.dumps(config.to_dict()),
            "x_center": data.x_center,
            "x_half_range": data.x_half_range,
            "item_ids_shared": int(data.item_ids_shared),
        }
    )
    return idata


def stacked(idata: az.InferenceData, name: str) -> np.ndarray:
    """A posterior variable with chains and draws flattened into the first axis."""
    values = idata.posterior[name].values
    return values.reshape(-1, *values.shape[2:])


def _add_item_groups(idata: az.InferenceData, data: TaskData, rng: np.random.Generator) -> None:
    n_chains = idata.posterior.sizes["chain"]
    n_draws = idata.posterior.sizes["draw"]
    mu, sigma = stacked(idata, "mu"), stacked(idata, "sigma_item")
    coords = {"chain": idata.posterior.chain, "draw": idata.posterior.draw}
    loglik = item_log_likelihood(data, mu, sigma).reshape(n_chains, n_draws, -1)
    idata.add_groups(
        log_likelihood=xr.Dataset(
            {"n_errors": (("chain", "draw", "item"), loglik)},
            coords={**coords, "item": data.items},
        )
    )
    replicates = posterior_predictive_errors(data, mu, sigma, rng)
    item_scale = {"item": data.items, "scale": data.models}
    idata.add_groups(
        posterior_predictive=xr.Dataset(
            {
                "n_errors": (
                    ("chain", "draw", "item", "scale"),
                    replicates.reshape(n_chains, n_draws, *replicates.shape[1:]),
                )
            },
            coords={**coords, **item_scale},
        ),
        observed_data=xr.Dataset({"n_errors": (("item", "scale"), data.errors)}, item_scale),
        constant_data=xr.Dataset(
            {
                "n_tokens": (("item", "scale"), data.trials),
                "n_params": (("scale",), data.n_params),
            },
            item_scale,
        ),
    )
