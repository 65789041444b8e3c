"""The compile-once sampler: NUTS on one model, compiled once and run many times while the
model's data (or its per-scale likelihood weights) change. The forecast's refits use it; it
reproduces ``pm.sample(init="jitter+adapt_full")`` draw for draw (tested)."""

from __future__ import annotations

import copy
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence

import arviz as az
import numpy as np
import pymc as pm
from pymc.blocking import DictToArrayBijection, RaveledVars
from pymc.initial_point import make_initial_point_fns_per_chain
from pymc.step_methods.hmc.quadpotential import QuadPotentialFullAdapt
from pymc.util import get_random_generator

from mirage_bayes.fitting.inference import dense_mass_matrix

__all__ = ["CompiledSampler", "JITTER_MAX_RETRIES"]


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
