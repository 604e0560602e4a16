"""Signals that land where Python cannot raise: ``nmf_helpers/cli/_interrupts.py``.

A signal handler runs wherever the main thread is. Inside a Python function
that C code calls back (numba's compiler is called back by LLVM through
ctypes) the handler's :class:`Interrupted` cannot get out: Python prints it
as "Exception ignored" and the run goes on. ``ctypes.CFUNCTYPE(None)(f)()``
is such a call, without numba; these tests send the signal from inside one,
so it lands there every time. The runs that meet a signal at a checkpoint or
during a fit are in ``tests/test_cli_faults.py``.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import soundfile as sf

import nmf_helpers as nh

INTERRUPTS = importlib.import_module("nmf_helpers.cli._interrupts")
Interrupted = INTERRUPTS.Interrupted
SR = 22050


def swallowed(signum: int = signal.SIGTERM) -> None:
    """Send ``signum`` to this process from inside a C callback, which swallows its Interrupted."""
    ctypes.CFUNCTYPE(None)(lambda: os.kill(os.getpid(), signum))()
    assert INTERRUPTS._state.signum == signum  # received, and nothing came out


@pytest.fixture()
def unraisable(monkeypatch):
    """The exceptions that reach the hook in place before signals_raised's (none, it is to be)."""
    caught = []
    monkeypatch.setattr(sys, "unraisablehook", caught.append)
    return caught


@pytest.fixture()
def no_redelivery(monkeypatch):
    """Only the safe points raise a swallowed signal (it is not sent again)."""
    monkeypatch.setattr(INTERRUPTS, "REDELIVER_S", 600.0)


def _checkpoint():
    INTERRUPTS.checkpoint("next")


def _uninterruptible_block():
    with INTERRUPTS.uninterruptible():
        pytest.fail("the block started although a signal was waiting")


@pytest.mark.parametrize("safe_point", [_checkpoint, _uninterruptible_block])
def test_a_swallowed_signal_is_raised_at_the_next_safe_point(
    safe_point, no_redelivery, unraisable, capfd
):
    with INTERRUPTS.signals_raised():
        swallowed()
        time.sleep(0.05)  # Python goes on, nothing raised
        with pytest.raises(Interrupted) as stop:
            safe_point()
    assert stop.value.signum == signal.SIGTERM and stop.value.status == 143
    assert unraisable == [] and capfd.readouterr().err == ""  # no "Exception ignored ..."
    assert sys.unraisablehook == unraisable.append  # given back


def test_a_swallowed_signal_is_sent_again_and_stops_a_loop_without_safe_points(unraisable, capfd):
    """As a fit's iterations after numba has compiled: no checkpoint until the fit ends."""
    with INTERRUPTS.signals_raised():
        swallowed()
        started = time.monotonic()
        with pytest.raises(Interrupted) as stop:
            while time.monotonic() - started < 30:
                sum(range(1000))
    assert time.monotonic() - started < 5
    assert stop.value.signum == signal.SIGTERM
    assert unraisable == [] and capfd.readouterr().err == ""


def test_a_second_signal_after_a_swallowed_one_raises_at_once(no_redelivery):
    with INTERRUPTS.signals_raised():
        swallowed(signal.SIGTERM)
        with pytest.raises(Interrupted) as stop:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
    assert stop.value.signum == signal.SIGTERM  # the first signal stopped the run


def test_the_interrupt_on_its_way_out_is_never_raised_a_second_time():
    """Clean-up code meets a second signal, a checkpoint and an uninterruptible block."""
    with INTERRUPTS.signals_raised():
        with pytest.raises(Interrupted) as stop:
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
            finally:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)
                INTERRUPTS.checkpoint("clean-up")
                with INTERRUPTS.uninterruptible():
                    pass
                try:
                    raise FileNotFoundError("a temporary file already gone")
                except FileNotFoundError:  # handled in clean-up: the Interrupted is its context
                    INTERRUPTS.checkpoint("clean-up")
    assert stop.value.signum == signal.SIGTERM
    assert stop.value.__context__ is None  # the first one, not a second raised meanwhile


def test_once_main_has_the_interrupt_later_signals_are_ignored():
    with INTERRUPTS.signals_raised():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except Interrupted as stop:
            line = stop.line("demo")  # what main does with it
        try:  # main returns: a signal now, or a checkpoint, raises nothing more
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            INTERRUPTS.checkpoint("ending")
        except Interrupted:
            pytest.fail("raised again while main was ending the run")
    assert line == "interrupted: demo stopped by SIGTERM"


def test_a_block_that_ends_before_the_redelivery_sends_nothing_afterwards():
    """The signal swallowed just before the run ended is not sent to the handler from before."""
    received = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        with INTERRUPTS.signals_raised():
            swallowed()
        time.sleep(5 * INTERRUPTS.REDELIVER_S)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert received == []


# -- a real run ---------------------------------------------------------------------------------

# The demo command with SIGTERM landing inside a C callback when its fit starts.
DRIVER = textwrap.dedent(
    """
    import ctypes, os, signal, sys
    import nmf_helpers as nh
    from nmf_helpers.cli import _interrupts, main

    spectrogram = nh.spectrogram

    def spectrogram_then_a_callback(*args, **kwargs):
        nh.spectrogram = spectrogram
        ctypes.CFUNCTYPE(None)(lambda: os.kill(os.getpid(), signal.SIGTERM))()
        return spectrogram(*args, **kwargs)

    nh.spectrogram = spectrogram_then_a_callback
    if os.environ.get("NO_REDELIVERY"):
        _interrupts.REDELIVER_S = 600.0
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.fixture(scope="module")
def swallowed_runs(tmp_path_factory):
    """Two demo runs whose SIGTERM is swallowed: "safe points only" (5 iterations) and
    "sent again" (100000 iterations: minutes, unless stopped)."""
    folder = tmp_path_factory.mktemp("swallowed")
    song = folder / "song.wav"
    sf.write(song, nh.load_audio(nh.clip_path("groove"))[0][: 3 * SR], SR, subtype="PCM_16")
    cases = {"safe points only": ("5", {"NO_REDELIVERY": "1"}), "sent again": ("100000", {})}
    runs = {}
    for case, (iters, env) in cases.items():
        place = folder / case.replace(" ", "_")
        place.mkdir()
        log = place / "moments"
        args = ["demo", song, "-o", place / "out", "-k", "2", "--iters", iters]
        environment = {**os.environ, **env, INTERRUPTS.CHECKPOINT_LOG: str(log)}
        environment.pop(INTERRUPTS.HOLD_AT, None)
        process = subprocess.Popen(
            [sys.executable, "-c", DRIVER, *map(str, args)],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        runs[case] = (process, place)
    found = {}
    for case, (process, place) in runs.items():
        try:
            _, stderr = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
        log = place / "moments"
        found[case] = {
            "status": process.returncode,
            "stderr": stderr,
            "moments": log.read_text().split() if log.exists() else [],
            "left": sorted(path.name for path in place.iterdir()),
        }
    return found


@pytest.mark.parametrize(
    ("case", "moments"), [("safe points only", ["fit", "write"]), ("sent again", ["fit"])]
)
def test_a_run_whose_signal_was_swallowed_stops_with_143_and_one_line(
    case, moments, swallowed_runs
):
    found = swallowed_runs[case]
    assert found["status"] == 143, found
    lines = found["stderr"].splitlines()
    assert len(lines) == 1, found["stderr"]  # no "Exception ignored ...", no traceback
    assert lines[0].startswith("interrupted: demo stopped by SIGTERM; nothing written")
    # "safe points only": the next checkpoint, after the 5-iteration fit, stops it;
    # "sent again": its fit of 100000 iterations is stopped before it ends.
    assert found["moments"] == moments
    assert found["left"] == ["moments"]  # no outputs, no lock, no temporary folder


# -- the fault-injection hook -------------------------------------------------------------------

HOOK = importlib.import_module("nmf_helpers._fault_injection")


def test_the_fault_injection_hook_is_inert_without_its_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(HOOK.CHECKPOINT_LOG, raising=False)
    monkeypatch.setenv(HOOK.HOLD_AT, "fit")  # without the log, holding is not asked for
    monkeypatch.setattr(HOOK, "_held", set())
    started = time.monotonic()
    INTERRUPTS.checkpoint("fit")
    assert time.monotonic() - started < 1.0 and not HOOK.holds_at("fit")
    assert list(tmp_path.iterdir()) == []


def test_a_held_checkpoint_logs_waits_once_and_goes_on_when_the_log_is_removed(
    tmp_path, monkeypatch
):
    log = tmp_path / "moments"
    monkeypatch.setenv(HOOK.CHECKPOINT_LOG, str(log))
    monkeypatch.setenv(HOOK.HOLD_AT, "fit")
    monkeypatch.setattr(HOOK, "_held", set())
    monkeypatch.setattr(INTERRUPTS._state, "signum", None)  # no signal received yet
    INTERRUPTS.checkpoint("load")  # another moment: logged, not held
    assert log.read_text() == "load\n" and HOOK.holds_at("fit")
    remover = threading.Timer(0.3, log.unlink)
    remover.start()
    started = time.monotonic()
    INTERRUPTS.checkpoint("fit")
    waited = time.monotonic() - started
    remover.join()
    assert 0.2 < waited < HOOK.HOLD_S / 2  # held until the test let it go
    assert not HOOK.holds_at("fit")  # the first time only
    INTERRUPTS.checkpoint("fit")
    assert log.read_text() == "fit\n"  # a new log (the old one removed), not held again
