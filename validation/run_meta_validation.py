"""Calibration of ``mirage-bayes meta`` on simulated triplets with a known truth.

Claims checked (numbers written to ``validation/results/meta_calibration.{json,md}``):

1. Smooth-law triplets (finite n): the fraction with ppp < 0.05 is about 5% (posterior
   predictive p-values are conservative, so at most about 5%), and BH finds few or no
   "discoveries".
2. The expected number above the emergence threshold (94% HDI) covers the observed number:
   checked on many independent populations of smooth triplets (coverage should be near 94%).
3. Sharp-break triplets (plateau, then a break inside the range): most have ppp < 0.05.
4. Where the broken power law is fitted: how often its LOO gain exceeds 2 SE on smooth and on
   sharp triplets.

Two designs: Pythia-like (7 sizes, 50 items) and BIG-G-like (8 sizes over 1e8–1e11, 200 items).

    python validation/run_meta_validation.py [--smooth 300] [--sharp 100] [--populations 10]
        [--broken 100] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from mirage_bayes.emergence import bh_qvalues, count_summary
from mirage_bayes.meta import analyse
from mirage_bayes.meta_fit import MetaConfig
from mirage_bayes.meta_io import triplets_from_frame
from mirage_bayes.meta_simulate import simulate_triplets

RESULTS = Path(__file__).resolve().parent / "results"
DESIGNS = {"7 sizes, n=50": dict(n_scales=7, n_items=50), "8 sizes, n=200": dict(n_scales=8,
           n_items=200)}  # fmt: skip


def _run(frame: pd.DataFrame, config: MetaConfig, workers: int):
    return analyse(triplets_from_frame(frame), config, workers=workers, progress=False)


def _coverage(result, populations: int, threshold: float) -> dict:
    """Split the triplets into populations; does each one's expected-count HDI hold its count?"""
    rows = np.array_split(np.arange(len(result.table)), populations)
    above = result.null_above  # (triplets, draws)
    covered = []
    for idx in rows:
        counts = above[idx].sum(axis=0)
        low, high = count_summary(counts)["hdi"]
        observed = int((result.table["emergence_score"].to_numpy()[idx] > threshold).sum())
        covered.append(low <= observed <= high)
    return {"populations": populations, "triplets_each": len(rows[0]),
            "covered": int(np.sum(covered)), "coverage": float(np.mean(covered))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smooth", type=int, default=300)
    parser.add_argument("--sharp", type=int, default=100)
    parser.add_argument("--populations", type=int, default=10)
    parser.add_argument("--broken", type=int, default=100, help="triplets per arm for LOO")
    parser.add_argument("--workers", type=int, default=1, help="1: this process, compile once")
    args = parser.parse_args()
    config = MetaConfig(broken=False)
    report: dict = {"config": config.to_dict(), "designs": {}}
    for d, (name, design) in enumerate(DESIGNS.items()):
        smooth, _ = simulate_triplets(args.smooth, seed=100 + d, **design)
        sharp, _ = simulate_triplets(args.sharp, shape="sharp", seed=200 + d, **design)
        rs, rb = _run(smooth, config, args.workers), _run(sharp, config, args.workers)
        ppp_s, ppp_b = rs.table["ppp"].to_numpy(), rb.table["ppp"].to_numpy()
        s = rs.summary
        entry = {
            "smooth_triplets": len(ppp_s),
            "smooth_fraction_ppp_below_05": float(np.mean(ppp_s < 0.05)),
            "smooth_fraction_ppp_below_10": float(np.mean(ppp_s < 0.10)),
            "smooth_bh_discoveries_q05": int((bh_qvalues(ppp_s) < 0.05).sum()),
            "smooth_observed_above_threshold": s["n_emergent_observed"],
            "smooth_expected_mean": s["n_emergent_expected_mean"],
            "smooth_expected_hdi": s["n_emergent_expected_hdi"],
            "count_interval_coverage": _coverage(rs, args.populations, config.threshold),
            "smooth_diagnostics_failed": s["n_smooth_diagnostics_failed"],
            "sharp_triplets": len(ppp_b),
            "sharp_fraction_ppp_below_05": float(np.mean(ppp_b < 0.05)),
            "sharp_observed_above_threshold": rb.summary["n_emergent_observed"],
        }
        if args.broken:
            loo = MetaConfig(broken=True)
            for arm, frame in (("smooth", smooth), ("sharp", sharp)):
                tasks = frame["task"].drop_duplicates().head(args.broken)
                table = _run(frame[frame["task"].isin(tasks)], loo, args.workers).table
                wins = table["elpd_diff_broken"] > 2 * table["dse"]
                entry[f"{arm}_broken_preferred_2se"] = float(wins.mean())
                entry[f"{arm}_broken_diagnostics_failed"] = int((table["broken_ok"] == False).sum())  # noqa: E712
        report["designs"][name] = entry
        print(name, json.dumps(entry, indent=1))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "meta_calibration.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "meta_calibration.md").write_text(_markdown(report))


def _markdown(report: dict) -> str:
    lines = [
        "| design | smooth: ppp < 0.05 | smooth: BH q < 0.05 | smooth: observed above "
        "threshold / expected (94% HDI) | count-HDI coverage over populations | sharp: "
        "ppp < 0.05 | broken law > 2 SE: smooth / sharp |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, e in report["designs"].items():
        cov = e["count_interval_coverage"]
        low, high = e["smooth_expected_hdi"]
        broken = (f"{e['smooth_broken_preferred_2se']:.0%} / {e['sharp_broken_preferred_2se']:.0%}"
                  if "smooth_broken_preferred_2se" in e else "—")  # fmt: skip
        lines.append(
            f"| {name} | {e['smooth_fraction_ppp_below_05']:.1%} of {e['smooth_triplets']} | "
            f"{e['smooth_bh_discoveries_q05']} | {e['smooth_observed_above_threshold']} / "
            f"{e['smooth_expected_mean']:.1f} ({low:g}–{high:g}) | {cov['covered']} of "
            f"{cov['populations']} ({cov['triplets_each']} triplets each) | "
            f"{e['sharp_fraction_ppp_below_05']:.0%} of {e['sharp_triplets']} | {broken} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
