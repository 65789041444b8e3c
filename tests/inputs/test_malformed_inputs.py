"""A catalogue of malformed inputs: each is one clear line on stderr, exit 2, nothing written.

Every case runs ``mirage-bayes fit FILE --out DIR`` in-process and checks the standard: return
code 2, exactly one non-empty line on standard error starting with ``mirage-bayes: error:``, the
file named (the option, for a bad option), the expected facts in the line, no traceback, and no
``--out`` folder (nor any staging folder) afterwards. No case reaches the sampler.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pymc  # noqa: F401  (imported up front so its import-time logging is not seen as CLI output)
import pytest

from mirage_bayes.fitting.data import split_tasks
from mirage_bayes.fitting.inference import trends_for
from mirage_bayes.inputs.io import read_outputs
from mirage_bayes.inputs.scoring import score_outputs

from support import run_main

HEADER = "task,model,n_params,item,target,output"
ROWS = ["arith,small,1e8,1,42,41", "arith,small,1e8,2,7,7", "arith,big,1e9,1,42,42"]
PRE = "model,n_params,n_tokens,n_errors"
RAW_COLUMNS = HEADER.split(",")

Content = str | bytes | Callable[[Path], None] | None


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def without(column: str) -> str:
    """The good table with one column removed."""
    keep = [i for i, name in enumerate(RAW_COLUMNS) if name != column]
    lines = [HEADER, *ROWS]
    return "\n".join(",".join(line.split(",")[i] for i in keep) for line in lines) + "\n"


def jsonl(*records: dict | str) -> str:
    """JSON Lines; a string is written verbatim as one line (for broken lines)."""
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def record(**changes) -> dict:
    return {"model": "m", "n_params": 1e9, "item": 1, "target": "42", "output": "41", **changes}


def parquet(**columns) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        pd.DataFrame(columns).to_parquet(path)

    return write


def good_parquet_truncated(path: Path) -> None:
    pd.DataFrame({"model": ["m"] * 50, "n_params": 1e9, "target": "a", "output": "a"}).to_parquet(
        path
    )
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def directory(path: Path) -> None:
    path.mkdir()


@dataclass(frozen=True)
class Case:
    id: str
    name: str  # file name inside tmp_path
    content: Content  # text (UTF-8), bytes, a writer, or None for no file at all
    expect: tuple[str, ...]  # substrings of the error line
    args: tuple[str, ...] = ()  # extra command-line arguments
    names: str | None = None  # what the line must name instead of the file (bad options)


def case(id, name, content, *expect, args=(), names=None) -> Case:  # noqa: A002
    return Case(id, name, content, tuple(expect), tuple(args), names)


PQ = {"model": ["m"], "n_params": [1e9], "target": ["a"], "output": ["a"]}

CASES = [
    # --- columns -------------------------------------------------------------------------
    *[
        case(f"missing column {c}", "o.csv", without(c), f"missing required column(s) {c}")
        for c in ("model", "n_params", "target", "output")
    ],
    case("missing n_tokens", "o.csv", csv_text("m,1,2", header="model,n_params,n_errors"),
         "missing required column(s) n_tokens"),
    case("missing n_errors", "o.csv", csv_text("m,1,2", header="model,n_params,n_tokens"),
         "missing required column(s) n_errors"),
    case("no target/output nor n_tokens/n_errors", "o.csv",
         csv_text("m,1,x", header="model,n_params,answer"),
         "target+output or n_tokens+n_errors", "'answer'"),
    case("column name in the wrong case", "o.csv", csv_text("m,1,a,a", header="Model,n_params,"
         "target,output"), "'Model' for 'model'"),
    case("repeated column", "o.csv", csv_text("m,1,a,a,b", header="model,n_params,target,"
         "output,output"), "column 'output' appears more than once"),
    case("column repeated after stripping spaces", "o.csv",
         csv_text("m,1,a,a,n", header="model,n_params,target,output, model"),
         "column 'model' appears more than once"),
    # --- the file itself -----------------------------------------------------------------
    case("empty file", "o.csv", "", "the file is empty"),
    case("header only", "o.csv", HEADER + "\n", "has a header but no data rows"),
    case("header then blank lines", "o.csv", HEADER + "\n\n  \n", "no data rows"),
    case("only whitespace", "o.csv", " \n\t\n  ", "the file is empty"),
    case("UTF-16 with BOM", "o.csv", csv_text(*ROWS).encode("utf-16"), "NUL byte", "UTF-16"),
    case("UTF-16 without BOM", "o.csv", csv_text(*ROWS).encode("utf-16-le"), "NUL byte"),
    case("Latin-1 bytes", "o.csv", csv_text("arith,small,1e8,1,café,x").encode("latin-1"),
         "line 2", "not valid UTF-8", "0xe9", "iconv"),
    case("NUL byte in a cell", "o.csv", csv_text("arith,sm\x00all,1e8,1,42,41"), "line 2",
         "NUL byte"),
    case("semicolon-separated CSV", "o.csv", csv_text(*ROWS).replace(",", ";"),
         "missing required column(s) model", "'task;model;n_params;item;target;output'"),
    case("comma-separated .tsv", "o.tsv", csv_text(*ROWS), "missing required column(s)"),
    case("row with an extra field", "o.csv", csv_text(ROWS[0], ROWS[1] + ",oops"),
         "row 3 has 7 fields but the header has 6"),
    case("row with a missing field", "o.csv", csv_text(ROWS[0], "arith,small,1e8,2,7"),
         "row 3 has 5 fields but the header has 6"),
    case("first row with an extra field (read as an index)", "o.csv",
         csv_text(ROWS[0] + ",x", ROWS[1]), "row 2 has 7 fields but the header has 6"),
    case("unterminated quote", "o.csv", csv_text(ROWS[0], 'arith,small,1e8,2,"7,7'),
         "quoted field starting on line 3 is never closed"),
    # --- n_params ------------------------------------------------------------------------
    case("n_params 1.3B", "o.csv", csv_text(ROWS[0], "arith,x,1.3B,1,7,7"), "row 3",
         "n_params '1.3B' is not a number"),
    case("n_params abc", "o.csv", csv_text("arith,x,abc,1,7,7"), "row 2", "'abc' is not a number"),
    case("n_params zero", "o.csv", csv_text("arith,x,0,1,7,7"), "n_params '0' is not positive"),
    case("n_params negative", "o.csv", csv_text("arith,x,-1e9,1,7,7"), "'-1e9' is not positive"),
    case("n_params NaN", "o.csv", csv_text("arith,x,NaN,1,7,7"), "n_params 'NaN' is not a number"),
    case("n_params inf", "o.csv", csv_text("arith,x,inf,1,7,7"), "n_params 'inf' is infinite"),
    case("n_params 1e400", "o.csv", csv_text("arith,x,1e400,1,7,7"), "'1e400' is infinite"),
    case("n_params empty", "o.csv", csv_text(ROWS[0], "arith,x,,1,7,7"), "row 3",
         "n_params is empty"),
    case("n_params boolean in JSON", "o.jsonl", jsonl(record(), record(n_params=True, item=2)),
         "line 2", "n_params True is not a number"),
    case("n_params JSON integer beyond float range", "o.jsonl",
         '{"model": "m", "n_params": 1' + "0" * 400 + ', "target": "a", "output": "a"}\n',
         "line 1", "is infinite"),
    case("model with two sizes in one task", "o.csv", csv_text(*ROWS, "arith,small,2e8,3,1,1"),
         "model 'small' has n_params 1e+08 here and 2e+08 later", "rows 2 and 5"),
    case("model with two sizes across tasks", "o.csv", csv_text(*ROWS, "words,big,3e9,1,a,a"),
         "model 'big' has n_params 1e+09 here and 3e+09 later", "rows 4 and 5"),
    # --- identifiers and text ------------------------------------------------------------
    case("empty target", "o.csv", csv_text(ROWS[0], "arith,small,1e8,2,,7"), "row 3",
         "target is empty"),
    case("whitespace target", "o.csv", csv_text(ROWS[0], "arith,small,1e8,2,  ,7"), "row 3",
         "target is only whitespace"),
    case("empty model name", "o.csv", csv_text(ROWS[0], "arith,,1e8,2,7,7"), "row 3",
         "column 'model' is empty"),
    case("duplicate model and item", "o.csv", csv_text(*ROWS, "arith,small,1e8,1,42,40"),
         "duplicate row for task 'arith', model 'small', item '1'", "rows 2 and 5"),
    # --- pre-scored counts ---------------------------------------------------------------
    case("negative n_errors", "o.csv", csv_text("m,1e9,4,-1", header=PRE), "row 2",
         "n_errors '-1' is negative"),
    case("n_errors above n_tokens", "o.csv", csv_text("m,1e9,4,1", "m,1e9,3,5", header=PRE),
         "row 3", "n_errors 5 is larger than n_tokens 3"),
    case("n_tokens zero", "o.csv", csv_text("m,1e9,0,0", header=PRE), "n_tokens is 0"),
    case("fractional n_tokens", "o.csv", csv_text("m,1e9,2.5,1", header=PRE),
         "n_tokens '2.5' is not a whole number"),
    case("non-numeric n_errors", "o.csv", csv_text("m,1e9,4,two", header=PRE),
         "n_errors 'two' is not a whole number"),
    case("n_tokens too large for int64", "o.csv", csv_text("m,1e9,1e30,1", header=PRE),
         "n_tokens '1e30' is larger than"),
    # --- JSON Lines ----------------------------------------------------------------------
    case("broken JSON line", "o.jsonl", jsonl(record(), '{"model": "m",'), "line 2",
         "not valid JSON"),
    case("JSON line that is a list", "o.jsonl", jsonl(record(), "[1, 2]"),
         "line 2: is a JSON list, not an object"),
    case("JSON line missing target", "o.jsonl",
         jsonl(record(), {"model": "m", "n_params": 1e9, "item": 2, "output": "x"}),
         "line 2", "target is empty"),
    case("JSON line missing n_params", "o.jsonl",
         jsonl(record(), {"model": "n", "item": 2, "target": "1", "output": "x"}),
         "line 2", "n_params is empty"),
    case("blank line counted in line numbers", "o.jsonl", jsonl(record(), "", "{oops}"),
         "line 3: is not valid JSON"),
    case("trailing garbage after an object", "o.jsonl", jsonl(record()).strip() + " xyz\n",
         "line 1: is not valid JSON (Extra data"),
    case("trailing garbage line", "o.jsonl", jsonl(record(), record(item=2), "]]"),
         "line 3: is not valid JSON"),
    case("only blank lines", "o.jsonl", "\n\n", "the file is empty"),
    case("JSON list as model", "o.jsonl", jsonl(record(model=["a", "b"])), "line 1",
         "model holds a list or object, not text"),
    case("JSON object as output", "o.jsonl", jsonl(record(output={"x": 1})), "line 1",
         "output holds a list or object, not text"),
    case("JSON keys equal after stripping", "o.jsonl", jsonl(record(**{" model": "n"})),
         "column 'model' appears more than once"),
    # --- Parquet -------------------------------------------------------------------------
    case("truncated Parquet", "o.parquet", good_parquet_truncated, "cannot be read as Parquet"),
    case("CSV renamed .parquet", "o.parquet", csv_text(*ROWS), "cannot be read as Parquet"),
    case("Parquet n_params as text", "o.parquet", parquet(**{**PQ, "n_params": ["1.3B"]}),
         "row index 0", "n_params '1.3B' is not a number"),
    case("Parquet n_params as boolean", "o.parquet", parquet(**{**PQ, "n_params": [True]}),
         "n_params True is not a number"),
    case("Parquet list column as model", "o.parquet", parquet(**{**PQ, "model": [["a"]]}),
         "row index 0", "model holds a list or object"),
    case("Parquet binary column as target", "o.parquet", parquet(**{**PQ, "target": [b"a"]}),
         "target holds bytes, not text"),
    case("Parquet fractional counts", "o.parquet",
         parquet(model=["m"], n_params=[1e9], n_tokens=[2.5], n_errors=[1.0]),
         "n_tokens 2.5 is not a whole number"),
    # --- the path ------------------------------------------------------------------------
    case("unsupported suffix .xlsx", "o.xlsx", "x", "unsupported file type '.xlsx'", ".csv"),
    case("no suffix", "outputs", csv_text(*ROWS), "unsupported file type '(no suffix)'"),
    case("a directory", "o.csv", directory, "is a directory"),
    case("missing file", "nope.csv", None, "file not found"),
    # --- tokenizer -----------------------------------------------------------------------
    case("invalid regex tokenizer", "o.csv", csv_text(*ROWS), "not a valid regular expression",
         args=("--tokenizer", "regex:("), names="--tokenizer"),
    case("empty regex tokenizer", "o.csv", csv_text(*ROWS), "empty pattern",
         args=("--tokenizer", "regex:"), names="--tokenizer"),
    case("unknown tokenizer", "o.csv", csv_text(*ROWS), "unknown tokenizer 'foo'",
         args=("--tokenizer", "foo"), names="--tokenizer"),
    case("unknown tokenizer with pre-scored input", "o.csv", csv_text("m,1e9,4,1", header=PRE),
         "unknown tokenizer 'foo'", args=("--tokenizer", "foo"), names="--tokenizer"),
    case("targets without tokens under a regex tokenizer", "o.csv",
         csv_text(ROWS[0], "arith,small,1e8,2,abc,abc"), "target 'abc' has no tokens",
         "model 'small', item '2'", args=("--tokenizer", r"regex:\d+")),
]  # fmt: skip


def materialise(path: Path, content: Content) -> None:
    if content is None:
        return
    if callable(content):
        content(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def test_catalogue_is_large_and_ids_unique():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("bad", CASES, ids=[c.id for c in CASES])
def test_malformed_input_is_one_line_exit_2_nothing_written(bad: Case, tmp_path, capsys):
    path = tmp_path / bad.name
    materialise(path, bad.content)
    before = {p.name for p in tmp_path.iterdir()}
    out = tmp_path / "results"
    argv = ["fit", str(path), "--out", str(out), "--quiet", "--draws", "100", "--tune", "10"]
    code = run_main([*argv, *bad.args])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "Traceback" not in captured.err + captured.out
    assert captured.out == ""
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    line = lines[0]
    assert line.startswith("mirage-bayes: error:"), line
    assert (bad.names or str(path)) in line, line
    for fact in bad.expect:
        assert fact in line, (fact, line)
    assert " — " in line, "the line says how to fix it"
    assert not out.exists()
    assert {p.name for p in tmp_path.iterdir()} == before, "a staging folder was left behind"


# ------------------------------------------------------------------------------------------
# Positive controls: near misses of the catalogue that are valid input
# ------------------------------------------------------------------------------------------


def test_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(csv_text(*ROWS).encode("utf-8-sig"))
    frame = read_outputs(path)
    assert frame.columns[0] == "task" and frame["model"].tolist() == ["small", "small", "big"]


def test_blank_line_in_the_middle_of_json_lines_is_skipped(tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_text(jsonl(record(), "", "   ", record(model="n", n_params=2e9)))
    frame = read_outputs(path)
    assert frame["model"].tolist() == ["m", "n"]


def test_rows_ending_in_an_empty_output_are_not_ragged(tmp_path):
    # The recount that catches rows with too few fields must not flag a missing generation,
    # also with a quoted line break earlier in the file and Windows or old-Mac line endings.
    rows = ['arith,small,1e8,1,"4\n2",', "arith,small,1e8,2,7,", "arith,big,1e9,1,42,42"]
    for newline in ("\n", "\r\n", "\r"):
        path = tmp_path / "o.csv"
        path.write_bytes(newline.join([HEADER, *rows, ""]).encode())
        frame = read_outputs(path)
        assert frame["output"].tolist() == ["", "", "42"], newline
        assert frame["target"].tolist()[0] == "4\n2"


def test_trailing_empty_columns_and_blank_rows_are_accepted(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(csv_text(ROWS[0] + ",,", "", ",,,,,,,", ROWS[1] + ",,", header=HEADER + ",,"))
    assert read_outputs(path)["item"].tolist() == ["1", "2"]


def test_parquet_with_numeric_model_and_category_columns_is_accepted(tmp_path):
    path = tmp_path / "o.parquet"
    frame = pd.DataFrame(
        {
            "model": [1, 2],
            "n_params": np.array([1, 2], dtype=np.int64),
            "task": pd.Categorical(["t", "t"]),
            "target": ["a", "b"],
            "output": [None, "b"],
        }
    )
    frame.to_parquet(path)
    read = read_outputs(path)
    assert read["model"].tolist() == ["1", "2"] and read["output"].tolist() == ["", "b"]


def test_one_item_one_model_is_not_an_input_error(tmp_path):
    # A full sampler run takes ~10 s here, so the check stops where sampling would start: the
    # table reads, scores and splits, and only the scale-free reference is identifiable.
    path = tmp_path / "one.csv"
    path.write_text(csv_text("arith,m,1e9,1,42,41"))
    scored, _ = score_outputs(read_outputs(path))
    (data,) = split_tasks(scored)
    assert data.n_scales == 1 and data.trials.shape == (1, 1)
    fitted, skipped = trends_for(data.n_scales, ["power_law", "broken_power_law"])
    assert fitted == ["scale_free"] and skipped == ["power_law", "broken_power_law"]
