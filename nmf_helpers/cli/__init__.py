"""Command line: ``python -m nmf_helpers COMMAND ...`` (also the ``nmf-helpers`` script).

Each command lives in its own module of this package and exposes
``add_parser(subparsers)``, which registers its arguments and sets
``run=function(args) -> int``. :func:`main` turns every problem with what the
user gave (missing file, unreadable or silent audio, a bad range, K out of
range, an output that already exists or cannot be written, a full disk) into
one line on stderr and exit status 2, never a traceback; SIGINT and SIGTERM
into one line and exit status 130 and 143 (:mod:`._interrupts`); a warning
into one line. Outputs are written all at once or not at all, by one run at a
time (:mod:`._outputs`).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import importlib
import signal
import sys
import warnings
from typing import NoReturn

import soundfile

from .. import _fault_injection
from .._validation import ParameterError, printable
from ._interrupts import SIGNALS, Interrupted, signals_raised

__all__ = [
    "COMMANDS",
    "UsageError",
    "console_main",
    "exit_with",
    "main",
    "note",
    "one_line_warning",
]

#: Modules of nmf_helpers.cli that provide a command, in --help order.
COMMANDS = ["demo", "detect", "scan", "separate"]


class UsageError(Exception):
    """A problem with what the user asked for: reported in one line, exit 2."""


def note(command: str, text: str) -> None:
    """Something the user should know about a run that succeeded: one line on stderr."""
    print(printable(f"note: {command}: {text}"), file=sys.stderr)


def one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning from the library in one line, without the source line Python adds."""
    text = printable(str(message).replace("\n", " "))
    print(f"warning: {text}", file=sys.stderr if file is None else file)


_OS_ADVICE = {
    errno.ENOSPC: "free some space, or choose another place",
    errno.EDQUOT: "free some space, or choose another place",
    errno.EROFS: "that disk is read-only: choose another place",
    errno.EACCES: "check its permissions, or choose another place",
    errno.EPERM: "check its permissions, or choose another place",
    errno.EISDIR: "it is a folder: give a file",
    errno.ENOTDIR: "part of that path is a file, not a folder",
    errno.EEXIST: "move it away, or choose another place",
}


def _error_line(command: str, error: Exception) -> str:
    """The one line for an error that reached :func:`main`."""
    if isinstance(error, OSError) and error.strerror:  # from the OS, not one of our messages
        where = f" {error.filename}" if error.filename else ""
        advice = _OS_ADVICE.get(error.errno, "check the path and try again")
        text = f"{command}:{where}: {error.strerror.lower()}; {advice}"
    elif isinstance(error, soundfile.SoundFileError):
        text = f"{command}: the audio library failed: {error}"
    else:
        text = str(error)
    return printable("error: " + " ".join(text.split()))


#: How the usage lines name the command: as `python -m nmf_helpers`, or as the console script.
MODULE_PROG, SCRIPT_PROG = "python -m nmf_helpers", "nmf-helpers"


def _parser(prog: str = MODULE_PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Music source separation with NMF: command-line tools.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(subparsers)
    for command_parser in [parser, *subparsers.choices.values()]:
        command_parser.error = functools.partial(_one_line_error, prog, command_parser.prog)
    return parser


def _one_line_error(base: str, prog: str, message: str):
    """argparse's errors in one line, like every other bad input (exit 2)."""
    command = prog.removeprefix(base).strip() or "nmf_helpers"
    print(printable(f"error: {command}: {message} (see --help)"), file=sys.stderr)
    sys.exit(2)


def _names_as_given() -> None:
    """Print file names that are not valid UTF-8 instead of failing on them.

    Such a name reaches Python with its odd bytes as surrogates; stdout would
    refuse it, so it gets the bytes back as given (like ``ls``). The lines on
    stderr show them as ``caf\\xe9.wav`` (:func:`printable`); stderr's own
    ``backslashreplace`` is the net for anything printed another way.
    """
    for stream, errors in [(sys.stdout, "surrogateescape"), (sys.stderr, "backslashreplace")]:
        with contextlib.suppress(AttributeError, ValueError):  # replaced or closed by the caller
            stream.reconfigure(errors=errors)


def exit_with(status: int) -> NoReturn:
    """End the process with a finished command's ``status``, whatever signal comes late.

    When :func:`main` has returned, the command is over: its outputs are
    complete, or its one line is printed. A Ctrl-C or SIGTERM while the
    interpreter then shuts down (its threads and exit handlers take a
    moment) could only turn that status into 130 or 143 with no line to
    say why: both are ignored from here on. For the ``python -m`` and
    console-script doors, not for :func:`main`, whose callers keep their
    own handlers.
    """
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    if _fault_injection.holds_at("exiting"):  # a test's moment, logged only when it is held
        _fault_injection.record("exiting")
        _fault_injection.hold("exiting")
    sys.exit(status)


def console_main() -> None:
    """Entry point of the ``nmf-helpers`` console script."""
    exit_with(main(prog=SCRIPT_PROG))


def main(argv: list[str] | None = None, prog: str = MODULE_PROG) -> int:
    """Run the command line; returns the exit status (2 on bad input, 128 + signal).

    ``prog`` is how the usage lines call the command (as it was run).
    """
    command = "nmf_helpers"
    _names_as_given()
    with signals_raised(), warnings.catch_warnings():
        warnings.showwarning = one_line_warning
        try:
            args = _parser(prog).parse_args(argv)
            command = args.command
            return args.run(args)
        except Interrupted as stop:
            print(printable(stop.line(command)), file=sys.stderr)
            return stop.status
        except (UsageError, ParameterError, OSError, soundfile.SoundFileError) as error:
            print(_error_line(command, error), file=sys.stderr)
            return 2
