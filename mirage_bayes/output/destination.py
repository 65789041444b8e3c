"""The rules that keep a user's data safe in every result folder mirage-bayes writes (fit,
forecast, meta), and the staged, all-or-nothing folder every command saves through.

Standard library only, so that the command line can claim its destination before it imports
the statistics.

* Everything is written into a hidden staging folder ``.<name>.staging-<pid>-<hex>`` beside the
  destination and renamed into place at the end, so an error, Ctrl-C or a kill leaves either the
  complete results or none.
* Every result folder holds a marker file, :data:`MARKER`, naming the command, version and time
  and listing every file the run wrote. ``--force`` replaces only a folder that carries it and
  holds nothing else (a file a user added since is never deleted); a destination that is the
  current folder (or contains it), or contains an input, is refused even then. An empty folder
  may be used.
* A run claims its destination when it starts (an exclusive lock on ``.<name>.lock`` beside it),
  so a second run into the same destination fails at once instead of replacing the first one's
  results. The claim ends with the run; the kernel drops the lock of a killed run.
* The next run into a destination removes the staging folders of killed runs (recognised by the
  marker inside and a process id that no longer runs).
* Folders are made with ``os.mkdir``, so they follow the user's umask.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mirage_bayes.errors import EXIT_OS_ERROR, InputError
from mirage_bayes.output.marker import (
    MARKER,
    foreign_entries,
    list_written,
    new_marker,
    read_marker,
)

try:
    import fcntl
except ImportError:  # Windows: the claim falls back to an exclusively created lock file
    fcntl = None

_NOT_OURS = "choose another --out (--force replaces only a folder mirage-bayes wrote)"


def _contains(folder: Path, path: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it."""
    return path == folder or folder in path.parents


def _forms(path: str | Path) -> set[Path]:
    """A path as written (made absolute) and with its links resolved."""
    try:
        return {Path(os.path.abspath(path)), Path(path).resolve()}
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        return {Path(os.path.abspath(path))}


def check_destination(
    directory: str | Path, *, force: bool, inputs: Iterable[str | Path] = ()
) -> Path:
    """Refuse an unusable destination; call before any long work (it writes nothing).

    Refused: a path that is not a folder; the current folder or a folder that contains it; a
    folder that is or contains one of ``inputs``; a non-empty folder without ``force``; and,
    even with ``force``, a non-empty folder without the :data:`MARKER` of mirage-bayes.
    """
    directory = Path(directory)
    where = str(directory)
    if directory.exists() and not directory.is_dir():
        raise InputError(
            "the output path exists and is not a folder", where=where, fix="choose another --out"
        )
    targets = _forms(directory)
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the current folder was deleted: nothing of it to protect
        cwd = None
    if cwd is not None and any(_contains(target, cwd) for target in targets):
        raise InputError(
            "the output folder is the current folder or contains it, which would be replaced",
            where=where,
            fix="choose another --out",
        )
    for item in inputs:
        if item is None or not os.path.lexists(item):
            continue
        if any(_contains(target, path) for target in targets for path in _forms(item)):
            raise InputError(
                f"the output folder contains the input {item}, which would be replaced",
                where=where,
                fix="choose another --out",
            )
    if directory.is_dir() and any(directory.iterdir()):
        marker = read_marker(directory)
        ours = marker is not None
        if not force:
            raise InputError(
                "the output folder is not empty",
                where=where,
                fix="choose another --out, or replace it with --force (force=True in Python)"
                if ours
                else _NOT_OURS,
            )
        if not ours:
            raise InputError(
                f"not a mirage-bayes result folder (no valid {MARKER}), so --force will not "
                "replace it",
                where=where,
                fix="choose another --out",
            )
        foreign = foreign_entries(directory, marker)
        if foreign is None:
            raise InputError(
                f"the folder's {MARKER} does not list the files its run wrote (an older "
                "mirage-bayes), so --force cannot tell them from files added since",
                where=where,
                fix="delete the folder yourself or choose another --out",
            )
        if foreign:
            more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            raise InputError(
                f"the result folder holds files mirage-bayes did not write "
                f"({', '.join(foreign[:3])}{more}), so --force will not replace it",
                where=where,
                fix="move them out of the folder, or choose another --out",
            )
    return directory


# ------------------------------------------------------------------------------------------
# Claiming a destination for the length of a run
# ------------------------------------------------------------------------------------------


@dataclass
class _Claim:
    lock: Path
    fd: int
    created: list[Path]  # parent folders the claim made, top first
    inputs: list[str | Path] = field(default_factory=list)


_CLAIMS: dict[Path, _Claim] = {}


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine; ``True`` when that cannot be known."""
    if os.name != "posix":  # os.kill would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def _make_parents(folder: Path) -> list[Path]:
    """``mkdir -p folder``; returns the folders made, top first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    created = []
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        created.append(path)
    return created


def _lock(lock: Path, where: Path) -> int:
    """An open, exclusively locked ``lock`` file holding this process's id."""
    busy = InputError(
        "another mirage-bayes run is writing this folder",
        where=str(where),
        fix="wait for it to finish or choose another --out",
    )
    while True:
        if fcntl is None:
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                busy.fix += f" (if none is running, delete {lock})"
                raise busy from None
            break
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                owner = json.loads(os.read(fd, 1000) or b"{}").get("pid")
            except (OSError, ValueError, AttributeError):
                owner = None
            os.close(fd)
            if owner:
                busy.what = f"another mirage-bayes run (process {owner}) is writing this folder"
            raise busy from None
        try:  # the file locked must still be the one at that path (its holder may unlink it)
            same = os.path.samestat(os.stat(lock), os.fstat(fd))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
    return fd


def claim_destination(
    directory: str | Path,
    *,
    force: bool,
    inputs: Iterable[str | Path] = (),
    command: str = "fit",
) -> Path:
    """Check ``directory`` (:func:`check_destination`) and claim it for this run.

    A second claim of the same destination, by another run, fails at once with an
    :class:`~mirage_bayes.errors.InputError`; a claim this process already holds is checked again
    and kept. Staging folders of killed runs are removed. Hold the claim until the results are
    saved; :func:`release_destination` (or :func:`release_all`) ends it.
    """
    inputs = [item for item in inputs if item is not None]
    check_destination(directory, force=force, inputs=inputs)  # refuse before touching anything
    target = Path(directory).resolve()
    claim = _CLAIMS.get(target)
    fresh = claim is None
    if fresh:
        claim = _Claim(target.with_name(f".{target.name}.lock"), -1, [])
        try:
            claim.created = _make_parents(target.parent)
            claim.fd = _lock(claim.lock, Path(directory))  # (the path as given names it)
        except BaseException as error:
            for folder in reversed(claim.created):
                _rmdir_quietly(folder)
            if isinstance(error, OSError):
                raise InputError(
                    f"cannot write there ({error.strerror or error})",
                    where=str(directory),
                    fix="choose another --out",
                    code=EXIT_OS_ERROR,  # the operating system refused, not the input
                ) from None
            raise
        _CLAIMS[target] = claim
    claim.inputs.extend(inputs)
    try:
        if fresh:
            _clean_stale(target)
        check_destination(directory, force=force, inputs=claim.inputs)
    except BaseException:
        if fresh:
            release_destination(target)
        raise
    return Path(directory)


def _rmdir_quietly(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def release_destination(directory: str | Path, *, prune: bool = True) -> None:
    """End this process's claim of ``directory`` (nothing when it holds none).

    With ``prune``, parent folders the claim made are removed again when nothing was written.
    """
    target = Path(directory).resolve()
    claim = _CLAIMS.pop(target, None)
    if claim is None:
        return
    try:
        claim.lock.unlink(missing_ok=True)  # while still locked, so no one else holds that file
    finally:
        os.close(claim.fd)
    if prune and not target.exists():
        for folder in reversed(claim.created):
            _rmdir_quietly(folder)


def claimed() -> list[Path]:
    """The destinations this process holds a claim on."""
    return list(_CLAIMS)


def release_all() -> None:
    """End every claim this process holds (the CLI calls this when a command ends)."""
    for target in list(_CLAIMS):
        release_destination(target)


_LEFTOVER = r"\.{name}\.(staging|old)-(\d+)-[0-9a-f]+"


def _clean_stale(target: Path) -> None:
    """Remove what killed runs into ``target`` left beside it (the claim is held).

    A staging folder is removed when its marker names this destination, this machine and the
    process in its name, and that process is gone. Previous results moved aside by a run killed
    while replacing them are put back when the destination is missing, and removed when the
    destination holds that run's complete results.
    """
    pattern = re.compile(_LEFTOVER.format(name=re.escape(target.name)))
    host = socket.gethostname()
    try:
        entries = [e for e in target.parent.iterdir() if pattern.fullmatch(e.name)]
    except OSError:
        return
    for entry in entries:
        kind, pid = pattern.fullmatch(entry.name).groups()
        pid = int(pid)
        if entry.is_symlink() or not entry.is_dir() or pid == os.getpid() or _pid_alive(pid):
            continue
        marker = read_marker(entry)
        if marker is None:
            continue
        try:
            if kind == "staging":
                ours = (marker.get("pid"), marker.get("host"), marker.get("destination"))
                if ours == (pid, host, target.name):
                    shutil.rmtree(entry)
            elif not target.exists():
                os.rename(entry, target)
            else:  # the run that moved them aside finished writing its results
                current = read_marker(target) or {}
                if (current.get("pid"), current.get("host")) == (pid, host):
                    shutil.rmtree(entry)
        except OSError:  # best effort: what cannot be removed stays
            continue


@contextmanager
def _sigint_deferred() -> Iterator[list[int]]:
    """Hold Ctrl-C back (noted in the list yielded) so that a short step is not cut in half."""
    pending: list[int] = []
    try:
        previous = signal.getsignal(signal.SIGINT)
        if previous is None:
            raise ValueError("SIGINT handler not set from Python")
        signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    except ValueError:  # not the main thread: nothing to hold back
        yield pending
        return
    try:
        yield pending
    finally:
        signal.signal(signal.SIGINT, previous)


def _make_staging(target: Path, command: str) -> Path:
    """A new hidden folder beside ``target`` with the marker in it (mode as the umask says)."""
    while True:
        staging = target.with_name(f".{target.name}.staging-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            os.mkdir(staging)
        except FileExistsError:
            continue
        try:
            text = json.dumps(new_marker(command, target.name), indent=2)
            (staging / MARKER).write_text(text + "\n", encoding="utf-8")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return staging


def _swap(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``, moving previous results aside and deleting them after.

    Ctrl-C is held back meanwhile; one that came is honoured by undoing the swap.
    """
    with _sigint_deferred() as pending:
        old, was_folder = None, target.is_dir()
        if target.is_dir() and (os.name != "posix" or any(target.iterdir())):
            old = target.with_name(f".{target.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
            os.rename(target, old)  # (os.rename: tests intercept only the staging rename)
        try:
            staging.rename(target)  # over an empty folder too: POSIX allows it
        except BaseException:
            # Stopped between the two renames, the old results sat hidden and the destination
            # was gone (found by tests/inputs/test_robustness.py): put them back.
            if old is not None and not target.exists():
                os.rename(old, target)
            raise
        if pending:
            os.rename(target, staging)
            if old is not None:
                os.rename(old, target)
            elif was_folder:
                os.mkdir(target)  # the empty folder that was there
            raise KeyboardInterrupt
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


@contextmanager
def staged_folder(
    directory: str | Path,
    *,
    force: bool,
    command: str = "fit",
    inputs: Iterable[str | Path] = (),
) -> Iterator[Path]:
    """A hidden staging folder that becomes ``directory`` when the ``with`` block succeeds.

    The destination is claimed (:func:`claim_destination`) unless this process holds it already,
    and checked again before it is replaced. An error, Ctrl-C or a kill inside the block leaves
    the destination as it was: either absent or (with ``force``) the previous results, which
    are replaced only once the new ones are complete.
    """
    held = Path(directory).resolve() in _CLAIMS
    claim_destination(directory, force=force, inputs=inputs, command=command)
    target = Path(directory).resolve()
    try:
        staging = _make_staging(target, command)
        try:
            yield staging
            list_written(staging)
            check_destination(directory, force=force, inputs=_CLAIMS[target].inputs)
            _swap(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        if not held:
            release_destination(target, prune=False)
