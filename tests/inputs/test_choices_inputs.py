"""Reading multiple-choice tables: valid input in every format, and a catalogue of malformed
cells, each one line on stderr naming the file and row, exit 2, nothing written."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pymc  # noqa: F401  (imported up front so its import-time logging is not seen as CLI output)
import pytest

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.choices import PROB_FLOOR, validate_choices
from mirage_bayes.inputs.io import read_outputs

from support import run_main

HEADER = ("task", "model", "n_params", "item", "answer", "choices_logprobs")
GOOD = [
    ("mc", "small", "1e8", "1", "0", "[-1.2, -0.4, -2.3, -3.1]"),
    ("mc", "small", "1e8", "2", "3", "[-1.0, -2.0, -3.0, -0.5]"),
    ("mc", "big", "1e9", "1", "0", "[-0.1, -2.0, -3.0, -4.0]"),
]


def mc_csv(*rows: tuple, header: tuple = HEADER) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def bad_row(**changes: str) -> str:
    """The good table with its second data row (spreadsheet row 3) changed."""
    row = dict(zip(HEADER, GOOD[1], strict=True))
    row.update(changes)
    return mc_csv(GOOD[0], tuple(row[c] for c in HEADER), GOOD[2])


PROBS_HEADER = ("model", "n_params", "item", "answer", "choices_probs")


def probs_csv(cell: str) -> str:
    return mc_csv(("m", "1e9", "1", "1", "[0.2, 0.8]"), ("m", "1e9", "2", "0", cell),
                  header=PROBS_HEADER)  # fmt: skip


def jsonl(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def record(**changes) -> dict:
    return {"model": "m", "n_params": 1e9, "item": 1, "answer": 1,
            "choices_logprobs": [-2.0, -0.1], **changes}  # fmt: skip


def parquet(**columns) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        pd.DataFrame(columns).to_parquet(path)

    return write


CASES = [
    # (id, file name, content, facts in the line)
    ("broken JSON list", "o.csv", bad_row(choices_logprobs="[-1.0, -2.0"), ("row 3",
     "choices_logprobs is not a JSON list")),
    ("not a list", "o.csv", bad_row(choices_logprobs="-1.0"), ("row 3", "not a list of numbers")),
    ("JSON object", "o.csv", bad_row(choices_logprobs='{"a": -1}'), ("row 3", "not a list")),
    ("empty list", "o.csv", bad_row(choices_logprobs="[]"), ("row 3", "is an empty list")),
    ("empty cell", "o.csv", bad_row(choices_logprobs=""), ("row 3", "choices_logprobs is empty")),
    ("single choice", "o.csv", bad_row(choices_logprobs="[-0.1]", answer="0"),
     ("row 3", "single choice", "at least 2")),
    ("text in the list", "o.csv", bad_row(choices_logprobs='[-1.0, "x"]'),
     ("row 3", "'x' at position 1, not a number")),
    ("boolean in the list", "o.csv", bad_row(choices_logprobs="[-1.0, true]"),
     ("row 3", "True at position 1")),
    ("nested list", "o.csv", bad_row(choices_logprobs="[[-1.0], [-2.0]]"),
     ("row 3", "position 0, not a number")),
    ("null in the list", "o.csv", bad_row(choices_logprobs="[-1.0, null]"),
     ("row 3", "None at position 1")),
    ("NaN log-prob", "o.csv", bad_row(choices_logprobs="[-1.0, NaN, -2.0, -3.0]"),
     ("row 3", "non-finite value nan at position 1")),
    ("-Infinity log-prob", "o.csv", bad_row(choices_logprobs="[-1.0, -Infinity, -2.0, -3.0]"),
     ("row 3", "non-finite value -inf")),
    ("positive log-prob", "o.csv", bad_row(choices_logprobs="[0.2, 0.3, 0.4, 0.1]"),
     ("row 3", "positive value 0.2 at position 0", "choices_probs")),
    ("answer out of range", "o.csv", bad_row(answer="4"),
     ("row 3", "answer 4 is out of range for 4 choices (0 to 3)")),
    ("answer negative", "o.csv", bad_row(answer="-1"), ("row 3", "answer -1 is out of range")),
    ("answer not whole", "o.csv", bad_row(answer="1.5"), ("row 3", "'1.5' is not a whole number")),
    ("answer a letter", "o.csv", bad_row(answer="B"), ("row 3", "'B' is not a whole number")),
    ("answer empty", "o.csv", bad_row(answer=""), ("row 3", "answer is empty")),
    ("answer infinite", "o.csv", bad_row(answer="inf"), ("row 3", "not a whole number")),
    ("probabilities above 1", "o.csv", probs_csv("[1.5, -0.5]"),
     ("row 3", "choices_probs holds 1.5 at position 0, outside [0, 1]")),
    ("probabilities not summing to 1", "o.csv", probs_csv("[0.2, 0.3]"),
     ("row 3", "choices_probs sums to 0.5, not 1")),
    ("probabilities as text", "o.csv", probs_csv("0.2 0.8"), ("row 3", "choices_probs is not")),
    ("duplicate model and item", "o.csv", bad_row(item="1", model="small"),
     ("rows 2 and 3", "duplicate row")),
    ("n_params missing in a row", "o.csv", bad_row(n_params=""), ("row 3", "n_params is empty")),
    ("no model column", "o.csv", mc_csv(("1e9", "0", "[-1, -2]"),
     header=("n_params", "answer", "choices_logprobs")), ("missing required column(s) model",)),
    ("JSON Lines: empty list", "o.jsonl", jsonl(record(), record(item=2, choices_logprobs=[])),
     ("line 2", "is an empty list")),
    ("JSON Lines: answer out of range", "o.jsonl", jsonl(record(answer=2)),
     ("line 1", "answer 2 is out of range for 2 choices")),
    ("JSON Lines: answer true", "o.jsonl", jsonl(record(answer=True)),
     ("line 1", "True is not a whole number")),
    ("JSON Lines: string list", "o.jsonl", jsonl(record(choices_logprobs="[-1, -2")),
     ("line 1", "not a JSON list")),
    ("Parquet: non-finite", "o.parquet",
     parquet(model=["m"], n_params=[1e9], answer=[0], choices_logprobs=[[-1.0, np.inf]]),
     ("row index 0", "non-finite value inf")),
    ("Parquet: ragged answer", "o.parquet",
     parquet(model=["m", "m"], n_params=[1e9, 1e9], item=["a", "b"], answer=[0, 3],
             choices_logprobs=[[-1.0, -2.0, -3.0], [-1.0, -2.0]]),
     ("row index 1", "answer 3 is out of range for 2 choices")),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_choice_table_is_one_line_exit_2(case, tmp_path, capsys):
    _, name, content, facts = case
    path = tmp_path / name
    if callable(content):
        content(path)
    else:
        path.write_text(content, encoding="utf-8")
    out = tmp_path / "results"
    code = run_main(["fit", str(path), "--out", str(out), "--quiet", "--draws", "100"])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "Traceback" not in captured.err + captured.out
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    line = lines[0]
    assert line.startswith("mirage-bayes: error:") and str(path) in line, line
    for fact in facts:
        assert fact in line, (fact, line)
    assert " — " in line, "the line says how to fix it"
    assert not out.exists()
    assert {p.name for p in tmp_path.iterdir()} == {name}


# --- valid input -------------------------------------------------------------------------------


def test_csv_table_reads_as_multiple_choice(tmp_path):
    path = tmp_path / "mc.csv"
    path.write_text(mc_csv(*GOOD))
    frame = read_outputs(path)
    assert frame.attrs["kind"] == "multiple_choice"
    assert frame.attrs["item_ids"] and frame.attrs["source"] == str(path)
    assert list(frame.columns) == [
        "task", "model", "n_params", "item", "family", "answer", "choices_logprobs"
    ]  # fmt: skip
    assert frame["answer"].dtype == np.int64
    assert frame["choices_logprobs"].iloc[0] == [-1.2, -0.4, -2.3, -3.1]
    assert all(isinstance(v, float) for v in frame["choices_logprobs"].iloc[1])


def test_other_formats_and_ragged_choices_across_models(tmp_path):
    records = [record(), record(model="n", n_params=2e9, choices_logprobs=[-2.0, -0.1, -5.0])]
    path = tmp_path / "mc.jsonl"
    path.write_text(jsonl(*records))
    frame = read_outputs(path)
    assert [len(v) for v in frame["choices_logprobs"]] == [2, 3]
    parquet_path = tmp_path / "mc.parquet"
    pd.DataFrame(records).to_parquet(parquet_path)
    from_parquet = read_outputs(parquet_path)
    assert from_parquet["choices_logprobs"].tolist() == frame["choices_logprobs"].tolist()


def test_probabilities_become_log_probabilities(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(probs_csv("[0.0, 0.995]"))  # rounded: sums to 0.995, holds a 0
    frame = read_outputs(path)
    assert frame.attrs["choices_input"] == "choices_probs"
    first, second = (np.exp(v) for v in frame["choices_logprobs"])
    np.testing.assert_allclose(first, [0.2, 0.8])
    np.testing.assert_allclose(second, [PROB_FLOOR, 1.0])


def test_validate_choices_points_at_the_callers_rows():
    frame = pd.DataFrame(
        {"model": ["m", "m"], "n_params": [1e9, 1e9], "item": ["a", "b"], "answer": [0, 5],
         "choices_logprobs": [[-1.0, -2.0], [-1.0, -2.0]]}
    )  # fmt: skip
    with pytest.raises(InputError) as error:
        validate_choices(frame, "log.jsonl", row_kind="line", row_numbers=[7, 9])
    assert error.value.where == "log.jsonl, line 9"
    frame.loc[1, "answer"] = 1
    valid = validate_choices(frame, "log.jsonl")
    assert valid.attrs["kind"] == "multiple_choice" and valid["task"].tolist() == ["default"] * 2
    with pytest.raises(InputError, match="not a multiple-choice table"):
        validate_choices(frame.drop(columns="answer"), "x")
