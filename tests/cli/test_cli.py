"""The ``mirage-bayes`` command line: usage, one-line input errors, simulate, and one real fit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pymc  # noqa: F401  (imported up front so its import-time logging is not seen as CLI output)
import pytest

from mirage_bayes import __version__

from support import one_error_line, run_main

EXECUTABLE = shutil.which("mirage-bayes") or str(Path(sys.executable).with_name("mirage-bayes"))
HEADER = "task,model,n_params,item,target,output"
GOOD = [
    "arith,small,1e8,1,42,41",
    "arith,small,1e8,2,7,7",
    "arith,mid,1e9,1,42,42",
    "arith,mid,1e9,2,7,1",
    "arith,big,1e10,1,42,42",
    "arith,big,1e10,2,7,7",
]


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# Usage
# --------------------------------------------------------------------------------------------


def test_version(capsys):
    assert run_main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"mirage-bayes {__version__}"


@pytest.mark.parametrize(
    ("command", "expected"),
    [("fit", ["--draws", "--trends", "--strict", "--force"]), ("simulate", ["--truth", "--c"])],
)
def test_help(command, expected, capsys):
    assert run_main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: mirage-bayes {command}")
    for option in expected:
        assert option in out


def test_no_command_is_a_usage_error(capsys):
    assert run_main([]) == 2
    one_error_line(capsys)


# --------------------------------------------------------------------------------------------
# Bad input: exit 2, one line on stderr, nothing written
# --------------------------------------------------------------------------------------------


BAD_FILES = {
    "missing file": (None, [], "file not found"),
    "empty file": ("", [], "empty"),
    "missing column": (
        "task,model,item,target,output\narith,small,1,42,41\n",
        [],
        "n_params",
    ),
    "non-numeric n_params": ("\n".join([HEADER, "arith,small,big,1,42,41"]) + "\n", [], "n_params"),
    "duplicate rows": (
        "\n".join([HEADER, *GOOD, "arith,small,1e8,1,42,40"]) + "\n",
        [],
        "duplicate",
    ),
    "bad tokenizer": ("\n".join([HEADER, *GOOD]) + "\n", ["--tokenizer", "bogus"], "tokenizer"),
    "bad regex tokenizer": ("\n".join([HEADER, *GOOD]) + "\n", ["--tokenizer", "regex:("], "regex"),
    "bad trends": ("\n".join([HEADER, *GOOD]) + "\n", ["--trends", "power_law,cubic"], "cubic"),
    "no trends": ("\n".join([HEADER, *GOOD]) + "\n", ["--trends", ","], "trend"),
    "bad lengths": ("\n".join([HEADER, *GOOD]) + "\n", ["--lengths", "1,x"], "lengths"),
    "zero length": ("\n".join([HEADER, *GOOD]) + "\n", ["--lengths", "0,2"], "lengths"),
    "bad draws": ("\n".join([HEADER, *GOOD]) + "\n", ["--draws", "0"], "draws"),
    "one choice": ("\n".join([HEADER, *GOOD]) + "\n", ["--choices", "1"], "choices"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_input_exits_2_with_one_line(case, tmp_path, capsys):
    content, extra, mentions = BAD_FILES[case]
    path = tmp_path / "outputs.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    out = tmp_path / "results"
    code = run_main(
        ["fit", path, "--out", out, "--quiet", "--draws", "100", "--tune", "10", *extra]
    )
    assert code == 2
    line = one_error_line(capsys)
    assert mentions in line
    assert not out.exists()
    # No half-written or staging folder either.
    expected = {"outputs.csv"} if content is not None else set()
    assert {p.name for p in tmp_path.iterdir()} == expected


def test_non_empty_out_needs_force(tmp_path, capsys):
    path = write_csv(tmp_path / "outputs.csv", GOOD)
    out = tmp_path / "results"
    out.mkdir()
    (out / "keep.txt").write_text("previous results")
    assert run_main(["fit", path, "--out", out, "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "--force" in line
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "previous results"


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    path = write_csv(tmp_path / "outputs.csv", GOOD)
    out = tmp_path / "results"
    out.write_text("not a folder")
    assert run_main(["fit", path, "--out", out, "--quiet", "--force"]) == 2
    one_error_line(capsys)
    assert out.read_text() == "not a folder"


def test_executable_reports_bad_input_without_traceback(tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run(
        [EXECUTABLE, "fit", str(tmp_path / "nope.csv"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "default"},
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("mirage-bayes: error:")
    assert "nope.csv" in lines[0] and "not found" in lines[0]
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert not out.exists()


# --------------------------------------------------------------------------------------------
# simulate
# --------------------------------------------------------------------------------------------


def test_simulate_writes_outputs_and_truth(tmp_path, capsys):
    out, truth = tmp_path / "x.csv", tmp_path / "t.csv"
    args = ["simulate", "--out", out, "--truth", truth, "--items", 12, "--lengths", "2,3"]
    args += ["--scales", "1e8,1e9,1e10", "--seed", 4]
    assert run_main(args) == 0
    assert "36 rows" in capsys.readouterr().out
    table = pd.read_csv(out, dtype={"target": str, "output": str})
    assert len(table) == 36
    assert {"task", "model", "n_params", "item", "target", "output"} <= set(table.columns)
    assert sorted(table["n_params"].unique()) == [1e8, 1e9, 1e10]
    assert set(table["target"].str.len()) == {2, 3}
    true = pd.read_csv(truth)
    assert set(true["quantity"]) == {"epsilon", "accuracy"}
    assert len(true[true["quantity"] == "epsilon"]) == 3
    assert len(true[true["quantity"] == "accuracy"]) == 6
    # Only the two files, no temporary leftovers.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "x.csv"]


def test_simulate_attempts(tmp_path, capsys):
    out, truth = tmp_path / "x.csv", tmp_path / "t.csv"
    args = ["simulate", "--out", out, "--truth", truth, "--items", 4, "--lengths", "2",
            "--scales", "1e8,1e9", "--attempts", 5]  # fmt: skip
    assert run_main(args) == 0
    table = pd.read_csv(out, dtype={"target": str, "output": str})
    assert len(table) == 40 and sorted(table["attempt"].unique()) == [1, 2, 3, 4, 5]
    # The same item keeps its target across attempts and sizes; outputs vary by attempt.
    assert table.groupby("item")["target"].nunique().eq(1).all()
    true = pd.read_csv(truth)
    assert sorted(true.loc[true["quantity"] == "pass_at_k", "k"].unique()) == [1, 2, 5]
    one = true[(true["quantity"] == "pass_at_k") & (true["k"] == 1)]["value"].to_numpy()
    acc = true[true["quantity"] == "accuracy"]["value"].to_numpy()
    assert one == pytest.approx(acc)  # pass@1 is the accuracy


def test_simulate_refuses_to_overwrite_without_force(tmp_path, capsys):
    out, truth = tmp_path / "x.csv", tmp_path / "t.csv"
    out.write_text("precious")
    args = ["simulate", "--out", out, "--truth", truth, "--items", 5, "--scales", "1e8,1e9"]
    assert run_main(args) == 2
    line = one_error_line(capsys)
    assert "--force" in line
    assert out.read_text() == "precious"
    assert not truth.exists()

    # The truth file alone existing is refused too, before anything is written.
    out.unlink()
    truth.write_text("precious truth")
    assert run_main(args) == 2
    one_error_line(capsys)
    assert not out.exists() and truth.read_text() == "precious truth"

    # --force replaces only tables simulate wrote: a user's file stays.
    assert run_main([*args, "--force"]) == 2
    assert "not a table mirage-bayes wrote" in one_error_line(capsys)
    assert truth.read_text() == "precious truth" and not out.exists()
    truth.unlink()
    assert run_main(args) == 0
    assert run_main([*args, "--seed", "7", "--force"]) == 0
    assert len(pd.read_csv(out)) == 10
    assert "epsilon" in truth.read_text()


def test_simulate_refuses_truth_over_its_outputs_and_repeated_sizes(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert run_main(["simulate", "--out", out, "--truth", out, "--items", 3]) == 2
    assert "--truth names the --out file" in one_error_line(capsys)
    assert run_main(["simulate", "--out", out, "--scales", "1e9,1e9", "--items", 3]) == 2
    assert "names a size twice" in one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "mentions"),
    [(["--scales", "1e8,big"], "--scales"), (["--scales", "1e8,-1"], "positive")],
)
def test_simulate_bad_scales(extra, mentions, tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert run_main(["simulate", "--out", out, *extra]) == 2
    assert mentions in one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize(
    "extra",
    [
        ["--sigma-item", "-1"],
        ["--c", "-3"],
        ["--c", "0"],
        ["--alpha", "nan"],
        ["--break-at", "-5"],
        ["--break-at", "0"],
    ],
    ids=[
        "negative sigma-item",
        "negative c",
        "zero c",
        "nan alpha",
        "negative break",
        "zero break",
    ],
)
def test_simulate_rejects_impossible_parameters(extra, tmp_path, capsys):
    out, truth = tmp_path / "x.csv", tmp_path / "t.csv"
    args = ["simulate", "--out", out, "--truth", truth, "--items", 4, "--scales", "1e8,1e9"]
    assert run_main([*args, *extra]) == 2
    one_error_line(capsys)
    assert not out.exists() and not truth.exists()


def test_fit_rejects_negative_seed(tmp_path, capsys):
    path = write_csv(tmp_path / "outputs.csv", GOOD)
    out = tmp_path / "results"
    args = ["fit", path, "--out", out, "--quiet", "--seed", "-1", "--trends", "power_law"]
    assert run_main([*args, "--draws", "100", "--tune", "10"]) == 2
    one_error_line(capsys)
    assert not out.exists()


def test_simulate_bad_suffix(tmp_path, capsys):
    out = tmp_path / "x.xlsx"
    assert run_main(["simulate", "--out", out, "--items", 5]) == 2
    one_error_line(capsys)
    assert not out.exists()


# --------------------------------------------------------------------------------------------
# One real run of the executable
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_simulate_then_fit_writes_every_file(tmp_path, capsys):
    data = tmp_path / "sim.csv"
    args = ["simulate", "--out", data, "--items", 40, "--seed", 2]
    assert run_main([*args, "--scales", "1.25e8,1.3e9,1.3e10,1.75e11"]) == 0
    capsys.readouterr()
    out = tmp_path / "results"
    proc = subprocess.run(
        [EXECUTABLE, "fit", str(data), "--out", str(out), "--draws", "100", "--tune", "100"]
        + ["--quiet", "--trends", "power_law", "--strict", "--seed", "3"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode in (0, 3), proc.stderr
    assert "Traceback" not in proc.stderr
    assert "results in" in proc.stdout

    names = {"summary.csv", "comparison.csv", "summary.json", "report.html", "report.md"}
    names |= {"posterior_scale_free.nc", "posterior_power_law.nc"}
    for name in names:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert list((out / "figures").glob("*.png"))
    assert not (out / "posterior_broken_power_law.nc").exists()

    meta = json.loads((out / "summary.json").read_text())
    trends = meta["tasks"]["simulated_arithmetic"]["trends"]
    assert set(trends) == {"scale_free", "power_law"}
    assert meta["draws"] == 100 and meta["seed"] == 3
    assert meta["input"] == str(data) and len(meta["input_sha256"]) == 64
    all_ok = all(t["ok"] for t in trends.values())
    # Under --strict, exit 3 exactly when some fit failed its diagnostics.
    assert proc.returncode == (0 if all_ok else 3), (proc.returncode, trends)
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["model"]) == {"125M", "1.3B", "13B", "175B"}


def test_simulate_refuses_a_break_slope_without_a_break(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert run_main(["simulate", "--out", out, "--break-slope", "-2", "--items", 3]) == 2
    assert "--break-slope without --break-at" in one_error_line(capsys)
    assert not out.exists()
