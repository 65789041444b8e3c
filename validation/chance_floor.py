"""The scorer's floor: share of target digits counted as reproduced when every digit is wrong.

    python validation/chance_floor.py

Outputs come from :func:`mirage_bayes.simulate.simulate_outputs` at a size where no digit is
produced, rendered by substitution only (a wrong digit is any other digit) and with the default
rendering (insertions, deletions, echoed operands, empty outputs). For each target length the
table gives the share of target digits reproduced by the longest common subsequence (L − LCS
errors) and by the alignment the scorer uses (substitutions + deletions of the cheapest script),
and the chance-match rate g that the permutation null measures from the same outputs.
"""

from __future__ import annotations

import pandas as pd
from rapidfuzz.distance import Indel

from mirage_bayes.scoring import score_outputs
from mirage_bayes.simulate import simulate_outputs

LENGTHS = (1, 2, 3, 4, 5, 6, 8)
QUIET = {"insert_rate": 0.0, "delete_rate": 0.0, "echo_rate": 0.0, "empty_rate": 0.0}


def floor(rendering: dict) -> pd.DataFrame:
    outputs, _ = simulate_outputs(
        n_params=(1e6,), c=3e8, alpha=-0.6, n_items=700 * len(LENGTHS), lengths=LENGTHS,
        sigma_item=0.0, seed=0, **rendering,
    )  # fmt: skip
    scored, _ = score_outputs(outputs)
    lcs = [
        (len(t) + len(o) - Indel.distance(t, o)) // 2
        for t, o in zip(scored["target"], scored["output"], strict=True)
    ]
    scored["lcs"] = lcs
    rows = []
    for length, part in scored.groupby("n_tokens"):
        tokens = part["n_tokens"].sum()
        rows.append(
            {
                "L": int(length),
                "LCS": part["lcs"].sum() / tokens,
                "alignment": 1 - part["n_errors"].sum() / tokens,
                "g (permutation null)": part["chance"].mean(),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    for name, rendering in (("substitution only", QUIET), ("default rendering", {})):
        print(f"\n{name}: share of target digits counted as reproduced, every digit wrong\n")
        table = floor(rendering)
        print("| " + " | ".join(table.columns) + " |")
        print("|" + "---|" * len(table.columns))
        for row in table.itertuples(False):
            print(f"| {row[0]} | " + " | ".join(f"{v:.3f}" for v in row[1:]) + " |")


if __name__ == "__main__":
    main()
