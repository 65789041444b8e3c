"""Time ``mirage-bayes fit`` on the bundled example against a point fit of the broken power law.

Measured side by side in one run, because the machine is shared and absolute times drift:

1. scoring throughput: one million (target, output) pairs through ``score_outputs``;
2. ``mirage-bayes fit`` end to end (three trends, LOO, report) with a cold PyTensor compile
   cache (a fresh ``compiledir``) and then warm (the same cache again);
3. the baseline: a point fit of the smoothly broken power law the way Caballero et al. fit it
   (``scipy.optimize.brute`` over their coarse grid, then ``curve_fit``) to the same data's
   observed per-token cross-entropy per model size;
4. two floors no faster implementation of this fit can go below: importing PyMC, ArviZ and
   Matplotlib in a fresh interpreter, and the marginal item likelihood (the fused kernel, value
   and gradient, timed alone at the warm fit's posterior means) times the gradient evaluations
   NUTS made in the kept draws of the warm fit (per chain, the busier chain, all trends; chains
   run side by side). ``fit`` keeps no tuning statistics, so tuning is left out and the second
   floor is a lower bound; ``--count-tuning`` samples the three trends once more, as ``fit``
   does but keeping the tuning steps, and prints the evaluations of both phases per trend.

Usage: ``python bench/bench_fit.py [--draws 1000 --tune 1000] [--count-tuning]``. Prints
Markdown tables.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.optimize

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "arithmetic_outputs.csv"


def bnsl_msle(p, x, y):
    """Caballero et al.'s grid objective: mean squared log error of the 1-break BNSL."""
    a, b, c0, c1, d1, f1 = p
    b = 1.25**b - 0.9
    d1 = 1.25**d1 - 0.9
    pred = a + b * x ** (-c0) * (1 + (x / d1) ** (1 / f1)) ** (-c1 * f1)
    return np.mean((np.log(pred + 1) - np.log(y + 1)) ** 2)


def bnsl_log(x, a, b, c0, c1, d1, f1):
    return np.log(a + b * x ** (-c0) * (1 + (x / d1) ** (1 / f1)) ** (-c1 * f1) + 1)


def caballero_point_fit(n_params: np.ndarray, loss: np.ndarray) -> float:
    """Seconds for brute (their grid, all cores) + curve_fit on (size, loss)."""
    x = n_params / n_params.min()  # their grids assume x of order 1e2–1e3
    grid = (
        slice(0.0, 1.0, 0.1), slice(0, 40, 2.5), slice(0, 1, 0.25),
        slice(0, 1, 0.25), slice(0, 40, 2.5), slice(0, 1, 0.25),
    )  # fmt: skip
    start = time.perf_counter()
    with np.errstate(all="ignore"):
        res = scipy.optimize.brute(
            bnsl_msle, grid, args=(x, loss), full_output=False, finish=None, workers=-1
        )
        a, b, c0, c1, d1, f1 = res
        p0 = [a, 1.25**b - 0.9, c0, c1, 1.25**d1 - 0.9, f1]
        try:
            scipy.optimize.curve_fit(bnsl_log, x, np.log(loss + 1), p0=p0, maxfev=100000)
        except RuntimeError:
            pass  # a failed refinement still cost its time
    return time.perf_counter() - start


def time_fit(out: Path, compiledir: Path, draws: int, tune: int) -> float:
    env = {**os.environ, "PYTENSOR_FLAGS": f"compiledir={compiledir}"}
    command = [
        sys.executable, "-m", "mirage_bayes.cli", "fit", str(EXAMPLE), "--out", str(out),
        "--force", "--quiet", "--draws", str(draws), "--tune", str(tune),
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 3):
        raise SystemExit(f"fit failed:\n{done.stderr}")
    return elapsed


def time_imports() -> float:
    """Seconds for a fresh interpreter to import the libraries every ``fit`` needs."""
    command = [sys.executable, "-c", "import pymc, arviz, matplotlib.pyplot"]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def kernel_floor(fit_dir: Path, repeats: int = 2000) -> tuple[float, int, float]:
    """Seconds of likelihood kernel the warm fit's kept draws needed, the evaluations counted
    and the seconds per evaluation (see the module docstring)."""
    import arviz as az

    from mirage_bayes.fitting.data import split_tasks
    from mirage_bayes.inputs.io import read_outputs
    from mirage_bayes.inputs.scoring import score_outputs
    from mirage_bayes.models.generation import quadrature_grid
    from mirage_bayes.models.likelihood import marginal_loglik_and_grad

    (data,) = split_tasks(score_outputs(read_outputs(EXAMPLE))[0])
    per_chain = 0
    for path in sorted(fit_dir.glob("posterior_*.nc")):
        idata = az.from_netcdf(path)
        per_chain += int(idata.sample_stats["n_steps"].sum("draw").max())
        if path.stem.endswith("power_law") and "broken" not in path.stem:
            mu = idata.posterior["mu"].mean(("chain", "draw")).to_numpy()
            sigma = float(idata.posterior["sigma_item"].mean())
    nodes, log_w = quadrature_grid(data.trials.sum(1).max())
    args = (
        np.ascontiguousarray(mu), sigma, nodes, log_w, data.pattern_errors.astype(float),
        (data.pattern_trials - data.pattern_errors).astype(float),
        data.pattern_counts.astype(float), data.pattern_log_binom.astype(float),
        data.chance_groups.astype(float), data.pattern_group.astype(np.int64),
    )  # fmt: skip
    marginal_loglik_and_grad(*args)  # compiled (or loaded from Numba's cache) before timing
    start = time.perf_counter()
    for _ in range(repeats):
        marginal_loglik_and_grad(*args)
    per_evaluation = (time.perf_counter() - start) / repeats
    return per_chain * per_evaluation, per_chain, per_evaluation


def count_tuning(draws: int, tune: int) -> list[tuple[str, float, float]]:
    """Gradient evaluations per chain (mean of the chains) in tuning and in the kept draws, per
    trend, from ``fit``'s own model and sampler settings with the tuning steps kept."""
    import pymc as pm

    from mirage_bayes.fitting.data import split_tasks
    from mirage_bayes.fitting.inference import SamplerConfig, dense_mass_matrix, seed_for
    from mirage_bayes.inputs.io import read_outputs
    from mirage_bayes.inputs.scoring import score_outputs
    from mirage_bayes.models import TRENDS
    from mirage_bayes.models.generation import build_model

    (data,) = split_tasks(score_outputs(read_outputs(EXAMPLE))[0])
    config = SamplerConfig(draws=draws, tune=tune)
    rows = []
    for name, trend in TRENDS.items():
        with build_model(data, trend), dense_mass_matrix():
            idata = pm.sample(
                draws=draws, tune=tune, chains=config.chains, cores=config.chains,
                target_accept=config.target_accept, init="jitter+adapt_full",
                random_seed=seed_for(config, data, name), progressbar=False,
                compute_convergence_checks=False, discard_tuned_samples=False,
            )  # fmt: skip
        steps = [idata[group]["n_steps"].sum("draw").mean() for group in
                 ("warmup_sample_stats", "sample_stats")]  # fmt: skip
        rows.append((name, float(steps[0]), float(steps[1])))
    return rows


def time_scoring(n_pairs: int) -> float:
    from mirage_bayes.inputs.scoring import score_outputs

    rng = np.random.default_rng(0)
    targets = rng.integers(0, 10**8, n_pairs).astype(str)
    outputs = np.where(rng.random(n_pairs) < 0.5, targets, rng.integers(0, 10**8, n_pairs))
    frame = pd.DataFrame(
        {"task": "t", "model": "m", "n_params": 1e9, "item": np.arange(n_pairs).astype(str),
         "family": None, "target": targets, "output": outputs.astype(str)}
    )  # fmt: skip
    frame.attrs.update(prescored=False, item_ids=True, source="bench")
    start = time.perf_counter()
    score_outputs(frame, "char")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--count-tuning", action="store_true")
    args = parser.parse_args()

    scoring = time_scoring(args.pairs)
    # Empty outputs are empty strings, not missing values (pandas 3 keeps NaN through astype(str)).
    rows = pd.read_csv(EXAMPLE, dtype={"target": str, "output": str}, keep_default_na=False)
    rows["tokens"] = rows["target"].str.len()
    rows["errors"] = [
        sum(a != b for a, b in zip(t, o, strict=False))
        for t, o in zip(rows["target"].astype(str), rows["output"].astype(str), strict=True)
    ]
    per_size = rows.groupby("n_params")[["tokens", "errors"]].sum()
    loss = -np.log1p(-per_size["errors"] / per_size["tokens"])  # L_CE = −log(1 − ε)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cold = time_fit(tmp / "cold", tmp / "cache", args.draws, args.tune)
        baseline = caballero_point_fit(per_size.index.to_numpy(float), loss.to_numpy())
        warm = time_fit(tmp / "warm", tmp / "cache", args.draws, args.tune)
        imports = time_imports()
        floor, evaluations, per_evaluation = kernel_floor(tmp / "warm")
    print("| measurement | seconds | ratio to baseline |\n|---|---|---|")
    print(f"| score {args.pairs:,} pairs (char) | {scoring:.1f} | |")
    print(f"| baseline: BNSL brute + curve_fit | {baseline:.1f} | 1.0 |")
    print(f"| fit, cold cache ({args.draws} draws) | {cold:.1f} | {cold / baseline:.1f} |")
    print(f"| fit, warm cache ({args.draws} draws) | {warm:.1f} | {warm / baseline:.1f} |")
    print(f"| floor: import PyMC, ArviZ, Matplotlib | {imports:.1f} | {imports / baseline:.1f} |")
    print(
        f"| floor: {evaluations:,} kernel evaluations ({per_evaluation * 1e3:.3f} ms each) "
        f"| {floor:.1f} | {floor / baseline:.1f} |"
    )

    if args.count_tuning:
        print("\n| trend | evaluations per chain: tuning | kept draws | ratio |\n|---|---|---|---|")
        for name, tuning, kept in count_tuning(args.draws, args.tune):
            print(f"| {name} | {tuning:,.0f} | {kept:,.0f} | {tuning / kept:.2f} |")


if __name__ == "__main__":
    main()
