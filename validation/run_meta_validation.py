"""Validation of ``mirage-bayes meta``'s classes on simulated populations with a known truth.

Claims checked (numbers written to ``validation/results/meta_validation.{json,md}``):

1. Late jumps (flat near chance for at least half the sizes, then a rise of ≥ 0.3 in accuracy
   within the last two sizes; 8 or 12 sizes, n ≥ 200, chance 0 or 0.25): at least 80% are
   classed ``late_jump``.
2. Smooth laws (cloglog power laws with slopes up to −6 per half range), early saturation,
   power-law losses with an irreducible term (perplexity, 0.2–2% noise, with and without a
   stderr column) and continuous smooth scores: at most 5% are classed ``late_jump``. Smooth
   laws whose *true* curve meets the late-jump definition above are counted apart: a steep smooth
   law can make exactly that curve.
3. Steps (0 at every size but the largest, which is near 1) seen through 4–12 sizes: the class
   says ``too_few`` below ``MIN_SIZES_LATE`` sizes, and from how many sizes on steps are found.
4. Non-monotone curves (one failed size; a fall at the largest size): classed ``irregular`` or
   ``worse``, and not counted as late jumps.
5. The late-jump null count: on populations of smooth laws, the 94% HDI of the expected number
   of late jumps holds the observed number.
6. For comparability with the earlier Eq. 1 calibration: the fraction of smooth-law triplets
   with ppp < 0.05.

    python validation/run_meta_validation.py [--scale 1.0] [--workers 2]

``--scale`` multiplies every population size (0.2 for a quick look).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mirage_bayes.meta.classify import MIN_SIZES_LATE
from mirage_bayes.meta.emergence import count_summary
from mirage_bayes.meta.fit import MetaConfig
from mirage_bayes.meta.io import triplets_from_frame
from mirage_bayes.meta.run import analyse
from mirage_bayes.simulate.meta import simulate_triplets

RESULTS = Path(__file__).resolve().parent / "results"
# (label, shape, sizes, items, chance, triplets, group)
POPULATIONS = [
    ("late jumps, 8 sizes, n=200", "late_jump", 8, 200, 0.0, 100, "late"),
    ("late jumps, 8 sizes, n=200, chance 0.25", "late_jump", 8, 200, 0.25, 100, "late"),
    ("late jumps, 8 sizes, n=1000, chance 0.25", "late_jump", 8, 1000, 0.25, 100, "late"),
    ("late jumps, 12 sizes, n=500", "late_jump", 12, 500, 0.0, 100, "late"),
    ("late jumps, 12 sizes, n=200, chance 0.25", "late_jump", 12, 200, 0.25, 100, "late"),
    ("smooth laws, 8 sizes, n=200", "smooth", 8, 200, 0.0, 300, "null"),
    ("smooth laws, 8 sizes, n=200, chance 0.25", "smooth", 8, 200, 0.25, 300, "null"),
    ("smooth laws, 12 sizes, n=200", "smooth", 12, 200, 0.0, 300, "null"),
    ("smooth laws, 7 sizes, n=50 (Pythia-like)", "smooth", 7, 50, 0.0, 200, "null"),
    ("early saturation, 8 sizes, n=200", "saturating", 8, 200, 0.0, 100, "null"),
    ("early saturation, 12 sizes, n=1000", "saturating", 12, 1000, 0.25, 100, "null"),
    ("perplexity power law, 8 sizes, stderr given", "loss", 8, 0, 0.0, 100, "null"),
    ("perplexity power law, 8 sizes, no stderr", "loss_nostderr", 8, 0, 0.0, 100, "null"),
    ("continuous smooth score, 8 sizes", "continuous", 8, 0, 0.0, 100, "null"),
    ("one failed size, 8 sizes, n=200", "irregular", 8, 200, 0.0, 60, "nonmonotone"),
    ("falls at the largest size, 8 sizes, n=200", "worse", 8, 200, 0.0, 60, "nonmonotone"),
    *[(f"step, {s} sizes, n=200", "step", s, 200, 0.0, 40, "steps") for s in (4, 5, 6, 8, 12)],
]  # fmt: skip


def looks_late(truth: pd.DataFrame, chance: float) -> pd.Series:
    """Whether each true curve meets the late-jump definition: within 0.05 of chance for at
    least half the sizes, then a rise of ≥ 0.3 within the last two sizes."""

    def rule(curve: pd.Series) -> bool:
        p = curve.to_numpy()
        n = p.size
        flat = np.abs(p[: (n + 1) // 2] - chance) <= 0.05
        return bool(flat.all() and p[-1] - p[-3] >= 0.3)

    return truth.groupby("task", sort=False)["true_mean"].apply(rule)


def _population(label, shape, sizes, items, chance, count, seed, config, workers) -> dict:
    simulated = "loss" if shape == "loss_nostderr" else shape
    frame, truth = simulate_triplets(count, shape=simulated, n_scales=sizes,
                                     n_items=max(items, 1), chance=chance, seed=seed)  # fmt: skip
    if shape == "loss_nostderr":
        frame = frame.drop(columns="stderr")
    start = time.perf_counter()
    result = analyse(triplets_from_frame(frame), config, workers=workers, progress=False)
    table = result.table
    late = (table["class"] == "late_jump").to_numpy()
    entry = {
        "population": label, "triplets": len(table), "late_jump": float(late.mean()),
        "classes": {k: int(v) for k, v in table["class"].value_counts().items()},
        "ppp_below_05": float(np.mean(table["ppp"] < 0.05)),
        "diagnostics_pass": float(table[["smooth_ok", "late_ok"]].fillna(True).all(axis=1).mean()),
        "seconds": round(time.perf_counter() - start, 1),
    }  # fmt: skip
    if simulated in ("smooth", "saturating"):
        looks = looks_late(truth, chance).to_numpy()
        entry["true_curve_looks_late"] = int(looks.sum())
        rest = ~looks
        entry["late_jump_among_the_rest"] = float(late[rest].mean()) if rest.any() else None
        entry["late_count_coverage"] = _coverage(result, rows=10)
    return entry


def _coverage(result, rows: int) -> dict:
    """Split the triplets into populations; does each one's late-jump HDI hold its count?"""
    groups = np.array_split(np.arange(len(result.table)), rows)
    late = (result.table["class"] == "late_jump").to_numpy()
    covered = []
    for idx in groups:
        low, high = count_summary(result.late_null[idx].sum(axis=0))["hdi"]
        covered.append(low <= late[idx].sum() <= high)
    return {"populations": rows, "covered": int(np.sum(covered))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = MetaConfig(broken=False)
    report: dict = {"config": config.to_dict(), "min_sizes_late": MIN_SIZES_LATE,
                    "populations": []}  # fmt: skip
    for i, (label, shape, sizes, items, chance, count, group) in enumerate(POPULATIONS):
        n = max(4, round(count * args.scale))
        entry = _population(label, shape, sizes, items, chance, n, 300 + i, config, args.workers)
        entry["group"] = group
        report["populations"].append(entry)
        print(json.dumps(entry), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "meta_validation.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "meta_validation.md").write_text(_markdown(report))
    print(_markdown(report))


def _markdown(report: dict) -> str:
    lines = [
        "| population | triplets | classed late jump | classes | smooth laws whose true curve "
        "looks late / late jumps among the others | Eq. 1 ppp < 0.05 | diagnostics pass |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in report["populations"]:
        classes = ", ".join(f"{k} {v}" for k, v in sorted(e["classes"].items(),
                                                          key=lambda kv: -kv[1]))  # fmt: skip
        split = "—"
        if "true_curve_looks_late" in e:
            rest = e["late_jump_among_the_rest"]
            split = f"{e['true_curve_looks_late']} / " + ("—" if rest is None else f"{rest:.1%}")
        cells = [e["population"], str(e["triplets"]), f"{e['late_jump']:.1%}", classes, split,
                 f"{e['ppp_below_05']:.1%}", f"{e['diagnostics_pass']:.1%}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    coverage = [e for e in report["populations"] if "late_count_coverage" in e]
    lines.append("")
    lines.append("Late-jump null count, 94% HDI holds the observed count (10 sub-populations "
                 "each): " + "; ".join(f"{e['population']}: {e['late_count_coverage']['covered']} "
                                      "of 10" for e in coverage) + ".")  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
