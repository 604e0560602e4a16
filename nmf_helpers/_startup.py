"""One-line interrupts while the command line is still starting.

``python -m nmf_helpers ...`` spends its first seconds importing numpy,
librosa and numba, before :func:`nmf_helpers.cli.main` installs its signal
handlers; a Ctrl-C then would print Python's traceback. Imported first by
the package, this module installs a handler that exits with one line and
status 130 (SIGINT) or 143 (SIGTERM), but only when the program being
started is this package's command line: a library user's handlers are never
touched. Nothing has been written at that point.
"""

from __future__ import annotations

import os
import signal
import sys
import time

__all__ = ["starting_the_command_line"]

_SCRIPTS = {"nmf-helpers", "nmf-separate"}


def starting_the_command_line() -> bool:
    """True while ``python -m nmf_helpers`` or one of its console scripts is importing."""
    original = list(getattr(sys, "orig_argv", []))
    if sys.argv[:1] == ["-m"] and "-m" in original:
        # While -m locates its module, sys.argv[0] is "-m" (Python's documentation).
        start = original.index("-m") + 1
        return original[start : start + 1] == ["nmf_helpers"]
    return bool(sys.argv) and os.path.basename(sys.argv[0]) in _SCRIPTS


def _stop(signum, frame) -> None:
    name = signal.Signals(signum).name
    print(f"interrupted: stopped by {name} while starting; nothing written", file=sys.stderr)
    sys.exit(128 + signum)


def _hold_for_tests() -> None:
    """The ``starting`` moment of the fault-injection tests (see ``cli._interrupts.checkpoint``)."""
    log = os.environ.get("NMF_HELPERS_CHECKPOINTS")
    if not log or os.environ.get("NMF_HELPERS_HOLD_AT") != "starting":
        return  # the other moments' logs stay as the tests expect them
    with open(log, "a") as handle:
        handle.write("starting\n")
    deadline = time.monotonic() + 60
    while os.path.exists(log) and time.monotonic() < deadline:
        time.sleep(0.01)  # a signal ends the run here, through _stop


if starting_the_command_line():
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    _hold_for_tests()
