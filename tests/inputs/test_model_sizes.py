"""The built-in model-size table against published counts, name matching, and size resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.model_sizes import (
    MODEL_SIZES,
    canonical_name,
    family_of,
    lookup,
    read_params_file,
    size_resolver,
)

# Pythia model card (huggingface.co/EleutherAI/pythia-*), table "Naming convention and parameter
# count": (total, non-embedding).
PYTHIA_CARD = {
    "pythia-14m": (14_067_712, 1_189_888),
    "pythia-31m": (30_494_720, 4_739_072),
    "pythia-70m": (70_426_624, 18_915_328),
    "pythia-160m": (162_322_944, 85_056_000),
    "pythia-410m": (405_334_016, 302_311_424),
    "pythia-1b": (1_011_781_632, 805_736_448),
    "pythia-1.4b": (1_414_647_808, 1_208_602_624),
    "pythia-2.8b": (2_775_208_960, 2_517_652_480),
    "pythia-6.9b": (6_857_302_016, 6_444_163_072),
    "pythia-12b": (11_846_072_320, 11_327_027_200),
}
# BLOOM model cards (huggingface.co/bigscience/*): "N parameters: M embedding parameters".
BLOOM_CARD = {
    "bloom-1b1": (1_065_314_304, 385_351_680),
    "bloom-3b": (3_002_557_440, 642_252_800),
    "bloom": (176_247_271_424, 3_596_615_680),
}
# Totals Hugging Face Transformers reports for the released checkpoints (model.num_parameters(),
# e.g. as "all params" of PEFT's print_trainable_parameters); bloom-560m's is also on its card.
CHECKPOINTS = {
    "bloom-560m": 559_214_592,
    "bloom-7b1": 7_069_016_064,
    "gpt2": 124_439_808,
    "gpt2-medium": 354_823_168,
    "gpt2-large": 774_030_080,
    "gpt2-xl": 1_557_611_200,
    "opt-125m": 125_239_296,
    "opt-350m": 331_196_416,
    "opt-1.3b": 1_315_758_080,
    "llama-2-7b": 6_738_415_616,
    "llama-2-13b": 13_015_864_320,
    "llama-2-70b": 68_976_648_192,
}


def test_pythia_counts_equal_the_model_card():
    for name, (total, non_embedding) in PYTHIA_CARD.items():
        entry = lookup(name)
        assert entry is not None, name
        assert (entry.total, entry.non_embedding) == (total, non_embedding), name


def test_bloom_counts_equal_the_model_cards():
    for name, (total, embedding) in BLOOM_CARD.items():
        entry = lookup(name)
        assert (entry.total, entry.total - entry.non_embedding) == (total, embedding), name


def test_other_counts_equal_the_released_checkpoints():
    for name, total in CHECKPOINTS.items():
        assert lookup(name).total == total, name


def test_every_entry_has_a_source_and_sensible_counts():
    names = [m.name for m in MODEL_SIZES]
    assert len(names) == len(set(names))
    for entry in MODEL_SIZES:
        assert entry.source.startswith("https://huggingface.co/"), entry
        assert 0 < entry.non_embedding < entry.total, entry
        assert canonical_name(entry.name) == entry.name
    families = {m.family for m in MODEL_SIZES}
    assert {"pythia", "opt", "bloom", "gpt2", "llama-2"} <= families


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("EleutherAI/pythia-160m", "pythia-160m"),
        ("EleutherAI/pythia-160m-deduped", "pythia-160m"),
        ("EleutherAI/pythia-160m-deduped-v0", "pythia-160m"),
        ("EleutherAI__pythia-160m", "pythia-160m"),  # lm-eval's sanitized folder name
        ("/data/models/Pythia-160M/", "pythia-160m"),
        ("EleutherAI/pythia-160m@step143000", "pythia-160m"),
        ("meta-llama/Llama-2-7b-chat-hf", "llama-2-7b"),
        ("openai-community/gpt2-xl", "gpt2-xl"),
        ("facebook/opt-1.3b", "opt-1.3b"),
        ("bigscience/bloom", "bloom"),
    ],
)
def test_names_match_robustly(given, expected):
    assert canonical_name(given) == expected
    assert lookup(given) is lookup(expected) is not None


def test_unrelated_names_do_not_match():
    for name in ("pythia", "gpt2-xxl", "bloomz-560m", "EleutherAI/gpt-neox-20b", "llama-2"):
        assert lookup(name) is None, name
    assert family_of("EleutherAI/pythia-1b") == "pythia"
    assert family_of("my-model") is None


def test_resolver_uses_the_chosen_count():
    models = ["EleutherAI/pythia-70m", "EleutherAI/pythia-160m-deduped"]
    assert size_resolver()(models) == {models[0]: 70_426_624.0, models[1]: 162_322_944.0}
    non_embedding = size_resolver(count="non_embedding")(models)
    assert non_embedding == {models[0]: 18_915_328.0, models[1]: 85_056_000.0}
    with pytest.raises(InputError, match="unknown size count"):
        size_resolver(count="embedding")


def test_unknown_models_are_named_in_one_error():
    with pytest.raises(InputError) as info:
        size_resolver()(["EleutherAI/pythia-70m", "acme/model-a", "acme/model-b"])
    message = info.value.message
    assert "'acme/model-a', 'acme/model-b'" in message
    assert "EleutherAI/pythia-70m" not in message
    assert "--params sizes.csv" in message and "model,n_params" in message
    assert "\n" not in message


def test_params_file_matches_exactly_or_by_canonical_name(tmp_path: Path):
    path = tmp_path / "sizes.csv"
    path.write_text("model,n_params\npythia-70m,7e7\nacme/model-a,1.5e9\n", encoding="utf-8")
    resolve = size_resolver(path)
    got = resolve(["EleutherAI/pythia-70m", "acme/model-a"])
    assert got == {"EleutherAI/pythia-70m": 7e7, "acme/model-a": 1.5e9}
    with pytest.raises(InputError) as info:
        resolve(["acme/model-b"])
    assert "sizes.csv" in info.value.message and "'acme/model-b'" in info.value.message


@pytest.mark.parametrize(
    ("content", "facts"),
    [
        ("model,size\nm,1e9\n", ["missing column(s) n_params"]),
        ("model,n_params\nm,big\n", ["row 2", "'big'", "not a positive number"]),
        ("model,n_params\nm,-5\n", ["row 2", "not a positive number"]),
        ("model,n_params\n,1e9\n", ["row 2", "model is empty"]),
        ("model,n_params\nm,1e9\nm,2e9\n", ["row 3", "has n_params 1e+09 and 2e+09"]),
    ],
)
def test_bad_params_files_fail_with_one_line(tmp_path: Path, content, facts):
    path = tmp_path / "sizes.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_params_file(path)
    message = info.value.message
    assert "\n" not in message and "sizes.csv" in message and "—" in message
    for fact in facts:
        assert fact in message, (fact, message)
