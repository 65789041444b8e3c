"""Sampling one task under one trend, and turning the draws into an ArviZ InferenceData.

The PyMC model (:mod:`mirage_bayes.models.generation`) sees only the trend parameters and the
item spread; everything item-level — the pointwise log-likelihood for LOO and the posterior
predictive error counts — is computed afterwards from the draws, in NumPy.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr
from pymc.blocking import DictToArrayBijection, RaveledVars
from pymc.initial_point import make_initial_point_fns_per_chain
from pymc.step_methods.hmc.quadpotential import QuadPotentialFullAdapt
from pymc.util import get_random_generator

from mirage_bayes.fitting.data import TaskData
from mirage_bayes.models import TRENDS
from mirage_bayes.models.generation import (
    build_model,
    item_log_likelihood,
    pattern_log_likelihood,
    posterior_predictive_errors,
)
from mirage_bayes.seeds import derive_seed
from mirage_bayes.settings import ESS_BULK_MIN, RETRY_TARGET_ACCEPT, RHAT_MAX, VERSION

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
    wanted = list(dict.fromkeys(["scale_free", *requested]))
    fitted = [t for t in wanted if TRENDS[t].min_scales <= n_scales]
    return fitted, [t for t in wanted if t not in fitted]


def skipped_note(task: str, trend: str, n_scales: int) -> str:
    """The warning for a trend the task has too few sizes for."""
    return (
        f"{task}: {trend} needs at least {TRENDS[trend].min_scales} model sizes, the data have "
        f"{n_scales}; it was not fitted"
    )


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
    seed = seed_for(config, data, trend_name)
    idata = run_nuts(model, config, seed)
    _add_item_groups(idata, data, np.random.default_rng(seed + 1))
    idata.attrs.update(
        {
            "model": f"generation/{trend_name}",
            "trend": trend_name,
            "task": data.task,
            "mirage_bayes_version": VERSION,
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


def chance_scale_of(idata: az.InferenceData) -> np.ndarray | None:
    """Draws of ``chance_scale``, the factor on the chance rates of a task that has them."""
    return stacked(idata, "chance_scale") if "chance_scale" in idata.posterior else None


# NUTS statistics kept by CompiledSampler, under the names pm.sample gives them in ArviZ.
_NUTS_STATS = {
    "diverging": "diverging", "depth": "tree_depth", "tree_size": "n_steps",
    "step_size": "step_size", "mean_tree_accept": "acceptance_rate", "energy": "energy",
    "model_logp": "lp", "reached_max_treedepth": "reached_max_treedepth",
}  # fmt: skip
JITTER_MAX_RETRIES = 10  # pm.sample's default


class CompiledSampler:
    """NUTS on one model, compiled once and run many times while the model's data change.

    For models built with ``build_model(..., swappable=True)``: between runs
    :func:`~mirage_bayes.models.generation.set_task_data` swaps the data or the per-scale
    likelihood weights, and the compiled functions read them on their next call. ``pm.sample``
    would compile the log density, the initial-point function and the trace function again on
    every call; here they are compiled once, in the constructor. Each run does what
    ``pm.sample(init="jitter+adapt_full")`` (the settings of :func:`sample_trend`) does: jittered
    starting points (retried where the log density is not finite), a fresh dense mass-matrix
    adaptation starting at their mean and a fresh step-size adaptation in every chain (a new
    NUTS step per chain around the shared compiled function, so nothing adapted in one run
    leaks into the next), and per-chain random streams spawned from the seed as ``pm.sample``
    spawns them — so a run reproduces ``pm.sample``'s draws for the same seed and data.

    Chains run in parallel in forked worker processes, which inherit the compiled functions
    (nothing is pickled or recompiled); where ``fork`` is unavailable, or with one core, they
    run one after the other.

    Parameters
    ----------
    model
        A PyMC model with continuous free variables only.
    target_accept
        NUTS's target acceptance rate.
    """

    def __init__(self, model: pm.Model, *, target_accept: float = 0.9) -> None:
        self.model = model
        self.target_accept = target_accept
        self.logp_dlogp = model.logp_dlogp_function(ravel_inputs=True)
        self.logp_dlogp.trust_input = True
        self.logp_dlogp.set_extra_values({})
        (self._initial_point,) = make_initial_point_fns_per_chain(
            model=model, overrides=None, jitter_rvs=set(model.free_RVs), chains=1
        )
        reported = [*model.free_RVs, *model.deterministics]
        self.var_names = [v.name for v in reported]
        self._reported = model.compile_fn(
            model.replace_rvs_by_values(reported), inputs=model.value_vars,
            on_unused_input="ignore", point_fn=True,
        )  # fmt: skip

    def sample(
        self, *, draws: int, tune: int, chains: int, seed: int, cores: int | None = None
    ) -> az.InferenceData:
        """Run NUTS on the model's current data.

        Parameters
        ----------
        draws, tune, chains
            Draws kept per chain, tuning steps per chain, number of chains.
        seed
            Seed of every random choice of the run.
        cores
            Chains run at once (default: as many as there are chains and CPUs).

        Returns
        -------
        arviz.InferenceData
            Groups ``posterior`` (free variables on their natural scale and deterministics)
            and ``sample_stats`` (``diverging``, ``tree_depth``, ``n_steps``, ``step_size``,
            ``acceptance_rate``, ``energy``, ``lp``, ``reached_max_treedepth``).
        """
        start_time = time.perf_counter()
        rngs = get_random_generator(seed).spawn(chains)
        # Drawn before the chains use their generators, in pm.sample's order.
        seeds = [int(rng.integers(2**30)) for rng in rngs]
        starts = [self._jittered_start(s) for s in seeds]
        flat = np.mean([DictToArrayBijection.map(p).data for p in starts], axis=0)
        with dense_mass_matrix():
            potential = QuadPotentialFullAdapt(flat.size, flat, np.eye(flat.size), 10, rng=seeds[0])

        def run(job):
            return self._run_chain(*job, potential=potential, draws=draws, tune=tune)

        jobs = list(zip(starts, rngs, strict=True))
        cores = min(chains, cores or os.cpu_count() or 1)
        if cores > 1 and "fork" in multiprocessing.get_all_start_methods():
            chain_results = _map_forked(run, jobs, cores)
        else:
            chain_results = [run(job) for job in jobs]
        return self._to_idata(chain_results, starts[0], time.perf_counter() - start_time)

    def _jittered_start(self, seed: int) -> dict[str, np.ndarray]:
        """A starting point with pm.sample's uniform(−1, 1) jitter and its retries."""
        rng = np.random.default_rng(seed)
        for attempt in range(JITTER_MAX_RETRIES + 1):
            point = self._initial_point(seed)
            logp = self.logp_dlogp([DictToArrayBijection.map(point).data], extra_vars={})[0]
            if np.isfinite(logp):
                break
            if attempt == JITTER_MAX_RETRIES:
                self.model.check_start_vals(point)  # raises with the offending variables
            seed = rng.integers(2**30, dtype=np.int64)
        return point

    def _run_chain(self, start, rng, *, potential, draws: int, tune: int):
        step = pm.NUTS(
            model=self.model, potential=copy.deepcopy(potential), initial_point=start,
            target_accept=self.target_accept, logp_dlogp_func=self.logp_dlogp,
        )  # fmt: skip
        step.set_rng(rng)
        step.tune = bool(tune)
        step.reset_tuning()
        point, values, stats = start, [], {name: [] for name in _NUTS_STATS}
        for i in range(tune + draws):
            if i == tune:
                step.stop_tuning()
            point, (step_stats,) = step.step(point)
            if i >= tune:
                values.append(DictToArrayBijection.map(point).data)
                for name in _NUTS_STATS:
                    stats[name].append(step_stats[name])
        return np.asarray(values), {name: np.asarray(v) for name, v in stats.items()}

    def _to_idata(self, chain_results, start, seconds: float) -> az.InferenceData:
        point_info = DictToArrayBijection.map(start).point_map_info
        posterior: dict[str, list] = {name: [] for name in self.var_names}
        for values, _ in chain_results:
            per_draw = [
                self._reported(DictToArrayBijection.rmap(RaveledVars(q, point_info)))
                for q in values
            ]
            for j, name in enumerate(self.var_names):
                posterior[name].append(np.stack([out[j] for out in per_draw]))
        dims = {name: list(d) for name, d in self.model.named_vars_to_dims.items()}
        return az.from_dict(
            posterior={name: np.stack(v) for name, v in posterior.items()},
            sample_stats={
                _NUTS_STATS[name]: np.stack([stats[name] for _, stats in chain_results])
                for name in _NUTS_STATS
            },
            coords={name: list(values) for name, values in self.model.coords.items()},
            dims={name: d for name, d in dims.items() if name in self.var_names},
            attrs={"sampling_time": seconds},
        )


_FORKED_JOB: Callable | None = None  # what forked workers run: set just before the fork


def _call_forked(job):
    return _FORKED_JOB(job)


def _map_forked(function: Callable, jobs: Sequence, processes: int) -> list:
    """``[function(job) for job in jobs]`` in forked processes that inherit ``function``."""
    global _FORKED_JOB
    _FORKED_JOB = function
    try:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            return pool.map(_call_forked, jobs, chunksize=1)
    finally:
        _FORKED_JOB = None


# Above this many stored values (draws × items × (scales + 1)), the item-level groups are kept per
# distinct outcome pattern instead of per item: a 10⁶-item test set would otherwise need tens of
# gigabytes for values that are identical for items with identical data.
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
    scale = chance_scale_of(idata)
    coords = {"chain": idata.posterior.chain, "draw": idata.posterior.draw}
    per_pattern = n_chains * n_draws * len(data.items) * (data.n_scales + 1) > ITEM_GROUP_LIMIT
    if per_pattern:
        unit, labels = "pattern", np.arange(len(data.pattern_counts))
        loglik = pattern_log_likelihood(data, mu, sigma, scale)
        observed, trials = data.pattern_errors.astype(np.int64), data.pattern_trials
        extra = {"pattern_count": (("pattern",), data.pattern_counts.astype(np.int64))}
    else:
        unit, labels = "item", data.items
        loglik = item_log_likelihood(data, mu, sigma, scale)
        observed, trials, extra = data.errors, data.trials, {}
    idata.add_groups(
        log_likelihood=xr.Dataset(
            {"n_errors": (("chain", "draw", unit), loglik.reshape(n_chains, n_draws, -1))},
            coords={**coords, unit: labels},
        )
    )
    options = {"per_pattern": per_pattern, "chance_scale": scale}
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
