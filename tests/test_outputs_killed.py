"""A run killed (SIGKILL, no clean-up) while ``--force`` replaces the outputs.

``nmf_helpers/cli/_outputs.py`` keeps a link to each old output before the
new ones move in over them, one name at a time, so every output name exists
at every instant, old or new. The run is held at the moment of the first
move by the fault-injection hook (``NMF_HELPERS_HOLD_AT=commit``, see
``nmf_helpers/cli/_interrupts.py``), so the kill lands there without timing;
then a rerun must find every name and deal with what the killed run left.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

import nmf_helpers as nh

PYTHON = [sys.executable, "-m", "nmf_helpers"]
SR = 22050
NAMES = {"component_0.wav", "component_1.wav", "reconstruction.wav", "demo.png", "summary.json"}
#: Only a guard against a hung run; nothing here is timed.
HANG_S = 120


def demo(song: Path, outdir: Path, *extra, env=None) -> subprocess.Popen:
    return subprocess.Popen(
        [*PYTHON, "demo", str(song), "-o", str(outdir), "-k", "2", "--iters", "5", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def finished(process: subprocess.Popen) -> tuple[int, str]:
    try:
        _, stderr = process.communicate(timeout=HANG_S)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        pytest.fail(f"still running after {HANG_S} s: {stderr}")
    return process.returncode, stderr


def wait_until_held(process: subprocess.Popen, log: Path) -> None:
    """Until the run has logged the moment it is held at (it then waits for a signal)."""
    while "commit" not in (log.read_text().split() if log.exists() else []):
        try:
            process.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue  # still working towards it
        pytest.fail(f"ended before the commit: {process.communicate()[1]}")


def test_a_run_killed_while_replacing_the_outputs_leaves_every_name_and_a_rerun_tidies(tmp_path):
    song = tmp_path / "song.wav"
    sf.write(song, nh.load_audio(nh.clip_path("groove"))[0][: 2 * SR], SR, subtype="PCM_16")
    out = tmp_path / "out"
    code, stderr = finished(demo(song, out))
    assert code == 0, stderr
    old = {name: (out / name).read_bytes() for name in NAMES}

    log = tmp_path / "moments"
    env = {"NMF_HELPERS_CHECKPOINTS": str(log), "NMF_HELPERS_HOLD_AT": "commit"}
    killed = demo(song, out, "--force", "--seed", "1", env=env)
    wait_until_held(killed, log)
    killed.kill()  # SIGKILL: no clean-up at all
    finished(killed)

    assert NAMES <= {path.name for path in out.iterdir()}  # none hidden away
    (kept,) = out.glob(".nmf_helpers-outputs.old-*")
    assert {path.name for path in kept.iterdir()} == NAMES  # every old one, linked
    replaced = [name for name in NAMES if (out / name).read_bytes() != old[name]]
    assert len(replaced) == 1  # held after the first move: one new, the others old

    code, stderr = finished(demo(song, out, "--force"))
    assert code == 0, stderr
    assert NAMES <= {path.name for path in out.iterdir()}
    # The killed run's new file differs from the old one kept: that cannot be
    # judged, so the folder stays and one note names it.
    notes = [line for line in stderr.splitlines() if str(kept) in line]
    assert len(notes) == 1 and notes[0].startswith("note: demo: "), stderr
    assert f"holds the old {replaced[0]} of a run killed" in notes[0]
    assert {path.name for path in kept.iterdir()} == NAMES  # nothing of the user's lost
    assert not list(out.glob(".nmf_helpers-outputs.partial-*"))
