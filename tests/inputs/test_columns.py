"""Plain tables read with other column names (``--map``) and with sizes from elsewhere
(``--params``, ``--param-column``, the built-in table): the same table as ``read_outputs`` gives
for the file with the standard names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mirage_bayes.cli import main
from mirage_bayes.errors import InputError
from mirage_bayes.inputs.io import read_outputs
from mirage_bayes.inputs.sources import parse_mapping, read_inputs

from support import DATA, expect_input_error

OUTPUTS_CSV = DATA / "lmeval" / "pythia_outputs.csv"


def helm_like(tmp_path: Path, *, with_sizes: bool) -> Path:
    """The outputs table as a HELM-like JSONL with other column names (and maybe no sizes)."""
    table = pd.read_csv(OUTPUTS_CSV, dtype=str, keep_default_na=False)
    renamed = table.rename(
        columns={"target": "answer", "output": "prediction", "n_params": "params"}
    )
    renamed["output"] = "unrelated"  # replaced by the mapped column
    if not with_sizes:
        renamed = renamed.drop(columns="params")
    path = tmp_path / "helm.jsonl"
    renamed.to_json(path, orient="records", lines=True)
    return path


def test_mapping_gives_the_same_table(tmp_path: Path):
    path = helm_like(tmp_path, with_sizes=True)
    got = read_inputs(path, mapping="target=answer,output=prediction", param_column="params")
    expected = read_outputs(OUTPUTS_CSV)
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs["kind"] == "generation"
    assert read_outputs(OUTPUTS_CSV).attrs == expected.attrs  # read_outputs(path) unchanged


def test_sizes_of_a_table_without_n_params_come_from_the_built_in_table(tmp_path: Path):
    path = helm_like(tmp_path, with_sizes=False)
    got = read_inputs(path, mapping={"target": "answer", "output": "prediction"})
    pd.testing.assert_frame_equal(got, read_outputs(OUTPUTS_CSV))
    sizes = tmp_path / "sizes.csv"
    sizes.write_text("model,n_params\npythia-70m,1\npythia-160m,2\npythia-410m,3\npythia-1b,4\n")
    got = read_inputs(path, mapping="target=answer,output=prediction", params=sizes)
    assert sorted(set(got["n_params"])) == [1.0, 2.0, 3.0, 4.0]


def test_mapping_and_size_option_errors(tmp_path: Path):
    path = helm_like(tmp_path, with_sizes=True)
    expect_input_error("target=solution", "names a column the file does not have", "'prediction'",
                 paths=path, mapping="target=solution,output=prediction")  # fmt: skip
    sizes = tmp_path / "sizes.csv"
    sizes.write_text("model,n_params\nEleutherAI/pythia-70m,7e7\n")
    expect_input_error("own n_params column", "--params", paths=OUTPUTS_CSV, params=sizes)
    expect_input_error("own n_params column", "--size-count", paths=OUTPUTS_CSV, size_count="total")
    expect_input_error(
        "--params and --param-column", paths=path, params=path, param_column="params"
    )
    expect_input_error("--param-column and --map n_params", paths=path, param_column="params",
                 mapping="n_params=params")  # fmt: skip
    expect_input_error("no task(s) gsm8k", paths=OUTPUTS_CSV, tasks="gsm8k")


@pytest.mark.parametrize(
    ("spec", "fact"),
    [
        ("target", "is not COLUMN=FILE_COLUMN"),
        ("target=", "is not COLUMN=FILE_COLUMN"),
        ("answer_text=answer", "'answer_text' is not a column mirage-bayes reads"),
        ("target=a,target=b", "'target' is mapped twice"),
        ("target=a,output=a", "'a' is mapped to more than one column"),
        (" , ", "no column pairs given"),
    ],
)
def test_bad_mapping_specs(spec, fact):
    with pytest.raises(InputError) as info:
        parse_mapping(spec)
    assert fact in info.value.message and info.value.message.startswith("--map: ")


def test_cli_reports_a_bad_mapping_in_one_line(tmp_path: Path, capsys):
    code = main(["fit", str(OUTPUTS_CSV), "--map", "target", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--map" in err
