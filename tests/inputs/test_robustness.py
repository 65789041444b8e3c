"""Robustness: fuzzed input files, all-or-nothing result folders, and deterministic scoring.

* Any CSV/TSV/JSON Lines text either reads into a valid table or fails with one
  :class:`~mirage_bayes.errors.InputError` line; no other exception escapes the readers.
* An error or Ctrl-C while results are being written leaves no half-written folder, no hidden
  staging folder, and (with ``--force``) the previous results untouched.
* Scoring is a pure per-row function: the same table twice, or its rows shuffled, gives the same
  per-row counts.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections import Counter
from io import StringIO
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pymc  # noqa: F401  (imported up front so its import-time logging is not seen as CLI output)
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mirage_bayes.output.save
from mirage_bayes import fit, simulate_outputs
from mirage_bayes.cli import main
from mirage_bayes.errors import InputError
from mirage_bayes.inputs.io import read_outputs
from mirage_bayes.inputs.scoring import score_outputs

COLUMNS = "task model n_params item family target output n_tokens n_errors".split()
# Derandomized: the same 150 files on every run, so that the count of files that make it to
# scoring (asserted below) cannot fall short by the luck of one draw.
FUZZ = settings(
    max_examples=150, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)  # fmt: skip

# ------------------------------------------------------------------------------------------
# Fuzzing the readers
# ------------------------------------------------------------------------------------------

TRICKY = ["", " ", '"', '""', ",", ";", "\t", "\n", "\r\n", "\r", "NA", "None", "null", "nan"]
TRICKY += ["inf", "-inf", "1e400", "-1", "0", "1.3B", "True", "2.5", "\ufeff", "é", "\u2028"]
NUMBERS = st.one_of(
    st.integers(-3, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e9", "2e9", "1e8", "3", "4", "1", "0"]),
)
CELLS = st.one_of(st.sampled_from(TRICKY), NUMBERS, st.text())
HEADER_NAMES = st.one_of(
    st.sampled_from(COLUMNS), st.sampled_from([" model", "Model", "n_params ", ""]), st.text()
)
REQUIRED = [
    ["model", "n_params", "target", "output"],
    ["model", "n_params", "n_tokens", "n_errors"],
]
SIZES = {"m": 1e8, "n": 2e9, "big": 3e10}
TYPICAL = {  # per column, values a real table has (the size of a model is drawn with it)
    "task": st.sampled_from(["arith", "words", " arith "]),
    "item": st.integers(1, 50),
    "family": st.sampled_from(["gpt", "", None]),
    "target": st.sampled_from(["42", "7", "the cat sat", " x ", "é€"]),
    "output": st.sampled_from(["42", "", "8", "the dog sat", None, "  "]),
    "n_tokens": st.integers(1, 5),
    "n_errors": st.integers(0, 1),
    "notes": st.text(max_size=5),
}


def often(draw, times: int) -> bool:
    """True ``times`` times out of ``times + 1`` (st.integers would favour the boundaries)."""
    return draw(st.sampled_from([True] * times + [False]))


@st.composite
def headers(draw) -> list[str]:
    if often(draw, 3):  # mostly a plausible header, so later checks are reached
        names = draw(st.sampled_from(REQUIRED)) + draw(
            st.lists(st.sampled_from(["task", "item", "family", "notes"]), unique=True)
            | st.just([" model"])  # the same column once stripped
        )
        return draw(st.permutations(names))
    return draw(st.lists(HEADER_NAMES, max_size=8))


@st.composite
def records(draw, names: list[str], junk) -> dict:
    """One row as a dict: mostly typical values, sometimes anything ``junk`` draws."""
    model = draw(st.sampled_from(list(SIZES)))
    typical = {**TYPICAL, "model": st.just(model), "n_params": st.just(SIZES[model])}
    row = {}
    for name in names:
        usual = name in typical and often(draw, 7)
        row[name] = draw(typical[name]) if usual else draw(junk)
    return row


def as_cell(value) -> str:
    return "" if value is None else value if isinstance(value, str) else f"{value:g}"


@st.composite
def csv_files(draw) -> tuple[str, bytes]:
    suffix = draw(st.sampled_from([".csv", ".tsv"]))
    sep = "," if suffix == ".csv" else "\t"
    header = draw(headers())
    rows = [
        [as_cell(row[name]) for name in header]
        for row in draw(st.lists(records(header, CELLS), max_size=6))
    ]
    for row in rows:  # now and then a row with a field too many or too few
        if not often(draw, 9):
            if draw(st.booleans()):
                row.append(draw(CELLS))
            elif row:
                row.pop()
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    if often(draw, 3):  # properly quoted
        buffer = StringIO()
        csv.writer(buffer, delimiter=sep, lineterminator=newline).writerows([header, *rows])
        text = buffer.getvalue()
    else:  # raw: stray quotes, separators and line breaks inside cells
        text = newline.join(sep.join(row) for row in [header, *rows]) + draw(
            st.sampled_from(["", newline])
        )
    encoding = draw(st.sampled_from(["utf-8"] * 5 + ["utf-8-sig", "utf-16", "latin-1"]))
    return suffix, text.encode(encoding, errors="replace")


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**400), 10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["1e9", " m ", "", "42", 10**400, -(10**400), 2**63, 1e308, -0.0]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=4,
)
JSON_KEYS = st.one_of(st.sampled_from(COLUMNS), st.sampled_from([" model", "item "]), st.text())


@st.composite
def jsonl_files(draw) -> tuple[str, bytes]:
    names = draw(headers())
    plausible = st.builds(  # keys missing from one line now and then
        lambda row, drop: {k: v for k, v in row.items() if k not in drop},
        records(names, JSON_VALUES),
        st.sets(st.sampled_from(names), max_size=1) if names else st.just(set()),
    )
    line = st.one_of(
        plausible.map(json.dumps),
        plausible.map(json.dumps),
        plausible.map(json.dumps),
        st.dictionaries(JSON_KEYS, JSON_VALUES, max_size=6).map(json.dumps),
        JSON_VALUES.map(json.dumps),  # NaN and Infinity written as Python's json reads them
        st.sampled_from(["", "  ", "{", "]]", '{"model": "m"} x']),
        st.text(max_size=20),
    )
    lines = draw(st.lists(line, min_size=1, max_size=6))
    suffix = draw(st.sampled_from([".jsonl", ".ndjson"]))
    end = draw(st.sampled_from(["", "\n"]))
    return suffix, ("\n".join(lines) + end).encode("utf-8", "replace")


def read_fuzzed(suffix: str, data: bytes) -> str:
    """The property: a valid table, or one single-line InputError; nothing else."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            frame = read_outputs(path)
            scored, _ = score_outputs(frame)
        except InputError as error:
            message = error.message
            assert message.strip() and len(message.splitlines()) == 1, repr(message)
            assert str(path) in message, message
            return "error"
    assert len(frame) > 0
    n_params = frame["n_params"].to_numpy()
    assert np.isfinite(n_params).all() and (n_params > 0).all()
    assert frame["model"].map(lambda m: isinstance(m, str) and m.strip() == m != "").all()
    assert frame.groupby("model")["n_params"].nunique().max() == 1
    assert ((scored["n_errors"] >= 0) & (scored["n_errors"] <= scored["n_tokens"])).all()
    assert (scored["n_tokens"] > 0).all()
    return "table"


@pytest.mark.parametrize("files", [csv_files, jsonl_files], ids=["csv", "jsonl"])
def test_fuzzed_files_read_or_fail_in_one_line(files):
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(files())
    def property_(file):
        outcomes[read_fuzzed(*file)] += 1

    property_()
    # A fuzzer whose files all failed the first checks would test nothing after them.
    # The reader refuses more malformed files than it did (row counts, Excel sep= lines), so
    # fewer fuzzed files get through to scoring; a few must.
    assert outcomes["table"] >= 3 and outcomes["error"] >= 5, outcomes


# ------------------------------------------------------------------------------------------
# Deterministic scoring
# ------------------------------------------------------------------------------------------


def scoring_table() -> pd.DataFrame:
    outputs, _ = simulate_outputs(n_params=(1e8, 1e9, 1e10), n_items=30, lengths=(1, 2, 4))
    words = pd.DataFrame(
        {
            "task": "words",
            "model": ["a", "a", "b", "b", "c", "c"],
            "n_params": [1e8, 1e8, 1e9, 1e9, 1e10, 1e10],
            "item": ["1", "2"] * 3,
            "target": ["the cat sat", "on a mat", "the cat sat", "on a mat", "the cat sat", "a"],
            "output": ["the dog sat", "", "cat the sat", "on a mat ", "the cat sat", " a\n"],
        }
    )
    table = pd.concat([outputs, words], ignore_index=True)
    table.attrs.update(prescored=False, item_ids=True)
    return table


PER_ROW = ["n_tokens", "n_errors", "token_edit_distance", "exact_match"]


@pytest.mark.parametrize("tokenizer", ["auto", "char", "whitespace", r"regex:\w"])
def test_scoring_the_same_table_twice_is_identical(tokenizer):
    table = scoring_table()
    first, used_first = score_outputs(table, tokenizer)
    second, used_second = score_outputs(table, tokenizer)
    pd.testing.assert_frame_equal(first, second)
    assert used_first == used_second
    assert "n_tokens" not in table, "the input table is not modified"


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("tokenizer", ["auto", r"regex:\d|\w+"])
def test_shuffling_rows_does_not_change_per_row_results(seed, tokenizer):
    table = scoring_table()
    scored, used = score_outputs(table, tokenizer)
    shuffled = table.sample(frac=1.0, random_state=seed)  # index labels travel with the rows
    rescored, reused = score_outputs(shuffled, tokenizer)
    assert not shuffled.index.equals(table.index)
    pd.testing.assert_frame_equal(rescored.loc[scored.index, PER_ROW], scored[PER_ROW])
    assert {**used} == {**reused}  # same tokenizer per task (order of appearance may differ)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["t1", "t2"]), st.text(min_size=1), st.text()),
        min_size=1,
        max_size=12,
    ).filter(lambda rows: all(t.strip() for _, t, _ in rows)),
    st.randoms(use_true_random=False),
)
def test_scoring_is_a_per_row_function_of_the_task(rows, random):
    table = pd.DataFrame(rows, columns=["task", "target", "output"])
    scored, _ = score_outputs(table)
    order = list(range(len(table)))
    random.shuffle(order)
    rescored, _ = score_outputs(table.iloc[order])
    pd.testing.assert_frame_equal(rescored.loc[scored.index, PER_ROW], scored[PER_ROW])


# ------------------------------------------------------------------------------------------
# All-or-nothing result folders (one real, tiny fit)
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_result():
    outputs, _ = simulate_outputs(n_params=(1e8, 1e9, 1e10), n_items=8, lengths=(1, 2), seed=0)
    return fit(
        outputs, trends=("power_law",), draws=50, tune=50, seed=1, progressbar=False, log=None
    )


def leftovers(parent: Path, name: str) -> list[str]:
    """Hidden staging or backup folders of destination ``name``."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def old_results(folder: Path) -> dict[str, bytes]:
    folder.mkdir()
    marker = {"tool": "mirage-bayes", "files": ["figures", "figures/old.png", "summary.csv"]}
    (folder / ".mirage-bayes.json").write_text(json.dumps(marker))  # --force replaces it
    (folder / "summary.csv").write_text("previous,results\n1,2\n")
    (folder / "figures").mkdir()
    (folder / "figures" / "old.png").write_bytes(b"\x89PNG old")
    return snapshot(folder)


class Boom:
    """A stand-in for a writer that fails once it is reached; remembers that it was."""

    def __init__(self, error: type[BaseException]) -> None:
        self.error = error
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        raise self.error("boom")


@pytest.mark.slow
def test_a_successful_save_leaves_only_the_destination(tiny_result, tmp_path):
    dest = tiny_result.save(tmp_path / "results", report=False)
    assert (dest / "summary.csv").is_file() and (dest / "posterior_power_law.nc").is_file()
    assert leftovers(tmp_path, "results") == []
    old = snapshot(dest)
    tiny_result.save(tmp_path / "results", force=True, report=False)
    assert snapshot(dest).keys() == old.keys()
    assert leftovers(tmp_path, "results") == []


@pytest.mark.slow
@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
@pytest.mark.parametrize("where", ["report", "netcdf"])
def test_failure_while_saving_leaves_nothing(tiny_result, tmp_path, monkeypatch, error, where):
    boom = Boom(error)
    if where == "report":
        monkeypatch.setattr(mirage_bayes.output.save, "render_report", boom)
    else:
        real = az.InferenceData.to_netcdf

        def second_fails(self, filename, *args, **kwargs):  # one file written, then a failure
            if boom.calls or Path(filename).exists():
                return boom()
            boom.calls += 1
            return real(self, filename, *args, **kwargs)

        monkeypatch.setattr(az.InferenceData, "to_netcdf", second_fails)
    dest = tmp_path / "nested" / "results"
    with pytest.raises(error):
        tiny_result.save(dest)
    assert boom.calls, "the failure point was reached"
    assert not dest.exists()
    assert leftovers(dest.parent, "results") == []


@pytest.mark.slow
@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_force_keeps_old_results_when_saving_fails(tiny_result, tmp_path, monkeypatch, error):
    dest = tmp_path / "results"
    before = old_results(dest)
    boom = Boom(error)
    monkeypatch.setattr(mirage_bayes.output.save, "render_report", boom)
    with pytest.raises(error):
        tiny_result.save(dest, force=True)
    assert boom.calls
    assert snapshot(dest) == before
    assert leftovers(tmp_path, "results") == []


@pytest.mark.slow
def test_force_keeps_old_results_when_interrupted_between_renames(
    tiny_result, tmp_path, monkeypatch
):
    # The narrowest window: the old folder already moved aside, the new one not yet in place.
    dest = tmp_path / "results"
    before = old_results(dest)
    real = Path.rename
    stopped = []

    def rename(self, target):
        if self.name.startswith(".results.") and self.name != ".results.old":
            stopped.append(self.name)
            raise KeyboardInterrupt
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        tiny_result.save(dest, force=True, report=False)
    assert stopped, "the staging rename was reached"
    assert snapshot(dest) == before
    assert leftovers(tmp_path, "results") == []


@pytest.mark.slow
@pytest.mark.parametrize("force", [False, True])
def test_cli_interrupted_while_saving(tiny_result, tmp_path, monkeypatch, capsys, force):
    data = tmp_path / "outputs.csv"
    data.write_text("model,n_params,target,output\nm,1e9,42,41\n")
    monkeypatch.setattr("mirage_bayes.cli.fit_command.fit", lambda *args, **kwargs: tiny_result)
    boom = Boom(KeyboardInterrupt)
    monkeypatch.setattr(mirage_bayes.output.save, "render_report", boom)
    out = tmp_path / "results"
    before = old_results(out) if force else None
    code = main(["fit", str(data), "--out", str(out), "--quiet", *(["--force"] if force else [])])
    captured = capsys.readouterr()
    assert code == 130 and boom.calls
    assert captured.err.strip() == "mirage-bayes: interrupted; nothing was written"
    assert "Traceback" not in captured.err
    assert (snapshot(out) == before) if force else not out.exists()
    assert leftovers(tmp_path, "results") == []
