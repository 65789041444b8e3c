"""The late-jump check with the smooth law's grid posterior against NUTS, on real curves.

Every task of the bundled BIG-G table (``analyses/data/bigbench_bigg``: correct out of n per
size, chance 0 for a like-for-like comparison of the two samplers) is checked twice with
``fit_triplet``: the smooth law sampled by nutpie (``meta``'s default) and taken from its grid
posterior (what ``fit``'s late-jump check uses, :mod:`mirage_bayes.meta.grid`).

Run from the repository root: ``python validation/grid_vs_nuts.py``. Writes
``validation/results/grid_vs_nuts.csv`` and prints the agreement.
"""

from pathlib import Path

import pandas as pd

from mirage_bayes.meta.fit import MetaConfig
from mirage_bayes.meta.io import Triplet
from mirage_bayes.meta.triplet import fit_triplet

TABLE = Path(__file__).parents[1] / "analyses" / "data" / "bigbench_bigg"
TABLE = TABLE / "bigg_t0_task_accuracy_3shot.csv"


def main() -> None:
    table = pd.read_csv(TABLE)
    rows = []
    for task, g in table.groupby("task"):
        g = g.sort_values("non_embedding_params")
        n, k = g["n_items"].to_numpy(float), g["n_correct"].to_numpy(float)
        triplet = Triplet(
            family="BIG-G", task=task, metric="acc", kind="proportion", higher_is_better=True,
            models=tuple(g["model_name"]), n_params=g["non_embedding_params"].to_numpy(float),
            values=k / n, n_items=n, chance=0.0, counts=k,
        )  # fmt: skip
        out = {s: fit_triplet(triplet, MetaConfig(seed=1, broken=False, sampler=s))
               for s in ("grid", "nuts")}  # fmt: skip
        rows.append({"task": task, "class_grid": out["grid"]["class"],
                     "class_nuts": out["nuts"]["class"], "p_grid": out["grid"]["p_late"],
                     "p_nuts": out["nuts"]["p_late"]})  # fmt: skip
    d = pd.DataFrame(rows)
    d.to_csv(Path(__file__).parent / "results" / "grid_vs_nuts.csv", index=False)
    gap = (d["p_grid"] - d["p_nuts"]).abs()
    print(f"{len(d)} curves; same class in {(d['class_grid'] == d['class_nuts']).mean():.3f}; "
          f"|p_late grid - NUTS| median {gap.median():.3f}, max {gap.max():.3f}")  # fmt: skip
    print(d[d["class_grid"] != d["class_nuts"]].to_string())


if __name__ == "__main__":
    main()
