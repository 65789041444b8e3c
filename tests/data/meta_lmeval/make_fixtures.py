"""Write the simulated lm-evaluation-harness (≥ 0.4 format) results folder ``toy_family/``.

Eight models of a made-up family ``toy`` (10M … 10B parameters), one ``results_<stamp>.json``
per model (two for ``toy-1.39b``: two seeds, which ``meta`` pools), in the layout lm_eval writes
(``<output_path>/<model>/results_<stamp>.json``). Tasks: ``arith_late`` (exact match flat near 0,
then a jump at the two largest models), ``sciq_like`` (accuracy that saturates early),
``wikitext`` (word perplexity and bits per byte falling as a power law with an irreducible
term) and ``mc4`` (4-way multiple choice at chance). Run from the repository root:

    python tests/data/meta_lmeval/make_fixtures.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent / "toy_family"
SIZES = np.logspace(7, 10, 8)
N = {"arith_late": 500, "sciq_like": 1000, "mc4": 400, "wikitext": 62}


def _name(size: float) -> str:
    return f"toy-{size / 1e9:.3g}b" if size >= 1e9 else f"toy-{size / 1e6:.3g}m"


def _results(i: int, size: float, rng: np.random.Generator) -> dict:
    arith = [0.0, 0.002, 0.0, 0.004, 0.002, 0.004, 0.22, 0.61][i]
    sciq = 0.92 - 0.3 * np.exp(-i / 0.7)
    ppl = 12.0 + 400.0 * (size / 1e7) ** -0.45
    out = {}
    for task, p in (("arith_late", arith), ("sciq_like", sciq), ("mc4", 0.25)):
        k = rng.binomial(N[task], p)
        acc = k / N[task]
        metric = "exact_match" if task == "arith_late" else "acc"
        out[task] = {
            "alias": task,
            f"{metric},none": acc,
            f"{metric}_stderr,none": float(np.sqrt(acc * (1 - acc) / (N[task] - 1))),
        }
    ppl *= np.exp(0.01 * rng.standard_normal())
    out["wikitext"] = {
        "alias": "wikitext",
        "word_perplexity,none": ppl,
        "word_perplexity_stderr,none": "N/A",
        "bits_per_byte,none": float(np.log2(ppl) / 4.5),
        "bits_per_byte_stderr,none": "N/A",
    }
    return out


def main() -> None:
    rng = np.random.default_rng(7)
    for i, size in enumerate(SIZES):
        name = _name(size)
        for seed in range(2 if i == 5 else 1):
            data = {
                "results": _results(i, size, rng),
                "configs": {t: {"task": t, "num_fewshot": 0} for t in N},
                "n-shot": {t: 0 for t in N},
                "higher_is_better": {
                    "arith_late": {"exact_match": True},
                    "sciq_like": {"acc": True},
                    "mc4": {"acc": True},
                    "wikitext": {"word_perplexity": False, "bits_per_byte": False},
                },
                "n-samples": {t: {"original": n, "effective": n} for t, n in N.items()},
                "config": {"model": "hf", "model_args": f"pretrained=toy-org/{name}"},
                "model_name": f"toy-org/{name}",
                "model_num_parameters": int(size),
            }
            folder = HERE / f"toy-org__{name}"
            folder.mkdir(parents=True, exist_ok=True)
            stamp = f"2024-06-0{seed + 1}T10-00-00.000000"
            (folder / f"results_{stamp}.json").write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
