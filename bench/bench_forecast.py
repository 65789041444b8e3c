"""Leave-future-out refits: rebuilding the model for each refit vs compiling it once.

The same refits — the bundled example (one task, 8 sizes), power law fitted to the 3…7 smallest
sizes and broken power law to the 5…7 smallest, 8 refits — done two ways, side by side in one
run because the machine is shared and absolute times drift:

(a) per refit, build the weighted model afresh and call ``pm.sample`` with the settings of
    ``mirage_bayes.fitting.inference.sample_trend`` (jitter+adapt_full, target_accept 0.9), which
    compiles the log density and its helper functions each time;
(b) per trend, build the model and a :class:`~mirage_bayes.fitting.compiled.CompiledSampler` once;
    per refit, swap the likelihood weights (``set_task_data``) and sample.

Both use the same seeds, so they must give the same draws; the script checks that. A warm-up
builds and compiles each model once first, so that both ways find PyTensor's compile cache warm.
The refits alternate between the two ways; wall time and CPU time (this process and its
children) are both reported, the latter being less sensitive to other jobs on the machine.

Usage: ``python bench/bench_forecast.py [--draws 1000 --tune 1000]``. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pymc as pm

import mirage_bayes as mb
from mirage_bayes.fitting.data import split_tasks
from mirage_bayes.fitting.inference import CompiledSampler
from mirage_bayes.forecast.refit import refit_weights
from mirage_bayes.forecast.run import FORECAST_TRENDS, forecast_seed
from mirage_bayes.models import TRENDS, build_model
from mirage_bayes.models.generation import set_task_data

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "arithmetic_outputs.csv"


def refits(data) -> list[tuple[str, int]]:
    """Every (trend, k) of a forecast of this task."""
    return [
        (trend, k)
        for trend in FORECAST_TRENDS
        for k in range(TRENDS[trend].min_scales, data.n_scales)
    ]


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (pm.sample's and the forked
    workers): robust to other jobs competing for the cores, unlike wall time."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def rebuild_refit(data, trend: str, k: int, draws: int, tune: int, chains: int) -> np.ndarray:
    """(a): a new model and ``pm.sample`` (which compiles its functions again)."""
    model = build_model(data, TRENDS[trend], swappable=True)
    set_task_data(model, data, refit_weights(data.n_scales, k))
    with model:
        idata = pm.sample(
            draws=draws, tune=tune, chains=chains, cores=min(chains, os.cpu_count() or 1),
            target_accept=0.9, init="jitter+adapt_full",
            random_seed=forecast_seed(0, data.task, trend, k), progressbar=False,
            compute_convergence_checks=False, idata_kwargs={"log_likelihood": False},
        )  # fmt: skip
    return idata.posterior["mu"].values


def swap_refit(samplers: dict, data, trend: str, k: int, draws: int, tune: int, chains: int):
    """(b): the trend's model and sampler, built on first use, with new weights."""
    if trend not in samplers:
        model = build_model(data, TRENDS[trend], swappable=True)
        samplers[trend] = (model, CompiledSampler(model, target_accept=0.9))
    model, sampler = samplers[trend]
    set_task_data(model, data, refit_weights(data.n_scales, k))
    idata = sampler.sample(
        draws=draws, tune=tune, chains=chains, seed=forecast_seed(0, data.task, trend, k)
    )
    return idata.posterior["mu"].values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=2)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("pymc").setLevel(logging.ERROR)

    scored, _ = mb.score_outputs(mb.read_outputs(EXAMPLE))
    data = split_tasks(scored)[0]
    for trend in FORECAST_TRENDS:  # warm PyTensor's compile cache for both ways
        build_model(data, TRENDS[trend], swappable=True).logp_dlogp_function(ravel_inputs=True)
    # Interleaved, alternating which goes first, so that changes in the machine's load hit
    # both ways alike.
    wall, cpu, same, samplers = np.zeros(2), np.zeros(2), True, {}
    runs = [
        lambda t, k: rebuild_refit(data, t, k, args.draws, args.tune, args.chains),
        lambda t, k: swap_refit(samplers, data, t, k, args.draws, args.tune, args.chains),
    ]
    todo = refits(data)
    for number, (trend, k) in enumerate(todo):
        results = {}
        for way in (0, 1) if number % 2 == 0 else (1, 0):
            wall_start, cpu_start = time.perf_counter(), cpu_seconds()
            results[way] = runs[way](trend, k)
            wall[way] += time.perf_counter() - wall_start
            cpu[way] += cpu_seconds() - cpu_start
        same &= np.array_equal(results[0], results[1])
    n = len(todo)
    which = ", ".join(f"{t} k={k}" for t, k in todo)
    print(f"{n} refits ({which}), {args.chains} chains × {args.tune} tune + {args.draws} draws;")
    print(f"identical draws both ways: {same}\n")
    print("| approach | wall s | per refit | CPU s | ratio (wall) | ratio (CPU) |")
    print("|---|---|---|---|---|---|")
    names = ["(a) rebuild model + pm.sample per refit", "(b) compile once + swap data"]
    for way in (0, 1):
        print(
            f"| {names[way]} | {wall[way]:.1f} | {wall[way] / n:.1f} | {cpu[way]:.1f} | "
            f"{wall[way] / wall[1]:.2f} | {cpu[way] / cpu[1]:.2f} |"
        )
    if not same:
        raise SystemExit("the two ways gave different draws")


if __name__ == "__main__":
    main()
