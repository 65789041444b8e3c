"""Reading lm-evaluation-harness sample logs, column mappings and model sizes into a fit.

The fixtures under ``tests/data/lmeval/`` are written by ``make_fixtures.py`` from the record
layout lm-evaluation-harness's evaluator and ``EvaluationTracker.save_results_samples`` use, with
the equivalent plain tables written beside them from the same simulated values.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from mirage_bayes.cli import main
from mirage_bayes.inputs.io import read_outputs
from mirage_bayes.inputs.sources import read_inputs

from support import DATA, expect_input_error

FIXTURES = DATA / "lmeval"
LOGS = FIXTURES / "pythia"
OUTPUTS_CSV = FIXTURES / "pythia_outputs.csv"
CHOICES_TABLE = FIXTURES / "pythia_choices.jsonl"
GEN, MC = "arith3_gen", "sciq_mini"
STAMP = "2024-06-01T12-00-00.000000"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def copy_logs(tmp_path: Path) -> Path:
    return Path(shutil.copytree(LOGS, tmp_path / "logs"))


def samples_of(root: Path, folder: str, task: str) -> Path:
    (path,) = (root / folder).glob(f"samples_{task}_*.jsonl")
    return path


def results_of(root: Path, folder: str) -> Path:
    (path,) = (root / folder).glob("results_*.json")
    return path


def edit_jsonl(path: Path, change: Callable[[int, dict], dict | None]) -> None:
    """Rewrite each record with ``change(index, record)`` (``None`` drops the record)."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    kept = [r for r in (change(i, rec) for i, rec in enumerate(records)) if r is not None]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def write_run(
    folder: Path, task: str, output_type: str, records: list[dict], *, model: str = "acme/m-1b"
) -> Path:
    """A minimal run: results file (model_name, the task's config) and one samples file."""
    folder.mkdir(parents=True, exist_ok=True)
    results = {
        "results": {task: {}},
        "configs": {task: {"task": task, "output_type": output_type, "target_delimiter": " "}},
        "config": {"model": "hf", "model_args": f"pretrained={model}"},
        "model_name": model,
    }
    (folder / f"results_{STAMP}.json").write_text(json.dumps(results), encoding="utf-8")
    path = folder / f"samples_{task}_{STAMP}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def mc_record(doc_id: int, lls: list[float], target, choices: list[str], **extra) -> dict:
    record = {
        "doc_id": doc_id,
        "doc": {},
        "target": target,
        "arguments": {
            f"gen_args_{k}": {"arg_0": "Q:", "arg_1": f" {c}"} for k, c in enumerate(choices)
        },
        "resps": [[[str(v), "False"]] for v in lls],
        "filtered_resps": [[str(v), "False"] for v in lls],
        "filter": "none",
    }
    record.update(extra)
    return record


SIZES = {"acme/m-1b": 1e9}


def known_sizes(tmp_path: Path) -> Path:
    path = tmp_path / "sizes.csv"
    path.write_text("model,n_params\n" + "".join(f"{m},{n}\n" for m, n in SIZES.items()))
    return path


# --------------------------------------------------------------------------------------------
# The fixture family: equal to the equivalent plain tables
# --------------------------------------------------------------------------------------------


def test_generation_logs_equal_the_equivalent_outputs_csv():
    logs = read_inputs(LOGS, tasks=GEN)
    table = read_outputs(OUTPUTS_CSV)
    pd.testing.assert_frame_equal(logs, table)
    assert logs.attrs == {**table.attrs, "kind": "generation", "source": str(LOGS)}
    assert list(dict.fromkeys(logs["model"])) == [
        "EleutherAI/pythia-70m",
        "EleutherAI/pythia-160m",
        "EleutherAI/pythia-410m",
        "EleutherAI/pythia-1b",  # named by config.model_args only (older results layout)
    ]


def test_multiple_choice_logs_equal_the_equivalent_choice_table():
    logs = read_inputs(LOGS, tasks=MC)
    table = read_outputs(CHOICES_TABLE)
    pd.testing.assert_frame_equal(logs, table)
    assert logs.attrs["kind"] == table.attrs["kind"] == "multiple_choice"
    assert all(type(v) is float for row in logs["choices_logprobs"] for v in row)
    assert logs["answer"].dtype == "int64"


def test_the_same_logs_given_as_folders_files_or_results_files():
    expected = read_inputs(LOGS, tasks=GEN)
    folders = sorted(p for p in LOGS.iterdir() if p.is_dir())
    files = sorted(LOGS.glob(f"*/samples_{GEN}_*.jsonl"))
    results = sorted(LOGS.glob("*/results_*.json"))
    for paths, tasks in ((folders, GEN), (files, None), (results, GEN)):
        got = read_inputs(paths, tasks=tasks)
        pd.testing.assert_frame_equal(got, expected)


def test_a_folder_with_both_kinds_asks_for_tasks():
    message = expect_input_error("arith3_gen", "sciq_mini", "--tasks", paths=LOGS)
    assert "generation" in message and "multiple-choice" in message
    expect_input_error(
        "no samples of task(s) gsm8k", "arith3_gen, sciq_mini", paths=LOGS, tasks="gsm8k"
    )


def test_size_count_non_embedding_uses_the_published_non_embedding_counts():
    logs = read_inputs(LOGS, tasks=GEN, size_count="non_embedding")
    sizes = logs.groupby("model", sort=False)["n_params"].first().tolist()
    assert sizes == [18_915_328.0, 85_056_000.0, 302_311_424.0, 805_736_448.0]


def test_params_file_overrides_the_built_in_table(tmp_path: Path):
    path = tmp_path / "sizes.csv"
    path.write_text(
        "model,n_params\npythia-70m,1e8\npythia-160m,2e8\npythia-410m,4e8\npythia-1b,1e9\n"
    )
    logs = read_inputs(LOGS, tasks=GEN, params=path)
    assert sorted(set(logs["n_params"])) == [1e8, 2e8, 4e8, 1e9]


def test_unknown_model_sizes_are_one_error(tmp_path: Path):
    root = copy_logs(tmp_path)
    edit_json(results_of(root, "EleutherAI__pythia-70m"), lambda d: d.update(model_name="acme/x"))
    expect_input_error("'acme/x'", "--params sizes.csv", paths=root, tasks=GEN)


# --------------------------------------------------------------------------------------------
# Format details
# --------------------------------------------------------------------------------------------


def test_a_choice_given_as_text_is_read_as_its_index(tmp_path: Path):
    root = copy_logs(tmp_path)
    path = samples_of(root, "EleutherAI__pythia-70m", MC)
    edit_jsonl(path, lambda i, r: {**r, "target": r["doc"]["choices"][r["doc"]["gold"]]})
    pd.testing.assert_frame_equal(read_inputs(root, tasks=MC), read_inputs(LOGS, tasks=MC))


def test_a_digit_target_is_read_as_lm_eval_read_it(tmp_path: Path):
    # The choices are digits, so the target "2" could be index 2 or the choice "2" (index 0);
    # the log's acc says which: lm-eval looked the string up among the choices.
    choices = ["2", "0", "1", "3"]
    records = [mc_record(i, [-1.0, -5.0, -6.0, -7.0], "2", choices, acc=1.0) for i in range(3)]
    write_run(tmp_path / "run", "digits", "multiple_choice", records)
    logs = read_inputs(tmp_path, params=known_sizes(tmp_path))
    assert logs["answer"].tolist() == [0, 0, 0]


def test_mutual_information_requests_are_dropped(tmp_path: Path):
    lls = [-3.0, -1.0, -4.0, -2.0]  # two conditional, then two unconditional log-likelihoods
    record = mc_record(0, lls, "1", ["a", "b", "a", "b"], metrics=["acc", "acc_mutual_info"])
    write_run(tmp_path / "run", "mi", "multiple_choice", [record])
    logs = read_inputs(tmp_path, params=known_sizes(tmp_path))
    assert logs["choices_logprobs"].tolist() == [[-3.0, -1.0]]


def test_several_filters_need_a_choice(tmp_path: Path):
    def record(doc_id: int, flt: str, output: str) -> dict:
        return {"doc_id": doc_id, "target": "42", "filtered_resps": [output], "filter": flt}

    records = [record(0, "strict-match", "42"), record(0, "flexible-extract", "4")]
    write_run(tmp_path / "run", "gsm", "generate_until", records)
    sizes = known_sizes(tmp_path)
    expect_input_error("several filters (strict-match, flexible-extract)", "--lm-eval-filter",
                 paths=tmp_path / "run", params=sizes)  # fmt: skip
    logs = read_inputs(tmp_path / "run", params=sizes, lm_eval_filter="flexible-extract")
    assert logs["output"].tolist() == ["4"]


def test_line_separators_inside_strings_do_not_split_records(tmp_path: Path):
    # lm-eval writes JSON with ensure_ascii=False: U+2028 and U+0085 appear raw in the file.
    records = [
        {"doc_id": 0, "doc": {"q": "a\u2028b\x85c"}, "target": "42", "filtered_resps": ["4\u20282"]}
    ]
    path = write_run(tmp_path / "run", "seps", "generate_until", [])
    path.write_text(json.dumps(records[0], ensure_ascii=False) + "\n", encoding="utf-8")
    logs = read_inputs(path, params=known_sizes(tmp_path))
    assert logs["output"].tolist() == ["4\u20282"]


def test_repeats_kept_by_the_filter_are_attempts(tmp_path: Path):
    # A task with repeats: 3 and a filter that keeps every repeat logs [[g1, g2, g3]].
    records = [{"doc_id": 0, "target": "42", "filtered_resps": [["42", "41", "42"]]},
               {"doc_id": 1, "target": "7", "filtered_resps": [["7", "7", "1"]]}]  # fmt: skip
    write_run(tmp_path / "run", "rep", "generate_until", records)
    logs = read_inputs(tmp_path / "run", params=known_sizes(tmp_path))
    assert logs["item"].tolist() == ["0"] * 3 + ["1"] * 3
    assert logs["attempt"].tolist() == ["1", "2", "3"] * 2
    assert logs["output"].tolist() == ["42", "41", "42", "7", "7", "1"]
    empty = [{"doc_id": 0, "target": "42", "filtered_resps": [[]]}]
    write_run(tmp_path / "run", "rep", "generate_until", empty)
    expect_input_error("holds no generation", paths=tmp_path / "run", params=known_sizes(tmp_path))


def test_a_single_reference_in_a_list_is_used(tmp_path: Path):
    records = [{"doc_id": 0, "target": "['Paris']", "filtered_resps": ["Paris"]}]
    write_run(tmp_path / "run", "capital", "generate_until", records)
    logs = read_inputs(tmp_path / "run", params=known_sizes(tmp_path))
    assert logs["target"].tolist() == ["Paris"]


# --------------------------------------------------------------------------------------------
# Corrupt or unusable logs: one line, exit code 2
# --------------------------------------------------------------------------------------------


def corrupt_line(root: Path) -> list[str]:
    path = samples_of(root, "EleutherAI__pythia-160m", GEN)
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:40]
    path.write_text("\n".join(lines) + "\n")
    return [path.name, "line 3", "not valid JSON"]


def missing_results(root: Path) -> list[str]:
    results_of(root, "EleutherAI__pythia-410m").unlink()
    return ["samples_arith3_gen_2024-05-14T11-02-47.000001.jsonl", "no results_"]


def no_model_name(root: Path) -> list[str]:
    def drop(data: dict) -> None:
        data.pop("model_name")
        data["config"]["model_args"] = "dtype=float32"

    edit_json(results_of(root, "EleutherAI__pythia-70m"), drop)
    return ["results_2024-05-14T10-31-22.123456.json", "does not name the model"]


def unknown_output_type(root: Path) -> list[str]:
    def change(data: dict) -> None:
        data["configs"][GEN]["output_type"] = "loglikelihood_rolling"

    edit_json(results_of(root, "EleutherAI__pythia-70m"), change)
    return ["output_type 'loglikelihood_rolling'", "generate_until"]


def no_target(root: Path) -> list[str]:
    path = samples_of(root, "EleutherAI__pythia-410m", GEN)
    edit_jsonl(path, lambda i, r: {k: v for k, v in r.items() if k != "target" or i != 4})
    return [path.name, "line 5", "no target"]


def empty_target(root: Path) -> list[str]:
    path = samples_of(root, "EleutherAI__pythia-410m", GEN)
    edit_jsonl(path, lambda i, r: {**r, "target": " "} if i == 0 else r)
    return [path.name, "line 1", "target is empty"]


def duplicate_doc(root: Path) -> list[str]:
    path = samples_of(root, "EleutherAI__pythia-160m", GEN)
    edit_jsonl(path, lambda i, r: {**r, "doc_id": 0} if i == 3 else r)
    return [path.name, "doc_id 0 appears twice (lines 1 and 4)"]


def broken_results_json(root: Path) -> list[str]:
    results_of(root, "EleutherAI__pythia-160m").write_text('{"results": ', encoding="utf-8")
    return ["results_2024-05-14T10-40-05.654321.json", "not valid JSON"]


def empty_samples(root: Path) -> list[str]:
    samples_of(root, "EleutherAI__pythia-70m", GEN).write_text("\n")
    return ["samples_arith3_gen_2024-05-14T10-31-22.123456.jsonl", "holds no samples"]


def two_runs_of_one_model(root: Path) -> list[str]:
    twin = root / "again"
    shutil.copytree(root / "EleutherAI__pythia-70m", twin)
    return ["two logs of task 'arith3_gen' for model 'EleutherAI/pythia-70m'"]


def several_references(root: Path) -> list[str]:
    path = samples_of(root, "EleutherAI__pythia-70m", GEN)
    edit_jsonl(path, lambda i, r: {**r, "target": str(["885", "eight"])} if i == 0 else r)
    return [path.name, "line 1", "2 reference answers"]


def generation_without_response(root: Path) -> list[str]:
    path = samples_of(root, "EleutherAI__pythia-70m", GEN)
    edit_jsonl(path, lambda i, r: {**r, "filtered_resps": []} if i == 1 else r)
    return [path.name, "line 2", "filtered_resps is []"]


@pytest.mark.parametrize(
    "damage",
    [
        corrupt_line,
        missing_results,
        no_model_name,
        unknown_output_type,
        no_target,
        empty_target,
        duplicate_doc,
        broken_results_json,
        empty_samples,
        two_runs_of_one_model,
        several_references,
        generation_without_response,
    ],
)
def test_corrupt_logs_exit_2_with_one_line(tmp_path: Path, capsys, damage):
    root = copy_logs(tmp_path)
    facts = damage(root)
    code = main(["fit", str(root), "--tasks", GEN, "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mirage-bayes: error: "), err
    assert "Traceback" not in err
    for fact in facts:
        assert fact in lines[0], (fact, lines[0])
    assert not (tmp_path / "out").exists()


def bad_logprob(records: list[dict]) -> None:
    records[1]["filtered_resps"][2] = ["nan", "False"]


def index_out_of_range(records: list[dict]) -> None:
    records[0]["target"] = "7"


def several_gold(records: list[dict]) -> None:
    records[0]["target"] = "[0, 2]"


def choices_in_the_prompt(records: list[dict]) -> None:
    for arg in records[0]["arguments"].values():
        arg["arg_1"] = " the same"


def acc_disagrees(records: list[dict]) -> None:
    records[2]["acc"] = 1.0 - records[2]["acc"]


def one_choice(records: list[dict]) -> None:
    records[0]["filtered_resps"] = records[0]["filtered_resps"][:1]
    records[0]["arguments"] = {"gen_args_0": records[0]["arguments"]["gen_args_0"]}
    records[0]["target"] = "0"


@pytest.mark.parametrize(
    ("damage", "facts"),
    [
        (bad_logprob, ["line 2", "log-likelihood 'nan' is not a finite number"]),
        (index_out_of_range, ["line 1", "'7' is neither a choice index (0 to 3)"]),
        (several_gold, ["line 1", "several correct choices"]),
        (choices_in_the_prompt, ["line 1", "multiple-input task"]),
        (acc_disagrees, ["do not agree with the log's acc"]),
        (one_choice, ["line 1", "has 1 choice(s)"]),
    ],
)
def test_malformed_multiple_choice_samples(tmp_path: Path, damage, facts):
    root = copy_logs(tmp_path)
    path = samples_of(root, "EleutherAI__pythia-70m", MC)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    damage(records)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    expect_input_error(path.name, *facts, paths=root, tasks=MC)


def test_mixed_or_unknown_inputs(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    expect_input_error("is a directory without lm-evaluation-harness samples", paths=empty)
    expect_input_error("logs and a table", paths=[LOGS, OUTPUTS_CSV], tasks=GEN)
    expect_input_error("2 tables given", paths=[OUTPUTS_CSV, CHOICES_TABLE])
    expect_input_error("--map and --param-column apply to tables", paths=LOGS, mapping="target=a")
    expect_input_error("file not found", paths=tmp_path / f"samples_x_{STAMP}.jsonl")


# --------------------------------------------------------------------------------------------
# End to end: the logs fit exactly as the equivalent outputs.csv
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_fit_of_the_logs_equals_fit_of_the_outputs_csv(tmp_path: Path):
    common = ["--draws", "100", "--tune", "100", "--chains", "2", "--seed", "3", "--quiet"]
    logs_out, csv_out = tmp_path / "from_logs", tmp_path / "from_csv"
    assert main(["fit", str(LOGS), "--tasks", GEN, "--out", str(logs_out), *common]) == 0
    assert main(["fit", str(OUTPUTS_CSV), "--out", str(csv_out), *common]) == 0
    summary = (logs_out / "summary.csv").read_bytes()
    assert summary == (csv_out / "summary.csv").read_bytes()
    assert b"EleutherAI/pythia-1b" in summary
