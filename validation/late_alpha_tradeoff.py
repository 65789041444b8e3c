"""How the late-jump threshold trades found late jumps against false ones, on the same fits.

The leave-future-out p-value of a curve does not depend on the threshold, so each population of
``run_meta_validation.py`` that decides the trade-off is fitted once and its curves are classed
again at every threshold (the ``alpha`` of :func:`mirage_bayes.meta.classify.classify`). For the
smooth laws the table gives two rates: over every curve, and over the curves whose *true* curve
does not itself meet the late-jump definition (``run_meta_validation.looks_late``; a steep smooth
law sampled at these sizes can be exactly a late jump, and no test can call it otherwise).
Writes ``results/late_alpha_tradeoff.md`` and, one row per curve, ``late_alpha_tradeoff.csv``.

    python validation/late_alpha_tradeoff.py [--alphas 0.005,0.01,0.02,0.05,0.1] [--workers 2]
        [--seed-offset 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from run_meta_validation import looks_late

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


def curve_rows(label, chance, triplets, table, truth) -> pd.DataFrame:
    """One row per curve: its p-values, whether its true curve looks late, and v / se."""
    by_key = {(t.family, t.task, t.metric): t for t in triplets}
    looks = looks_late(truth, chance)
    rows = []
    for row in table.itertuples():
        triplet = by_key[(row.family, row.task, row.metric)]
        rows.append({"population": label, "task": row.task, "p_late": row.p_late,
                     "p_level": getattr(row, "p_level", np.nan),
                     "p_surprise": getattr(row, "p_surprise", np.nan),
                     "looks_late": bool(looks[row.task]), "klass": table.loc[row.Index, "class"],
                     "counts": " ".join(str(int(c)) for c in triplet.counts),
                     "n": int(triplet.n_items[0])})  # fmt: skip
    return pd.DataFrame(rows)


def late_rate(curves: pd.DataFrame, alpha: float) -> float:
    """The share of curves classed ``late_jump`` at threshold ``alpha``."""
    hits = []
    for row in curves.itertuples():
        k = np.array(row.counts.split(), float)
        v, se = k / row.n, classes.proportion_se(k, np.full(k.size, row.n))
        p = float(row.p_late) if np.isfinite(row.p_late) else None
        hits.append(classes.classify(v, se, p, alpha) == "late_jump")
    return float(np.mean(hits)) if hits else float("nan")


def table_lines(curves: pd.DataFrame, alphas: list[float]) -> list[str]:
    """The Markdown table: one row per population (two for smooth laws)."""
    lines = ["| population | " + " | ".join(f"α = {a:g}" for a in alphas) + " |",
             "|---|" + "---|" * len(alphas)]  # fmt: skip
    for label, group in curves.groupby("population", sort=False):
        parts = [(label, group)]
        if label.startswith("smooth"):
            rest = group[~group["looks_late"]]
            parts.append((f"{label}: the {len(rest)} whose true curve does not look late", rest))
        for name, part in parts:
            rates = [late_rate(part, a) for a in alphas]
            lines.append(f"| {name} | " + " | ".join(f"{r:.1%}" for r in rates) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alphas", default="0.005,0.01,0.02,0.05,0.1")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed-offset", type=int, default=0)
    parser.add_argument(
        "--from-csv",
        action="store_true",
        help="reclass the curves of results/late_alpha_tradeoff.csv, no fits",
    )
    args = parser.parse_args()
    alphas = [float(a) for a in args.alphas.split(",")]
    csv = RESULTS / "late_alpha_tradeoff.csv"
    if args.from_csv:
        curves = pd.read_csv(csv)
    else:
        frames = []
        for seed, (label, shape, sizes, items, chance, count) in enumerate(POPULATIONS):
            frame, truth = simulate_triplets(
                count,
                shape=shape,
                n_scales=sizes,
                n_items=items,
                chance=chance,
                seed=seed + args.seed_offset,
            )
            triplets = triplets_from_frame(frame)
            result = analyse(triplets, MetaConfig(broken=False), workers=args.workers,
                             progress=False)  # fmt: skip
            frames.append(curve_rows(label, chance, triplets, result.table, truth))
            print(label, "done", flush=True)
        curves = pd.concat(frames, ignore_index=True)
        RESULTS.mkdir(exist_ok=True)
        curves.to_csv(csv, index=False)
    lines = table_lines(curves, alphas)
    (RESULTS / "late_alpha_tradeoff.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
