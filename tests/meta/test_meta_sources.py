"""Loaders of the two real data sets into the ``meta`` format, on the copies bundled in
``analyses/data`` (sources and licences in its README). No sampling here."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from mirage_bayes.cli import main
from mirage_bayes.errors import InputError
from mirage_bayes.meta.io import read_meta_table, triplets_from_frame
from mirage_bayes.meta.sources import (
    bigbench_bigg_table,
    item_logs_table,
    load_source,
    pythia_arithmetic_table,
)

from support import DATA, REPO

TABLES = REPO / "analyses" / "data"
BIGG = TABLES / "bigbench_bigg"
PYTHIA = TABLES / "pythia_arithmetic"


def test_bigbench_bigg_triplets():
    table = bigbench_bigg_table(BIGG)
    triplets = triplets_from_frame(table)
    assert len(triplets) == 85
    assert {t.n_scales for t in triplets} == {12}
    raw = pd.read_csv(BIGG / "bigg_t0_task_accuracy_3shot.csv")
    (modified,) = [t for t in triplets if t.task == "modified_arithmetic"]
    expected = raw[raw["task"] == "modified_arithmetic"].sort_values("non_embedding_params")
    np.testing.assert_array_equal(modified.counts, expected["n_correct"])
    assert modified.metric == "accuracy_generative" and modified.chance == 0
    assert modified.n_params[0] == 2_098_048 and modified.n_params[-1] == 137_440_272_384
    mc = [t for t in triplets if t.metric == "accuracy_mc"]
    assert len(mc) > 40
    assert all(0 < t.chance < 1 for t in mc)


def test_bigbench_chance_of_a_four_way_task():
    meta = pd.read_csv(BIGG / "bigbench_task_metadata.csv")
    row = meta[meta["subtask"].isna() & meta["chance_mc_accuracy"].notna()].iloc[0]
    table = bigbench_bigg_table(BIGG)
    if row["task"] in set(table["task"]):
        assert (
            table.loc[table["task"] == row["task"], "chance"].iloc[0] == row["chance_mc_accuracy"]
        )


def test_pythia_arithmetic_triplets():
    table = pythia_arithmetic_table(PYTHIA, checkpoints=[143000], shots=[0, 2])
    triplets = triplets_from_frame(table)
    assert len(triplets) == 200 * 2
    assert {t.n_scales for t in triplets} == {7}
    assert {int(n) for t in triplets for n in t.n_items} == {50}
    assert triplets[0].family.startswith("pythia-deduped@143000/")
    nonembedding = pythia_arithmetic_table(PYTHIA, params="nonembedding", checkpoints=[143000])
    assert (nonembedding["n_params"] < table["n_params"].max()).all()


def test_pythia_bad_choice_is_an_input_error():
    with pytest.raises(InputError, match="no rows left"):
        pythia_arithmetic_table(PYTHIA, checkpoints=[1])
    with pytest.raises(InputError, match="params"):
        pythia_arithmetic_table(PYTHIA, params="embedding")


def test_missing_folder_and_unknown_source(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_source("bigbench-bigg", tmp_path)
    with pytest.raises(InputError, match="unknown source"):
        load_source("helm", tmp_path)


def test_cli_convert_writes_a_table_meta_reads(tmp_path, capsys):
    out = tmp_path / "bigg.csv"
    assert main(["meta", str(BIGG), "--from", "bigbench-bigg", "--convert", str(out)]) == 0
    triplets = read_meta_table(out)
    assert len(triplets) == 85
    assert main(["meta", str(BIGG), "--from", "bigbench-bigg", "--convert", str(out)]) == 2
    assert "file exists" in capsys.readouterr().err
    # --force replaces an earlier conversion, never a user's file or the data set itself.
    assert main(["meta", str(BIGG), "--from", "bigbench-bigg", "--convert", str(out),
                 "--force"]) == 0  # fmt: skip
    mine = tmp_path / "mine.csv"
    mine.write_text("precious\n")
    assert main(["meta", str(BIGG), "--from", "bigbench-bigg", "--convert", str(mine),
                 "--force"]) == 2  # fmt: skip
    assert "not a table mirage-bayes wrote" in capsys.readouterr().err
    assert mine.read_text() == "precious\n"
    data = tmp_path / "bigg"
    shutil.copytree(BIGG, data)
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    inside = data / sorted(before)[0]
    assert main(["meta", str(data), "--from", "bigbench-bigg", "--convert", str(inside),
                 "--force"]) == 2  # fmt: skip
    assert "inside the input" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before


LMEVAL = DATA / "meta_lmeval"


def test_lmeval_folder_of_results_files_new_format():
    frame = load_source("lm-eval", LMEVAL / "toy_family")
    assert frame.attrs["assumed_continuous"] == []
    assert set(frame["metric"]) == {"exact_match", "acc", "word_perplexity", "bits_per_byte"}
    loss = frame[frame["metric"] == "word_perplexity"]
    assert (loss["kind"] == "loss").all() and (loss["higher_is_better"] == False).all()  # noqa: E712
    arith = frame[frame["task"] == "arith_late"]
    assert (arith["n_items"] == 500).all() and (arith["kind"] == "proportion").all()
    assert frame["n_params"].min() == 1e7 and frame["family"].unique().tolist() == ["toy 0-shot"]
    triplets = triplets_from_frame(frame)
    assert len(triplets) == 5
    (late,) = [t for t in triplets if t.task == "arith_late"]
    assert late.n_scales == 8 and late.n_replicates == 2  # one model ran twice: pooled
    assert late.n_items.max() == 1000


def test_lmeval_old_format_real_pythia_results():
    folder = LMEVAL / "pythia_v1_step113000"
    with pytest.raises(InputError, match="size of model"):
        load_source("lm-eval", folder)
    frame = load_source("lm-eval", folder, params=folder / "params.csv")
    assert frame["model"].nunique() == 4
    assert frame["family"].unique().tolist() == ["pythia-v1.1 @step113000 0-shot"]
    triplets = {(t.task, t.metric): t for t in triplets_from_frame(frame)}
    ppl = triplets[("lambada_openai", "ppl")]
    assert ppl.kind == "loss" and ppl.n_scales == 4
    np.testing.assert_allclose(ppl.values[[0, -1]], [120.54804436871059, 4.108599139920896])
    sciq = triplets[("sciq", "acc")]
    # n from the stderr: p(1 − p)/se² + 1 = 1000 items.
    assert set(sciq.n_items.tolist()) == {1000}
    assert triplets[("crows_pairs_english", "likelihood_difference")].kind == "continuous"


def test_lmeval_folder_errors(tmp_path):
    with pytest.raises(InputError, match="holds no results"):
        load_source("lm-eval", tmp_path)
    (tmp_path / "results_x.json").write_text("{not json")
    with pytest.raises(InputError, match="is not a JSON results file"):
        load_source("lm-eval", tmp_path)


def test_item_logs_become_meta_rows_with_their_test_set_sizes(tmp_path):
    """What fit reads, counted per task and model: exact match of generations, the grade (and
    chance level) of multiple choice."""
    root = REPO
    eee = item_logs_table(root / "tests" / "data" / "eee" / "pythia")
    assert list(eee["metric"].unique()) == ["exact_match"] and (eee["n_items"] == 16).all()
    assert eee["score"].tolist() == [0.125, 0.1875, 0.8125, 0.9375]
    assert (eee["chance"] == 0).all() and list(eee["family"].unique()) == ["pythia"]
    choice = item_logs_table(root / "examples" / "multiple_choice_outputs.csv")
    assert set(choice["metric"]) == {"mc_grade"} and (choice["chance"] == 0.25).all()
    assert (choice["n_items"] == 100).all() and len(choice) == 8
    (triplet,) = triplets_from_frame(choice)
    assert triplet.kind == "proportion" and triplet.chance == 0.25
    out = tmp_path / "table.csv"
    argv = ["meta", str(root / "tests" / "data" / "eee" / "pythia"), "--from", "logs",
            "--convert", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert pd.read_csv(out)["n_items"].tolist() == [16] * 4
