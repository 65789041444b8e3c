"""The scorer's floor: share of target digits counted as reproduced when every digit is wrong.

    python validation/chance_floor.py
    python validation/chance_floor.py --by-epsilon

With ``--by-epsilon``: the share of tokens scored wrong at error rates ε from 0.1 to 1, against
the two shapes of the chance term, ``ε·(1 − g)`` (a constant rate) and ``ε·(1 − g·ε²)``
(:mod:`mirage_bayes.models.chance_link`), with ``g`` the permutation null of each cell.

Outputs come from :func:`mirage_bayes.simulate.generation.simulate_outputs` at a size where no
digit is produced, rendered by substitution only (a wrong digit is any other digit) and with the
default rendering (insertions, deletions, echoed operands, empty outputs). For each target length
the table gives the share of target digits reproduced by the longest common subsequence (L − LCS
errors) and by the alignment the scorer uses (substitutions + deletions of the cheapest script),
and the chance-match rate g that the permutation null measures from the same outputs.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from rapidfuzz.distance import Indel

from mirage_bayes.inputs.scoring import score_outputs
from mirage_bayes.simulate.generation import simulate_outputs

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


def by_epsilon(rendering: dict, lengths=(4, 8), n_items: int = 4000) -> pd.DataFrame:
    """Scored error rate at a grid of ε against the constant and the ``g·ε²`` chance term."""
    eps = np.array([0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 0.95])
    n_params = 3e8 * (-np.log1p(-eps)) ** (-1 / 0.6)  # L_CE = (N / c)^α = −log(1 − ε)
    outputs, _ = simulate_outputs(
        n_params=tuple(n_params), c=3e8, alpha=-0.6, n_items=n_items * len(lengths),
        lengths=lengths, sigma_item=0.0, seed=2, **rendering,
    )  # fmt: skip
    scored, _ = score_outputs(outputs)
    scored["eps"] = scored["n_params"].map(dict(zip(n_params, eps, strict=True)))
    cells = scored.groupby(["n_tokens", "eps"]).agg(
        errors=("n_errors", "sum"), tokens=("n_tokens", "sum"), g=("chance", "mean")
    )
    cells = cells.reset_index()
    return pd.DataFrame(
        {
            "L": cells["n_tokens"],
            "ε": cells["eps"],
            "g": cells["g"],
            "scored": cells["errors"] / cells["tokens"],
            "ε(1 − g)": cells["eps"] * (1 - cells["g"]),
            "ε(1 − gε²)": cells["eps"] * (1 - cells["g"] * cells["eps"] ** 2),
        }
    )


def print_table(table: pd.DataFrame) -> None:
    print("| " + " | ".join(table.columns) + " |")
    print("|" + "---|" * len(table.columns))
    for row in table.itertuples(False):
        print(f"| {row[0]} | " + " | ".join(f"{v:.3f}" for v in row[1:]) + " |")


def main() -> None:
    if "--by-epsilon" in sys.argv[1:]:
        for name, rendering in (("substitution only", QUIET), ("default rendering", {})):
            print(f"\n{name}: share of tokens scored wrong at per-token error rate ε\n")
            print_table(by_epsilon(rendering))
        return
    for name, rendering in (("substitution only", QUIET), ("default rendering", {})):
        print(f"\n{name}: share of target digits counted as reproduced, every digit wrong\n")
        print_table(floor(rendering))


if __name__ == "__main__":
    main()
