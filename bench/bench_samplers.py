"""How much posterior each sampler gets per evaluation of the likelihood kernel.

The likelihood kernel (value and gradient) is most of a fit's cost (``bench_fit.py`` prints its
floor), so a faster sampler is one that needs fewer evaluations for the same effective sample
size, whatever language it is written in. For each trend of the bundled example this runs:

1. PyMC's NUTS as ``fit`` runs it (dense mass matrix, ``init="jitter+adapt_full"``, target
   acceptance 0.9);
2. nutpie's NUTS (Rust) with its diagonal mass matrix and with its low-rank modified one, target
   acceptance 0.9, on the same compiled PyTensor log density.

and prints the gradient evaluations per chain (tuning and kept draws), divergences, the smallest
bulk ESS and r̂ of the sampled parameters, and ESS per 1000 evaluations. Times are not compared:
nutpie calls the log density through Python here, one chain at a time under the GIL.

Usage: ``python bench/bench_samplers.py [--draws 1000 --tune 1000]``.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pymc as pm
from nutpie import sample as nutpie_sample
from nutpie.compiled_pyfunc import from_pyfunc
from pymc.blocking import DictToArrayBijection

from mirage_bayes.fitting.data import split_tasks
from mirage_bayes.fitting.inference import SamplerConfig, dense_mass_matrix, seed_for
from mirage_bayes.inputs.io import read_outputs
from mirage_bayes.inputs.scoring import score_outputs
from mirage_bayes.models import TRENDS
from mirage_bayes.models.generation import build_model

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "arithmetic_outputs.csv"


def _row(label: str, trend: str, evaluations: float, ess: float, rhat: float, div: int) -> str:
    per_1000 = 1000 * ess / evaluations
    return (f"| {trend} | {label} | {evaluations:,.0f} | {div} | {ess:.0f} | {rhat:.3f} "
            f"| {per_1000:.1f} |")  # fmt: skip


def _per_chain_evaluations(idata: az.InferenceData) -> float:
    groups = ("warmup_sample_stats", "sample_stats")
    return float(sum(idata[g]["n_steps"].sum("draw").mean() for g in groups))


def _ess_rhat(posterior) -> tuple[float, float]:
    ess = az.ess(posterior, method="bulk")
    rhat = az.rhat(posterior)
    return (min(float(ess[v].min()) for v in ess.data_vars),
            max(float(rhat[v].max()) for v in rhat.data_vars))  # fmt: skip


def pymc_row(model: pm.Model, trend: str, config: SamplerConfig, seed: int) -> str:
    with model, dense_mass_matrix():
        idata = pm.sample(
            draws=config.draws, tune=config.tune, chains=config.chains, cores=config.chains,
            target_accept=config.target_accept, init="jitter+adapt_full", random_seed=seed,
            progressbar=False, compute_convergence_checks=False, discard_tuned_samples=False,
        )  # fmt: skip
    free = [v.name for v in model.free_RVs]
    ess, rhat = _ess_rhat(idata.posterior[free])
    div = int(idata.sample_stats["diverging"].sum())
    return _row("PyMC, dense", trend, _per_chain_evaluations(idata), ess, rhat, div)


def nutpie_rows(model: pm.Model, trend: str, config: SamplerConfig, seed: int) -> list[str]:
    logp_dlogp = model.logp_dlogp_function(ravel_inputs=True)
    logp_dlogp.trust_input = True
    logp_dlogp.set_extra_values({})
    compiled = logp_dlogp._pytensor_function
    start = DictToArrayBijection.map(model.initial_point()).data
    n = start.size

    def make_logp():
        own = compiled.copy()  # a compiled PyTensor function is not safe across threads

        def logp(x):
            value, grad = own(x)
            return float(value), np.asarray(grad, dtype=np.float64)

        return logp

    def make_expand(seed1, seed2, chain):
        return lambda x: {"x": np.array(x, dtype=np.float64)}

    def initial_point(draw_seed):  # pm.sample's jitter: uniform(−1, 1) around the start
        return start + np.random.default_rng(draw_seed).uniform(-1, 1, n)

    model_fn = from_pyfunc(
        n, make_logp, make_expand, [np.dtype("float64")], [(n,)], ["x"],
        make_initial_point_fn=initial_point,
    )  # fmt: skip
    rows = []
    for low_rank in (False, True):
        idata = nutpie_sample(
            model_fn, draws=config.draws, tune=config.tune, chains=config.chains,
            cores=config.chains, seed=seed, progress_bar=False,
            low_rank_modified_mass_matrix=low_rank, target_accept=config.target_accept,
        )  # fmt: skip
        ess, rhat = _ess_rhat(idata.posterior)
        div = int(idata.sample_stats["diverging"].sum())
        label = "nutpie, low-rank" if low_rank else "nutpie, diagonal"
        rows.append(_row(label, trend, _per_chain_evaluations(idata), ess, rhat, div))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    (data,) = split_tasks(score_outputs(read_outputs(EXAMPLE))[0])
    config = SamplerConfig(draws=args.draws, tune=args.tune)
    print("| trend | sampler | evaluations per chain | divergences | min bulk ESS | max r̂ "
          "| ESS per 1000 evaluations |\n|---|---|---|---|---|---|---|")  # fmt: skip
    for name, trend in TRENDS.items():
        seed = seed_for(config, data, name)
        print(pymc_row(build_model(data, trend), name, config, seed), flush=True)
        for row in nutpie_rows(build_model(data, trend), name, config, seed):
            print(row, flush=True)


if __name__ == "__main__":
    main()
