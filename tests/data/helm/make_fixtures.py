"""Write the HELM fixtures of ``tests/inputs/test_importers.py`` (run from the repository root).

The four Pythia models and the ``arith3_gen`` answers of the lm-evaluation-harness fixture
(``tests/data/lmeval/pythia_outputs.csv``, questions from its samples files), written as the run
folders ``helm-run`` leaves in ``benchmark_output/runs/<suite>/`` (see README.md for the schema
sources): one folder per model, ``arith3:model=<org>_<model>``, holding ``run_spec.json``,
``instances.json``, ``scenario_state.json`` and ``per_instance_stats.json``. The pythia-410m run
also holds a perturbed copy (``perturbation``: typos) of two instances, as a run with data
augmentation does; the importer leaves them out.

Beside the runs, written from the same values and not through mirage-bayes's reader:
``helm_outputs.csv`` (target and completion) and ``helm_prescored.csv`` (``n_tokens`` 1,
``n_errors`` 1 − exact_match, what the runs give without their completions).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

HERE = Path(__file__).parent
LMEVAL = HERE.parent / "lmeval"
SUITE = HERE / "pythia"
TASK = "arith3"
PERTURBED = "EleutherAI/pythia-410m"
TYPOS = {
    "name": "typos",
    "robustness": True,
    "fairness": False,
    "computed_on": "perturbed",
    "prob": 0.1,
}


def adapter_spec(model: str) -> dict:
    deployment = "huggingface/" + model.split("/")[-1]
    return {
        "method": "generation",
        "global_prefix": "",
        "instructions": "",
        "input_prefix": "Question: ",
        "input_suffix": "\n",
        "reference_prefix": "A. ",
        "reference_suffix": "\n",
        "output_prefix": "Answer: ",
        "output_suffix": "\n",
        "instance_prefix": "\n",
        "substitutions": [],
        "max_train_instances": 0,
        "max_eval_instances": 16,
        "num_outputs": 1,
        "num_train_trials": 1,
        "model_deployment": deployment,
        "model": model,
        "temperature": 0.0,
        "max_tokens": 5,
        "stop_sequences": ["\n"],
    }


def run_spec(name: str, model: str) -> dict:
    return {
        "name": name,
        "scenario_spec": {
            "class_name": "helm.benchmark.scenarios.arith3.Arith3Scenario",
            "args": {},
        },
        "adapter_spec": adapter_spec(model),
        "metric_specs": [
            {
                "class_name": "helm.benchmark.metrics.basic_metrics.BasicGenerationMetric",
                "args": {"names": ["exact_match", "quasi_exact_match"]},
            }
        ],
        "data_augmenter_spec": {"perturbation_specs": [], "should_augment_eval_instances": False},
        "groups": [TASK],
    }


def instance(item: str, question: str, target: str, perturbed: bool = False) -> dict:
    out = {
        "input": {"text": question if not perturbed else question.replace("plus", "plsu")},
        "references": [{"output": {"text": target}, "tags": ["correct"]}],
        "split": "test",
        "id": item,
    }
    if perturbed:
        out["perturbation"] = TYPOS
    return out


def stat(name: str, value: float) -> dict:
    return {
        "name": {"name": name, "split": "test"},
        "count": 1,
        "sum": value,
        "sum_squared": value * value,
        "min": value,
        "max": value,
        "mean": value,
        "variance": 0.0,
        "stddev": 0.0,
    }


def request_state(inst: dict, model: str, output: str) -> dict:
    prompt = f"Question: {inst['input']['text']}\nAnswer:"
    return {
        "instance": inst,
        "train_trial_index": 0,
        "request": {
            "model_deployment": adapter_spec(model)["model_deployment"],
            "model": model,
            "embedding": False,
            "prompt": prompt,
            "temperature": 0.0,
            "num_completions": 1,
            "top_k_per_token": 1,
            "max_tokens": 5,
            "stop_sequences": ["\n"],
            "echo_prompt": False,
            "top_p": 1,
            "presence_penalty": 0,
            "frequency_penalty": 0,
        },
        "result": {
            "success": True,
            "embedding": [],
            "completions": [{"text": output, "logprob": -1.0, "tokens": []}],
            "cached": True,
            "request_time": 0.05,
        },
        "num_train_instances": 0,
        "prompt_truncated": False,
    }


def instance_stats(item: str, target: str, output: str, perturbed: bool = False) -> dict:
    exact = float(target.strip() == output.strip())  # HELM's exact_match
    out = {
        "instance_id": item,
        "train_trial_index": 0,
        "stats": [
            stat("num_output_tokens", float(len(output))),
            stat("exact_match", exact),
            stat("quasi_exact_match", exact),
        ],
    }
    if perturbed:
        out["perturbation"] = TYPOS
        for s in out["stats"]:
            s["name"]["perturbation"] = TYPOS
    return out


def write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def main() -> None:
    (samples,) = (LMEVAL / "pythia" / "EleutherAI__pythia-70m").glob("samples_arith3_gen_*.jsonl")
    docs = [json.loads(line)["doc"] for line in samples.read_text().splitlines()]
    questions = {str(i): f"What is {d['a']} plus {d['b']}?" for i, d in enumerate(docs)}
    with (LMEVAL / "pythia_outputs.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    models = list(dict.fromkeys(r["model"] for r in rows))
    outputs, prescored = [], []
    for model in models:
        name = f"{TASK}:model={model.replace('/', '_')}"
        folder = SUITE / name
        folder.mkdir(parents=True, exist_ok=True)
        mine = [r for r in rows if r["model"] == model]
        instances, states, stats = [], [], []
        for r in mine:
            item = f"id{r['item']}"
            inst = instance(item, questions[r["item"]], r["target"])
            instances.append(inst)
            states.append(request_state(inst, model, r["output"]))
            stats.append(instance_stats(item, r["target"], r["output"]))
            exact = stats[-1]["stats"][1]["mean"]
            base = {
                "task": TASK,
                "model": model,
                "n_params": r["n_params"],
                "item": item,
                "family": r["family"],
            }
            outputs.append({**base, "target": r["target"], "output": r["output"]})
            prescored.append({**base, "n_tokens": 1, "n_errors": int(1 - exact)})
        if model == PERTURBED:
            for r in mine[:2]:
                item = f"id{r['item']}"
                inst = instance(item, questions[r["item"]], r["target"], perturbed=True)
                instances.append(inst)
                states.append(request_state(inst, model, "0"))
                stats.append(instance_stats(item, r["target"], "0", perturbed=True))
        write(folder / "run_spec.json", run_spec(name, model))
        write(folder / "instances.json", instances)
        write(
            folder / "scenario_state.json",
            {"adapter_spec": adapter_spec(model), "request_states": states},
        )
        write(folder / "per_instance_stats.json", stats)
    # Each fixture script stands alone (run by hand, beside its data), so the CSV writing
    # repeats the EEE script's rather than importing across fixture folders.
    for rows_out, file in ((outputs, "helm_outputs.csv"), (prescored, "helm_prescored.csv")):
        with (HERE / file).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows_out[0]))
            writer.writeheader()
            writer.writerows(rows_out)


if __name__ == "__main__":
    main()
