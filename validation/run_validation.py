"""Run the statistical validation studies and write ``validation/results/*.csv`` and tables.

    python validation/run_validation.py sbc --simulations 200
    python validation/run_validation.py sbc --simulations 60 --trends power_law --chance
    python validation/run_validation.py coverage --simulations 20
    python validation/run_validation.py selection --simulations 10

Each study prints a Markdown table; ``validation/README.md`` holds the tables of the last full
run with the command that produced them.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from mirage_bayes.fitting.comparison import pair
from mirage_bayes.fitting.generation import fit
from mirage_bayes.simulate.calibration import (
    Design,
    coverage_run,
    sbc_ranks,
    simulate_counts,
    uniformity,
)
from mirage_bayes.simulate.generation import Break, log_cross_entropy

RESULTS = Path(__file__).resolve().parent / "results"


def markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """A DataFrame as a GitHub Markdown table (numbers to ``digits`` significant digits)."""
    table = table.reset_index() if not isinstance(table.index, pd.RangeIndex) else table

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.{digits}g}"
        return str(value)

    lines = ["| " + " | ".join(str(c) for c in table.columns) + " |"]
    lines.append("|" + "---|" * len(table.columns))
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(False)]
    return "\n".join(lines)


def rank_histograms(ranks: pd.DataFrame, title: str, path: Path, bins: int = 10) -> None:
    """One rank histogram per quantity, with the 99% band of a uniform histogram."""
    from matplotlib.figure import Figure
    from scipy import stats

    quantities = list(dict.fromkeys(ranks["quantity"]))
    cols = 5
    fig = Figure(figsize=(2.4 * cols, 2.0 * -(-len(quantities) // cols)), layout="constrained")
    axes = fig.subplots(-(-len(quantities) // cols), cols, squeeze=False).ravel()
    n = ranks.groupby("quantity").size().iloc[0]
    low, high = stats.binom.ppf([0.005, 0.995], n, 1 / bins)
    for ax, quantity in zip(axes, quantities, strict=False):
        ax.hist(ranks.loc[ranks["quantity"] == quantity, "rank"], bins=bins, range=(0, 100))
        ax.axhspan(low, high, color="grey", alpha=0.3)
        ax.set_title(quantity, fontsize="small")
        ax.set_yticks([])
    for ax in axes[len(quantities) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.savefig(path, dpi=90)


# Chance-match rates per length (1–5 tokens) for SBC with the chance term: larger than the
# digit floors (0–0.06), so that the term moves the likelihood.
SBC_CHANCE = (0.0, 0.05, 0.1, 0.15, 0.2)


def run_sbc(args: argparse.Namespace) -> None:
    design = Design(chance=SBC_CHANCE) if args.chance else Design()
    suffix = "_chance" if args.chance else ""
    for trend in args.trends.split(","):
        ranks = sbc_ranks(
            trend, n_simulations=args.simulations, design=design, draws=args.draws, seed=args.seed
        )
        ranks.to_csv(RESULTS / f"sbc_{trend}{suffix}.csv", index=False)
        title = f"SBC ranks: {trend}" + (f", chance rates {SBC_CHANCE}" if args.chance else "")
        rank_histograms(ranks, title, RESULTS / f"sbc_{trend}{suffix}.png")
        table = uniformity(ranks)
        print(f"\n### SBC: {trend}{suffix} ({args.simulations} prior draws)\n")
        print(markdown(table))


def run_coverage(args: argparse.Namespace) -> None:
    grids = {
        "4 sizes": (3.5e8, 1.3e9, 6.7e9, 1.75e11),
        "8 sizes": (1.25e8, 3.5e8, 7.6e8, 1.3e9, 2.7e9, 6.7e9, 1.3e10, 1.75e11),
    }
    rows = []
    for grid_name, grid in grids.items():
        for n_items in (50, 200):
            for sigma in (0.3, 1.0):
                design = Design(n_params=grid, n_items=n_items, lengths=(1, 3, 5))
                table = coverage_run(design=design, sigma_item=sigma, draws=args.draws,
                                     n_simulations=args.simulations, seed=args.seed)  # fmt: skip
                for (quantity, prob), group in table.groupby(["quantity", "prob"]):
                    rows.append({"grid": grid_name, "items": n_items, "sigma_item": sigma,
                                 "quantity": quantity, "interval": prob,
                                 "coverage": group["covered"].mean(), "n": len(group)})  # fmt: skip
    result = pd.DataFrame(rows)
    result.to_csv(RESULTS / "coverage.csv", index=False)
    wide = result.pivot_table(index=["grid", "items", "sigma_item", "quantity"],
                              columns="interval", values="coverage").reset_index()  # fmt: skip
    print(f"\n### Coverage ({args.simulations} simulations per row)\n")
    print(markdown(wide, 2))


def run_selection(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    rows = []
    for n_scales in (4, 6, 8, 12):
        sizes = tuple(np.geomspace(1e8, 1e11, n_scales))
        design = Design(n_params=sizes, n_items=100, lengths=(1, 3, 5))
        truths = {
            "power_law": log_cross_entropy(np.array(sizes), 3e8, -0.6),
            "broken_power_law": log_cross_entropy(
                np.array(sizes), 3e8, -0.2, Break(3e9, -1.2, sharpness=0.05)
            ),
        }
        for truth, mu in truths.items():
            for sim in range(args.simulations):
                frame = simulate_counts(mu, 0.5, design, rng)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    # With fewer than 5 sizes the broken power law is skipped by design.
                    result = fit(frame, trends=("power_law", "broken_power_law"),
                                 draws=args.draws, tune=args.draws, seed=args.seed + sim,
                                 progressbar=False, log=None)  # fmt: skip
                table = result.comparisons[0]
                main = pair(table, "power_law", "broken_power_law")
                if main is None:
                    decision = "too few sizes"
                elif main[1] > 2 * main[2]:
                    decision = main[0]
                else:
                    decision = "undecided"
                weights = table.set_index("trend")["weight"]
                rows.append(
                    {
                        "n_scales": n_scales,
                        "truth": truth,
                        "simulation": sim,
                        "decision": decision,
                        "weight_broken": float(weights.get("broken_power_law", np.nan)),
                    }
                )
    result = pd.DataFrame(rows)
    result.to_csv(RESULTS / "model_selection.csv", index=False)
    confusion = pd.crosstab([result["n_scales"], result["truth"]], result["decision"])
    print(f"\n### Model selection ({args.simulations} simulations per row)\n")
    print(markdown(confusion))
    print("\nmean stacking weight of the broken power law:\n")
    print(markdown(result.groupby(["n_scales", "truth"])["weight_broken"].mean().to_frame()))


def run_edge(args: argparse.Namespace) -> None:
    from mirage_bayes.simulate.edge_regimes import CASES, run_case

    rows = []
    for name, make in CASES.items():
        report = run_case(make(), draws=args.draws, seed=args.seed)
        report.pop("result")
        rows.append({"case": name, **report})
        print(f"{name}: {report}", flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(RESULTS / "edge_regimes.csv", index=False)
    print(f"\n### Edge regimes ({args.draws} draws per chain, 2 chains)\n")
    print(markdown(table))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=["sbc", "coverage", "selection", "edge"])
    parser.add_argument("--simulations", type=int, default=20)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trends", default="power_law,broken_power_law", help="for sbc")
    parser.add_argument(
        "--chance", action="store_true", help="for sbc: data with chance matches (SBC_CHANCE)"
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    studies = {
        "sbc": run_sbc,
        "coverage": run_coverage,
        "selection": run_selection,
        "edge": run_edge,
    }
    studies[args.study](args)


if __name__ == "__main__":
    main()
