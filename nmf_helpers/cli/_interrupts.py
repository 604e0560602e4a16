"""SIGINT and SIGTERM as an exception, so every run stops cleanly at any moment.

:func:`signals_raised` (installed once, by :func:`nmf_helpers.cli.main`)
turns either signal into :class:`Interrupted` in the main thread: every
``with`` block on the way out runs its clean-up (temporary files removed,
lock released) and ``main`` prints one line and returns 128 + the signal
number (130 for SIGINT, 143 for SIGTERM). Without it SIGINT printed a
``KeyboardInterrupt`` traceback and SIGTERM killed the process mid-write.

A few steps must not be cut in half: moving the finished outputs into place,
removing temporary files. They run inside :func:`uninterruptible`; a signal
that arrives there is held and raised when the block ends. A signal that
arrives while the run is already stopping is ignored: the clean-up finishes.

:func:`checkpoint` names a moment of a run for the fault-injection tests
(``tests/test_cli_faults.py``); it does nothing unless they ask for it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import ClassVar

__all__ = ["Interrupted", "checkpoint", "signals_raised", "uninterruptible"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: Environment variables of the fault-injection hook (see :func:`checkpoint`).
CHECKPOINT_LOG = "NMF_HELPERS_CHECKPOINTS"
HOLD_AT = "NMF_HELPERS_HOLD_AT"
#: Longest a held checkpoint waits for its signal, in seconds.
HOLD_S = 60.0


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM received; ``outcome`` says what happened to the outputs.

    A ``KeyboardInterrupt``, so ``except Exception`` (e.g. one bad file in a
    scan) never swallows it.
    """

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.outcome: str | None = None  # set by the outputs being written, if any

    @property
    def status(self) -> int:
        """The shell's convention: 128 + the signal number."""
        return 128 + self.signum

    def line(self, command: str) -> str:
        """The one line printed on stderr."""
        outcome = f"; {self.outcome}" if self.outcome else ""
        return f"interrupted: {command} stopped by {self.args[0]}{outcome}"


class _State:
    signum: int | None = None  # the signal received, if any
    pending = False  # received inside an uninterruptible block, not raised yet
    depth = 0  # nesting of uninterruptible blocks
    held: ClassVar[set[str]] = set()  # moments already held (checkpoint)


_state = _State()


def _on_signal(signum, frame) -> None:
    if _state.signum is not None:
        return  # already stopping: let the clean-up finish
    _state.signum = signum
    if _state.depth:
        _state.pending = True
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def signals_raised():
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted`.

    The previous handlers come back afterwards. Only the main thread may set
    handlers; elsewhere (a test calling ``main`` from a thread) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _state.signum, _state.pending, _state.depth = None, False, 0
    previous = {signum: signal.signal(signum, _on_signal) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if handler is not None:
                signal.signal(signum, handler)


@contextlib.contextmanager
def uninterruptible():
    """Hold SIGINT/SIGTERM until the block ends, then raise :class:`Interrupted`."""
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1
        if _state.depth == 0 and _state.pending:
            _state.pending = False
            raise Interrupted(_state.signum)


def checkpoint(stage: str) -> None:
    """Mark a moment of a run, for the fault-injection tests.

    With ``NMF_HELPERS_CHECKPOINTS=FILE`` in the environment, append ``stage``
    to FILE, so a test knows where the run is; with ``NMF_HELPERS_HOLD_AT``
    equal to ``stage`` too, wait there (up to a minute) until a signal comes,
    so the test's signal lands at exactly that moment, or until the test
    removes FILE to let the run go on. Otherwise nothing.
    """
    log = os.environ.get(CHECKPOINT_LOG)
    if not log:
        return
    with open(log, "a") as handle:
        handle.write(f"{stage}\n")
    if os.environ.get(HOLD_AT) == stage and stage not in _state.held:
        _state.held.add(stage)  # the first time only
        deadline = time.monotonic() + HOLD_S
        while _state.signum is None and os.path.exists(log) and time.monotonic() < deadline:
            time.sleep(0.01)  # the signal raises here, or is held by an uninterruptible block
