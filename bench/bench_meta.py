"""Benchmark of ``mirage-bayes meta``: compile once and reuse vs a fresh model per triplet.

One run, same simulated triplets (8 sizes, 200 items; 80% smooth-law, 20% sharp-break):

1. naive: for each of the first ``--naive`` triplets a fresh ``pm.Model`` and ``pm.sample``
   (PyMC's NUTS, same chains/draws/tuning, chains one after another), then the same ppp;
2. compiled: the first ``--compiled`` triplets (the naive ones among them) through nutpie's
   compiled model with ``with_data``, in this process, after one compilation (timed
   separately); both arms fit one untimed triplet first, so first-call costs (imports, PyMC's
   compile cache) are left out of both;
3. end to end: ``mirage-bayes meta`` on all ``--triplets`` with ``--workers 2``, without and
   with the broken power law (spawn, import, compile, sampling, LOO, report).

The ratio compares per-triplet costs of 1 and 2 (the smooth law only, like for like).

    python bench/bench_meta.py [--triplets 1000] [--naive 10] [--compiled 100] [--skip-broken]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from mirage_bayes.meta.emergence import emergence_score, proportion_resolution
from mirage_bayes.meta.fit import MetaConfig, compiled_model, model_data, sample_posterior
from mirage_bayes.meta.io import triplets_from_frame
from mirage_bayes.simulate.meta import simulate_triplets


def table(n: int, seed: int = 0) -> pd.DataFrame:
    n_sharp = n // 5
    smooth, _ = simulate_triplets(n - n_sharp, family="smooth", seed=seed)
    sharp, _ = simulate_triplets(n_sharp, shape="sharp", family="sharp", seed=seed + 1)
    return pd.concat([smooth, sharp], ignore_index=True)


def naive_ppp(triplet, config: MetaConfig, seed: int) -> float:
    """A fresh PyMC model and ``pm.sample`` for one triplet, then the same ppp."""
    import pymc as pm

    from mirage_bayes.models.aggregate import build_model, eta_draws, replicate

    data = model_data(triplet)
    with build_model("proportion", "power_law", triplet.n_scales) as model:
        pm.set_data(data)
        idata = pm.sample(
            draws=config.draws, tune=config.tune, chains=config.chains, cores=1,
            random_seed=seed, progressbar=False, compute_convergence_checks=False,
        )  # fmt: skip
    del model
    posterior = {k: idata.posterior[k].values.reshape(-1) for k in ("a", "beta")}
    eta = eta_draws("proportion", "power_law", posterior, data)
    reps = replicate("proportion", eta, posterior, data, np.random.default_rng(seed))
    resolution = proportion_resolution(triplet.n_items)
    observed = emergence_score(triplet.oriented, resolution)
    return float(np.mean(emergence_score(reps, resolution) >= observed))


def compiled_ppp(triplet, config: MetaConfig, seed: int) -> float:
    """The same smooth-law ppp through the compiled model (``with_data``) and nutpie."""
    from mirage_bayes.models.aggregate import eta_draws, replicate

    data = model_data(triplet)
    posterior, _, _ = sample_posterior("proportion", "power_law", data, config, seed)
    eta = eta_draws("proportion", "power_law", posterior, data)
    reps = replicate("proportion", eta, posterior, data, np.random.default_rng(seed))
    resolution = proportion_resolution(triplet.n_items)
    observed = emergence_score(triplet.oriented, resolution)
    return float(np.mean(emergence_score(reps, resolution) >= observed))


def end_to_end(path: Path, extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        command = [sys.executable, "-m", "mirage_bayes.cli", "meta", str(path), "--out",
                   str(Path(out) / "meta"), "--workers", "2", "--quiet", *extra]  # fmt: skip
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--triplets", type=int, default=1000)
    parser.add_argument("--naive", type=int, default=10)
    parser.add_argument("--compiled", type=int, default=100)
    parser.add_argument("--skip-broken", action="store_true", help="no end-to-end broken run")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("pymc").setLevel(logging.ERROR)
    frame = table(args.triplets)
    triplets = triplets_from_frame(frame)
    warm_up, subset = triplets[-1], triplets[: args.naive]
    # Like for like with the naive arm: one fit, no retries, the earlier 2 x 800 after 300.
    config = MetaConfig(broken=False, retries=0, chains=2, draws=800, tune=300)

    start = time.perf_counter()
    compiled_model("proportion", "power_law")
    compile_s = time.perf_counter() - start
    compiled_ppp(warm_up, config, seed=0)
    timed = triplets[: max(args.compiled, args.naive)]
    start = time.perf_counter()
    for i, triplet in enumerate(timed):
        compiled_ppp(triplet, config, seed=i)
    reused = (time.perf_counter() - start) / len(timed)

    naive_ppp(warm_up, config, seed=0)
    start = time.perf_counter()
    for i, triplet in enumerate(subset):
        naive_ppp(triplet, config, seed=i)
    naive = (time.perf_counter() - start) / len(subset)

    rows = [
        ("naive: fresh pm.Model + pm.sample, per triplet", naive, 1.0),
        ("compiled once (nutpie with_data), per triplet", reused, naive / reused),
        ("  one-off compilation of the smooth model", compile_s, None),
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "triplets.csv"
        frame.to_csv(path, index=False)
        total = end_to_end(path, ["--no-broken"])
        rows.append((f"end to end, {args.triplets} triplets, 2 workers, --no-broken", total,
                     naive * args.triplets / total))  # fmt: skip
        if not args.skip_broken:
            total_b = end_to_end(path, [])
            rows.append((f"end to end, {args.triplets} triplets, 2 workers, with broken law",
                         total_b, None))  # fmt: skip
    print(
        f"{len(subset)} naive and {len(timed)} compiled triplets in this process; "
        f"{config.chains} chains x {config.draws} draws after {config.tune} tuning steps"
    )
    print("| measurement | seconds | speed-up over naive |")
    print("|---|---|---|")
    for name, seconds, ratio in rows:
        print(f"| {name} | {seconds:.3f} | {'' if ratio is None else f'{ratio:.0f}x'} |")


if __name__ == "__main__":
    main()
