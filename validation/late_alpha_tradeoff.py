"""How the late-jump threshold trades found late jumps against false ones, on the same fits.

The leave-future-out p-value of a curve does not depend on the threshold, so each population of
``run_meta_validation.py`` that decides the trade-off is fitted once and its curves are classed
again at every threshold (the ``alpha`` of :func:`mirage_bayes.meta.classify.classify`).
Prints a Markdown table and writes it to ``results/late_alpha_tradeoff.md``.

    python validation/late_alpha_tradeoff.py [--alphas 0.005,0.01,0.02,0.05,0.1] [--workers 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mirage_bayes.meta import classify as classes
from mirage_bayes.meta.fit import MetaConfig
from mirage_bayes.meta.io import triplets_from_frame
from mirage_bayes.meta.run import analyse
from mirage_bayes.simulate.meta import simulate_triplets

RESULTS = Path(__file__).resolve().parent / "results"
# (label, shape, sizes, items, chance, triplets): the populations the ≥ 80% / ≤ 5% rules bind.
POPULATIONS = [
    ("late jumps, 8 sizes, n=200, chance 0.25", "late_jump", 8, 200, 0.25, 100),
    ("late jumps, 8 sizes, n=200", "late_jump", 8, 200, 0.0, 100),
    ("smooth laws, 8 sizes, n=200, chance 0.25", "smooth", 8, 200, 0.25, 300),
    ("smooth laws, 8 sizes, n=200", "smooth", 8, 200, 0.0, 300),
    ("smooth laws, 7 sizes, n=50 (Pythia-like)", "smooth", 7, 50, 0.0, 200),
    ("early saturation, 8 sizes, n=200", "saturating", 8, 200, 0.0, 100),
]


def late_rates(triplets, table, alphas: list[float]) -> list[float]:
    """The share of curves classed ``late_jump`` at each threshold."""
    by_key = {(t.family, t.task, t.metric): t for t in triplets}
    counts = np.zeros(len(alphas))
    for row in table.itertuples():
        triplet = by_key[(row.family, row.task, row.metric)]
        v = triplet.counts / triplet.n_items
        se = classes.proportion_se(triplet.counts, triplet.n_items)
        p = float(row.p_late) if np.isfinite(row.p_late) else None
        for j, alpha in enumerate(alphas):
            counts[j] += classes.classify(v, se, p, alpha) == "late_jump"
    return list(counts / len(table))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alphas", default="0.005,0.01,0.02,0.05,0.1")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    alphas = [float(a) for a in args.alphas.split(",")]
    lines = ["| population | " + " | ".join(f"α = {a:g}" for a in alphas) + " |",
             "|---|" + "---|" * len(alphas)]  # fmt: skip
    for seed, (label, shape, sizes, items, chance, count) in enumerate(POPULATIONS):
        frame, _ = simulate_triplets(count, shape=shape, n_scales=sizes, n_items=items,
                                     chance=chance, seed=seed)  # fmt: skip
        triplets = triplets_from_frame(frame)
        result = analyse(triplets, MetaConfig(broken=False), workers=args.workers, progress=False)
        rates = late_rates(triplets, result.table, alphas)
        lines.append(f"| {label} | " + " | ".join(f"{r:.1%}" for r in rates) + " |")
        print(lines[-1], flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "late_alpha_tradeoff.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
