"""Tell Inspect, HELM and Every Eval Ever logs among the paths given to ``mirage-bayes fit``.

:func:`find_logs` is asked first by :func:`mirage_bayes.inputs.sources.read_inputs`; when it finds
none of these logs the paths are lm-evaluation-harness logs or a table, read as before. A path is
one of these logs by its name or its content:

* Inspect (:mod:`mirage_bayes.inputs.inspect_logs`): a ``.eval`` file, or a ``.json`` that starts as
  inspect_ai writes a log (``{"version": N, "status": ...``);
* HELM (:mod:`mirage_bayes.inputs.helm`): a run folder (it holds ``run_spec.json``), or one of
  its files (``run_spec.json``, ``instances.json``, ``scenario_state.json`` ...), which stands
  for the folder;
* Every Eval Ever (:mod:`mirage_bayes.inputs.eee`): a ``*_samples.jsonl`` file, or a
  ``.jsonl`` whose first record has the instance-level schema's ``sample_id``, ``model_id`` and
  ``evaluation``;

and a folder holds such logs in it or its subfolders (a folder that also holds logs of another
kind, lm-evaluation-harness's included, is refused). One fit reads one kind of input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.inputs import eee, helm, inspect_logs
from mirage_bayes.inputs.lmeval import is_samples_file, sample_files

__all__ = ["FoundLogs", "find_logs"]


@dataclass(frozen=True)
class _Format:
    name: str
    in_folder: Callable[[Path], list[Path]]
    is_file: Callable[[Path], bool]
    read: Callable[..., pd.DataFrame]
    folder_of_file: bool = False  # a file stands for its folder (HELM)


_FORMATS = (
    _Format("Inspect", inspect_logs.log_files, inspect_logs.is_inspect_file,
            inspect_logs.read_inspect),
    _Format("HELM", helm.run_folders, helm.is_helm_file, helm.read_helm, folder_of_file=True),
    _Format("Every Eval Ever", eee.sample_files, eee.is_eee_file, eee.read_eee),
)  # fmt: skip


@dataclass(frozen=True)
class FoundLogs:
    """Logs of one format found among the given paths, and how to read them."""

    kind: str
    paths: list[Path]
    reader: Callable[..., pd.DataFrame]

    def read(
        self,
        *,
        sizes: Callable[[Sequence[str]], dict[str, float]],
        tasks: Sequence[str] | None,
        source: str,
        table_options: bool = False,
        lm_eval_filter: str | None = None,
    ) -> pd.DataFrame:
        """Read the logs into the per-item table, refusing options that do not apply to them.

        Parameters
        ----------
        sizes
            Maps model names to parameter counts.
        tasks
            Read only these tasks (default: all).
        source
            The paths as given, for messages and ``attrs["source"]``.
        table_options
            Whether ``--map`` or ``--param-column`` was given (they apply to tables only).
        lm_eval_filter
            ``--lm-eval-filter`` (it applies to lm-evaluation-harness logs only).
        """
        if table_options:
            raise InputError(
                f"--map and --param-column apply to tables; {self.kind} logs have fixed fields",
                fix="leave them out (model sizes come from --params or the built-in table)",
            )
        if lm_eval_filter is not None:
            raise InputError(
                f"--lm-eval-filter applies to lm-evaluation-harness logs, not to {self.kind} logs",
                fix="leave out --lm-eval-filter",
            )
        return self.reader(self.paths, sizes=sizes, tasks=tasks, source=source)


def _in_folder(folder: Path) -> tuple[_Format | None, list[Path]]:
    hits = [(fmt, found) for fmt in _FORMATS if (found := fmt.in_folder(folder))]
    if not hits:
        return None, []
    kinds = (["lm-evaluation-harness"] if sample_files(folder) else []) + [f.name for f, _ in hits]
    if len(kinds) > 1:
        raise InputError(
            f"holds logs of several kinds ({', '.join(kinds)})",
            where=str(folder),
            fix="give the logs of one kind (one fit reads one kind of log)",
        )
    return hits[0]


def _claim(path: Path) -> tuple[_Format | None, list[Path]]:
    """The format of one given path and what its reader takes, or ``(None, [])``."""
    if path.is_dir():
        return _in_folder(path)
    if is_samples_file(path) or (path.name.startswith("results_") and path.suffix == ".json"):
        return None, []  # lm-evaluation-harness
    for fmt in _FORMATS:
        if fmt.is_file(path):
            return fmt, [path.parent if fmt.folder_of_file else path]
    return None, []


def find_logs(
    paths: Sequence[str | Path], *, check: Callable[[Path, str], None] | None = None
) -> FoundLogs | None:
    """The Inspect, HELM or Every Eval Ever logs given, or ``None`` when no path is one.

    Parameters
    ----------
    paths
        Files or folders as given to ``fit``.
    check
        Called with each path and its shown name first (to refuse a path that cannot even be
        looked up, such as a name too long for the operating system).

    Raises
    ------
    InputError
        When these logs are given together with another kind of input, or two of these kinds
        are mixed.
    """
    claims: list[tuple[str, _Format | None, list[Path]]] = []
    for given in paths:
        if check is not None:
            check(Path(given), str(given))
        claims.append((str(given), *_claim(Path(given))))
    formats = list(dict.fromkeys(fmt for _, fmt, _ in claims if fmt is not None))
    if not formats:
        return None
    if len(formats) > 1:
        raise InputError(
            f"{formats[0].name} logs and {formats[1].name} logs given together",
            fix="fit one kind of log at a time",
        )
    others = [shown for shown, fmt, _ in claims if fmt is None]
    if others:
        raise InputError(
            f"{formats[0].name} logs and another kind of input ({others[0]}) given together",
            fix=f"fit the {formats[0].name} logs alone",
        )
    found = list(dict.fromkeys(p for _, _, hits in claims for p in hits))
    return FoundLogs(formats[0].name, found, formats[0].read)
