"""Repeated attempts: do the intervals of pass@k, of its exponent in k and of a pass@1 below
1/items cover the simulated truth?

Three studies, each over many simulated data sets fitted with the power law:

``exponent``
    A fixed number of attempts per item (counted: ``n_attempts``/``n_success``), item success
    probabilities from the model's own lognormal population and from a beta population
    (Schaeffer et al. 2025; :mod:`mirage_bayes.simulate.attempts`), the second a design the model
    does not assume. Per size: is the truth inside the 94% HDI of ``pass_exponent`` (``b`` of
    ``−log pass@k ≈ A·k^(−b)`` over the k of the grid where the fitted pass@k is below 0.999;
    the truth's exponent over the same k, from pass@k integrated over the population) and of
    pass@k at the largest k?
``until_pass``
    Items attempted until their first exact match (up to a cap), both populations: coverage of
    pass@1 at the sizes whose truth lies below 1/items, and whether the interval excludes 0.
``tails``
    Where a beta population departs from the model: quantiles of ``log(−log a)``, standardized,
    against the normal's.
``rendered``
    Attempts rendered as text (``simulate_outputs(attempts=...)``: insertions, deletions, echoes,
    empty outputs) and scored token by token: coverage of pass@1 and pass@A.

Run from the repository root::

    python validation/run_attempts_validation.py exponent [--datasets 40] [--family log_gamma]
    python validation/run_attempts_validation.py until_pass [--datasets 40] [--family log_gamma]
    python validation/run_attempts_validation.py rendered [--datasets 10]
    python validation/run_attempts_validation.py tails

``--family`` is the item family fitted (``fit --items``; ``compare`` records which one LOO kept).
Writes ``validation/results/attempts_<study>[_<family>].csv`` (per fit: the family kept, the
posterior mean of its shape ``Q`` and whether the sampler checks passed) and prints a Markdown
table.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from mirage_bayes.fitting.generation import fit
from mirage_bayes.fitting.item_choice import task_item_family
from mirage_bayes.inputs.io import read_outputs
from mirage_bayes.models.attempts import default_ks, exponent_ks, log_pass_exponent
from mirage_bayes.simulate.attempts import simulate_attempts
from mirage_bayes.simulate.generation import simulate_outputs

RESULTS = Path(__file__).parent / "results"
SIZES = np.logspace(8, 11, 6)
POPULATIONS = ("lognormal", "beta")


def _fit_summary(
    outputs: pd.DataFrame, seed: int, draws: int, ks=(), family: str = "normal"
) -> pd.DataFrame:
    result = fit(outputs, trends=["power_law"], draws=draws, tune=draws, seed=seed,
                 progressbar=False, log=None, ks=ks, items=family)  # fmt: skip
    summary = result.summary()
    summary = summary[summary["trend"] == "power_law"]
    task = summary["task"].iloc[0]
    parameters = result.parameters()
    shape = parameters[(parameters["parameter"] == "item_shape")
                       & (parameters["trend"] == "power_law")]["mean"]  # fmt: skip
    return summary.assign(
        # The family the reported fit uses (with "compare": the one LOO kept) and its shape Q.
        items=task_item_family(result.meta, task)["family"],
        shape=float(shape.iloc[0]) if len(shape) else np.nan,
        diagnostics_ok=result.diagnostics_by_fit[(task, "power_law")].ok,
    )


def _as_read(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A simulated counted-attempts table read back as a user's file would be."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"attempts_{seed}.csv"
        frame.to_csv(path, index=False)
        return read_outputs(path)


def _covered(rows: pd.DataFrame, truth: pd.Series) -> pd.Series:
    return rows["hdi_low"].le(truth) & truth.le(rows["hdi_high"])


def exponent(
    datasets: int, items: int, attempts: int, draws: int, family: str, populations
) -> pd.DataFrame:
    ks = default_ks(attempts)
    frames = []
    for population in populations:
        for seed in range(datasets):
            outputs, truth = simulate_attempts(
                n_params=SIZES, n_items=items, max_attempts=attempts, until_pass=False,
                population=population, ks=ks, seed=seed, length=4,
            )  # fmt: skip
            summary = _fit_summary(_as_read(outputs, seed), seed, draws, family=family)
            grid = truth.pivot(index="model", columns="k", values="pass_at_k")[ks]
            b = summary[summary["quantity"] == "pass_exponent"].set_index("model")
            top = summary[summary["quantity"] == f"pass_at_{attempts}"].set_index("model")
            fitted = summary[summary["quantity"].str.match(r"pass_at_\d+$")]
            fitted = fitted.assign(k=fitted["quantity"].str.slice(8).astype(int))
            fitted = fitted.pivot(index="model", columns="k", values="mean")[ks]
            for model in b.index:
                # The truth's exponent over the k the fit read it over (not saturated).
                keep = exponent_ks(fitted.loc[model].to_numpy())
                if keep.sum() < 2:
                    continue
                true_b = float(log_pass_exponent(np.asarray(ks)[keep],
                                                 grid.loc[model].to_numpy()[keep]))  # fmt: skip
                row = b.loc[model]
                frames.append(pd.DataFrame([{
                    "population": population, "fitted": family, "items": row["items"],
                    "shape": row["shape"], "diagnostics_ok": row["diagnostics_ok"],
                    "seed": seed, "model": model,
                    "n_params": row["n_params"], "ks": int(keep.sum()), "b_true": true_b,
                    "b_mean": row["mean"], "b_low": row["hdi_low"], "b_high": row["hdi_high"],
                    "b_covered": row["hdi_low"] <= true_b <= row["hdi_high"],
                    "pass_top_true": grid.loc[model, attempts],
                    "pass_top_mean": top.loc[model, "mean"],
                    "pass_top_covered": top.loc[model, "hdi_low"] <= grid.loc[model, attempts]
                    <= top.loc[model, "hdi_high"],
                }]))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def until_pass(
    datasets: int, items: int, cap: int, draws: int, family: str, populations
) -> pd.DataFrame:
    frames = []
    for population in populations:
        for seed in range(datasets):
            outputs, truth = simulate_attempts(
                n_params=SIZES, n_items=items, max_attempts=cap, population=population,
                seed=seed, length=4,
            )  # fmt: skip
            summary = _fit_summary(_as_read(outputs, seed), seed, draws, ks=[1], family=family)
            print(f"{population} data set {seed + 1}/{datasets} fitted", flush=True)
            one = summary[summary["quantity"] == "pass_at_1"].set_index("model")
            want = truth[truth["k"] == 1].set_index("model")["pass_at_k"][one.index]
            frames.append(pd.DataFrame({
                "population": population, "fitted": family, "items": one["items"],
                "shape": one["shape"], "diagnostics_ok": one["diagnostics_ok"],
                "seed": seed, "model": one.index,
                "n_params": one["n_params"], "truth": want, "mean": one["mean"],
                "hdi_low": one["hdi_low"], "hdi_high": one["hdi_high"],
                "below_one_over_items": want < 1.0 / items, "covered": _covered(one, want),
            }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def rendered(datasets: int, items: int, attempts: int, draws: int, family: str) -> pd.DataFrame:
    frames = []
    for seed in range(datasets):
        outputs, truth = simulate_outputs(n_items=items, lengths=(3,), attempts=attempts,
                                          seed=seed, n_params=np.logspace(8, 11, 8))  # fmt: skip
        outputs.attrs.update(item_ids=True, prescored=False, source=f"seed {seed}")
        summary = _fit_summary(outputs, seed, draws, family=family)
        for k in (1, attempts):
            want = truth[(truth["quantity"] == "pass_at_k") & (truth["k"] == k)]
            want = want.set_index("model")["value"]
            got = summary[summary["quantity"] == f"pass_at_{k}"].set_index("model")
            frames.append(pd.DataFrame({"seed": seed, "k": k, "model": got.index,
                                        "truth": want[got.index], "mean": got["mean"],
                                        "covered": _covered(got, want[got.index])}))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def tails(beta: tuple[float, float] = (0.3, 3.0)) -> pd.DataFrame:
    """Quantiles of item difficulty on the model's scale, ``u = log(−log a)`` standardized, for
    a beta population of success probabilities, beside the normal the model assumes."""
    a = np.clip(np.random.default_rng(0).beta(*beta, 1_000_000), 1e-300, 1.0 - 1e-16)
    u = np.log(-np.log(a))
    z = (u - u.mean()) / u.std()
    probs = [0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999]
    return pd.DataFrame({"quantile": probs, "beta": np.quantile(z, probs).round(3),
                         "normal": stats.norm.ppf(probs).round(3)})  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=("exponent", "until_pass", "rendered", "tails"))
    parser.add_argument("--datasets", type=int, default=40)
    parser.add_argument("--items", type=int, default=60)
    parser.add_argument("--attempts", type=int, default=50, help="attempts, or the cap")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument(
        "--family",
        choices=("normal", "log_gamma", "compare"),
        default="normal",
        help="the item family fitted (fit --items)",
    )
    parser.add_argument("--populations", default=",".join(POPULATIONS))
    o = parser.parse_args()
    if o.study == "tails":
        table = summary = tails()
    elif o.study == "exponent":
        populations = o.populations.split(",")
        table = exponent(o.datasets, o.items, o.attempts, o.draws, o.family, populations)
        summary = table.groupby("population").agg(
            cells=("b_covered", "size"), b_covered=("b_covered", "mean"),
            pass_top_covered=("pass_top_covered", "mean"),
            log_gamma_kept=("items", lambda v: float((v == "log_gamma").mean())),
            shape=("shape", "median"), diagnostics_ok=("diagnostics_ok", "mean"),
        )  # fmt: skip
    elif o.study == "until_pass":
        populations = o.populations.split(",")
        table = until_pass(o.datasets, o.items, o.attempts, o.draws, o.family, populations)
        low = table[table["below_one_over_items"]]
        summary = low.groupby("population").agg(
            cells=("covered", "size"), covered=("covered", "mean"),
            above_zero=("hdi_low", lambda v: float((v > 0).mean())),
        )  # fmt: skip
    else:
        table = rendered(o.datasets, o.items, o.attempts, o.draws, o.family)
        summary = table.groupby("k").agg(cells=("covered", "size"), covered=("covered", "mean"))
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if o.family == "normal" else f"_{o.family}"
    if o.study in ("exponent", "until_pass") and o.populations != ",".join(POPULATIONS):
        suffix += "_" + o.populations.replace(",", "_")
    table.to_csv(RESULTS / f"attempts_{o.study}{suffix}.csv", index=False)
    summary = summary.round(3).reset_index(drop=o.study == "tails")
    print("| " + " | ".join(summary.columns) + " |")
    print("|" + "---|" * len(summary.columns))
    for row in summary.itertuples(index=False):
        print("| " + " | ".join(str(v) for v in row) + " |")


if __name__ == "__main__":
    main()
