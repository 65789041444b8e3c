"""``mirage-bayes``: a thin command line over the library.

Exit codes: 0 success; 1 an operating-system failure (permissions, a full disk) and 2 bad
input or usage (both one line on standard error, nothing written); 3 sampler diagnostics failed
under ``--strict`` (results are still written); 130 interrupted.

The parsers (:mod:`mirage_bayes.cli.parsers`) import nothing heavy; the module that does a
command's work is imported only when that command runs.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

from mirage_bayes.cli import parsers, runtime
from mirage_bayes.cli.checks import NEGATIVE_NUMBERS, os_failure
from mirage_bayes.errors import EXIT_BAD_INPUT, EXIT_OS_ERROR, InputError, one_line
from mirage_bayes.output.destination import release_all
from mirage_bayes.settings import VERSION

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBERS

    def error(self, message: str) -> None:  # one line, exit 2, like every other input problem
        text = one_line(f"{self.prog}: error: {message} (see {self.prog} --help)")
        self.exit(EXIT_BAD_INPUT, text + "\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mirage-bayes`` and its subcommands."""
    parser = _Parser(
        prog="mirage-bayes",
        description="Bayesian analysis of emergent abilities of language models.",
    )
    parser.add_argument("--version", action="version", version=f"mirage-bayes {VERSION}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in (parsers.add_fit, parsers.add_simulate, parsers.add_plan, parsers.add_forecast,
                parsers.add_meta):  # fmt: skip
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mirage-bayes`` command."""
    runtime.reset()
    runtime.children_die_with_us()
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:
        try:
            signal.signal(signal.SIGINT, runtime.on_ctrl_c)
        except ValueError:  # not the main thread
            previous = None
    try:
        args = build_parser().parse_args(argv)
        command = importlib.import_module(args.run_module)
        runtime.quiet_libraries(getattr(args, "quiet", False))
        return command.run(args)
    except InputError as error:
        print(f"mirage-bayes: error: {error.message}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        print("mirage-bayes: interrupted; nothing was written", file=sys.stderr)
        return 130
    except OSError as error:
        # Found writing (a full disk, a folder made read-only meanwhile): the staged save has
        # removed what it wrote and kept what was there, so one line says so.
        print(f"mirage-bayes: error: {os_failure(error)}", file=sys.stderr)
        return EXIT_OS_ERROR
    finally:
        release_all()  # the claims of output folders end with the command
        if previous is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous)
