"""Cost of one log-density-and-gradient evaluation: the fused Numba kernel vs a PyTensor graph.

Both compute the same marginal item log-likelihood (item difficulty integrated on the same grid)
of the power-law model for the bundled example; the PyTensor version is the straightforward
graph (two matrix products, a logsumexp) that the kernel replaces. Usage:
``python bench/bench_likelihood.py``. Prints a Markdown table.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.blocking import DictToArrayBijection

import mirage_bayes as mb
from mirage_bayes.fitting.data import split_tasks
from mirage_bayes.models import TRENDS, build_model
from mirage_bayes.models.generation import quadrature_grid

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "arithmetic_outputs.csv"


def graph_model(data) -> pm.Model:
    """The same model with the integral written as a PyTensor graph."""
    nodes, log_w = quadrature_grid(data.trials.sum(1).max())
    with pm.Model(coords={"scale": data.models}) as model:
        mu = pm.Deterministic(
            "mu", TRENDS["power_law"].build(pt.as_tensor(data.x), data.n_scales), dims="scale"
        )
        sigma = pm.HalfNormal("sigma_item", 1.0)
        eta = mu[:, None] + sigma * nodes[None, :]
        log_eps, log_not = pt.log1mexp(-pt.exp(eta)), -pt.exp(eta)
        errors = pt.as_tensor(data.pattern_errors)
        correct = pt.as_tensor(data.pattern_trials - data.pattern_errors)
        per_node = errors @ log_eps + correct @ log_not + log_w[None, :]
        per_pattern = pt.logsumexp(per_node, axis=1).flatten() + data.pattern_log_binom
        pm.Potential("item_loglik", (data.pattern_counts * per_pattern).sum())
    return model


def seconds_per_eval(model: pm.Model, repeats: int = 2000) -> tuple[float, float]:
    function = model.logp_dlogp_function(ravel_inputs=True)
    function.set_extra_values({})
    point = DictToArrayBijection.map(model.initial_point()).data + 0.1
    value, _ = function(point)
    start = time.perf_counter()
    for _ in range(repeats):
        function(point)
    return (time.perf_counter() - start) / repeats, float(value)


def main() -> None:
    warnings.filterwarnings("ignore")
    scored, _ = mb.score_outputs(mb.read_outputs(EXAMPLE))
    data = split_tasks(scored)[0]
    kernel, kernel_value = seconds_per_eval(build_model(data, TRENDS["power_law"]))
    graph, graph_value = seconds_per_eval(graph_model(data))
    assert np.isclose(kernel_value, graph_value), (kernel_value, graph_value)
    print("| implementation | ms per log density + gradient | ratio |\n|---|---|---|")
    print(f"| PyTensor graph | {graph * 1e3:.3f} | {graph / kernel:.1f} |")
    print(f"| fused Numba kernel | {kernel * 1e3:.3f} | 1.0 |")


if __name__ == "__main__":
    main()
