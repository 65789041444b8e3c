"""What several test modules share: paths, the command line run in-process, the one-line error
check, and small simulated tasks. Importable from every test folder (``pythonpath`` in
``pyproject.toml``); fixtures live in ``conftest.py``."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from scipy.stats import binom, norm

from mirage_bayes.cli import main
from mirage_bayes.errors import InputError
from mirage_bayes.fitting.data import TaskData, split_tasks
from mirage_bayes.inputs.scoring import score_outputs
from mirage_bayes.inputs.sources import read_inputs
from mirage_bayes.models.chance_link import scored_error
from mirage_bayes.simulate.generation import GPT3_SIZES, simulate_outputs

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "arithmetic_outputs.csv"
DATA = REPO / "tests" / "data"

# "mirage-bayes: error: ..." or, for a subcommand's usage error, "mirage-bayes fit: error: ..."
ERROR_LINE = re.compile(r"^mirage-bayes( [a-z]+)?: error: ")


def run_main(argv: Sequence) -> int:
    """``main``'s return code, or the exit code when argparse exits."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1


def one_error_line(capsys) -> str:
    """The single error line the command just run wrote to standard error (no traceback)."""
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and ERROR_LINE.match(lines[0]), err
    assert "Traceback" not in err
    return lines[0]


def expect_input_error(*facts: str, **kwargs) -> str:
    """``read_inputs(**kwargs)`` refuses with one line that names every fact and says how to
    fix it (after a dash)."""
    with pytest.raises(InputError) as info:
        read_inputs(**kwargs)
    message = info.value.message
    assert "\n" not in message and "—" in message, message
    for fact in facts:
        assert fact in message, (fact, message)
    return message


@functools.cache
def simulated_task(n_items: int, seed: int, n_sizes: int = 5) -> TaskData:
    """``n_items`` items shared by the ``n_sizes`` smallest GPT-3 sizes, scored from simulated
    generations (cached: treat it as read-only)."""
    outputs, _ = simulate_outputs(n_items=n_items, n_params=GPT3_SIZES[:n_sizes], seed=seed)
    scored, _ = score_outputs(outputs)
    (data,) = split_tasks(scored)
    return data


def task_data(
    n_params, trials, errors, *, items=None, item_ids_shared=True, chance=None
) -> TaskData:
    """A TaskData built directly from matrices (rows are not needed by the model code)."""
    trials = np.asarray(trials, dtype=np.int64)
    return TaskData(
        task="t",
        models=[f"m{s}" for s in range(trials.shape[1])],
        n_params=np.asarray(n_params, dtype=float),
        items=items or [f"q{i}" for i in range(trials.shape[0])],
        trials=trials,
        errors=np.asarray(errors, dtype=np.int64),
        item_ids_shared=item_ids_shared,
        rows=pd.DataFrame(),
        chance=chance,
    )


def fine_item_log_likelihood(
    data: TaskData, mu: np.ndarray, sigma: np.ndarray, n_nodes: int = 4001, limit: float = 8.0
) -> np.ndarray:
    """Reference: per item (not per pattern), trapezoid rule on a very fine, wider grid."""
    z = np.linspace(-limit, limit, n_nodes)
    w = norm.pdf(z) * (z[1] - z[0])
    w[[0, -1]] *= 0.5
    out = np.empty((mu.shape[0], len(data.items)))
    for d in range(mu.shape[0]):
        eps = -np.expm1(-np.exp(mu[d][:, None] + sigma[d] * z[None, :]))  # (scale, node)
        scored = scored_error(eps[None], data.chance[:, :, None])  # chance matches score as right
        per_node = binom.logpmf(data.errors[:, :, None], data.trials[:, :, None], scored)
        out[d] = logsumexp(per_node.sum(1), axis=1, b=w[None, :])
    return out


# Sampler settings of the tests that compare two fits byte for byte (not their intervals).
QUICK_FIT = ["--draws", "100", "--tune", "100", "--chains", "2", "--seed", "3", "--quiet",
             "--trends", "power_law"]  # fmt: skip


def fits_alike(tmp_path: Path, logs: Path, table: Path) -> bytes:
    """Fit the logs and the equivalent table (quick settings); their ``summary.csv`` must be the
    same bytes."""
    log_out, table_out = tmp_path / "from_logs", tmp_path / "from_table"
    assert main(["fit", str(logs), "--out", str(log_out), *QUICK_FIT]) == 0
    assert main(["fit", str(table), "--out", str(table_out), *QUICK_FIT]) == 0
    summary = (log_out / "summary.csv").read_bytes()
    assert summary == (table_out / "summary.csv").read_bytes()
    return summary
