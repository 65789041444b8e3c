"""Reading the aggregate results table of ``mirage-bayes meta``: triplets and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mirage_bayes.cli import main
from mirage_bayes.errors import InputError
from mirage_bayes.meta_io import read_meta_table, triplets_from_frame


def _frame() -> pd.DataFrame:
    rows = []
    for size, model, acc, bleu in [(1e9, "b", 0.25, 3.0), (1e8, "a", 0.2, 1.0),
                                   (1e10, "c", 0.7, 2.0)]:  # fmt: skip
        rows.append({"family": "F", "model": model, "n_params": size, "task": "t",
                     "metric": "acc", "score": acc, "n_items": 40, "chance": 0.2})  # fmt: skip
        rows.append({"family": "F", "model": model, "n_params": size, "task": "t",
                     "metric": "ter", "score": bleu, "n_items": None, "chance": None,
                     "higher_is_better": "false"})  # fmt: skip
    return pd.DataFrame(rows)


def test_triplets_sorted_by_size_with_counts_and_orientation(tmp_path):
    path = tmp_path / "results.csv"
    _frame().to_csv(path, index=False)
    acc, ter = read_meta_table(path)
    assert acc.key == ("F", "t", "acc") and acc.kind == "proportion"
    assert acc.models == ("a", "b", "c")
    np.testing.assert_array_equal(acc.counts, [8, 10, 28])
    assert acc.chance == pytest.approx(0.2)
    np.testing.assert_allclose(acc.x, [-1, 0, 1])
    assert ter.kind == "continuous" and not ter.higher_is_better
    np.testing.assert_allclose(ter.oriented, [-1.0, -3.0, -2.0])


def test_parquet_and_jsonl_read_the_same(tmp_path):
    frame = _frame()
    frame.to_parquet(tmp_path / "r.parquet", index=False)
    frame.to_json(tmp_path / "r.jsonl", orient="records", lines=True)
    for name in ("r.parquet", "r.jsonl"):
        triplets = read_meta_table(tmp_path / name)
        assert [t.key for t in triplets] == [("F", "t", "acc"), ("F", "t", "ter")]
        np.testing.assert_array_equal(triplets[0].counts, [8, 10, 28])


def test_lower_is_better_proportion_is_flipped():
    frame = _frame()
    frame = frame[frame["metric"] == "acc"].assign(higher_is_better=False, chance=0.0)
    (triplet,) = triplets_from_frame(frame)
    np.testing.assert_array_equal(triplet.counts, [32, 30, 12])  # errors -> successes


BAD = [
    (lambda f: f.drop(columns="score"), "missing column(s) 'score'"),
    (lambda f: f.assign(n_params=["x", 1, 2, 3, 4, 5]), "n_params 'x' is not a positive count"),
    (lambda f: f.assign(n_params=[0, 0, 1e9, 1e9, 1e10, 1e10]), "not a positive count"),
    (lambda f: f.assign(score=[0.2, 1, "", 1, 0.7, 2]), "score is empty"),
    (lambda f: f.assign(score=[1.5, 1, 0.25, 3, 0.7, 2]), "score is outside [0, 1]"),
    (
        lambda f: f.assign(
            kind=["proportion"] + [""] * 5, n_items=[None, None, 40, None, 40, None]
        ),
        "is a proportion but n_items is empty",
    ),
    (lambda f: f.assign(n_items=[40.5, None, 40, None, 40, None]), "n_items '40.5' is not"),
    (lambda f: f.assign(kind=["ratio"] + [""] * 5), "kind 'ratio' is unknown"),
    (lambda f: f.assign(higher_is_better=["maybe"] + [""] * 5), "is not true or false"),
    (lambda f: f.assign(chance=[0.2, 0.3, 0.2, None, 0.2, None]), "has a chance level but"),
    (lambda f: f.assign(chance=[1.2, None, 0.2, None, 0.2, None]), "chance '1.2' is not"),
    (lambda f: pd.concat([f, f.iloc[[0]]]), "two rows for family 'F', task 't', metric 'acc'"),
    (lambda f: f.assign(n_params=[1e8, 1e8, 1e9, 2e9, 1e10, 1e10]), "model 'a' of family 'F'"),
    (
        lambda f: f.assign(
            model=["a", "a", "b", "b", "b", "b"], n_params=[1e8, 1e8, 1e9, 1e9, 1e9, 1e9]
        ),
        "two rows for family",
    ),  # fmt: skip
    (
        lambda f: f.assign(kind=["proportion", "", "continuous", "", "", ""], chance=None),
        "mixes different kind",
    ),
    (lambda f: f.assign(family=""), "column 'family' is empty"),
]


@pytest.mark.parametrize(("mutate", "message"), BAD)
def test_bad_tables_name_the_problem(tmp_path, mutate, message):
    path = tmp_path / "bad.csv"
    mutate(_frame()).to_csv(path, index=False)
    with pytest.raises(InputError) as error:
        read_meta_table(path)
    assert message in error.value.message
    assert str(path) in error.value.message
    assert error.value.fix


def test_same_size_twice_in_a_family_is_refused():
    frame = _frame()
    frame.loc[frame["model"] == "c", ["model", "n_params"]] = ["c", 1e9]
    frame["model"] = frame["model"].where(frame["model"] != "c", "c2")
    with pytest.raises(InputError, match="two models of the same size"):
        triplets_from_frame(frame)


def test_cli_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    _frame().drop(columns="metric").to_csv(path, index=False)
    out = tmp_path / "out"
    code = main(["meta", str(path), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "missing column(s) 'metric'" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_cli_refuses_non_empty_out_before_reading(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    code = main(["meta", str(tmp_path / "missing.csv"), "--out", str(out)])
    assert code == 2 and "not empty" in capsys.readouterr().err
    assert (out / "keep.txt").exists()


def test_cli_rejects_bad_threshold(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["meta", "x.csv", "--threshold", "-1"])
    assert stop.value.code == 2
    assert "positive number" in capsys.readouterr().err
