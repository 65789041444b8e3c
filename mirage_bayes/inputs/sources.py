"""From the paths and options given to ``mirage-bayes fit`` to one per-item outputs table.

These kinds of input are told apart by their files:

* Inspect, HELM and Every Eval Ever logs, found and read by :mod:`mirage_bayes.inputs.log_formats`;
* lm-evaluation-harness logs: ``samples_<task>_<timestamp>.jsonl`` files, the
  ``results_<timestamp>.json`` of a run, or folders holding them (searched recursively), one run
  per model; read by :func:`mirage_bayes.inputs.lmeval.read_lmeval`;
* one plain table (CSV, TSV, JSON Lines, Parquet), read by
:func:`mirage_bayes.inputs.io.read_outputs`,
  optionally with its columns renamed (``--map target=answer,output=prediction``).

Model sizes come from the table's ``n_params`` column, ``--param-column NAME``, a
``model,n_params`` file (``--params``) or the built-in table of
:mod:`mirage_bayes.inputs.model_sizes`, in that order of precedence.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.columns import parse_column_mapping
from mirage_bayes.inputs.io import read_outputs
from mirage_bayes.inputs.lmeval import is_samples_file, read_lmeval, sample_files
from mirage_bayes.inputs.log_formats import find_logs
from mirage_bayes.inputs.model_sizes import COUNTS, size_resolver
from mirage_bayes.inputs.tables import os_error

__all__ = ["MAPPABLE", "parse_mapping", "read_inputs"]

# Columns a --map can fill: those read_outputs reads.
MAPPABLE = ("task", "model", "n_params", "item", "family", "target", "output", "n_tokens",
            "n_errors", "answer", "choices_logprobs", "choices_probs")  # fmt: skip


def parse_mapping(text: str) -> dict[str, str]:
    """Parse ``"target=answer,output=prediction"`` into ``{"target": "answer", ...}``.

    Keys are the columns mirage-bayes reads (:data:`MAPPABLE`), values the file's column names.
    """
    return parse_column_mapping(text, MAPPABLE, reader="mirage-bayes", example="target=answer")


def _classify(paths: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """Split the given paths into lm-evaluation-harness samples files and plain tables."""
    logs: list[Path] = []
    tables: list[str] = []
    for given in paths:
        path = Path(given)
        check_path(path, str(given))
        if path.is_dir():
            found = sample_files(path)
            if not found and _parquet_folder(path):
                raise InputError(
                    "is a Parquet dataset (a folder of parts), which is not read",
                    where=str(given),
                    fix="write it as one file, e.g. pandas.read_parquet(folder)"
                    ".to_parquet('outputs.parquet'), and give that",
                )
            if not found:
                raise InputError(
                    "is a directory without lm-evaluation-harness samples_<task>_<timestamp>.jsonl "
                    "files",
                    where=str(given),
                    fix="give the --output_path of lm_eval ... --log_samples, or a table file",
                )
            logs.extend(found)
        elif path.name.startswith("results_") and path.suffix == ".json" and path.is_file():
            # A run's results file stands for the samples written with it.
            stamp = path.stem.removeprefix("results_")
            found = [p for p in sample_files(path.parent) if p.stem.endswith(f"_{stamp}")]
            if not found:
                raise InputError(
                    f"no samples_<task>_{stamp}.jsonl beside this results file",
                    where=str(given),
                    fix="run lm_eval with --log_samples, or give the samples files",
                )
            logs.extend(found)
        elif is_samples_file(path):
            if not path.is_file():
                raise InputError("file not found", where=str(given),
                                 fix="check the path and working directory")  # fmt: skip
            logs.append(path)
        else:
            tables.append(str(given))
    return list(dict.fromkeys(logs)), tables


def _parquet_folder(path: Path) -> bool:
    """Whether a folder looks like a (partitioned) Parquet dataset, as pandas or Spark write it."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    return any(path.glob("*.parquet")) or any(path.glob("*=*/**/*.parquet"))


def check_path(path: Path, shown: str) -> None:
    """Refuse a path whose kind cannot even be looked up (too long, no permission)."""
    try:
        path.stat()
    except FileNotFoundError:
        return  # said by the reader, with a symbolic link that leads nowhere told apart
    except OSError as error:
        if error.errno == errno.ENAMETOOLONG:
            raise InputError(
                "the file name is too long for the operating system",
                where=shown,
                fix="give a shorter path",
            ) from None
        if error.errno != errno.ELOOP:  # a loop of links is said by the reader
            raise os_error(error, shown) from None


def _split_names(text: str | Sequence[str] | None) -> list[str] | None:
    if text is None:
        return None
    names = text.split(",") if isinstance(text, str) else list(text)
    names = [n.strip() for n in names if n.strip()]
    if not names:
        raise InputError("no task names given", where="--tasks", fix="e.g. --tasks gsm8k,arc_easy")
    return names


def read_inputs(
    paths: str | Path | Sequence[str | Path],
    *,
    params: str | Path | None = None,
    param_column: str | None = None,
    mapping: str | dict[str, str] | None = None,
    size_count: str | None = None,
    tasks: str | Sequence[str] | None = None,
    lm_eval_filter: str | None = None,
) -> pd.DataFrame:
    """Read the input of a fit: Inspect, HELM, Every Eval Ever or lm-eval logs, or one table.

    Parameters
    ----------
    paths
        Files or folders (see the module docstring).
    params
        A ``model,n_params`` table giving the model sizes (names match exactly, or by
        :func:`mirage_bayes.inputs.model_sizes.canonical_name`).
    param_column
        The table's column holding the parameter count (plain tables only).
    mapping
        ``"target=answer,output=prediction"`` or a dict: the table's column that fills each
        column mirage-bayes reads (plain tables only). A mapped column replaces a column that
        already has that name.
    size_count
        ``total`` (default) or ``non_embedding``: which count of the built-in size table.
    tasks
        Only these tasks (comma-separated names or a list).
    lm_eval_filter
        For lm-evaluation-harness logs that record several filters (``strict-match``,
        ``flexible-extract``), the one whose responses are read.

    Returns
    -------
    pandas.DataFrame
        As :func:`mirage_bayes.inputs.io.read_outputs` returns it (``attrs["kind"] == "generation"``
        for generation logs), or the multiple-choice table of
        :func:`mirage_bayes.inputs.lmeval.read_lmeval`.
    """
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    if not paths:
        raise InputError("no input given", fix="give an outputs table or lm-eval log folders")
    if size_count is not None and size_count not in COUNTS:
        raise InputError(f"unknown size count {size_count!r}", where="--size-count",
                         fix=f"choose one of {', '.join(COUNTS)}")  # fmt: skip
    if params is not None and param_column is not None:
        raise InputError("--params and --param-column both give the model sizes",
                         fix="use one of them")  # fmt: skip
    if params is not None and size_count is not None:
        raise InputError("--size-count picks a count of the built-in size table, but --params "
                         "gives the sizes", fix="leave out --size-count")  # fmt: skip
    columns = parse_mapping(mapping) if isinstance(mapping, str) else dict(mapping or {})
    if param_column is not None:
        if "n_params" in columns:
            raise InputError("--param-column and --map n_params=... both name the size column",
                             fix="use one of them")  # fmt: skip
        columns["n_params"] = param_column
    wanted = _split_names(tasks)
    resolver = size_resolver(params, count=size_count or "total")
    source = ", ".join(str(p) for p in paths)
    found = find_logs(paths, check=check_path)  # Inspect, HELM or Every Eval Ever logs
    if found is not None:
        return found.read(sizes=resolver, tasks=wanted, source=source,
                          table_options=bool(columns), lm_eval_filter=lm_eval_filter)  # fmt: skip
    logs, tables = _classify(paths)
    if logs and tables:
        raise InputError(
            f"lm-evaluation-harness logs and a table ({tables[0]}) given together",
            fix="fit the logs or the table, not both at once",
        )
    if logs:
        if columns:
            raise InputError(
                "--map and --param-column apply to tables; lm-evaluation-harness logs have "
                "fixed fields",
                fix="leave them out (model sizes come from --params or the built-in table)",
            )
        return read_lmeval(logs, sizes=resolver, tasks=wanted, lm_eval_filter=lm_eval_filter,
                           source=source)  # fmt: skip
    if lm_eval_filter is not None:
        raise InputError(
            "--lm-eval-filter applies to lm-evaluation-harness logs, not to a table",
            where=tables[0],
            fix="leave out --lm-eval-filter",
        )
    if len(tables) > 1:
        raise InputError(
            f"{len(tables)} tables given ({', '.join(tables)})",
            fix="give one outputs table (several files are for lm-evaluation-harness logs)",
        )
    return _read_table(tables[0], columns, resolver, params, size_count, wanted)


def _read_table(
    path: str,
    columns: dict[str, str],
    resolver: Callable[[Sequence[str]], dict[str, float]],
    params: str | Path | None,
    size_count: str | None,
    tasks: list[str] | None,
) -> pd.DataFrame:
    used = []

    def sizes(models: Sequence[str]) -> dict[str, float]:
        used.append(True)
        return resolver(models)

    outputs = read_outputs(path, columns=columns or None, sizes=sizes)
    if not used and (params is not None or size_count is not None):
        flag = "--params" if params is not None else "--size-count"
        raise InputError(
            f"the table has its own n_params column, so {flag} would not be used",
            where=path,
            fix=f"leave out {flag}, or drop the table's n_params column",
        )
    if tasks is not None:
        present = list(dict.fromkeys(outputs["task"]))
        unknown = [t for t in tasks if t not in present]
        if unknown:
            raise InputError(
                f"no task(s) {', '.join(unknown)}; the table has {', '.join(present)}",
                where=path,
                fix="give task names from the table's task column",
            )
        attrs = dict(outputs.attrs)
        outputs = outputs[outputs["task"].isin(tasks)].reset_index(drop=True)
        outputs.attrs = attrs
    if "kind" not in outputs.attrs:
        outputs.attrs["kind"] = "multiple_choice" if "answer" in outputs else "generation"
    return outputs
