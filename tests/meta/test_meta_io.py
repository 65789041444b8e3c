"""Reading the aggregate results table of ``mirage-bayes meta``: triplets, kinds of metric,
replicates, ties, column mapping, another size axis, noise floors and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mirage_bayes.cli import main
from mirage_bayes.errors import InputError
from mirage_bayes.meta.emergence import emergence_score
from mirage_bayes.meta.io import (
    chance_above_data,
    metric_kind,
    read_meta_table,
    triplets_from_frame,
)
from mirage_bayes.meta.table import parse_mapping


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
    (lambda f: f.assign(n_params=["x", 1, 2, 3, 4, 5]), "n_params 'x' is not a positive number"),
    (lambda f: f.assign(n_params=[0, 0, 1e9, 1e9, 1e10, 1e10]), "not a positive number"),
    (lambda f: f.assign(score=[0.2, 1, "", 1, 0.7, 2]), "score is empty"),
    (lambda f: f.assign(score=[1.5, 1, 0.25, 3, 0.7, 2]), "score is outside [0, 1]"),
    (
        lambda f: f.assign(
            kind=["proportion"] + [""] * 5, n_items=[None, None, 40, None, 40, None]
        ),
        "is a proportion but has neither n_items nor stderr",
    ),
    (lambda f: f.assign(n_items=[40.5, None, 40, None, 40, None]), "n_items '40.5' is not"),
    (lambda f: f.assign(kind=["ratio"] + [""] * 5), "kind 'ratio' is unknown"),
    (
        lambda f: f.assign(kind=["", "loss"] * 3, score=[0.2, 0, 0.25, 3, 0.7, 2]),
        "is a loss but score is not positive",
    ),
    (
        lambda f: f.assign(kind=["", "loss"] * 3, higher_is_better=[None, "true"] * 3),
        "is a loss but higher_is_better is true",
    ),
    (
        lambda f: f.assign(metric=["acc", "mystery"] * 3, score=[0.2, 0.1, 0.25, 0.3, 0.7, 0.2]),
        "cannot tell whether metric 'mystery' is a proportion",
    ),
    (lambda f: f.assign(higher_is_better=["maybe"] + [""] * 5), "is not true or false"),
    (lambda f: f.assign(chance=[0.2, 0.3, 0.2, None, 0.2, None]), "has a chance level but"),
    (lambda f: f.assign(chance=[1.2, None, 0.2, None, 0.2, None]), "chance '1.2' is not"),
    (lambda f: pd.concat([f, f.iloc[[0]].assign(chance=0.3)]), "replicates of family 'F'"),
    (lambda f: f.assign(n_params=[1e8, 1e8, 1e9, 2e9, 1e10, 1e10]), "model 'a' of family 'F'"),
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


def test_two_models_of_the_same_size_are_both_kept():
    frame = _frame()
    frame.loc[frame["model"] == "c", ["model", "n_params"]] = ["c2", 1e9]
    acc = triplets_from_frame(frame)[0]
    assert acc.models == ("a", "b", "c2") and acc.n_scales == 3
    np.testing.assert_array_equal(acc.n_params, [1e8, 1e9, 1e9])


def _curve(metric: str, scores, **extra) -> pd.DataFrame:
    sizes = np.logspace(8, 11, len(scores))
    return pd.DataFrame({"family": "F", "model": [f"m{i}" for i in range(len(scores))],
                         "n_params": sizes, "task": "t", "metric": metric, "score": scores,
                         **extra})  # fmt: skip


def test_kind_from_the_metric_name():
    assert metric_kind("perplexity") == metric_kind("word_perplexity") == "loss"
    assert metric_kind("bits_per_byte") == metric_kind("ppl") == "loss"
    assert metric_kind("acc_norm") == metric_kind("exact_match/strict-match") == "proportion"
    assert metric_kind("bertscore_f1") == metric_kind("rougeL") == "continuous"
    assert metric_kind("mystery") is None
    (loss,) = triplets_from_frame(_curve("lambada_perplexity", [40.0, 20.0, 10.0, 5.0]))
    assert loss.kind == "loss" and not loss.higher_is_better
    np.testing.assert_allclose(loss.value, -np.log([40.0, 20.0, 10.0, 5.0]))
    (bleu,) = triplets_from_frame(_curve("bleu", [1.0, 2.0, 5.0, 9.0]))
    assert bleu.kind == "continuous"


def test_proportion_needs_items_or_stderr_with_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "acc.csv"
    _curve("accuracy", [0.1, 0.2, 0.3, 0.5]).to_csv(path, index=False)
    code = main(["meta", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "is a proportion but has neither n_items nor stderr" in err
    # kind continuous says it is not a proportion: accepted.
    (t,) = triplets_from_frame(_curve("accuracy", [0.1, 0.2, 0.3, 0.5], kind="continuous"))
    assert t.kind == "continuous"


def test_items_from_stderr():
    p = np.array([0.1, 0.2, 0.5, 0.0])
    n = 400
    se = np.sqrt(p * (1 - p) / (n - 1))
    (t,) = triplets_from_frame(_curve("acc", p, stderr=se))
    # n = p(1 − p)/se² + 1 = 400; the score 0 (se 0) takes the median of the others.
    np.testing.assert_array_equal(t.n_items, [400, 400, 400, 400])
    np.testing.assert_array_equal(t.counts, [40, 80, 200, 0])


def test_test_set_sizes_are_bounded():
    with pytest.raises(InputError, match=r"n_items '?1e\+?20'? is not a whole number from 1 to 1e"):
        triplets_from_frame(_curve("acc", [0.1, 0.2, 0.3], n_items=1e20))
    # A stderr near 0 would imply an astronomical test set: refused, not overflowed.
    with pytest.raises(InputError, match="stderr implies .* test items, more than 1e\\+09"):
        triplets_from_frame(_curve("acc", [0.1, 0.2, 0.3], stderr=[1e-9, 0.01, 0.01]))


def test_replicates_pooled_or_averaged():
    seeds = pd.concat([_curve("acc", [0.1, 0.2, 0.3], n_items=100),
                       _curve("acc", [0.3, 0.2, 0.5], n_items=100)])  # fmt: skip
    (pooled,) = triplets_from_frame(seeds)
    np.testing.assert_array_equal(pooled.n_items, [200, 200, 200])
    np.testing.assert_array_equal(pooled.counts, [40, 40, 80])
    assert pooled.n_replicates == 2
    (mean,) = triplets_from_frame(seeds, replicates="mean")
    np.testing.assert_array_equal(mean.n_items, [100, 100, 100])
    np.testing.assert_array_equal(mean.counts, [20, 20, 40])
    bleu = pd.concat([_curve("bleu", [1.0, 2.0, 4.0]), _curve("bleu", [3.0, 2.0, 6.0])])
    (t,) = triplets_from_frame(bleu)
    np.testing.assert_allclose(t.values, [2.0, 2.0, 5.0])
    np.testing.assert_allclose(t.stderr, [1.0, 0.0, 1.0])  # sd / sqrt(2)


def test_map_x_axis_and_pooled_families(tmp_path):
    frame = _frame().rename(columns={"family": "model_family", "score": "acc_value"})
    frame["flops"] = frame["n_params"] * 6e11
    frame = frame.drop(columns="n_params")
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    acc, _ = read_meta_table(path, mapping={"family": "model_family", "score": "acc_value"},
                             x="flops")  # fmt: skip
    np.testing.assert_allclose(acc.n_params, [6e19, 6e20, 6e21])
    other = frame.assign(model_family="G", model=frame["model"] + "-g")
    both = pd.concat([frame, other])
    pooled = triplets_from_frame(both, mapping={"family": "model_family", "score": "acc_value"},
                                 x="flops", pool_families=True)  # fmt: skip
    assert [t.family for t in pooled] == ["all families"] * 2
    assert pooled[0].n_scales == 6  # ties in size from the two families are kept
    with pytest.raises(InputError, match="--x names column 'tokens'"):
        triplets_from_frame(frame, x="tokens")
    with pytest.raises(InputError, match="column mapping family=fam"):
        triplets_from_frame(frame, mapping={"family": "fam"})


def test_map_option_parsing_errors():
    assert parse_mapping("family=model_family, score=acc") == {
        "family": "model_family",
        "score": "acc",
    }
    for bad, message in (
        ("family", "is not COLUMN=FILE_COLUMN"),
        ("size=x", "not a column"),
        ("family=a,family=b", "mapped twice"),
        (" , ", "no column pairs"),
    ):
        with pytest.raises(InputError, match=message):
            parse_mapping(bad)


def test_chance_above_every_score_is_named():
    frame = _curve("acc", [0.2, 0.22, 0.18, 0.21], n_items=100, chance=0.25)
    assert chance_above_data(triplets_from_frame(frame)) == [("F", "t", "acc")]
    assert chance_above_data(triplets_from_frame(frame.assign(chance=0.2))) == []


def test_noise_floor_from_stderr_or_estimated_never_from_the_range():
    scores = [0.0, 0.0, 0.0, 0.0, 0.0003]
    (alone,) = triplets_from_frame(_curve("bertscore_f1", scores))
    assert "estimated" in alone.floor_note
    assert alone.floor[0] > 1e-3 * 0.0003  # not a thousandth of the range
    # A table of other BERTScore curves sets the floor: the 0.0003 move is within the noise.
    rng = np.random.default_rng(0)
    others = [_curve("bertscore_f1", 0.5 + 0.01 * rng.standard_normal(5)).assign(task=f"o{i}")
              for i in range(6)]  # fmt: skip
    triplets = triplets_from_frame(pd.concat([_curve("bertscore_f1", scores), *others]))
    assert triplets[0].floor[0] > 0.003
    assert abs(emergence_score(triplets[0].oriented, triplets[0].resolution)) < 1
    (given,) = triplets_from_frame(_curve("bleu", [1.0, 2.0, 3.0], stderr=[0.5, 0.4, 0.3]))
    np.testing.assert_allclose(given.floor, [0.5, 0.4, 0.3])
    assert given.floor_note == ""
    (loss,) = triplets_from_frame(_curve("perplexity", [40.0, 20.0, 10.0], stderr=[4, 2, 1]))
    np.testing.assert_allclose(loss.floor, [0.1, 0.1, 0.1])  # relative: se / L


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


def test_a_table_without_a_curve_of_two_sizes_is_one_line(tmp_path, capsys):
    path = tmp_path / "one.csv"
    _frame().query("model == 'a'").to_csv(path, index=False)
    out = tmp_path / "out"
    assert main(["meta", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no curve has 2 model sizes or more" in err[0]
    assert not out.exists()
