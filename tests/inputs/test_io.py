"""Tests for reading and validating the per-item outputs table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.io import read_outputs

HEADER = "task,model,n_params,item,target,output"
GOOD_ROWS = [
    "arith,small,1e8,1,42,41",
    "arith,small,1e8,2,7,7",
    "arith,big,1e9,1,42,42",
    "arith,big,1e9,2,7,",
]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def csv_file(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "out.csv") -> Path:
    return write(tmp_path, name, "\n".join([header, *rows]) + "\n")


def jsonl_file(tmp_path: Path, records: list[dict], name: str = "out.jsonl") -> Path:
    return write(tmp_path, name, "".join(json.dumps(r) + "\n" for r in records))


def expect_error(path: Path, *facts: str) -> str:
    """Reading ``path`` fails with one line naming the file and every fact."""
    with pytest.raises(InputError) as info:
        read_outputs(path)
    message = info.value.message
    assert "\n" not in message
    assert path.name in message
    for fact in facts:
        assert fact in message, (fact, message)
    assert "—" in message, "every error says how to fix it"
    return message


def good_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "task": ["arith"] * 4,
            "model": ["small", "small", "big", "big"],
            "n_params": [1e8, 1e8, 1e9, 1e9],
            "item": [1, 2, 1, 2],
            "target": ["42", "7", "42", "7"],
            "output": ["41", "7", "42", None],
        }
    )


# ------------------------------------------------------------------------------------------
# Happy paths
# ------------------------------------------------------------------------------------------


def test_csv_happy_path(tmp_path):
    path = csv_file(tmp_path, *GOOD_ROWS)
    df = read_outputs(path)
    assert list(df.columns) == ["task", "model", "n_params", "item", "family", "target", "output"]
    assert df["model"].tolist() == ["small", "small", "big", "big"]
    assert df["n_params"].dtype == np.float64
    assert df["item"].tolist() == ["1", "2", "1", "2"]
    assert df["output"].tolist() == ["41", "7", "42", ""]
    assert df["family"].isna().all()
    assert df.attrs == {"prescored": False, "item_ids": True, "source": str(path)}


def test_counts_beside_raw_text_are_named_as_ignored(tmp_path):
    rows = [row + ",2,0" for row in GOOD_ROWS]
    df = read_outputs(csv_file(tmp_path, *rows, header=HEADER + ",n_tokens,n_errors"))
    assert df.attrs["prescored"] is False
    assert df.attrs["ignored_columns"] == ["n_tokens", "n_errors"]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    for column in a.columns:
        assert a[column].tolist() == b[column].tolist(), column
    assert a["n_params"].dtype == b["n_params"].dtype == np.float64
    assert {k: v for k, v in a.attrs.items() if k != "source"} == {
        k: v for k, v in b.attrs.items() if k != "source"
    }


def test_all_formats_give_the_same_frame(tmp_path):
    from_csv = read_outputs(csv_file(tmp_path, *GOOD_ROWS))
    tsv = write(tmp_path, "out.tsv", "\n".join(r.replace(",", "\t") for r in [HEADER, *GOOD_ROWS]))
    frame = good_frame()
    frame.to_parquet(tmp_path / "out.parquet")
    frame.to_parquet(tmp_path / "out.pq")
    records = [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
        for r in frame.astype(object).to_dict("records")
    ]
    jsonl = jsonl_file(tmp_path, records)
    ndjson = jsonl_file(tmp_path, records, name="out.ndjson")
    for other in [tsv, tmp_path / "out.parquet", tmp_path / "out.pq", jsonl, ndjson]:
        _same(from_csv, read_outputs(other))


def test_optional_columns_default(tmp_path):
    path = csv_file(tmp_path, "m,1e9,Paris,Paris", header="model,n_params,target,output")
    df = read_outputs(path)
    assert df["task"].tolist() == ["default"]
    assert df["item"].isna().all()
    assert df["family"].tolist() == [None]
    assert df.attrs["item_ids"] is False


def test_family_and_extra_columns(tmp_path):
    path = csv_file(
        tmp_path,
        "m1,1e9,llama,a,a,ignored",
        "m2,2e9,,b,c,ignored",
        header="model,n_params,family,target,output,notes",
    )
    df = read_outputs(path)
    assert df["family"].tolist() == ["llama", None]
    assert "notes" not in df


def test_prescored_input(tmp_path):
    path = csv_file(
        tmp_path,
        "t,m,1e9,1,5,2",
        "t,m,1e9,2,3,0",
        header="task,model,n_params,item,n_tokens,n_errors",
    )
    df = read_outputs(path)
    assert list(df.columns) == ["task", "model", "n_params", "item", "family"] + [
        "n_tokens",
        "n_errors",
    ]
    assert df["n_tokens"].dtype == np.int64 and df["n_errors"].dtype == np.int64
    assert df["n_errors"].tolist() == [2, 0]
    assert df.attrs["prescored"] is True


def test_prescored_jsonl_floats_that_are_whole(tmp_path):
    path = jsonl_file(tmp_path, [{"model": "m", "n_params": 1e9, "n_tokens": 4.0, "n_errors": 1}])
    assert read_outputs(path)["n_tokens"].tolist() == [4]


def test_raw_columns_win_over_prescored(tmp_path):
    header = "model,n_params,target,output,n_tokens,n_errors"
    df = read_outputs(csv_file(tmp_path, "m,1,ab,ab,9,9", header=header))
    assert df.attrs["prescored"] is False
    assert "n_tokens" not in df


def test_text_is_kept_verbatim(tmp_path):
    # "NA" and "None" are answers, not missing values; whitespace inside outputs is kept.
    path = csv_file(tmp_path, 'm,1,NA,"  None "', header="model,n_params,target,output")
    df = read_outputs(path)
    assert df["target"].tolist() == ["NA"]
    assert df["output"].tolist() == ["  None "]


def test_identifiers_are_stripped_and_coerced(tmp_path):
    path = jsonl_file(
        tmp_path,
        [{"task": 1, "model": 7, "n_params": "2e9", "item": 3.0, "target": 5, "output": None}],
    )
    df = read_outputs(path)
    assert df.loc[0, "task"] == "1" and df.loc[0, "model"] == "7" and df.loc[0, "item"] == "3"
    assert df.loc[0, "target"] == "5" and df.loc[0, "output"] == ""


def test_bom_and_blank_lines(tmp_path):
    content = "\ufeff" + HEADER + "\n" + GOOD_ROWS[0] + "\n\n" + GOOD_ROWS[1] + "\n"
    df = read_outputs(write(tmp_path, "out.csv", content))
    assert len(df) == 2 and df.columns[0] == "task"


def test_rows_keep_file_order(tmp_path):
    rows = [f"m{i % 3},{(i % 3) + 1},{i},x,y" for i in range(20)]
    df = read_outputs(csv_file(tmp_path, *rows, header="model,n_params,item,target,output"))
    assert df["item"].tolist() == [str(i) for i in range(20)]


# ------------------------------------------------------------------------------------------
# The file itself
# ------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.csv", "not found")


def test_directory(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    expect_error(tmp_path / "dir.csv", "directory")


def test_unsupported_suffix(tmp_path):
    expect_error(write(tmp_path, "out.xlsx", "x"), "'.xlsx'", ".csv", ".parquet", ".jsonl")


def test_non_utf8_bytes(tmp_path):
    path = write(tmp_path, "out.csv", b"model,n_params,target,output\nm,1,caf\xe9,x\n")
    expect_error(path, "line 2", "byte offset 36", "UTF-8")


def test_non_utf8_jsonl(tmp_path):
    path = write(tmp_path, "out.jsonl", b'{"model": "m"}\n{"model": "\xff"}\n')
    expect_error(path, "line 2", "UTF-8")


def test_empty_file(tmp_path):
    expect_error(write(tmp_path, "out.csv", ""), "empty")


def test_whitespace_only_file(tmp_path):
    expect_error(write(tmp_path, "out.csv", "\n  \n"), "empty")


def test_empty_jsonl(tmp_path):
    expect_error(write(tmp_path, "out.jsonl", "\n\n"), "empty")


def test_header_but_no_rows(tmp_path):
    expect_error(csv_file(tmp_path), "no data rows")


def test_malformed_csv_extra_field(tmp_path):
    path = csv_file(tmp_path, GOOD_ROWS[0], "arith,small,1e8,2,7,7,oops")
    expect_error(path, "row 3", "7 fields", "header has 6")


def test_malformed_csv_unclosed_quote(tmp_path):
    path = csv_file(tmp_path, GOOD_ROWS[0], 'arith,small,1e8,2,"7,7')
    expect_error(path, "line 3", "never closed")


def test_broken_json_line(tmp_path):
    path = write(tmp_path, "out.jsonl", '{"model": "m", "n_params": 1}\n\n{"model": "m",\n')
    expect_error(path, "line 3", "not valid JSON")


def test_json_line_not_an_object(tmp_path):
    expect_error(write(tmp_path, "out.jsonl", "[1, 2]\n"), "line 1", "not an object")


def test_unreadable_parquet(tmp_path):
    expect_error(write(tmp_path, "out.parquet", b"not parquet at all"), "Parquet")


# ------------------------------------------------------------------------------------------
# Columns
# ------------------------------------------------------------------------------------------


def test_missing_required_columns(tmp_path):
    path = csv_file(tmp_path, "m,a,b", header="model,target,output")
    expect_error(path, "missing required column(s) n_params", "'model', 'target', 'output'")


def test_missing_both_target_and_prescored_columns(tmp_path):
    path = csv_file(tmp_path, "m,1,x", header="model,n_params,answer")
    expect_error(path, "target+output", "n_tokens+n_errors", "'answer'")


def test_missing_half_of_a_pair(tmp_path):
    path = csv_file(tmp_path, "m,1,x", header="model,n_params,target")
    message = expect_error(path, "output")
    assert "n_tokens" in message  # the fix still names both options


def test_column_name_case_hint(tmp_path):
    path = csv_file(tmp_path, "m,1,x,y", header="Model,n_params,target,output")
    expect_error(path, "model", "'Model'")


# ------------------------------------------------------------------------------------------
# n_params
# ------------------------------------------------------------------------------------------


def test_n_params_not_numeric(tmp_path):
    path = csv_file(tmp_path, GOOD_ROWS[0], "arith,small,1.3B,2,7,7", "arith,x,abc,2,7,7")
    expect_error(path, "row 3", "'1.3B'", "not a number")


def test_n_params_not_positive(tmp_path):
    expect_error(csv_file(tmp_path, GOOD_ROWS[0], "arith,z,0,1,7,7"), "row 3", "not positive")
    expect_error(csv_file(tmp_path, "arith,z,-5,1,7,7"), "row 2", "'-5'", "not positive")


def test_n_params_empty(tmp_path):
    expect_error(csv_file(tmp_path, GOOD_ROWS[0], "arith,z,,1,7,7"), "row 3", "empty")


def test_n_params_null_in_jsonl(tmp_path):
    records = [{"model": "m", "n_params": 1, "target": "a", "output": "a"}] * 2
    records = [records[0], {**records[1], "n_params": None}]
    expect_error(jsonl_file(tmp_path, records), "line 2", "n_params", "empty")


def test_n_params_nan_in_parquet(tmp_path):
    frame = good_frame()
    frame.loc[2, "n_params"] = np.nan
    frame.to_parquet(tmp_path / "out.parquet")
    expect_error(tmp_path / "out.parquet", "row index 2", "empty")


def test_n_params_infinite(tmp_path):
    expect_error(csv_file(tmp_path, "arith,z,inf,1,7,7"), "row 2", "infinite")


def test_model_with_two_sizes_in_one_task(tmp_path):
    path = csv_file(tmp_path, *GOOD_ROWS, "arith,small,2e8,3,1,1")
    expect_error(path, "'small'", "1e+08", "2e+08", "rows 2 and 6")


def test_model_with_two_sizes_across_tasks(tmp_path):
    path = csv_file(tmp_path, *GOOD_ROWS, "words,big,3e9,1,a,a")
    expect_error(path, "'big'", "1e+09", "3e+09", "rows 4 and 6")


def test_same_size_written_differently_is_fine(tmp_path):
    df = read_outputs(csv_file(tmp_path, "t,m,1e9,1,a,a", "t,m,1000000000,2,b,b"))
    assert df["n_params"].tolist() == [1e9, 1e9]


# ------------------------------------------------------------------------------------------
# Identifiers and text
# ------------------------------------------------------------------------------------------


def test_target_empty(tmp_path):
    expect_error(csv_file(tmp_path, GOOD_ROWS[0], "arith,small,1e8,2,,7"), "row 3", "target")


def test_target_whitespace_only(tmp_path):
    path = csv_file(tmp_path, GOOD_ROWS[0], "arith,small,1e8,2,   ,7")
    expect_error(path, "row 3", "only whitespace")


def test_target_null_in_jsonl(tmp_path):
    records = [{"model": "m", "n_params": 1, "target": None, "output": "a"}]
    expect_error(jsonl_file(tmp_path, records), "line 1", "target is empty")


def test_model_empty(tmp_path):
    expect_error(csv_file(tmp_path, GOOD_ROWS[0], "arith,,1e8,2,7,7"), "row 3", "'model'")


def test_model_missing_in_jsonl(tmp_path):
    records = [{"model": "m", "n_params": 1, "target": "a", "output": "a"}]
    records.append({"n_params": 1, "target": "a", "output": "a"})
    expect_error(jsonl_file(tmp_path, records), "line 2", "'model' is empty")


def test_task_empty_when_column_present(tmp_path):
    expect_error(csv_file(tmp_path, GOOD_ROWS[0], ",small,1e8,2,7,7"), "row 3", "'task'")


def test_item_empty_when_column_present(tmp_path):
    expect_error(csv_file(tmp_path, GOOD_ROWS[0], "arith,small,1e8,,7,7"), "row 3", "'item'")


def test_duplicate_rows(tmp_path):
    path = csv_file(tmp_path, *GOOD_ROWS, "arith,small,1e8,2,7,8")
    expect_error(path, "rows 3 and 6", "'arith'", "'small'", "item '2'")


def test_duplicate_rows_after_coercion_in_jsonl(tmp_path):
    records = [
        {"model": "m", "n_params": 1, "item": 3, "target": "a", "output": "a"},
        {"model": "m", "n_params": 1, "item": "3", "target": "a", "output": "b"},
    ]
    expect_error(jsonl_file(tmp_path, records), "lines 1 and 2", "item '3'")


def test_same_item_in_two_tasks_is_not_a_duplicate(tmp_path):
    df = read_outputs(csv_file(tmp_path, "a,m,1,1,x,x", "b,m,1,1,x,x"))
    assert len(df) == 2


def test_row_numbers_count_blank_lines(tmp_path):
    content = "\n".join([HEADER, GOOD_ROWS[0], "", "arith,small,abc,2,7,7"]) + "\n"
    expect_error(write(tmp_path, "out.csv", content), "row 4")


# ------------------------------------------------------------------------------------------
# Pre-scored counts
# ------------------------------------------------------------------------------------------

PRE = "model,n_params,n_tokens,n_errors"


def test_prescored_not_integer(tmp_path):
    expect_error(csv_file(tmp_path, "m,1,4,1", "m,1,2.5,1", header=PRE), "row 3", "'2.5'", "whole")
    expect_error(csv_file(tmp_path, "m,1,4,x", header=PRE), "row 2", "n_errors 'x'", "whole")


def test_prescored_empty(tmp_path):
    expect_error(csv_file(tmp_path, "m,1,,1", header=PRE), "row 2", "'n_tokens' is empty")


def test_prescored_negative(tmp_path):
    expect_error(csv_file(tmp_path, "m,1,4,-1", header=PRE), "row 2", "negative")


def test_prescored_more_errors_than_tokens(tmp_path):
    path = csv_file(tmp_path, "m,1,4,1", "m,1,3,4", header=PRE)
    expect_error(path, "row 3", "n_errors 4", "n_tokens 3")


def test_prescored_zero_tokens(tmp_path):
    expect_error(csv_file(tmp_path, "m,1,0,0", header=PRE), "row 2", "n_tokens is 0")


def test_prescored_boolean_in_jsonl(tmp_path):
    records = [{"model": "m", "n_params": 1, "n_tokens": 3, "n_errors": True}]
    expect_error(jsonl_file(tmp_path, records), "line 1", "whole number")


def test_jsonl_keeps_unicode_line_separators_inside_strings(tmp_path):
    path = tmp_path / "outputs.jsonl"
    rows = [
        {"model": "m", "n_params": 1e9, "item": i, "target": "12", "output": f"1\u2028{i}\u0085"}
        for i in range(2)
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\r\n")
    outputs = read_outputs(path)
    assert outputs["output"].tolist() == ["1\u20280\u0085", "1\u20281\u0085"]
