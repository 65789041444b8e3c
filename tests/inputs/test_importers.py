"""Reading HELM run folders and Every Eval Ever records into a fit (Inspect logs:
``test_inspect_logs.py``).

Each format gives the same table, and the same ``summary.csv`` byte for byte, as the equivalent
outputs table. The Inspect logs are built here with inspect_ai's own classes and written with
its ``write_eval_log``; the HELM and Every Eval Ever fixtures under ``tests/data/helm/`` and
``tests/data/eee/`` follow those projects' documented schemas (see the READMEs there). All three
carry the ``arith3_gen`` answers of the lm-evaluation-harness fixture.
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

from support import DATA, expect_input_error, fits_alike

LMEVAL_CSV = DATA / "lmeval" / "pythia_outputs.csv"
HELM, HELM_CSV, HELM_PRESCORED = (DATA / "helm" / n for n in
                                  ("pythia", "helm_outputs.csv", "helm_prescored.csv"))  # fmt: skip
EEE, EEE_CSV, EEE_PRESCORED = (DATA / "eee" / n for n in
                               ("pythia", "eee_outputs.csv", "eee_prescored.csv"))  # fmt: skip


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def edit_json(path: Path, change: Callable[[object], object | None]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    changed = change(data)
    path.write_text(json.dumps(data if changed is None else changed), encoding="utf-8")


def edit_jsonl(path: Path, change: Callable[[int, dict], dict | None]) -> None:
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    kept = [r for r in (change(i, rec) for i, rec in enumerate(records)) if r is not None]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# HELM
# --------------------------------------------------------------------------------------------


def copy_helm(tmp_path: Path) -> Path:
    return Path(shutil.copytree(HELM, tmp_path / "runs"))


def helm_run(root: Path, model: str) -> Path:
    return root / f"arith3:model=EleutherAI_{model}"


def test_helm_runs_equal_the_equivalent_outputs_table(capsys):
    got = read_inputs(HELM)
    table = read_outputs(HELM_CSV)
    pd.testing.assert_frame_equal(got, table)
    assert got.attrs == {**table.attrs, "kind": "generation", "source": str(HELM)}
    assert capsys.readouterr().err == ""  # read raw: nothing to say
    folders = sorted(HELM.iterdir())
    files = [f / "run_spec.json" for f in folders] + [folders[0] / "instances.json"]
    for paths in (folders, files):
        pd.testing.assert_frame_equal(read_inputs(paths), table)


def without_completions(root: Path) -> None:
    (helm_run(root, "pythia-1b") / "scenario_state.json").unlink()


def joint_method(root: Path) -> None:
    edit_json(helm_run(root, "pythia-70m") / "run_spec.json",
              lambda d: d["adapter_spec"].update(method="multiple_choice_joint"))  # fmt: skip


def two_correct_references(root: Path) -> None:
    def add(instances: list) -> None:
        instances[3]["references"].append({"output": {"text": "x"}, "tags": ["correct"]})

    edit_json(helm_run(root, "pythia-160m") / "instances.json", add)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (without_completions, "pythia-1b has no scenario_state.json (the completions)"),
        (joint_method, "uses the adapter method 'multiple_choice_joint', not 'generation'"),
        (two_correct_references, "instance id3 of"),
    ],
)
def test_helm_runs_without_usable_completions_are_read_pre_scored(
    tmp_path: Path, capsys, change, reason
):
    root = copy_helm(tmp_path)
    change(root)
    got = read_inputs(root)
    pd.testing.assert_frame_equal(got, read_outputs(HELM_PRESCORED))
    assert got.attrs["prescored"] is True
    err = capsys.readouterr().err
    assert err.startswith("note: HELM runs read pre-scored") and reason in err, err


def test_helm_task_is_the_run_name_without_the_model(tmp_path: Path):
    root = copy_helm(tmp_path)
    for folder in root.iterdir():
        model = folder.name.split("model=")[1]
        name = f"mmlu:subject=anatomy,model={model},method=generation,model_deployment=hf_{model}"
        edit_json(folder / "run_spec.json", lambda d, n=name: d.update(name=n))
    tasks = set(read_inputs(root)["task"])
    assert tasks == {"mmlu:subject=anatomy,method=generation"}
    expect_input_error("no task(s) arith3; the logs hold mmlu:subject=anatomy,method=generation",
                 paths=root, tasks="arith3")  # fmt: skip


def no_instances(root: Path) -> list[str]:
    run = helm_run(root, "pythia-70m")
    (run / "instances.json").unlink()
    (run / "scenario_state.json").unlink()
    return [str(run), "has no instances.json (nor scenario_state.json)"]


def empty_instances(root: Path) -> list[str]:
    edit_json(helm_run(root, "pythia-70m") / "instances.json", lambda d: [])
    return ["instances.json", "holds no instances"]


def no_correct_reference(root: Path) -> list[str]:
    def untag(instances: list) -> None:
        instances[2]["references"][0]["tags"] = []

    edit_json(helm_run(root, "pythia-70m") / "instances.json", untag)
    return ["instances.json", "instance id2 has no reference tagged 'correct' (no target)"]


def second_trial(root: Path) -> list[str]:
    def trial(state: dict) -> None:
        state["request_states"][0]["train_trial_index"] = 1

    edit_json(helm_run(root, "pythia-70m") / "scenario_state.json", trial)
    return ["request state 0", "training trial 1", "repeated attempts are not yet supported"]


def no_stats(root: Path) -> list[str]:
    without_completions(root)
    (helm_run(root, "pythia-410m") / "per_instance_stats.json").unlink()
    return ["pythia-410m", "neither the completions of a generation run nor per_instance_stats"]


def no_exact_match(root: Path) -> list[str]:
    without_completions(root)

    def drop(entries: list) -> None:
        entries[5]["stats"] = [s for s in entries[5]["stats"] if s["name"]["name"] != "exact_match"]

    edit_json(helm_run(root, "pythia-1b") / "per_instance_stats.json", drop)
    return ["per_instance_stats.json", "no exact_match stat for instance id5"]


def broken_json(root: Path) -> list[str]:
    (helm_run(root, "pythia-160m") / "run_spec.json").write_text('{"name": ', encoding="utf-8")
    return ["run_spec.json", "is not valid JSON"]


def failed_request(root: Path) -> list[str]:
    def fail(state: dict) -> None:
        state["request_states"][4]["result"] = {"success": False, "completions": [],
                                                "error": "timeout"}  # fmt: skip

    edit_json(helm_run(root, "pythia-160m") / "scenario_state.json", fail)
    return ["request state 4", "the request for instance id4 failed ('timeout')"]


@pytest.mark.parametrize(
    "damage",
    [no_instances, empty_instances, no_correct_reference, second_trial, no_stats,
     no_exact_match, broken_json, failed_request],
)  # fmt: skip
def test_unusable_helm_runs_exit_2_with_one_line(tmp_path: Path, capsys, damage):
    root = copy_helm(tmp_path)
    facts = damage(root)
    code = main(["fit", str(root), "--out", str(tmp_path / "out"), "--quiet"])
    lines = capsys.readouterr().err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("mirage-bayes: error: "), lines
    for fact in facts:
        assert fact in lines[0], (fact, lines[0])
    assert not (tmp_path / "out").exists()


def test_missing_helm_file(tmp_path: Path):
    expect_input_error("run_spec.json", "file not found", paths=tmp_path / "run" / "run_spec.json")


# --------------------------------------------------------------------------------------------
# Every Eval Ever
# --------------------------------------------------------------------------------------------


def copy_eee(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EEE, tmp_path / "eee"))


def eee_file(root: Path, model: str) -> Path:
    (path,) = (root / "arith3_gen" / "EleutherAI" / model).glob("*_samples.jsonl")
    return path


def test_eee_records_equal_the_equivalent_outputs_table(tmp_path: Path, capsys):
    got = read_inputs(EEE)
    table = read_outputs(EEE_CSV)
    pd.testing.assert_frame_equal(got, table)
    assert got.attrs == {**table.attrs, "kind": "generation", "source": str(EEE)}
    assert capsys.readouterr().err == ""
    files = sorted(EEE.rglob("*_samples.jsonl"))
    pd.testing.assert_frame_equal(read_inputs(files), table)
    renamed = tmp_path / "records.jsonl"  # told from a table by its first record
    shutil.copy(eee_file(EEE, "pythia-70m"), renamed)
    assert read_inputs(renamed)["model"].unique().tolist() == ["EleutherAI/pythia-70m"]


def multi_turn(i: int, record: dict) -> dict:
    record["interaction_type"] = "multi_turn"
    record["output"] = None
    record["messages"] = [
        {"turn_idx": 0, "role": "user", "content": record["input"]["raw"]},
        {"turn_idx": 1, "role": "assistant", "content": "let me think"},
    ]
    record["evaluation"]["num_turns"] = 2
    return record


def two_references(i: int, record: dict) -> dict:
    if i == 2:
        record["input"]["reference"].append("another answer")
    return record


@pytest.mark.parametrize(
    ("change", "reason"),
    [(multi_turn, "line 1 is a 'multi_turn' interaction"), (two_references, "line 3 has 2 ref")],
)
def test_eee_records_without_one_reference_and_response_are_read_pre_scored(
    tmp_path: Path, capsys, change, reason
):
    root = copy_eee(tmp_path)
    edit_jsonl(eee_file(root, "pythia-160m"), change)
    got = read_inputs(root)
    pd.testing.assert_frame_equal(got, read_outputs(EEE_PRESCORED))
    err = capsys.readouterr().err
    assert err.startswith("note: Every Eval Ever records read pre-scored") and reason in err, err


def eee_damage(name: str) -> Callable[[int, dict], dict | None]:
    def damage(i: int, record: dict) -> dict | None:
        if i != 2:
            return record
        if name == "no_reference":
            del record["input"]["reference"]
        elif name == "duplicate":
            record["sample_id"] = "arith3_gen_0000"
        elif name == "no_is_correct":
            multi_turn(i, record)
            del record["evaluation"]["is_correct"]
        elif name == "no_sample_id":
            del record["sample_id"]
        return record

    return damage


@pytest.mark.parametrize(
    ("name", "facts"),
    [
        ("no_reference", ["line 3", "has no input.reference (no target)"]),
        ("duplicate", ["line 3", "sample arith3_gen_0000", "appears twice (also at line 1)"]),
        ("no_is_correct", ["line 3", "evaluation.is_correct is None, not true or false"]),
        ("no_sample_id", ["line 3", "has no sample_id"]),
    ],
)
def test_unusable_eee_records_are_one_line(tmp_path: Path, name, facts):
    root = copy_eee(tmp_path)
    path = eee_file(root, "pythia-70m")
    edit_jsonl(path, eee_damage(name))
    expect_input_error(path.name, *facts, paths=root)


def test_empty_missing_or_broken_eee_files(tmp_path: Path):
    expect_input_error("x_samples.jsonl", "file not found", paths=tmp_path / "x_samples.jsonl")
    empty = tmp_path / "empty_samples.jsonl"
    empty.write_text("\n")
    expect_input_error("empty_samples.jsonl", "holds no samples", paths=empty)
    broken = tmp_path / "broken_samples.jsonl"
    lines = eee_file(EEE, "pythia-1b").read_text(encoding="utf-8").splitlines()
    broken.write_text("\n".join([lines[0], lines[1][:50], *lines[2:]]) + "\n", encoding="utf-8")
    expect_input_error("broken_samples.jsonl, line 2", "is not valid JSON", paths=broken)


# --------------------------------------------------------------------------------------------
# The front door: one kind of input at a time, options that apply
# --------------------------------------------------------------------------------------------


def test_kinds_of_input_are_not_mixed(tmp_path: Path):
    expect_input_error("HELM logs and Every Eval Ever logs given together", paths=[HELM, EEE])
    expect_input_error("HELM logs and another kind of input", str(HELM_CSV), paths=[HELM, HELM_CSV])
    mixed = tmp_path / "mixed"
    shutil.copytree(HELM, mixed / "helm")
    shutil.copytree(EEE, mixed / "eee")
    expect_input_error(
        str(mixed), "holds logs of several kinds (HELM, Every Eval Ever)", paths=mixed
    )
    shutil.copytree(DATA / "lmeval" / "pythia", mixed / "lmeval")
    expect_input_error("lm-evaluation-harness, HELM, Every Eval Ever", paths=mixed)
    expect_input_error(
        "--map and --param-column apply to tables; HELM logs", paths=HELM, mapping="target=answer"
    )
    expect_input_error(
        "--lm-eval-filter applies to lm-evaluation-harness logs, not to Every Eval Ever",
        paths=EEE, lm_eval_filter="strict-match",
    )  # fmt: skip


def test_lm_eval_logs_and_tables_are_read_as_before():
    lm_eval = read_inputs(DATA / "lmeval" / "pythia", tasks="arith3_gen")
    pd.testing.assert_frame_equal(lm_eval, read_outputs(LMEVAL_CSV))
    pd.testing.assert_frame_equal(read_inputs(HELM_CSV), read_outputs(HELM_CSV))


# --------------------------------------------------------------------------------------------
# End to end: each format fits exactly as its equivalent outputs table
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_fit_of_helm_runs_equals_fit_of_the_outputs_table(tmp_path: Path):
    assert b"EleutherAI/pythia-1b" in fits_alike(tmp_path / "raw", HELM, HELM_CSV)
    without_completions(root := copy_helm(tmp_path))  # read pre-scored
    assert b"EleutherAI/pythia-1b" in fits_alike(tmp_path / "scored", root, HELM_PRESCORED)


@pytest.mark.slow
def test_fit_of_eee_records_equals_fit_of_the_outputs_table(tmp_path: Path):
    assert b"EleutherAI/pythia-1b" in fits_alike(tmp_path, EEE, EEE_CSV)


@pytest.mark.slow
def test_forecast_reads_what_fit_reads(tmp_path: Path):
    """forecast goes through the same front door as fit: a HELM run folder is a forecast input."""
    out = tmp_path / "forecast"
    argv = ["forecast", str(HELM), "--out", str(out), "--draws", "100", "--tune", "100",
            "--trends", "power_law", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    table = pd.read_csv(out / "forecast.csv")
    assert set(table["task"]) == {"arith3"} and set(table["trend"]) == {"power_law"}
