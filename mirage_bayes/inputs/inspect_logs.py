"""Read Inspect (``inspect_ai``) evaluation logs as a per-item table.

``inspect eval TASK --model PROVIDER/MODEL`` writes one log per task and model, in the binary
``.eval`` format (a zip archive, the default) or as ``.json`` (``--log-format json``; see
"Log Files" and ``inspect log`` in the Inspect documentation). Both are read with inspect_ai's
own reader, ``inspect_ai.log.read_eval_log``, which gives an ``EvalLog``:

* ``eval.task`` (the task name) becomes ``task``; ``eval.model`` (e.g.
  ``hf/EleutherAI/pythia-160m``, provider included) becomes ``model``, its size looked up by
  ``--params`` or the built-in table (which ignores the ``provider/organisation/`` part);
* each ``EvalSample``: ``id`` becomes ``item``, ``target`` (a string, or a list holding one) and
  ``output.completion`` (the model's final answer) become ``target`` and ``output``, scored as an
  ``outputs.csv`` is.

Refused, each with one line: a log whose ``status`` is not ``success`` (cancelled, failed or
still running), a sample that ended with an error, a sample with no target or several, and
one sample twice in one epoch. Several samples with the same id are the epochs of an eval run
with ``--epochs N``: each is an attempt of the sample (an ``attempt`` column numbered by epoch).

inspect_ai is an optional dependency (``pip install "mirage-bayes[inspect]"``); it is imported
only when an Inspect log is read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.log_table import Run, log_frame
from mirage_bayes.inputs.tables import check_readable_file, one_line, show

__all__ = ["is_inspect_file", "log_files", "read_inspect"]

INSTALL = 'pip install "mirage-bayes[inspect]"'
_FIX = "give the .eval or .json log that inspect eval wrote, unchanged"
# inspect_ai writes a JSON log as EvalLog.model_dump_json(indent=2): "version" then "status".
_JSON_LOG = re.compile(rb'^\s*\{\s*"version"\s*:\s*\d+\s*,\s*"status"\s*:')
_SNIFF_BYTES = 256


def is_inspect_file(path: Path) -> bool:
    """Whether a file is an Inspect log: a ``.eval`` file, or a ``.json`` that starts like one."""
    suffix = path.suffix.lower()
    if suffix == ".eval":
        return True
    if suffix != ".json":
        return False
    if not path.exists():
        return True  # said by the reader ("file not found"); a table is never .json
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return False
    return _JSON_LOG.match(head) is not None


def log_files(folder: Path) -> list[Path]:
    """The Inspect logs in a folder and its subfolders, sorted."""
    candidates = [*folder.rglob("*.eval"), *folder.rglob("*.json")]
    return sorted(p for p in candidates if p.is_file() and is_inspect_file(p))


def _reader() -> Callable[..., Any]:
    try:
        # Imported here, not at the top: inspect_ai is an optional extra, needed only for these
        # logs, and importing it takes about a second.
        from inspect_ai.log import read_eval_log
    except ImportError:
        raise InputError(
            "reading Inspect logs needs the inspect_ai package, which is not installed",
            fix=f"install it with {INSTALL}",
        ) from None
    return read_eval_log


def _read_log(path: Path, read_eval_log: Callable[..., Any]) -> Any:
    try:
        return read_eval_log(str(path))
    except Exception as err:  # inspect_ai's reader raises many kinds (zip, JSON, validation)
        lines = str(err).strip().splitlines() or [type(err).__name__]
        what = f"is not a readable Inspect log ({one_line(lines[0])[:160]})"
        raise InputError(what, where=str(path), fix=_FIX) from None


def _target(sample: Any, where: str) -> str:
    target = sample.target
    if isinstance(target, list):
        if len(target) > 1:
            raise InputError(
                f"the target holds {len(target)} answers; token scoring compares against one",
                where=where,
                fix="evaluate a task with a single target per sample",
            )
        target = target[0] if target else ""
    if not isinstance(target, str) or not target.strip():
        raise InputError(
            "the sample has no target",
            where=where,
            fix="evaluate a task whose samples have a target (Sample(target=...))",
        )
    return target


def _epochs(samples: list[Any], where: str) -> bool:
    """Whether the eval ran several epochs (then each is an attempt of its sample); refuses one
    epoch of one sample twice."""
    seen: set[tuple[str, int]] = set()
    for sample in samples:
        key = (str(sample.id), int(getattr(sample, "epoch", 1) or 1))
        if key in seen:
            raise InputError(
                f"sample {key[0]} appears twice in epoch {key[1]}",
                where=where,
                fix="give a log written by inspect eval, with one sample per id and epoch",
            )
        seen.add(key)
    return len({epoch for _, epoch in seen}) > 1


def _run(path: Path, log: Any) -> Run:
    where = str(path)
    if log.status != "success":
        raise InputError(
            f"the eval did not finish (status {log.status!r})",
            where=where,
            fix="finish it (inspect eval-retry LOG) and give the log it writes",
        )
    task, model = str(log.eval.task).strip(), str(log.eval.model).strip()
    if not task or not model:
        raise InputError("does not name its task and model", where=where, fix=_FIX)
    samples = list(log.samples or [])
    if not samples:
        raise InputError(
            "holds no samples",
            where=where,
            fix="give a log written with its samples (not a header-only log)",
        )
    epochs = _epochs(samples, where)
    run = Run(where, task, model)
    for sample in samples:
        at = f"{where}, sample {sample.id}"
        if isinstance(sample.id, bool) or not str(sample.id).strip():
            raise InputError("a sample has no id", where=where, fix=_FIX)
        if sample.error is not None:
            message = getattr(sample.error, "message", sample.error)
            raise InputError(
                f"the sample ended with an error ({show(one_line(str(message)))})",
                where=at,
                fix="retry the eval (inspect eval-retry LOG) so every sample has an answer",
            )
        output = sample.output.completion if sample.output is not None else ""
        row = {"item": str(sample.id).strip(), "target": _target(sample, at)}
        if epochs:  # each epoch is one attempt of the sample (mirage_bayes.fitting.attempts)
            row["attempt"] = int(sample.epoch)
        run.rows.append({**row, "output": output or ""})
    return run


# Same signature as the other log readers (see inputs/log_formats.py): called alike.
def read_inspect(
    files: Sequence[Path],
    *,
    sizes: Callable[[Sequence[str]], dict[str, float]],
    tasks: Sequence[str] | None = None,
    source: str = "",
) -> pd.DataFrame:
    """Read Inspect logs (one per task and model) into one per-item table.

    Parameters
    ----------
    files
        ``.eval`` or ``.json`` logs written by ``inspect eval``.
    sizes
        Maps model names to parameter counts
        (:func:`mirage_bayes.inputs.model_sizes.size_resolver`).
    tasks
        Read only these tasks (default: all).
    source
        The paths as given, for messages and ``attrs["source"]``.

    Returns
    -------
    pandas.DataFrame
        What :func:`mirage_bayes.inputs.io.read_outputs` returns for the equivalent raw outputs
        table (see :func:`mirage_bayes.inputs.log_table.log_frame`).

    Raises
    ------
    InputError
        When inspect_ai is not installed, or for a log that cannot be used, naming the file.
    """
    for path in files:
        check_readable_file(path, str(path))
    read_eval_log = _reader()
    runs = [_run(path, _read_log(path, read_eval_log)) for path in files]
    return log_frame(runs, sizes=sizes, tasks=tasks, source=source, prescored=False)
