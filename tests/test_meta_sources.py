"""Loaders of the two real data sets into the ``meta`` format (read ../shared/data directly;
skipped where it is absent). No sampling here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mirage_bayes.cli import main
from mirage_bayes.errors import InputError
from mirage_bayes.meta_io import read_meta_table, triplets_from_frame
from mirage_bayes.meta_sources import bigbench_bigg_table, load_source, pythia_arithmetic_table

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BIGG = DATA / "bigbench_bigg"
PYTHIA = DATA / "pythia_arithmetic"
needs_bigg = pytest.mark.skipif(not BIGG.is_dir(), reason="shared/data/bigbench_bigg absent")
needs_pythia = pytest.mark.skipif(not PYTHIA.is_dir(), reason="shared/data absent")


@needs_bigg
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


@needs_bigg
def test_bigbench_chance_of_a_four_way_task():
    meta = pd.read_csv(BIGG / "bigbench_task_metadata.csv")
    row = meta[meta["subtask"].isna() & meta["chance_mc_accuracy"].notna()].iloc[0]
    table = bigbench_bigg_table(BIGG)
    if row["task"] in set(table["task"]):
        assert (
            table.loc[table["task"] == row["task"], "chance"].iloc[0] == row["chance_mc_accuracy"]
        )


@needs_pythia
def test_pythia_arithmetic_triplets():
    table = pythia_arithmetic_table(PYTHIA, checkpoints=[143000], shots=[0, 2])
    triplets = triplets_from_frame(table)
    assert len(triplets) == 200 * 2
    assert {t.n_scales for t in triplets} == {7}
    assert {int(n) for t in triplets for n in t.n_items} == {50}
    assert triplets[0].family.startswith("pythia-deduped@143000/")
    nonembedding = pythia_arithmetic_table(PYTHIA, params="nonembedding", checkpoints=[143000])
    assert (nonembedding["n_params"] < table["n_params"].max()).all()


@needs_pythia
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


@needs_bigg
def test_cli_convert_writes_a_table_meta_reads(tmp_path, capsys):
    out = tmp_path / "bigg.csv"
    assert main(["meta", str(BIGG), "--from", "bigbench-bigg", "--convert", str(out)]) == 0
    triplets = read_meta_table(out)
    assert len(triplets) == 85
    assert main(["meta", str(BIGG), "--from", "bigbench-bigg", "--convert", str(out)]) == 2
    assert "file exists" in capsys.readouterr().err
