"""Sampling one task under one trend, and turning the draws into an ArviZ InferenceData.

The PyMC model (:mod:`mirage_bayes.models.generation`) sees only the trend parameters and the
item spread; everything item-level — the pointwise log-likelihood for LOO and the posterior
predictive error counts — is computed afterwards from the draws, in NumPy.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr

from mirage_bayes.fitting.data import TaskData
from mirage_bayes.models import TRENDS
from mirage_bayes.models.generation import (
    build_model,
    item_log_likelihood,
    pattern_log_likelihood,
    posterior_predictive_errors,
)
from mirage_bayes.models.item_families import SHAPE_PARAMETER
from mirage_bayes.seeds import derive_seed
from mirage_bayes.settings import (
    ESS_BULK_MIN,
    REFERENCE_TREND,
    RETRY_TARGET_ACCEPT,
    RHAT_MAX,
    VERSION,
)

# Stan's diagnostics policy (Vehtari et al. 2021): the thresholds behind every warning.


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
        if math.isnan(self.max_rhat):  # "r̂ up to nan" said nothing: one chain has no r̂
            out.append("r̂ not available (it compares chains: sample at least 2)")
        elif not self.max_rhat <= RHAT_MAX:
            out.append(f"r̂ up to {self.max_rhat:.3f} (> {RHAT_MAX})")
        if not self.min_ess_bulk >= ESS_BULK_MIN:
            out.append(f"bulk ESS down to {self.min_ess_bulk:.0f} (< {ESS_BULK_MIN})")
        if self.divergences:
            out.append(f"{self.divergences} divergent transitions")
        return out


def sampler_warnings(diagnostics_by_fit: Mapping[tuple[str, str], Diagnostics]) -> list[str]:
    """One line per fit whose diagnostics fail, as the fit logs it (for ``summary.json``)."""
    return [
        f"{task}, {trend}: sampler trouble — {'; '.join(diag.problems())}"
        for (task, trend), diag in diagnostics_by_fit.items()
        if not diag.ok
    ]


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


def seed_for(config: SamplerConfig, data: TaskData, trend: str) -> int:
    """The fit's seed: its own stream per (task, trend) (:mod:`mirage_bayes.seeds`)."""
    return derive_seed(config.seed, data.task, trend)


@contextlib.contextmanager
def dense_mass_matrix() -> Iterator[None]:
    """Sampling with PyMC's dense mass-matrix adaptation, which PyMC flags as experimental on
    every run. It is chosen on purpose (see :func:`sample_trend`), so the notice is not passed
    on to the user's terminal or notebook; every other warning is."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="QuadPotentialFullAdapt is an experimental feature"
        )
        yield


def run_nuts(model: pm.Model, config: SamplerConfig, seed: int) -> az.InferenceData:
    """NUTS on ``model`` with the settings every fit of a trend uses (both kinds of data).

    Trend parameters are strongly correlated (intercept, slope, break): a dense mass matrix
    roughly halves the leapfrog steps per draw in the broken power law. Convergence checks and
    the log-likelihood are left to the caller, which computes the marginal one itself.
    """
    # Without a progress bar the caller wants quiet: PyMC's own "Initializing NUTS" lines too.
    pymc_logger = logging.getLogger("pymc")
    previous_level = pymc_logger.level
    if not config.progressbar:
        pymc_logger.setLevel(logging.WARNING)
    try:
        with model, dense_mass_matrix():
            return pm.sample(
                draws=config.draws,
                tune=config.tune,
                chains=config.chains,
                cores=min(config.chains, os.cpu_count() or 1),
                target_accept=config.target_accept,
                init="jitter+adapt_full",
                random_seed=seed,
                progressbar=config.progressbar,
                compute_convergence_checks=False,
                idata_kwargs={"log_likelihood": False},
            )
    except ValueError as error:
        # PyMC catches a Ctrl-C and returns what was drawn; before the first kept draw it then
        # fails to build a trace. That is an interrupt, not an error of the model.
        if "Not enough samples" in str(error):
            raise KeyboardInterrupt from error
        raise
    finally:
        pymc_logger.setLevel(previous_level)


def sample_until_clean(
    sample: Callable[[SamplerConfig], az.InferenceData],
    check: Callable[[az.InferenceData], Diagnostics],
    config: SamplerConfig,
    label: str,
    log: Callable[[str], None],
    *,
    longer: bool,
) -> tuple[az.InferenceData, Diagnostics, list[str]]:
    """Sample, and refit up to twice while the checks fail: after divergences with a higher
    target acceptance (smaller steps, :data:`~mirage_bayes.settings.RETRY_TARGET_ACCEPT`); with
    ``longer``, after any failure, with twice the tuning and draws each time too.

    Returns the last fit, its diagnostics and one note per refit (``label``: task and trend).
    """
    notes: list[str] = []
    idata = sample(config)
    diag = check(idata)
    for attempt, accept in enumerate(RETRY_TARGET_ACCEPT, start=1):
        if diag.ok or not (longer or diag.divergences):
            break
        scale = 2**attempt if longer else 1
        retry = replace(
            config,
            draws=config.draws * scale,
            tune=config.tune * scale,
            target_accept=max(config.target_accept, accept if diag.divergences else 0.0),
        )
        notes.append(
            f"{label}: {'; '.join(diag.problems())}; refitted with {retry.tune} tune + "
            f"{retry.draws} draws, target_accept {retry.target_accept}"
        )
        log(notes[-1])
        idata = sample(retry)
        diag = check(idata)
    return idata, diag, notes


def trends_for(n_scales: int, requested: Sequence[str]) -> tuple[list[str], list[str]]:
    """Trends identifiable with ``n_scales`` model sizes, and those that are not.

    ``scale_free`` is always fitted: it is the reference the trends are compared against.
    """
    wanted = list(dict.fromkeys([REFERENCE_TREND, *requested]))
    fitted = [t for t in wanted if TRENDS[t].min_scales <= n_scales]
    return fitted, [t for t in wanted if t not in fitted]


def skipped_note(task: str, trend: str, n_scales: int) -> str:
    """The warning for a trend the task has too few sizes for."""
    return (
        f"{task}: {trend} needs at least {TRENDS[trend].min_scales} model sizes, the data have "
        f"{n_scales}; it was not fitted"
    )


def sample_trend(
    data: TaskData, trend_name: str, config: SamplerConfig, items: str = "normal"
) -> az.InferenceData:
    """Fit one trend to one task with NUTS.

    Parameters
    ----------
    data
        The task.
    trend_name
        Key of :data:`mirage_bayes.models.TRENDS`.
    config
        Sampler settings.
    items
        The item-difficulty family (:data:`mirage_bayes.models.item_families.ITEM_FAMILIES`).

    Returns
    -------
    arviz.InferenceData
        Groups ``posterior``, ``sample_stats``, ``log_likelihood`` (marginal per item),
        ``posterior_predictive`` and ``observed_data`` (errors per item and scale),
        ``constant_data`` (tokens per item and scale, sizes); model metadata in ``attrs``.
    """
    trend = TRENDS[trend_name]
    model = build_model(data, trend, items=items)
    seed = seed_for(config, data, trend_name)
    idata = run_nuts(model, config, seed)
    _add_item_groups(idata, data, np.random.default_rng(seed + 1))
    idata.attrs.update(fit_attrs("generation", trend_name, data, config))
    idata.attrs["item_family"] = items
    return idata


def stacked(idata: az.InferenceData, name: str) -> np.ndarray:
    """A posterior variable with chains and draws flattened into the first axis."""
    values = idata.posterior[name].values
    return values.reshape(-1, *values.shape[2:])


def chance_scale_of(idata: az.InferenceData) -> np.ndarray | None:
    """Draws of ``chance_scale``, the factor on the chance rates of a task that has them."""
    return stacked(idata, "chance_scale") if "chance_scale" in idata.posterior else None


def item_shape_of(idata: az.InferenceData) -> np.ndarray | None:
    """Draws of ``item_shape`` where items are log-gamma distributed; ``None`` for normal items
    (:mod:`mirage_bayes.models.item_families`)."""
    return stacked(idata, SHAPE_PARAMETER) if SHAPE_PARAMETER in idata.posterior else None


ITEM_GROUP_LIMIT = 50_000_000


def _add_item_groups(idata: az.InferenceData, data: TaskData, rng: np.random.Generator) -> None:
    """Add ``log_likelihood``, ``posterior_predictive``, ``observed_data``, ``constant_data``.

    Per item (dimension ``item``) unless that would exceed :data:`ITEM_GROUP_LIMIT` values; then
    per pattern (dimension ``pattern``, with ``constant_data["pattern_count"]``, the number of
    items sharing each pattern, which :func:`mirage_bayes.fitting.comparison.compare_trends` uses to
    weight the pointwise ELPDs).
    """
    n_chains = idata.posterior.sizes["chain"]
    n_draws = idata.posterior.sizes["draw"]
    mu, sigma = stacked(idata, "mu"), stacked(idata, "sigma_item")
    scale, shape = chance_scale_of(idata), item_shape_of(idata)
    coords = {"chain": idata.posterior.chain, "draw": idata.posterior.draw}
    per_pattern = n_chains * n_draws * len(data.items) * (data.n_scales + 1) > ITEM_GROUP_LIMIT
    if per_pattern:
        unit, labels = "pattern", np.arange(len(data.pattern_counts))
        loglik = pattern_log_likelihood(data, mu, sigma, scale, shape)
        observed, trials = data.pattern_errors.astype(np.int64), data.pattern_trials
        extra = {"pattern_count": (("pattern",), data.pattern_counts.astype(np.int64))}
    else:
        unit, labels = "item", data.items
        loglik = item_log_likelihood(data, mu, sigma, scale, shape)
        observed, trials, extra = data.errors, data.trials, {}
    idata.add_groups(
        log_likelihood=xr.Dataset(
            {"n_errors": (("chain", "draw", unit), loglik.reshape(n_chains, n_draws, -1))},
            coords={**coords, unit: labels},
        )
    )
    options = {"per_pattern": per_pattern, "chance_scale": scale, "item_shape": shape}
    replicates = posterior_predictive_errors(data, mu, sigma, rng, **options)
    unit_scale = {unit: labels, "scale": data.models}
    idata.add_groups(
        posterior_predictive=xr.Dataset(
            {
                "n_errors": (
                    ("chain", "draw", unit, "scale"),
                    replicates.reshape(n_chains, n_draws, *replicates.shape[1:]),
                )
            },
            coords={**coords, **unit_scale},
        ),
        observed_data=xr.Dataset({"n_errors": ((unit, "scale"), observed)}, unit_scale),
        constant_data=xr.Dataset(
            {
                "n_tokens": ((unit, "scale"), trials.astype(np.int64)),
                "n_params": (("scale",), data.n_params),
                **extra,
            },
            unit_scale,
        ),
    )


def fit_attrs(kind: str, trend_name: str, data: Any, config: SamplerConfig) -> dict[str, Any]:
    """The model metadata every kind stores in a fit's ``attrs`` (saved with the posterior and
    read back by the loader): model, trend, task, version, sampler settings, the size axis."""
    return {
        "model": f"{kind}/{trend_name}",
        "trend": trend_name,
        "task": data.task,
        "mirage_bayes_version": VERSION,
        "sampler_config": json.dumps(config.to_dict()),
        "x_center": data.x_center,
        "x_half_range": data.x_half_range,
        "item_ids_shared": int(data.item_ids_shared),
    }
