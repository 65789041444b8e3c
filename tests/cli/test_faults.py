"""Never a silent wrong result, never a traceback: faults found by the issue's fault hunt.

Each case is a tiny input that used to be read wrongly (a TSV cell starting with a quote, a short
row after a cell over 128 KB, two tasks writing one file), ignored silently (a second choices
column, an unknown lm-eval filter, generation options on a choice table), or stopped with a
traceback or a misleading line (a FIFO, a symlink loop, an operating-system failure). The
standard is that of ``tests/inputs/test_malformed_inputs.py``: exit code 2 (1 for an
operating-system failure), one line on standard error, no traceback, nothing written. Nothing here
samples.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pymc  # noqa: F401  (imported up front so its import-time logging is not seen as CLI output)
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mirage_bayes.output.destination as destination
import mirage_bayes.output.save as save
from mirage_bayes.cli import build_parser
from mirage_bayes.errors import InputError
from mirage_bayes.fitting.inference import Diagnostics, sampler_warnings
from mirage_bayes.inputs.io import read_outputs
from mirage_bayes.output.filenames import MAX_STEM, file_stems, netcdf_name

from support import run_main

HEADER = "task,model,n_params,item,target,output"
GOOD = ["arith,small,1e8,1,42,41", "arith,small,1e8,2,7,7", "arith,big,1e9,1,42,42"]
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def one_line(capsys) -> str:
    """The single error line of the command just run (and nothing on standard output)."""
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("mirage-bayes"), lines[0]
    assert " — " in lines[0] or "--help" in lines[0], "the line says how to fix it"
    return lines[0]


def good_csv(path: Path) -> Path:
    path.write_text("\n".join([HEADER, *GOOD]) + "\n", encoding="utf-8")
    return path


def refused(capsys, tmp_path: Path, argv: list, *facts: str, code: int = 2) -> str:
    """Run ``argv``; check the exit code, the one line and that nothing new is in tmp_path."""
    before = sorted(p.name for p in tmp_path.iterdir())
    assert run_main(argv) == code
    line = one_line(capsys)
    for fact in facts:
        assert fact in line, (fact, line)
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "something was written"
    return line


# ------------------------------------------------------------------------------------------
# Silent wrong results
# ------------------------------------------------------------------------------------------

# Text a tab-separated cell can hold: anything but tabs and line breaks (quotes included).
TSV_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\t\n\r\x85\u2028"),
    min_size=1,
    max_size=8,
).filter(lambda s: s.strip() == s and s != "")


@SETTINGS
@given(outputs=st.lists(TSV_TEXT, min_size=1, max_size=30))
def test_tsv_cells_are_read_verbatim_one_row_per_line(tmp_path, outputs):
    # A cell starting with '"' was read with CSV quoting and swallowed the rows up to the next
    # quote: 60 rows came out as 56, without an error.
    lines = ["model\tn_params\titem\ttarget\toutput"]
    lines += [f"m\t1e9\t{i}\t42\t{text}" for i, text in enumerate(outputs)]
    path = tmp_path / "o.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    frame = read_outputs(path)
    assert len(frame) == len(outputs)
    assert frame["output"].tolist() == outputs


def test_tsv_quote_in_an_output_keeps_all_sixty_rows(tmp_path):
    outputs = ['"42' if i in (3, 8) else "41" for i in range(60)]
    rows = [f"t\tm\t1e9\t{i}\t42\t{text}" for i, text in enumerate(outputs)]
    path = tmp_path / "q.tsv"
    path.write_text("\n".join(["task\tmodel\tn_params\titem\ttarget\toutput", *rows]) + "\n")
    frame = read_outputs(path)
    assert len(frame) == 60 and frame["output"].iloc[3] == '"42'


def test_tsv_with_a_quoted_line_break_is_refused(tmp_path, capsys):
    # pandas' to_csv(sep="\t") quotes a cell with a line break; a TSV cannot hold one.
    path = tmp_path / "o.tsv"
    pd.DataFrame({"model": ["m", "m"], "n_params": 1e9, "target": ["4", "5"],
                  "output": ["4\n2", "5"]}).to_csv(path, sep="\t", index=False)  # fmt: skip
    refused(capsys, tmp_path, ["fit", path, "--out", tmp_path / "r"], str(path), "fields")


def test_short_row_after_a_cell_over_128_kb_is_refused(tmp_path, capsys):
    # The csv module refuses cells over 128 KB; the field count gave up there and the short row
    # (no output) was read as an empty output.
    path = tmp_path / "big.csv"
    path.write_text(f"{HEADER}\narith,m,1e9,1,42,{'x' * 200_000}\narith,m,1e9,2,42\n")
    refused(capsys, tmp_path, ["fit", path, "--out", tmp_path / "r"],
            "row 3 has 5 fields but the header has 6")  # fmt: skip


def test_a_long_cell_alone_is_fine(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text(f"{HEADER}\narith,m,1e9,1,42,{'x' * 200_000}\narith,m,1e9,2,42,\n")
    assert read_outputs(path)["output"].str.len().tolist() == [200_000, 0]


NAMES = st.text(min_size=1, max_size=300)


@SETTINGS
@given(tasks=st.lists(NAMES, min_size=1, max_size=12))
def test_file_stems_are_unique_safe_and_bounded(tasks):
    stems = file_stems(tasks)
    assert list(stems) == list(dict.fromkeys(tasks))
    values = list(stems.values())
    assert len({v.lower() for v in values}) == len(values), "two tasks share a file"
    for stem in values:
        assert re.fullmatch(r"[A-Za-z0-9._-]+", stem) and len(stem) <= MAX_STEM
        assert not stem.startswith((".", "-"))
        assert len(netcdf_name("x", "broken_power_law", 2, stem).encode()) < 255


@SETTINGS
@given(tasks=st.lists(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}", fullmatch=True),
                      min_size=1, max_size=8, unique_by=str.lower))  # fmt: skip
def test_safe_distinct_task_names_keep_their_names(tasks):
    assert file_stems(tasks) == {t: t for t in tasks}


def test_tasks_that_map_to_one_file_name_get_different_files():
    stems = file_stems(["math/add", "math_add", "x" * 300])
    assert stems["math_add"] == "math_add" and stems["math/add"].startswith("math_add-")
    names = {netcdf_name(t, "power_law", 3, s) for t, s in stems.items()}
    assert len(names) == 3
    assert file_stems(["x" * 300]) == {"x" * 300: stems["x" * 300]}, "depends on the name only"


DIAGNOSTIC_COLUMNS = ["task", "trend", "max_rhat", "min_ess_bulk", "divergences", "ok"]


def fake_result(tasks: list[str], diagnostics: dict | None = None) -> SimpleNamespace:
    """What summary_json reads of a FitResult, without a fit."""
    diag = diagnostics or {}
    return SimpleNamespace(
        meta={"warnings": ["t: broken_power_law needs at least 5 model sizes"]},
        diagnostics=lambda: pd.DataFrame(columns=DIAGNOSTIC_COLUMNS),
        observed=lambda: None,
        comparisons=[],
        tasks=[SimpleNamespace(task=t, n_scales=8) for t in tasks],
        verdict_texts={},
        diagnostics_by_fit=diag,
        idatas={t: {"power_law": None, "scale_free": None} for t in tasks},
    )


def test_summary_json_records_file_names_and_sampler_warnings(monkeypatch):
    monkeypatch.setattr("mirage_bayes.output.save.floors_by_task", lambda observed: {})
    bad = Diagnostics(max_rhat=1.2, min_ess_bulk=50.0, divergences=3)
    result = fake_result(["math/add", "math_add"], {("math_add", "power_law"): bad})
    summary = save.summary_json(result)
    files = summary["files"]
    assert files["math_add"]["posteriors"]["power_law"] == "posterior_power_law__math_add.nc"
    assert files["math/add"]["posteriors"]["power_law"] != "posterior_power_law__math_add.nc"
    assert summary["warnings"][0].startswith("t: broken_power_law")
    assert summary["warnings"][1] == (
        "math_add, power_law: sampler trouble — r̂ up to 1.200 (> 1.01); bulk ESS down to 50 "
        "(< 400); 3 divergent transitions"
    )
    json.dumps(summary)


def test_one_chain_says_rhat_is_not_available():
    (line,) = sampler_warnings({("t", "power_law"): Diagnostics(math.nan, 500.0, 0)})
    assert "r̂ not available" in line and "nan" not in line


def choice_rows(probs: list) -> str:
    logs = [math.log(p) for p in (0.7, 0.2, 0.1)]
    rows = [{"model": "m", "n_params": 1e9, "item": 1, "answer": 0, "choices_logprobs": logs,
             "choices_probs": probs}]  # fmt: skip
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_disagreeing_choice_columns_are_refused(tmp_path, capsys):
    path = tmp_path / "mc.jsonl"
    path.write_text(choice_rows([0.1, 0.2, 0.7]))
    refused(capsys, tmp_path, ["fit", path, "--out", tmp_path / "r"], f"{path}, line 1",
            "choices_logprobs and choices_probs disagree")  # fmt: skip
    path.write_text(choice_rows([0.5, 0.5]))
    refused(capsys, tmp_path, ["fit", path, "--out", tmp_path / "r"],
            "choices_logprobs has 3 choices but choices_probs 2")  # fmt: skip


def test_agreeing_choice_columns_are_read(tmp_path):
    path = tmp_path / "mc.jsonl"
    path.write_text(choice_rows([0.7, 0.2, 0.1]))
    frame = read_outputs(path)
    assert np.allclose(np.exp(frame["choices_logprobs"].iloc[0]), [0.7, 0.2, 0.1])


def lm_eval_run(folder: Path, flt: str) -> Path:
    """A one-document generate_until run with one filter."""
    folder.mkdir(parents=True)
    stamp = "2024-06-01T12-00-00.000000"
    results = {"results": {"gsm": {}}, "model_name": "EleutherAI/pythia-160m",
               "configs": {"gsm": {"task": "gsm", "output_type": "generate_until"}}}  # fmt: skip
    (folder / f"results_{stamp}.json").write_text(json.dumps(results))
    record = {"doc_id": 0, "target": "42", "filtered_resps": ["42"], "filter": flt}
    (folder / f"samples_gsm_{stamp}.jsonl").write_text(json.dumps(record) + "\n")
    return folder


def test_unknown_lm_eval_filter_is_refused(tmp_path, capsys):
    run = lm_eval_run(tmp_path / "run", "strict-match")
    argv = ["fit", run, "--out", tmp_path / "r", "--lm-eval-filter", "flexible-extract"]
    refused(capsys, tmp_path, argv, "--lm-eval-filter", "'flexible-extract'", "strict-match")


def test_lm_eval_filter_with_a_table_is_refused(tmp_path, capsys):
    path = good_csv(tmp_path / "o.csv")
    argv = ["fit", path, "--out", tmp_path / "r", "--lm-eval-filter", "strict-match"]
    refused(capsys, tmp_path, argv, str(path), "lm-evaluation-harness logs")


@pytest.mark.parametrize("scales", ["1e8,nan,1e9", "1e8,inf", "0,1e9", "1e8,-1e9"])
def test_simulate_refuses_impossible_sizes(tmp_path, capsys, scales):
    argv = ["simulate", "--out", tmp_path / "s.csv", f"--scales={scales}", "--items", 2]
    refused(capsys, tmp_path, argv, "--scales", "not a positive parameter count")


@pytest.mark.parametrize("flag", ["--c=inf", "--sigma-item=inf", "--break-at=inf"])
def test_simulate_refuses_infinite_settings(tmp_path, capsys, flag):
    refused(capsys, tmp_path, ["simulate", "--out", tmp_path / "s.csv", flag], "impossible")


@pytest.mark.parametrize(
    ("extra", "fact"),
    [(["--chains", "1"], "at least 2 chains"), (["--draws", "1"], "at least 100 draws")],
)
@pytest.mark.parametrize("command", ["fit", "forecast"])
def test_too_few_chains_or_draws_are_refused(tmp_path, capsys, command, extra, fact):
    path = good_csv(tmp_path / "o.csv")
    refused(capsys, tmp_path, [command, path, "--out", tmp_path / "r", *extra], fact)


# ------------------------------------------------------------------------------------------
# Clear messages
# ------------------------------------------------------------------------------------------


def test_excel_separator_line_is_skipped(tmp_path):
    path = tmp_path / "o.csv"
    path.write_bytes(("sep=,\r\n" + "\r\n".join([HEADER, *GOOD]) + "\r\n").encode())
    assert read_outputs(path)["model"].tolist() == ["small", "small", "big"]


def test_excel_separator_line_keeps_row_numbers(tmp_path, capsys):
    path = tmp_path / "o.csv"
    path.write_text("sep=,\n" + "\n".join([HEADER, GOOD[0], "arith,x,abc,1,7,7"]) + "\n")
    refused(capsys, tmp_path, ["fit", path, "--out", tmp_path / "r"], "row 3", "'abc'")


def test_excel_separator_line_of_another_separator_is_refused(tmp_path, capsys):
    path = tmp_path / "o.csv"
    path.write_text("sep=;\n" + "\n".join([HEADER.replace(",", ";")]) + "\n")
    refused(capsys, tmp_path, ["fit", path, "--out", tmp_path / "r"], "'sep=;'", "separator")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_fifo_is_named(tmp_path, capsys):
    path = tmp_path / "o.csv"
    os.mkfifo(path)
    refused(capsys, tmp_path, ["fit", path, "--out", tmp_path / "r"], "named pipe")


def test_symlink_loop_and_dangling_link_are_named(tmp_path, capsys):
    loop = tmp_path / "a.csv"
    loop.symlink_to(tmp_path / "b.csv")
    (tmp_path / "b.csv").symlink_to(loop)
    refused(capsys, tmp_path, ["fit", loop, "--out", tmp_path / "r"], "loop of symbolic links")
    dangling = tmp_path / "c.csv"
    dangling.symlink_to(tmp_path / "gone.csv")
    refused(capsys, tmp_path, ["fit", dangling, "--out", tmp_path / "r"], "gone.csv",
            "does not exist")  # fmt: skip


def test_partitioned_parquet_folder_is_named(tmp_path, capsys):
    part = tmp_path / "o.parquet" / "year=2020"
    part.mkdir(parents=True)
    pd.DataFrame({"model": ["m"], "n_params": [1e9], "target": ["a"], "output": ["a"]}).to_parquet(
        part / "x.parquet"
    )
    refused(capsys, tmp_path, ["fit", tmp_path / "o.parquet", "--out", tmp_path / "r"],
            "Parquet dataset", "to_parquet")  # fmt: skip


def test_file_name_with_a_line_break_stays_on_one_line(tmp_path, capsys):
    path = tmp_path / "no\nsuch.csv"
    line = refused(capsys, tmp_path, ["fit", path, "--out", tmp_path / "r"], "file not found")
    assert "no\\nsuch.csv" in line
    assert InputError("x\ry", where="a\tb").message == "a\\tb: x\\ry"


def test_too_long_file_names_are_one_line(tmp_path, capsys):
    path = tmp_path / ("a" * 300 + ".csv")
    refused(capsys, tmp_path, ["fit", path, "--out", tmp_path / "r"], "too long")
    good = good_csv(tmp_path / "o.csv")
    line = refused(capsys, tmp_path, ["fit", good, "--out", tmp_path / ("o" * 300)], code=1)
    assert "too long" in line


def test_plan_refuses_a_multiple_choice_fit(tmp_path, capsys):
    fit_dir = tmp_path / "mc_fit"
    fit_dir.mkdir()
    (fit_dir / "summary.json").write_text(json.dumps({"kind": "multiple_choice"}))
    refused(capsys, fit_dir, ["plan", fit_dir, "--out", fit_dir / "plan.csv"],
            "multiple-choice fit", "plan supports")  # fmt: skip


def test_plan_refuses_a_multiple_choice_posterior(tmp_path, capsys):
    import arviz as az

    fit_dir = tmp_path / "mc_fit"
    fit_dir.mkdir()
    idata = az.from_dict(posterior={"mu": np.zeros((1, 2, 3))})
    idata.attrs["model"] = "multiple_choice/power_law"
    idata.to_netcdf(str(fit_dir / "posterior_power_law.nc"))
    refused(capsys, fit_dir, ["plan", fit_dir, "--out", fit_dir / "plan.csv"],
            "posterior_power_law.nc", "multiple-choice fit")  # fmt: skip


def test_forecast_refuses_a_multiple_choice_table(tmp_path, capsys):
    path = tmp_path / "mc.jsonl"
    path.write_text(choice_rows([0.7, 0.2, 0.1]))
    refused(capsys, tmp_path, ["forecast", path, "--out", tmp_path / "r"], str(path),
            "multiple-choice table")  # fmt: skip


@pytest.mark.parametrize("extra", [["--lengths", "5"], ["--tokenizer", "char"],
                                   ["--chance", "0.1"], ["--choices", "4"]])  # fmt: skip
def test_generation_options_on_a_choice_table_are_refused(tmp_path, capsys, extra):
    path = tmp_path / "mc.jsonl"
    path.write_text(choice_rows([0.7, 0.2, 0.1]))
    refused(capsys, tmp_path, ["fit", path, "--out", tmp_path / "r", *extra], extra[0],
            "multiple-choice table")  # fmt: skip


@pytest.mark.parametrize("value", ["-1e9", "-1e9,2e9", "-.5", "-3"])
def test_negative_numbers_are_values_not_options(value):
    args = build_parser().parse_args(["plan", "--epsilon", "0.3,0.1", "--n-params", value])
    assert args.n_params[0] < 0


def test_negative_parameter_count_is_refused_with_the_flag(tmp_path, capsys):
    argv = ["plan", "--epsilon", "0.3", "--n-params", "-1e9", "--length", "5",
            "--out", tmp_path / "p.csv"]  # fmt: skip
    refused(capsys, tmp_path, argv, "--n-params", "-1e+09", "not a positive parameter count")


def test_forecast_prints_no_warning_before_its_error(tmp_path, capsys):
    # With the default trends, the skipped broken power law was warned about on standard error
    # before the error line (two lines for one problem).
    rows = [f"t,m{k},{10.0 ** (8 + k)},{i},42,4{i % 3}" for k in range(3) for i in range(4)]
    path = tmp_path / "three.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    refused(capsys, tmp_path, ["forecast", path, "--out", tmp_path / "r"],
            "no task has enough model sizes")  # fmt: skip


# ------------------------------------------------------------------------------------------
# Operating-system failures, before the work where possible
# ------------------------------------------------------------------------------------------


def test_unreadable_input_is_exit_1(tmp_path, capsys, monkeypatch):
    # Tests may run as root, where chmod 000 does not stop reading: the failure is injected.
    path = good_csv(tmp_path / "o.csv")

    def denied(self):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    refused(capsys, tmp_path, ["fit", path, "--out", tmp_path / "r"], str(path),
            "cannot be read (Permission denied)", code=1)  # fmt: skip


def test_output_parent_that_cannot_be_written_is_refused_before_reading(tmp_path, capsys,
                                                                        monkeypatch):  # fmt: skip
    path = good_csv(tmp_path / "o.csv")

    def read_only(lock, where):
        raise OSError(errno.EROFS, "Read-only file system", str(lock))

    monkeypatch.setattr(destination, "_lock", read_only)
    refused(capsys, tmp_path, ["fit", path, "--out", tmp_path / "deep" / "r"],
            "cannot write there (Read-only file system)", code=1)  # fmt: skip


def test_full_disk_while_saving_keeps_the_previous_results(tmp_path, capsys, monkeypatch):
    path = good_csv(tmp_path / "o.csv")
    out = tmp_path / "r"
    out.mkdir()
    marker = {"tool": "mirage-bayes", "command": "fit", "pid": 1, "files": ["summary.csv"]}
    (out / destination.MARKER).write_text(json.dumps(marker))
    (out / "summary.csv").write_text("previous")

    class Full:
        def save(self, directory, *, force):
            with destination.staged_folder(directory, force=force) as staging:
                (staging / "summary.csv").write_text("new")
                raise OSError(errno.ENOSPC, "No space left on device", str(staging / "x.nc"))

    monkeypatch.setattr("mirage_bayes.cli.fit_command.fit", lambda *a, **k: Full())
    line = refused(capsys, tmp_path, ["fit", path, "--out", out, "--force", "--quiet"], code=1)
    assert "No space left on device" in line and "free disk space" in line
    assert (out / "summary.csv").read_text() == "previous"


def test_simulate_into_a_missing_folder_is_refused_before_simulating(tmp_path, capsys):
    refused(capsys, tmp_path, ["simulate", "--out", tmp_path / "nope" / "s.csv"],
            "does not exist")  # fmt: skip


def test_simulate_into_a_folder_it_cannot_write_is_exit_1(tmp_path, capsys, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("mirage_bayes.cli.checks.tempfile.NamedTemporaryFile", denied)
    refused(capsys, tmp_path, ["simulate", "--out", tmp_path / "s.csv"],
            "cannot write into", code=1)  # fmt: skip


def test_simulate_writes_both_tables_or_neither(tmp_path, capsys, monkeypatch):
    real = pd.DataFrame.to_csv

    def full_on_truth(self, path, *args, **kwargs):
        if "t.csv" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_on_truth)
    argv = ["simulate", "--out", tmp_path / "s.csv", "--truth", tmp_path / "t.csv",
            "--items", 2, "--scales", "1e8,1e9", "--lengths", "1"]  # fmt: skip
    line = refused(capsys, tmp_path, argv, "No space left on device", code=1)
    assert f"{tmp_path / 't.csv'}:" in line, "the file asked for, not its temporary name"


def test_os_failure_without_errno_is_still_one_line():
    # pandas raises a bare OSError for a missing folder (meta --convert into one).
    from mirage_bayes.cli.checks import os_failure

    line = os_failure(OSError("Cannot save file into a non-existent directory: 'x'"))
    assert line.startswith("Cannot save file") and "nothing was written" in line


def test_tsv_row_count_is_checked_against_the_line_count():
    from mirage_bayes.inputs.tables import _check_line_count

    _check_line_count("a\tb\n1\t2\n\n3\t4\r\n", 3, "o.tsv")  # a blank line is a row (dropped later)
    with pytest.raises(InputError, match="read 2 data rows from 3 lines"):
        _check_line_count("a\tb\n1\t2\n3\t4\n5\t6", 2, "o.tsv")
