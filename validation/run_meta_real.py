"""``mirage-bayes meta`` with its default settings on the bundled real tables.

For each table: M, the classes, late jumps observed against the number expected under the
smooth null, the share of triplets whose fits pass r̂ ≤ 1.01, bulk ESS ≥ 400 and no divergences
(smooth law, forecast from the smaller sizes and broken law, each after the adaptive retries),
the LOO comparisons left with a Pareto k above 0.7, and the run time. Results go to
``validation/results/meta_real.{json,md}``.

Tables: BIG-G 3-shot (``analyses/data/bigbench_bigg``, 85 tasks × 12 sizes), Pythia arithmetic
at the final checkpoint (``analyses/data/pythia_arithmetic``, 200 operand tasks × 5 shot counts
× 7 sizes) and the real lm-evaluation-harness results of four Pythia models
(``tests/data/meta_lmeval/pythia_v1_step113000``).

    python validation/run_meta_real.py [--workers 2] [--tables bigg,pythia,lmeval]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mirage_bayes.meta.fit import MetaConfig
from mirage_bayes.meta.io import triplets_from_frame
from mirage_bayes.meta.run import analyse
from mirage_bayes.meta.sources import load_source

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "validation" / "results"
LMEVAL = ROOT / "tests" / "data" / "meta_lmeval" / "pythia_v1_step113000"
TABLES = {
    "bigg": ("BIG-G 3-shot", "bigbench-bigg", ROOT / "analyses/data/bigbench_bigg", None),
    "pythia": ("Pythia arithmetic", "pythia-arithmetic", ROOT / "analyses/data/pythia_arithmetic",
               None),
    "lmeval": ("Pythia v1 lm-eval (4 sizes)", "lm-eval", LMEVAL, LMEVAL / "params.csv"),
}  # fmt: skip


def run(name: str, source: str, folder: Path, params: Path | None, workers: int) -> dict:
    frame = load_source(source, folder, params=params)
    triplets = triplets_from_frame(frame, name=name)
    result = analyse(triplets, MetaConfig(), workers=workers, progress=False,
                     chance_sensitivity=True)  # fmt: skip
    t, s = result.table, result.summary
    fitted = t[["smooth_ok", "late_ok", "broken_ok"]]
    passing = (fitted.isna() | (fitted == True)).all(axis=1)  # noqa: E712 (NaN: not fitted)
    late = t[t["class"] == "late_jump"]
    return {
        "table": name,
        "triplets": s["n_triplets"],
        "diagnostics_pass_all_fits": float(passing.mean()),
        "smooth_pass": float(t["smooth_ok"].dropna().astype(bool).mean()),
        "forecast_pass": float(t["late_ok"].dropna().astype(bool).mean()),
        "broken_pass": float(t["broken_ok"].dropna().astype(bool).mean()),
        "retried": s["n_retried"],
        "loo_compared": s["n_loo_compared"],
        "loo_exact_refits": s["n_loo_exact_refits"],
        "loo_exact_refits_divergent": s["n_loo_exact_refits_divergent"],
        "pareto_k_above_07_left": s["n_broken_pareto_k_above_07"],
        "classes": s["classes"],
        "late_jumps_observed": s["n_late_jumps_observed"],
        "late_jumps_expected_mean": s["n_late_jumps_expected_mean"],
        "late_jumps_expected_hdi": s["n_late_jumps_expected_hdi"],
        "eq1_above_threshold": s["n_emergent_observed"],
        "eq1_expected_mean": s["n_emergent_expected_mean"],
        "late_jumps": [" / ".join(map(str, k))
                       for k in zip(late["family"], late["task"], late["metric"], strict=True)],
        "chance_sensitivity": s["chance_sensitivity"]["statement"],
        "warnings": s["warnings"],
        "seconds": result.meta["seconds"],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tables", default=",".join(TABLES))
    args = parser.parse_args()
    path = RESULTS / "meta_real.json"
    kept = json.loads(path.read_text()) if path.exists() else []
    entries = {e["table"]: e for e in kept}  # a partial rerun keeps the other tables
    for key in args.tables.split(","):
        entry = run(*TABLES[key], args.workers)
        entries[entry["table"]] = entry
        print(json.dumps(entry), flush=True)
    order = [TABLES[k][0] for k in TABLES]
    entries = sorted(entries.values(), key=lambda e: order.index(e["table"]))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "meta_real.json").write_text(json.dumps(entries, indent=2) + "\n")
    (RESULTS / "meta_real.md").write_text(markdown(entries))
    print(markdown(entries))


def markdown(entries: list[dict]) -> str:
    lines = [
        "| table | M | all fits pass r̂/ESS/divergences | LOO compared / Pareto k > 0.7 left | "
        "late jumps observed / expected (94% HDI) | classes | Eq. 1 > 20 observed / expected "
        "| seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        low, high = e["late_jumps_expected_hdi"]
        classes = ", ".join(f"{k} {v}" for k, v in sorted(e["classes"].items(),
                                                          key=lambda kv: -kv[1]) if v)  # fmt: skip
        cells = [e["table"], str(e["triplets"]), f"{e['diagnostics_pass_all_fits']:.1%}",
                 f"{e['loo_compared']} / {e['pareto_k_above_07_left']}",
                 f"{e['late_jumps_observed']} / {e['late_jumps_expected_mean']:.1f} "
                 f"({low:g}–{high:g})", classes,
                 f"{e['eq1_above_threshold']} / {e['eq1_expected_mean']:.1f}",
                 f"{e['seconds']:.0f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for e in entries:
        lines.append(f"* {e['table']}: late jumps: {', '.join(e['late_jumps']) or 'none'}; "
                     f"chance sensitivity: {e['chance_sensitivity']}.")  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
