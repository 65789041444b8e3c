"""``fit`` on multiple-choice data that are smooth and predictable but not one power law.

The data are simulated outside the paper's model: each item's logit margin (correct choice
against the best wrong one) grows *linearly in log N* and crosses zero inside the size range, so
``−log p_correct`` is not a single power law in N and the shape comparison may prefer the broken
law. The curve is still smooth: the late-jump check must not call it emergent. A second data set
adds a true late jump (the margin flat and negative, then jumping at the two largest sizes) that
the check must find.

Run from the repository root::

    python validation/run_margin_check.py [--items 200] [--seeds 3]

Writes ``validation/results/margin_check.csv``: per data set and seed, the shape comparison's
preferred law, the late-jump class, ``p_late`` and whether the verdict calls it emergent.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from mirage_bayes.fitting.choice import fit_choices
from mirage_bayes.fitting.comparison import pair
from mirage_bayes.simulate.generation import GPT3_SIZES, model_name

RESULTS = Path(__file__).parent / "results"


def margin_outputs(
    shape: str, *, n_items: int = 200, n_choices: int = 4, seed: int = 0
) -> pd.DataFrame:
    """Per-choice log-probabilities with a margin linear in log N (``smooth``) or flat then
    jumping at the two largest sizes (``late``)."""
    rng = np.random.default_rng(seed)
    sizes = np.asarray(GPT3_SIZES, float)
    x = (np.log10(sizes) - np.log10(sizes).mean()) / np.ptp(np.log10(sizes))  # −½ … ½
    if shape == "smooth":
        margin = -0.7 + 5.0 * (x + 0.5)  # grade from chance (¼) to 1, crossing ½ early
    else:
        margin = np.full(sizes.size, -0.7)  # at chance for six sizes
        margin[-2:] = (0.0, 2.5)
    difficulty = rng.normal(0.0, 1.0, n_items)
    distractors = rng.normal(0.0, 0.5, (n_items, n_choices))
    answers = rng.integers(0, n_choices, n_items)
    rows = []
    for s, size in enumerate(sizes):
        logits = distractors + rng.normal(0.0, 0.3, (n_items, n_choices))
        best_wrong = np.where(np.eye(n_choices, dtype=bool)[answers], -np.inf, logits).max(1)
        logits[np.arange(n_items), answers] = best_wrong + margin[s] + difficulty
        logp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        for i in range(n_items):
            rows.append({
                "task": f"margin_{shape}", "family": "held_out", "model": model_name(size),
                "n_params": size, "item": f"q{i:04d}", "answer": int(answers[i]),
                "choices_logprobs": json.dumps([round(v, 6) for v in logp[i]]),
            })  # fmt: skip
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    records = []
    for shape in ("smooth", "late"):
        for seed in range(args.seeds):
            outputs = margin_outputs(shape, n_items=args.items, seed=seed)
            outputs.attrs["source"] = f"margin_{shape}_{seed}"
            result = fit_choices(outputs, seed=seed, progressbar=False)
            task = f"margin_{shape}"
            comparison = pd.concat(result.comparisons)
            main_pair = pair(comparison, "power_law", "broken_power_law")
            late = result.meta["late_check"][task]
            records.append({
                "data": shape, "seed": seed,
                "preferred": main_pair[0] if main_pair else "",
                "elpd_diff": round(main_pair[1], 1) if main_pair else np.nan,
                "dse": round(main_pair[2], 1) if main_pair else np.nan,
                "late_class": late["class"], "p_late": late["p_late"],
                "called_emergent": late["class"] == "late_jump",
            })  # fmt: skip
            print(records[-1], flush=True)
            print("  verdict:", result.verdict_texts[task], flush=True)
    table = pd.DataFrame(records)
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "margin_check.csv", index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
