"""What every command shares while it runs: progress lines, Ctrl-C, quiet libraries."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable

__all__ = ["on_ctrl_c", "progress_log", "quiet_libraries", "raise_if_interrupted", "reset"]

_interrupted = False


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


def progress_log(quiet: bool) -> Callable[[str], None]:
    """The ``log`` callback of a command: prints progress unless ``quiet``, and stops the run
    at the next message after a Ctrl-C that the sampler swallowed."""

    def log(message: str) -> None:
        raise_if_interrupted()
        if not quiet:
            print(message, file=sys.stderr, flush=True)

    return log


def quiet_libraries(quiet: bool) -> None:
    """PyMC and ArviZ speak through logging and warnings; the command line reports what matters
    itself. Called after the command's module is imported (PyMC sets its logger's level when it
    is imported)."""
    warnings.filterwarnings("ignore")
    if quiet:
        logging.getLogger("pymc").setLevel(logging.ERROR)
    logging.getLogger("pytensor").setLevel(logging.ERROR)
