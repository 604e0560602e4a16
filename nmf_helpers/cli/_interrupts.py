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
arrives while an :class:`Interrupted` is on its way out (clean-up code:
``finally`` blocks, ``with`` exits) or after ``main`` has printed its line
is ignored: the clean-up finishes.

An :class:`Interrupted` can also be lost on its way out. Python runs the
handler wherever the main thread is, and that may be a Python function that
C code is calling back: numba's compiler is called back by LLVM through
ctypes while it compiles a kernel (the first fit of a run). The C caller
cannot take an exception, so Python prints it as "Exception ignored" and
the run went on; since the signal had been received, a second one was
ignored as well, and the run could not be stopped. Now the signal is
remembered until its :class:`Interrupted` reaches ``main``, and raised again:

- a moment later, when C code swallowed it (Python reports such exceptions
  to :data:`sys.unraisablehook`, which :func:`signals_raised` watches): the
  signal is sent to the main thread again after :data:`REDELIVER_S`, and
  the handler raises anew wherever the run then is, e.g. in the fit's
  iterations;
- at the next safe point in any case (an ``except BaseException`` that
  dropped it, say): each :func:`checkpoint` and the start of each
  :func:`uninterruptible` block;
- at once, if the user sends the signal again.

:func:`checkpoint` also names a moment of a run for the fault-injection
hook (:mod:`nmf_helpers._fault_injection`), which does nothing unless a test
turns it on.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading

from .. import _fault_injection
from .._fault_injection import CHECKPOINT_LOG, HOLD_AT  # noqa: F401  (the tests' names for them)

__all__ = ["Interrupted", "checkpoint", "signals_raised", "uninterruptible"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: Seconds after C code swallowed an Interrupted before the signal is sent
#: again: long enough for the C call to return to Python, short to the user.
REDELIVER_S = 0.1


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
        """The one line printed on stderr.

        Asking for it means the interrupt has reached ``main``, which is
        ending the run: from now on signals are ignored.
        """
        _state.reported = True
        outcome = f"; {self.outcome}" if self.outcome else ""
        return f"interrupted: {command} stopped by {self.args[0]}{outcome}"


class _State:
    active = False  # signals_raised's handlers are installed
    signum: int | None = None  # the first signal received, if any
    pending = False  # received inside an uninterruptible block, not raised yet
    depth = 0  # nesting of uninterruptible blocks
    reported = False  # main has its Interrupted: every later signal is ignored
    # The redelivery timer, and the lock that keeps it from sending a signal
    # once signals_raised has started to put the previous handlers back.
    redelivery: threading.Timer | None = None
    lock = threading.Lock()


_state = _State()


def _stopping() -> bool:
    """Is an :class:`Interrupted` on its way out of the main thread right now?

    Clean-up code (``except``, ``finally``, ``__exit__``) runs with the
    exception it handles in :func:`sys.exc_info`, or in the ``__context__``
    of one it handles meanwhile (an ``OSError`` a clean-up step ignores).
    """
    error = sys.exc_info()[1]
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, Interrupted):
            return True
        seen.add(id(error))
        error = error.__context__
    return False


def _on_signal(signum, frame) -> None:
    if not _state.active or _state.reported or _stopping():
        return  # already stopping: let the clean-up finish
    if _state.signum is None:
        _state.signum = signum
    if _state.depth:
        _state.pending = True
        return
    # Raised afresh if an earlier one was swallowed (see the module's docstring).
    raise Interrupted(_state.signum)


def _raise_if_lost() -> None:
    """A safe point: raise the signal received whose Interrupted never reached main.

    In the main thread only, where the handler would have raised it.
    """
    main_thread = threading.current_thread() is threading.main_thread()
    lost = _state.active and _state.signum is not None and main_thread
    if not lost or _state.reported or _state.pending or _stopping():
        return
    raise Interrupted(_state.signum)


def _redeliver() -> None:
    """In the timer's thread: send the remembered signal to the main thread again."""
    with _state.lock:
        if _state.active and not _state.reported and _state.signum is not None:
            signal.pthread_kill(threading.main_thread().ident, _state.signum)


def _watching(previous_hook):
    """A :data:`sys.unraisablehook` that notices an Interrupted C code swallowed.

    That one is not printed ("Exception ignored ..." would break the one
    line): its signal is sent again shortly. Every other one goes to
    ``previous_hook``.
    """

    def hook(unraisable) -> None:
        if not isinstance(unraisable.exc_value, Interrupted):
            previous_hook(unraisable)
            return
        timer = _state.redelivery
        if timer is None or not timer.is_alive():  # one at a time
            _state.redelivery = threading.Timer(REDELIVER_S, _redeliver)
            _state.redelivery.daemon = True
            _state.redelivery.start()

    return hook


@contextlib.contextmanager
def signals_raised():
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted`.

    The previous handlers (and :data:`sys.unraisablehook`) come back
    afterwards. Only the main thread may set handlers; elsewhere (a test
    calling ``main`` from a thread) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _state.signum, _state.pending, _state.depth, _state.reported = None, False, 0, False
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _watching(previous_hook)
    previous = {signum: signal.signal(signum, _on_signal) for signum in SIGNALS}
    _state.active = True
    try:
        yield
    finally:
        with _state.lock:  # no redelivery from now on
            _state.active = False
        if _state.redelivery is not None:
            _state.redelivery.cancel()
            _state.redelivery = None
        sys.unraisablehook = previous_hook
        for signum, handler in previous.items():
            if handler is not None:
                signal.signal(signum, handler)


@contextlib.contextmanager
def uninterruptible():
    """Hold SIGINT/SIGTERM until the block ends, then raise :class:`Interrupted`.

    A signal received before the block whose Interrupted was lost is raised
    here, before the block starts.
    """
    if _state.depth == 0:
        _raise_if_lost()
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1
        if _state.depth == 0 and _state.pending:
            _state.pending = False
            raise Interrupted(_state.signum)


def checkpoint(stage: str) -> None:
    """A moment of a run: a safe point to stop at, and a moment of the fault-injection hook.

    A signal received earlier whose :class:`Interrupted` was lost on its way
    out is raised here. The hook (:mod:`nmf_helpers._fault_injection`, inert
    unless a test sets its variables) logs ``stage`` and may wait here until
    the test's signal comes; a signal held by an :func:`uninterruptible` block
    ends the wait too.
    """
    _fault_injection.record(stage)
    _raise_if_lost()
    _fault_injection.hold(stage, released=lambda: _state.signum is not None)
