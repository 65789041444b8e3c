"""Write the lm-evaluation-harness fixtures of ``tests/inputs/test_lmeval.py`` (run from the repo
root).

Four Pythia models evaluated on two small tasks, one ``lm_eval --log_samples`` run per model,
laid out the way lm-evaluation-harness's ``EvaluationTracker`` writes them
(``<output_path>/<model_name_sanitized>/results_<date_id>.json`` and
``samples_<task>_<date_id>.jsonl``):

* ``arith3_gen`` (``output_type: generate_until``): 3-digit additions; each answer digit is
  miscopied with a probability that falls with model size;
* ``sciq_mini`` (``output_type: multiple_choice``): four choices, gold index in ``target``;
  log-likelihoods favour the gold choice more as models grow.

Three runs use the record layout of current releases (``arguments`` as
``{"gen_args_0": {"arg_0": ..., "arg_1": ...}}``, responses and target stringified, ``filter``,
``metrics`` and hash fields, ``model_name`` in the results file). The pythia-1b run uses the older
layout (``arguments`` as a list of pairs, numbers and the multiple-choice target not stringified,
no filter or hash fields, the model named only by ``config.model_args``) in a folder of another
name.

Beside the logs, written from the same simulated values and not through mirage-bayes's reader:
``pythia_outputs.csv`` (the generation task as an outputs table) and ``pythia_choices.jsonl``
(the multiple-choice task as a multiple-choice table).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
ROOT = HERE / "pythia"
# Total parameters from the Pythia model card ("Naming convention and parameter count").
MODELS = [
    ("EleutherAI/pythia-70m", 70_426_624, 0.45, 0.2, "2024-05-14T10-31-22.123456"),
    ("EleutherAI/pythia-160m", 162_322_944, 0.3, 0.6, "2024-05-14T10-40-05.654321"),
    ("EleutherAI/pythia-410m", 405_334_016, 0.15, 1.2, "2024-05-14T11-02-47.000001"),
    ("EleutherAI/pythia-1b", 1_011_781_632, 0.06, 2.0, "2024-05-14T11-30-13.777777"),
]
OLD_LAYOUT = "EleutherAI/pythia-1b"
N_GEN, N_MC = 16, 12
GEN_CONTEXT = "Question: What is {a} plus {b}?\nAnswer:"
MC_CONTEXT = "Question: {question}\nAnswer:"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def doc_hash(doc: dict) -> str:
    return sha(json.dumps(doc, indent=2, ensure_ascii=False))


def miscopy(target: str, eps: float, rng: np.random.Generator) -> str:
    out = []
    for ch in target:
        u = rng.random()
        if u < eps * 0.8:
            out.append(str((int(ch) + rng.integers(1, 10)) % 10))  # a wrong digit
        elif u < eps:
            continue  # a dropped digit
        else:
            out.append(ch)
    return "".join(out)


def configs() -> dict:
    return {
        "arith3_gen": {
            "task": "arith3_gen",
            "dataset_path": "json",
            "test_split": "test",
            "doc_to_text": "Question: What is {{a}} plus {{b}}?\nAnswer:",
            "doc_to_target": "{{answer}}",
            "description": "",
            "target_delimiter": " ",
            "fewshot_delimiter": "\n\n",
            "num_fewshot": 0,
            "metric_list": [
                {"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}
            ],
            "output_type": "generate_until",
            "generation_kwargs": {"until": ["\n"], "do_sample": False, "temperature": 0.0},
            "repeats": 1,
            "should_decontaminate": False,
            "metadata": {"version": 1.0},
        },
        "sciq_mini": {
            "task": "sciq_mini",
            "dataset_path": "json",
            "test_split": "test",
            "doc_to_text": "Question: {{question}}\nAnswer:",
            "doc_to_target": "{{gold}}",
            "doc_to_choice": "{{choices}}",
            "description": "",
            "target_delimiter": " ",
            "fewshot_delimiter": "\n\n",
            "num_fewshot": 0,
            "metric_list": [
                {"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True},
            ],
            "output_type": "multiple_choice",
            "repeats": 1,
            "should_decontaminate": False,
            "metadata": {"version": 1.0},
        },
    }


def results_file(model: str, stamp: str, old: bool, scores: dict) -> dict:
    results = {
        "results": {
            "arith3_gen": {"alias": "arith3_gen", "exact_match,none": scores["exact_match"]},
            "sciq_mini": {
                "alias": "sciq_mini",
                "acc,none": scores["acc"],
                "acc_norm,none": scores["acc_norm"],
            },
        },
        "configs": configs(),
        "versions": {"arith3_gen": 1.0, "sciq_mini": 1.0},
        "n-shot": {"arith3_gen": 0, "sciq_mini": 0},
        "config": {
            "model": "hf",
            "model_args": f"pretrained={model},dtype=float32",
            "batch_size": "8",
            "batch_sizes": [],
            "device": "cuda:0",
            "use_cache": None,
            "limit": None,
            "bootstrap_iters": 100000,
            "gen_kwargs": None,
        },
        "git_hash": "4ab1d5c",
        "date": 1715682682.0,
    }
    if not old:
        results["group_subtasks"] = {"arith3_gen": [], "sciq_mini": []}
        results["n-samples"] = {
            "arith3_gen": {"original": N_GEN, "effective": N_GEN},
            "sciq_mini": {"original": N_MC, "effective": N_MC},
        }
        results.update(
            model_source="hf",
            model_name=model,
            model_name_sanitized=model.replace("/", "__"),
            system_instruction=None,
            chat_template=None,
            fewshot_as_multiturn=False,
            start_time=1402.51,
            end_time=1519.83,
            total_evaluation_time_seconds="117.32",
        )
    return results


def generation_record(i: int, doc: dict, output: str, old: bool) -> dict:
    context = GEN_CONTEXT.format(**doc)
    kwargs = {"until": ["\n"], "do_sample": False, "temperature": 0.0}
    record = {"doc_id": i, "doc": doc, "target": doc["answer"]}
    if old:
        record.update(arguments=[[context, kwargs]], resps=[[output]], filtered_resps=[output])
    else:
        record.update(
            arguments={"gen_args_0": {"arg_0": context, "arg_1": kwargs}},
            resps=[[output]],
            filtered_resps=[output],
            filter="none",
            metrics=["exact_match"],
            doc_hash=doc_hash(doc),
            prompt_hash=sha(context),
            target_hash=sha(doc["answer"]),
        )
    record["exact_match"] = float(output.strip() == doc["answer"])
    return record


def choice_record(i: int, doc: dict, lls: list[float], old: bool) -> dict:
    context = MC_CONTEXT.format(**doc)
    gold = doc["gold"]
    lengths = np.array([len(c) for c in doc["choices"]], dtype=float)
    acc = float(int(np.argmax(lls)) == gold)
    acc_norm = float(int(np.argmax(np.array(lls) / lengths)) == gold)
    if old:
        record = {
            "doc_id": i,
            "doc": doc,
            "target": gold,
            "arguments": [[context, f" {c}"] for c in doc["choices"]],
            "resps": [[[ll, False]] for ll in lls],
            "filtered_resps": [[ll, False] for ll in lls],
        }
    else:
        record = {
            "doc_id": i,
            "doc": doc,
            "target": str(gold),
            "arguments": {
                f"gen_args_{k}": {"arg_0": context, "arg_1": f" {c}"}
                for k, c in enumerate(doc["choices"])
            },
            "resps": [[[str(ll), "False"]] for ll in lls],
            "filtered_resps": [[str(ll), "False"] for ll in lls],
            "filter": "none",
            "metrics": ["acc", "acc_norm"],
            "doc_hash": doc_hash(doc),
            "prompt_hash": sha(context),
            "target_hash": sha(str(gold)),
        }
    record.update(acc=acc, acc_norm=acc_norm)
    return record


def main() -> None:
    rng = np.random.default_rng(20240514)
    gen_docs = []
    for _ in range(N_GEN):
        a, b = (int(v) for v in rng.integers(100, 500, size=2))
        gen_docs.append({"a": a, "b": b, "answer": str(a + b)})
    words = ["mitochondria", "nucleus", "ribosome", "chloroplast", "osmosis", "enzyme", "neuron"]
    mc_docs = []
    for i in range(N_MC):
        picks = [str(w) for w in rng.choice(words, size=4, replace=False)]
        mc_docs.append({"question": f"Which term fits clue {i}?", "choices": picks,
                        "gold": int(rng.integers(0, 4))})  # fmt: skip
    table_rows, choice_rows = [], []
    for model, n_params, eps, margin, stamp in MODELS:
        old = model == OLD_LAYOUT
        folder = ROOT / ("pythia-1b-run" if old else model.replace("/", "__"))
        folder.mkdir(parents=True, exist_ok=True)
        gen_lines, mc_lines = [], []
        for i, doc in enumerate(gen_docs):
            output = miscopy(doc["answer"], eps, rng)
            gen_lines.append(generation_record(i, doc, output, old))
            table_rows.append({"task": "arith3_gen", "model": model, "n_params": n_params,
                               "item": i, "family": "pythia", "target": doc["answer"],
                               "output": output})  # fmt: skip
        for i, doc in enumerate(mc_docs):
            raw = rng.normal(-6.0, 1.0, size=4)
            raw[doc["gold"]] += margin
            lls = [round(float(v), 6) for v in raw]
            mc_lines.append(choice_record(i, doc, lls, old))
            choice_rows.append({"task": "sciq_mini", "model": model, "n_params": n_params,
                                "item": i, "family": "pythia", "answer": doc["gold"],
                                "choices_logprobs": lls})  # fmt: skip
        scores = {
            "exact_match": float(np.mean([r["exact_match"] for r in gen_lines])),
            "acc": float(np.mean([r["acc"] for r in mc_lines])),
            "acc_norm": float(np.mean([r["acc_norm"] for r in mc_lines])),
        }
        results = results_file(model, stamp, old, scores)
        (folder / f"results_{stamp}.json").write_text(
            json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        for task, lines in (("arith3_gen", gen_lines), ("sciq_mini", mc_lines)):
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines)
            (folder / f"samples_{task}_{stamp}.jsonl").write_text(text, encoding="utf-8")
    pd.DataFrame(table_rows).to_csv(HERE / "pythia_outputs.csv", index=False)
    with (HERE / "pythia_choices.jsonl").open("w", encoding="utf-8") as handle:
        for row in choice_rows:
            handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
