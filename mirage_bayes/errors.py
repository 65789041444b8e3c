"""Errors the user can act on, and the exit codes the CLI maps them to."""

from __future__ import annotations

EXIT_OK = 0
EXIT_OS_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_DIAGNOSTICS = 3

# Control characters (a line break in a file name, say) would split the one-line message.
_ESCAPES = {c: repr(chr(c))[1:-1] for c in (*range(32), 127)}


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters written as escapes (``\\n``)."""
    return str(text).translate(_ESCAPES)


class InputError(ValueError):
    """Malformed or unusable input, described in one line the user can act on.

    Parameters
    ----------
    what
        What is wrong, e.g. ``"column 'n_params' is not numeric"``.
    where
        The file (and row or column) where the problem is, e.g. ``"outputs.csv, row 7"``.
    fix
        How to fix it, e.g. ``"give the parameter count as a number such as 1.3e9"``.
    code
        The exit code of the command: :data:`EXIT_BAD_INPUT` (2) for input the user must change,
        :data:`EXIT_OS_ERROR` (1) for an operating-system failure (permissions, a full disk).
    """

    def __init__(
        self,
        what: str,
        *,
        where: str | None = None,
        fix: str | None = None,
        code: int = EXIT_BAD_INPUT,
    ) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        self.code = code
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The single line shown to the user."""
        text = f"{self.where}: {self.what}" if self.where else self.what
        if self.fix:
            text = f"{text} — {self.fix}"
        return one_line(text)


class DiagnosticsError(RuntimeError):
    """Raised under ``--strict`` when the sampler's diagnostics fail the thresholds."""
