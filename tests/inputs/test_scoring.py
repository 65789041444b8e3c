"""Tests for tokenisation and per-token error scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mirage_bayes.errors import InputError
from mirage_bayes.inputs import scoring
from mirage_bayes.inputs.scoring import resolve_tokenizer, score_outputs, tokenize


def frame(targets, outputs, task="t", **attrs) -> pd.DataFrame:
    n = len(targets)
    df = pd.DataFrame(
        {
            "task": [task] * n if isinstance(task, str) else task,
            "model": ["m"] * n,
            "n_params": [1e9] * n,
            "item": [str(i) for i in range(n)],
            "family": [None] * n,
            "target": targets,
            "output": outputs,
        }
    )
    df.attrs.update({"prescored": False, "item_ids": True, "source": "x.csv", **attrs})
    return df


def score_one(target: str, output: str, tokenizer: str = "auto") -> pd.Series:
    scored, _ = score_outputs(frame([target], [output]), tokenizer)
    return scored.iloc[0]


# ------------------------------------------------------------------------------------------
# Reference implementation: textbook dynamic programmes over token lists
# ------------------------------------------------------------------------------------------


def levenshtein(a: list[str], b: list[str]) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def unreproduced(a: list[str], b: list[str]) -> int:
    """Target tokens substituted or deleted by the cheapest script with the fewest insertions.

    Each cell holds the lexicographically smallest (cost, insertions) of scripts turning
    ``a[:i]`` into ``b[:j]``; ``S + D = cost − insertions``.
    """
    previous = [(j, j) for j in range(len(b) + 1)]
    for i, x in enumerate(a, start=1):
        current = [(i, 0)]
        for j, y in enumerate(b, start=1):
            delete = (previous[j][0] + 1, previous[j][1])
            insert = (current[j - 1][0] + 1, current[j - 1][1] + 1)
            keep = (previous[j - 1][0] + (x != y), previous[j - 1][1])
            current.append(min(delete, insert, keep))
        previous = current
    cost, insertions = previous[-1]
    return cost - insertions


# ------------------------------------------------------------------------------------------
# Hand-checked cases
# ------------------------------------------------------------------------------------------


def test_kitten_sitting_char():
    row = score_one("kitten", "sitting", "char")
    assert row["token_edit_distance"] == 3
    assert row["n_tokens"] == 6
    # k→s and e→i are substituted, g inserted: two target characters are not reproduced.
    assert row["n_errors"] == 2
    assert not row["exact_match"]


def test_extra_word_is_not_an_error():
    row = score_one("the cat sat", "the cat sat down", "whitespace")
    assert (row["n_tokens"], row["token_edit_distance"], row["n_errors"]) == (3, 1, 0)
    assert not row["exact_match"]


def test_swapped_characters():
    # Two substitutions cost as much as shifting "b" left; the shift is not credited.
    row = score_one("ab", "ba", "char")
    assert (row["token_edit_distance"], row["n_errors"]) == (2, 2)


def test_shifted_output_is_credited_where_the_shift_pays():
    # "1234" → "2345": delete 1, insert 5 (cost 2) beats four substitutions; 2, 3, 4 are kept.
    row = score_one("1234", "2345", "char")
    assert (row["token_edit_distance"], row["n_errors"]) == (2, 1)


def test_target_inside_a_longer_output_is_reproduced():
    row = score_one("42", "x42 is it", "char")
    assert row["n_errors"] == 0 and row["token_edit_distance"] == 7


def test_empty_output_gets_every_token_wrong():
    row = score_one("hello world", "", "whitespace")
    assert row["n_errors"] == row["n_tokens"] == row["token_edit_distance"] == 2
    row = score_one("1234", "", "char")
    assert row["n_errors"] == row["n_tokens"] == row["token_edit_distance"] == 4


def test_missing_output_is_empty():
    scored, _ = score_outputs(frame(["abc"], [None]), "char")
    assert scored.loc[0, "n_errors"] == 3


def test_exact_match():
    scored, used = score_outputs(
        frame(["Paris", "42", "New York"], ["Paris", "43", " New  York\n"])
    )
    assert used == {"t": "whitespace"}
    assert scored["exact_match"].tolist() == [True, False, True]
    assert scored["exact_match"].dtype == bool


def test_char_ignores_surrounding_whitespace():
    row = score_one("42", " 42\n", "char")
    assert row["exact_match"] and row["token_edit_distance"] == 0


def test_columns_dtypes_and_attrs_kept():
    df = frame(["ab"], ["ab"])
    scored, _ = score_outputs(df)
    assert list(scored.columns) == list(df.columns) + [
        "n_tokens",
        "n_errors",
        "token_edit_distance",
        "exact_match",
        "chance",
    ]
    for column in ("n_tokens", "n_errors", "token_edit_distance"):
        assert scored[column].dtype == np.int64
    assert scored.attrs == df.attrs | {"chance": {"t": "permutation"}}
    assert "n_tokens" not in df  # the input is not modified


# ------------------------------------------------------------------------------------------
# Tokenizers
# ------------------------------------------------------------------------------------------


def test_auto_picks_char_for_single_tokens_and_whitespace_for_phrases():
    assert resolve_tokenizer("auto", ["42", " 7 ", "x"]) == "char"
    assert resolve_tokenizer("auto", ["42", "new york"]) == "whitespace"
    assert resolve_tokenizer("auto", ["a\tb"]) == "whitespace"


def test_auto_is_resolved_per_task():
    df = frame(["12", "34", "a b", "c d"], ["12", "35", "a b", "c"], task=["num"] * 2 + ["txt"] * 2)
    scored, used = score_outputs(df)
    assert used == {"num": "char", "txt": "whitespace"}
    assert scored["n_tokens"].tolist() == [2, 2, 2, 2]
    assert scored["n_errors"].tolist() == [0, 1, 0, 1]


def test_explicit_tokenizers_resolve_to_themselves():
    assert resolve_tokenizer("char", ["a b"]) == "char"
    assert resolve_tokenizer(" Whitespace ", ["ab"]) == "whitespace"
    assert resolve_tokenizer("regex:\\d+", []) == "regex:\\d+"


def test_regex_tokenizer():
    assert tokenize(["x=12, y=345"], "regex:\\d+") == [["12", "345"]]
    # Groups do not change what a token is, and empty matches are dropped.
    assert tokenize(["ab12"], "regex:([a-z])|\\d") == [["a", "b", "1", "2"]]
    assert tokenize(["a1"], "regex:\\d*") == [["1"]]
    row = score_one("x=12, y=345", "x=12, y=344", "regex:\\d+")
    assert (row["n_tokens"], row["n_errors"], row["token_edit_distance"]) == (2, 1, 1)
    _, used = score_outputs(frame(["1"], ["1"]), "regex:\\d+")
    assert used == {"t": "regex:\\d+"}


def test_tokenize_char_and_whitespace():
    assert tokenize([" ab ", None], "char") == [["a", "b"], []]
    assert tokenize(["a  b\nc"], "whitespace") == [["a", "b", "c"]]


@pytest.mark.parametrize("spec", ["words", "", "regex:", "regex:(", "regex:[a-", 3])
def test_bad_specs(spec):
    with pytest.raises(InputError) as info:
        resolve_tokenizer(spec, ["a"])
    assert "auto, char, whitespace or regex:PATTERN" in info.value.message
    with pytest.raises(InputError):
        score_outputs(frame(["a"], ["a"]), spec)


def test_target_without_tokens():
    df = frame(["12", "abc"], ["12", "abc"])
    with pytest.raises(InputError) as info:
        score_outputs(df, "regex:\\d+")
    message = info.value.message
    assert "task 't'" in message and "row index 1" in message and "'abc'" in message
    assert "x.csv" in message and "\n" not in message


def test_missing_text_columns():
    with pytest.raises(InputError, match="target"):
        score_outputs(frame(["a"], ["a"]).drop(columns="target"))


# ------------------------------------------------------------------------------------------
# Pre-scored input
# ------------------------------------------------------------------------------------------


def test_prescored_passthrough():
    df = pd.DataFrame(
        {"task": ["a", "a", "b"], "model": "m", "n_tokens": [3, 4, 5], "n_errors": [0, 2, 5]}
    )
    df.attrs = {"prescored": True, "item_ids": False, "source": "p.csv"}
    scored, used = score_outputs(df, "char")
    assert used == {"a": "prescored", "b": "prescored"}
    assert scored["n_tokens"].tolist() == [3, 4, 5]
    assert scored["n_errors"].tolist() == [0, 2, 5]
    assert scored["token_edit_distance"].isna().all()
    assert scored["exact_match"].tolist() == [True, False, False]
    assert scored["chance"].tolist() == [0.0, 0.0, 0.0]
    assert scored.attrs == df.attrs | {"chance": {"a": "none", "b": "none"}}


# ------------------------------------------------------------------------------------------
# The fast path against the reference
# ------------------------------------------------------------------------------------------


def test_many_distinct_tokens_skip_surrogates():
    # More than 0xD800 distinct tokens forces code points past the surrogate block.
    n = 0xD800 + 2000
    targets = [f"t{i} u{i}" for i in range(n)]
    outputs = [f"t{i} u{i + 1}" if i % 2 else f"t{i} u{i}" for i in range(n)]
    scored, _ = score_outputs(frame(targets, outputs), "whitespace")
    expected = np.where(np.arange(n) % 2 == 1, 1, 0)
    assert (scored["n_errors"].to_numpy() == expected).all()
    assert (scored["token_edit_distance"].to_numpy() == expected).all()


def test_vocabulary_overflow_falls_back_to_token_ids(monkeypatch):
    monkeypatch.setattr(scoring, "_MAX_CODE", 3)
    row = score_one("a b c d e", "a c b e f", "whitespace")
    tokens_a, tokens_b = "a b c d e".split(), "a c b e f".split()
    assert row["token_edit_distance"] == levenshtein(tokens_a, tokens_b)
    assert row["n_errors"] == unreproduced(tokens_a, tokens_b)


token_lists = st.lists(st.sampled_from(["a", "b", "c", "dd", "é", "0"]), max_size=9)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(token_lists.filter(bool), token_lists), min_size=1, max_size=8))
def test_matches_reference_on_token_lists(pairs):
    targets = [" ".join(a) for a, _ in pairs]
    outputs = [" ".join(b) for _, b in pairs]
    scored, _ = score_outputs(frame(targets, outputs), "whitespace")
    for (a, b), (_, row) in zip(pairs, scored.iterrows(), strict=True):
        distance, errors, length = row["token_edit_distance"], row["n_errors"], row["n_tokens"]
        assert length == len(a)
        assert distance == levenshtein(a, b)
        assert errors == unreproduced(a, b)
        assert 0 <= errors <= length
        assert errors <= distance
        assert distance >= abs(len(a) - len(b))
        assert row["exact_match"] == (a == b)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcé1", min_size=1, max_size=12), st.text(alphabet="abcé1", max_size=12))
def test_char_matches_reference(target, output):
    row = score_one(target, output, "char")
    assert row["token_edit_distance"] == levenshtein(list(target), list(output))
    assert row["n_errors"] == unreproduced(list(target), list(output))


@settings(max_examples=100, deadline=None)
@given(token_lists.filter(bool))
def test_identical_sequences_score_zero(tokens):
    row = score_one(" ".join(tokens), " ".join(tokens), "whitespace")
    assert row["token_edit_distance"] == row["n_errors"] == 0 and row["exact_match"]
