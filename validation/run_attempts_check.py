"""pass@k from repeated attempts: do the posterior intervals cover the simulated truth?

Each data set is simulated by ``simulate_outputs(attempts=A)`` (arithmetic targets of one
length, normal item difficulty on the log cross-entropy scale, the default rendering with
insertions, deletions, echoes and empty outputs), fitted with the power law, and its 94% HDI of
pass@1 and of pass@A at every size compared with the population truth (new items from the same
population), and likewise for the unbiased estimator on the items tested (how far the data alone
are from the truth).

Run from the repository root::

    python validation/run_attempts_check.py [--datasets 10] [--items 60] [--attempts 20]

Writes ``validation/results/attempts_check.csv`` (one row per data set, size and k) and prints
the coverage per k.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from mirage_bayes.fitting.generation import fit
from mirage_bayes.simulate.generation import simulate_outputs

RESULTS = Path(__file__).parent / "results"


def one(seed: int, items: int, attempts: int, length: int, draws: int) -> pd.DataFrame:
    outputs, truth = simulate_outputs(n_items=items, lengths=(length,), attempts=attempts,
                                      seed=seed, n_params=np.logspace(8, 11, 8))  # fmt: skip
    outputs.attrs.update(item_ids=True, prescored=False, source=f"seed {seed}")
    result = fit(outputs, trends=["power_law"], draws=draws, tune=draws, seed=seed,
                 progressbar=False, log=None)  # fmt: skip
    summary = result.summary()
    rows = []
    for k in (1, attempts):
        want = truth[(truth["quantity"] == "pass_at_k") & (truth["k"] == k)]
        got = summary[(summary["trend"] == "power_law") & (summary["quantity"] == f"pass_at_{k}")]
        both = got.merge(want[["model", "value"]], on="model")
        both = both.assign(seed=seed, k=k, covered=both["hdi_low"].le(both["value"])
                           & both["value"].le(both["hdi_high"]))  # fmt: skip
        rows.append(both[["seed", "model", "n_params", "k", "value", "observed", "mean",
                          "hdi_low", "hdi_high", "covered"]])  # fmt: skip
    return pd.concat(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=10)
    parser.add_argument("--items", type=int, default=60)
    parser.add_argument("--attempts", type=int, default=20)
    parser.add_argument("--length", type=int, default=3)
    parser.add_argument("--draws", type=int, default=500)
    options = parser.parse_args()
    frames = [one(seed, options.items, options.attempts, options.length, options.draws)
              for seed in range(options.datasets)]  # fmt: skip
    table = pd.concat(frames, ignore_index=True)
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "attempts_check.csv", index=False)
    for k, part in table.groupby("k"):
        error = (part["observed"] - part["value"]).abs().mean()
        cover = part["covered"].mean()
        print(f"pass@{k}: 94% HDI covers the truth in {cover:.3f} of {len(part)} (data set, "
              f"size) cells; mean |estimator - truth| {error:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
