"""Write the Every Eval Ever fixtures of ``tests/inputs/test_importers.py`` (run from the
repository root).

The four Pythia models and the ``arith3_gen`` answers of the lm-evaluation-harness fixture
(``tests/data/lmeval/pythia_outputs.csv``, questions from its samples files), written as Every
Eval Ever's instance-level sidecars (see README.md for the schema source): one
``<uuid>_samples.jsonl`` per model in ``pythia/arith3_gen/<developer>/<model>/``, one
``single_turn`` record per sample with every field of the schema (version 0.2.2).

Beside them, written from the same values and not through mirage-bayes's reader:
``eee_outputs.csv`` (reference and response) and ``eee_prescored.csv`` (``n_tokens`` 1,
``n_errors`` 0 when ``evaluation.is_correct``, else 1).
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import uuid
from pathlib import Path

HERE = Path(__file__).parent
LMEVAL = HERE.parent / "lmeval"
ROOT = HERE / "pythia"
TASK = "arith3_gen"
SCHEMA_VERSION = "0.2.2"


def sample_hash(raw: str, reference: list[str]) -> str:
    """The schema's recipe: sha256 of {raw, reference} as sorted, compact JSON."""
    text = json.dumps({"raw": raw, "reference": reference}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record(
    evaluation_id: str, model: str, item: str, question: str, target: str, output: str
) -> dict:
    correct = target.strip() == output.strip()
    return {
        "schema_version": SCHEMA_VERSION,
        "evaluation_id": evaluation_id,
        "model_id": model,
        "evaluation_name": TASK,
        "sample_id": item,
        "sample_hash": sample_hash(question, [target]),
        "interaction_type": "single_turn",
        "input": {
            "raw": question,
            "formatted": f"Question: {question}\nAnswer:",
            "reference": [target],
            "choices": None,
        },
        "output": {"raw": [output], "reasoning_trace": None},
        "messages": None,
        "answer_attribution": [
            {
                "turn_idx": 0,
                "source": "output.raw",
                "extracted_value": output.strip(),
                "extraction_method": "exact_match",
                "is_terminal": True,
            }
        ],
        "evaluation": {
            "score": float(correct),
            "is_correct": correct,
            "num_turns": None,
            "tool_calls_count": None,
        },
        "token_usage": None,
        "performance": None,
        "error": None,
        "metadata": None,
    }


def main() -> None:
    (samples,) = (LMEVAL / "pythia" / "EleutherAI__pythia-70m").glob("samples_arith3_gen_*.jsonl")
    docs = [json.loads(line)["doc"] for line in samples.read_text().splitlines()]
    questions = {str(i): f"What is {d['a']} plus {d['b']}?" for i, d in enumerate(docs)}
    with (LMEVAL / "pythia_outputs.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    outputs, prescored = [], []
    rng = random.Random(7)  # the same file names on every run
    for model in dict.fromkeys(r["model"] for r in rows):
        file_uuid = uuid.UUID(int=rng.getrandbits(128), version=4)  # the datastore wants UUIDv4
        folder = ROOT / TASK / model
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for r in (r for r in rows if r["model"] == model):
            item = f"{TASK}_{int(r['item']):04d}"
            rec = record(
                str(file_uuid), model, item, questions[r["item"]], r["target"], r["output"]
            )
            lines.append(json.dumps(rec, ensure_ascii=False) + "\n")
            base = {
                "task": TASK,
                "model": model,
                "n_params": r["n_params"],
                "item": item,
                "family": r["family"],
            }
            outputs.append({**base, "target": r["target"], "output": r["output"]})
            n_errors = 0 if rec["evaluation"]["is_correct"] else 1
            prescored.append({**base, "n_tokens": 1, "n_errors": n_errors})
        (folder / f"{file_uuid}_samples.jsonl").write_text("".join(lines), encoding="utf-8")
    for rows_out, file in ((outputs, "eee_outputs.csv"), (prescored, "eee_prescored.csv")):
        with (HERE / file).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows_out[0]))
            writer.writeheader()
            writer.writerows(rows_out)


if __name__ == "__main__":
    main()
