"""Reading Inspect logs into a fit: the logs are built here with inspect_ai's own classes and
written with its ``write_eval_log``, carrying the ``arith3_gen`` answers of the
lm-evaluation-harness fixture, and give the same table as the equivalent outputs table."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from mirage_bayes.cli import main
from mirage_bayes.fitting.data import split_tasks
from mirage_bayes.inputs.io import read_outputs
from mirage_bayes.inputs.scoring import score_outputs
from mirage_bayes.inputs.sources import read_inputs

from support import DATA, expect_input_error, fits_alike

LMEVAL_CSV = DATA / "lmeval" / "pythia_outputs.csv"


# --------------------------------------------------------------------------------------------
# Inspect
# --------------------------------------------------------------------------------------------


@pytest.fixture
def inspect_api() -> tuple[ModuleType, ModuleType]:
    return pytest.importorskip("inspect_ai.log"), pytest.importorskip("inspect_ai.model")


def eval_log(api: tuple[ModuleType, ModuleType], model: str, samples: list[tuple], **kw):
    """An EvalLog of task arith3_gen: samples are (id, target, completion[, epoch])."""
    log_api, model_api = api
    spec = log_api.EvalSpec(created="2024-05-14T10:31:22+00:00", task=kw.get("task", "arith3_gen"),
                            dataset=log_api.EvalDataset(name="arith3"), model=model,
                            config=log_api.EvalConfig())  # fmt: skip
    built = [
        log_api.EvalSample(id=s[0], epoch=s[3] if len(s) > 3 else 1, input="Q", target=s[1],
                           output=model_api.ModelOutput.from_content(model=model, content=s[2]))
        for s in samples
    ]  # fmt: skip
    return log_api.EvalLog(eval=spec, status=kw.get("status", "success"), samples=built)


@pytest.fixture
def inspect_logs(tmp_path: Path, inspect_api) -> tuple[Path, Path]:
    """One log per Pythia model (the first as .json, the others .eval) and the equivalent table."""
    folder = tmp_path / "logs"
    folder.mkdir()
    with LMEVAL_CSV.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for number, model in enumerate(dict.fromkeys(r["model"] for r in rows)):
        samples = [(int(r["item"]), r["target"], r["output"]) for r in rows if r["model"] == model]
        log = eval_log(inspect_api, f"hf/{model}", samples)
        suffix = ".json" if number == 0 else ".eval"
        name = f"2024-05-14T10-31-22_arith3-gen_{number}{suffix}"
        inspect_api[0].write_eval_log(log, folder / name)
    table = pd.read_csv(LMEVAL_CSV, dtype=str, keep_default_na=False)
    table["model"] = "hf/" + table["model"]
    expected = tmp_path / "inspect_outputs.csv"
    table.to_csv(expected, index=False)
    return folder, expected


def test_inspect_logs_equal_the_equivalent_outputs_table(inspect_logs):
    folder, expected = inspect_logs
    got = read_inputs(folder)
    table = read_outputs(expected)
    pd.testing.assert_frame_equal(got, table)
    assert got.attrs == {**table.attrs, "kind": "generation", "source": str(folder)}
    files = sorted(folder.iterdir())
    assert {p.suffix for p in files} == {".eval", ".json"}
    pd.testing.assert_frame_equal(read_inputs(files), table)


def test_inspect_epochs_are_attempts_of_their_sample(tmp_path: Path, inspect_api):
    samples = [(0, "885", "883", 1), (0, "885", "885", 2), (1, "635", "635", 1),
               (1, "635", "35", 2)]  # fmt: skip
    path = tmp_path / "two_epochs.eval"
    inspect_api[0].write_eval_log(eval_log(inspect_api, "hf/EleutherAI/pythia-70m", samples), path)
    got = read_inputs(path)
    assert got["item"].tolist() == ["0", "0", "1", "1"]
    assert got["attempt"].tolist() == ["1", "2", "1", "2"]
    assert got["output"].tolist() == ["883", "885", "635", "35"]
    (data,) = split_tasks(score_outputs(got)[0])
    assert data.attempts.tolist() == [[2], [2]] and data.successes.tolist() == [[1], [1]]
    # A .eval file keeps one sample per id and epoch; a .json log can hold one twice.
    twice = [(0, "885", "883", 1), (0, "885", "885", 1)]
    json_path = tmp_path / "twice.json"
    inspect_api[0].write_eval_log(eval_log(inspect_api, "hf/EleutherAI/pythia-70m", twice),
                                  json_path)  # fmt: skip
    expect_input_error("sample 0 appears twice in epoch 1", paths=json_path)
    one = [(0, "885", "883", 2), (1, "635", "635", 2)]  # one epoch, whatever its number
    inspect_api[0].write_eval_log(eval_log(inspect_api, "hf/EleutherAI/pythia-70m", one), path)
    table = read_inputs(path)
    assert table["output"].tolist() == ["883", "635"] and "attempt" not in table


def test_inspect_sizes_tasks_and_targets(tmp_path: Path, inspect_api):
    samples = [(0, ["885"], "883"), ("b", "635", "635")]  # a target given as a list of one
    path = tmp_path / "log.eval"
    inspect_api[0].write_eval_log(eval_log(inspect_api, "openai/acme-x", samples), path)
    expect_input_error("'openai/acme-x'", "--params sizes.csv", paths=path)
    sizes = tmp_path / "sizes.csv"
    sizes.write_text("model,n_params\nacme-x,3e9\n")
    got = read_inputs(path, params=sizes, tasks="arith3_gen")
    assert got["target"].tolist() == ["885", "635"] and got["n_params"].tolist() == [3e9, 3e9]
    expect_input_error("no task(s) gsm8k; the logs hold arith3_gen", paths=path, params=sizes,
                 tasks="gsm8k")  # fmt: skip


def bad_inspect_logs(api) -> dict[str, tuple[object, list[str]]]:
    model = "hf/EleutherAI/pythia-70m"
    failed = eval_log(api, model, [(0, "885", "883")])
    failed.samples[0].error = api[0].EvalError(message="rate limit", traceback="",
                                               traceback_ansi="")  # fmt: skip
    return {
        "empty": (eval_log(api, model, []), ["holds no samples"]),
        "no_target": (eval_log(api, model, [(0, "8", "3"), (1, "", "4")]), ["sample 1", "no tar"]),
        "two_targets": (eval_log(api, model, [(0, ["8", "eight"], "8")]), ["sample 0", "2 answ"]),
        "unfinished": (eval_log(api, model, [(0, "8", "3")], status="error"), ["status 'error'"]),
        "sample_error": (failed, ["sample 0", "ended with an error", "rate limit"]),
    }


@pytest.mark.parametrize("case", ["empty", "no_target", "two_targets", "unfinished",
                                  "sample_error"])  # fmt: skip
def test_unusable_inspect_logs_are_one_line(tmp_path: Path, inspect_api, case):
    log, facts = bad_inspect_logs(inspect_api)[case]
    path = tmp_path / f"{case}.eval"
    inspect_api[0].write_eval_log(log, path)
    expect_input_error(str(path), *facts, paths=path)


def test_missing_or_corrupt_inspect_files(tmp_path: Path, inspect_api, capsys):
    expect_input_error("nope.eval", "file not found", paths=tmp_path / "nope.eval")
    expect_input_error("nope.json", "file not found", paths=tmp_path / "nope.json")
    corrupt = tmp_path / "corrupt.eval"
    corrupt.write_bytes(b"PK not really a zip")
    expect_input_error("corrupt.eval", "is not a readable Inspect log", paths=corrupt)
    code = main(["fit", str(corrupt), "--out", str(tmp_path / "out"), "--quiet"])
    lines = capsys.readouterr().err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("mirage-bayes: error: ")
    assert not (tmp_path / "out").exists()


def test_without_inspect_ai_the_error_says_how_to_install_it(tmp_path: Path, monkeypatch):
    path = tmp_path / "log.eval"
    path.write_bytes(b"any bytes: the package is asked for before the file is read")
    monkeypatch.setitem(sys.modules, "inspect_ai.log", None)  # import inspect_ai.log fails
    expect_input_error(
        "needs the inspect_ai package", 'pip install "mirage-bayes[inspect]"', paths=path
    )


@pytest.mark.slow
def test_fit_of_inspect_logs_equals_fit_of_the_outputs_table(tmp_path: Path, inspect_logs):
    summary = fits_alike(tmp_path, *inspect_logs)
    assert b"hf/EleutherAI/pythia-1b" in summary
