"""What every command shares while it runs: progress lines, Ctrl-C, quiet libraries."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "children_die_with_us", "on_ctrl_c", "progress_log", "quiet_libraries",
    "raise_if_interrupted", "reset", "save_and_report",
]  # fmt: skip

_interrupted = False
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_hooked: list[bool] = []


def reset() -> None:
    """Forget an earlier Ctrl-C (a new command starts)."""
    global _interrupted
    _interrupted = False


def on_ctrl_c(signum, frame) -> None:
    """SIGINT handler of the command line."""
    # PyMC's sampler catches the KeyboardInterrupt and returns a shortened trace, and the fit
    # would go on to save it: remember the Ctrl-C, so that the next progress message or the
    # save stops the run (raise_if_interrupted).
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` when Ctrl-C was pressed during this command, even if it was
    caught on the way (call it before saving)."""
    if _interrupted:
        raise KeyboardInterrupt


def _die_with_parent() -> None:
    """In a forked child: ask Linux to send it SIGKILL when the process that forked it dies."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # without prctl the child outlives a killed parent, as it would anyway


def children_die_with_us() -> None:
    """Make every process this command forks (the sampler's chains) die with it.

    PyMC runs chains in forked processes that wait on pipes whose other end they hold
    themselves, so a SIGKILL of the command (an out-of-memory kill, ``kill -9``) would leave
    them running. Linux only, registered once per process.
    """
    if _hooked or not sys.platform.startswith("linux"):
        return
    _hooked.append(True)
    os.register_at_fork(after_in_child=_die_with_parent)


def progress_log(quiet: bool) -> Callable[[str], None]:
    """The ``log`` callback of a command: prints progress unless ``quiet``, and stops the run
    at the next message after a Ctrl-C that the sampler swallowed."""

    def log(message: str) -> None:
        raise_if_interrupted()
        if not quiet:
            print(message, file=sys.stderr, flush=True)

    return log


def save_and_report(result, args, *, fits: str, where: str) -> tuple[Path, bool]:
    """Save a fit or forecast result into ``args.out``, print each task's verdict and where the
    results are, and warn on stderr when sampler diagnostics failed (``fits``: what failed,
    ``where``: where to read about it). Returns the folder and whether every fit was clean."""
    raise_if_interrupted()
    out = result.save(args.out, force=args.force)
    for task, text in result.verdicts().items():
        print(f"{task}: {text}")
    print(f"results in {out} (report: {out / 'report.html'})")
    if not result.ok:
        problems = result.diagnostics().query("not ok")
        print(
            f"warning: sampler diagnostics failed for {len(problems)} {fits}; see {where}",
            file=sys.stderr,
        )
    return out, bool(result.ok)


def quiet_libraries(quiet: bool) -> None:
    """PyMC and ArviZ speak through logging and warnings; the command line reports what matters
    itself. Called after the command's module is imported (PyMC sets its logger's level when it
    is imported)."""
    warnings.filterwarnings("ignore")
    if quiet:
        logging.getLogger("pymc").setLevel(logging.ERROR)
    logging.getLogger("pytensor").setLevel(logging.ERROR)
