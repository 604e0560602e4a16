"""When things go wrong: interrupts, concurrent runs, outputs that cannot be written.

The output machinery is ``nmf_helpers/cli/_outputs.py`` (outputs appear all at
once, one run at a time) and ``nmf_helpers/cli/_interrupts.py`` (SIGINT and
SIGTERM as one line and exit 130 / 143). Signals are sent to real
subprocesses at moments named by the CLI's fault-injection hook
(``checkpoint``): with ``NMF_HELPERS_CHECKPOINTS=FILE`` a run writes each
moment it reaches to FILE, and with ``NMF_HELPERS_HOLD_AT=MOMENT`` it waits
there until a signal comes (or FILE is removed), so no test depends on timing.
The runs of a group start together: each spends most of its time importing.
Outputs that cannot be written are checked in-process through ``main``.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import soundfile as sf

import nmf_helpers as nh
from nmf_helpers.cli import main

SR = 22050
QUICK = ["-k", "2", "--iters", "5"]
PYTHON = [sys.executable, "-m", "nmf_helpers"]
SEPARATE_NAMES = {
    "drums.wav", "harmonic.wav", "spectrograms.png", "losses.png", "grouping.png", "summary.json"
}  # fmt: skip


# -- running the command line -----------------------------------------------------------------


class Run:
    """A ``python -m nmf_helpers`` subprocess that reports the moments it reaches."""

    started: ClassVar[
        list[subprocess.Popen]
    ] = []  # killed at the end of the module, if still running

    def __init__(self, args, log: Path, *, hold=None, env=None, prefix=(), **popen):
        self.log = log
        env = {**os.environ, **(env or {}), "NMF_HELPERS_CHECKPOINTS": str(log)}
        env.pop("NMF_HELPERS_HOLD_AT", None)
        if hold:
            env["NMF_HELPERS_HOLD_AT"] = hold
        self.process = subprocess.Popen(
            [*prefix, *PYTHON, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            **popen,
        )
        Run.started.append(self.process)

    def moments(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []

    def reaches(self, moment: str, timeout: float = 120) -> bool:
        """Wait until the run reaches ``moment``; False if it ends first."""
        deadline = time.monotonic() + timeout
        while moment not in self.moments():
            if self.process.poll() is not None:
                return False
            assert time.monotonic() < deadline, f"never reached {moment!r}"
            time.sleep(0.05)
        return True

    def wait_for(self, moment: str) -> None:
        if not self.reaches(moment):
            stdout, stderr = self.process.communicate()
            pytest.fail(f"ended before {moment!r}: {self.process.returncode}, {stderr}")

    def finish(self, timeout: float = 120) -> subprocess.CompletedProcess:
        try:
            stdout, stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            stdout, stderr = self.process.communicate()
            pytest.fail(f"still running after {timeout} s: {stderr}")
        return subprocess.CompletedProcess(
            self.process.args, self.process.returncode, stdout, stderr
        )


@pytest.fixture(scope="module", autouse=True)
def _no_run_left_behind():
    yield
    for process in Run.started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def one_line(result: subprocess.CompletedProcess, status: int, *, prefix="error: ") -> str:
    """The single line on stderr of a run that ended with ``status``."""
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(prefix), lines[0]
    return lines[0]


def leftovers(*folders: Path) -> list[str]:
    """Lock files and temporary folders of the outputs machinery."""
    return sorted(
        path.name
        for folder in folders
        if folder.is_dir()
        for path in folder.iterdir()
        if "nmf_helpers" in path.name
    )


def contents(folder: Path) -> dict[str, bytes | None]:
    """File name -> bytes (None for a folder) of what ``folder`` holds."""
    if not folder.exists():
        return {}
    return {path.name: path.read_bytes() if path.is_file() else None for path in folder.iterdir()}


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    """3 s of the groove (drums), 2 s of a 440 Hz tone, 2 s of a float WAV peaking at 1.6."""
    folder = tmp_path_factory.mktemp("songs")
    x, _ = nh.load_audio(nh.clip_path("groove"))
    t = np.arange(2 * SR) / SR
    paths = {name: folder / f"{name}.wav" for name in ["song", "tone", "loud"]}
    sf.write(paths["song"], x[: 3 * SR], SR, subtype="PCM_16")
    sf.write(paths["tone"], 0.5 * np.sin(2 * np.pi * 440 * t), SR, subtype="PCM_16")
    sf.write(paths["loud"], 1.6 * np.sin(2 * np.pi * 220 * t), SR, subtype="FLOAT")
    return paths


@pytest.fixture(scope="module")
def previous(songs, tmp_path_factory):
    """A complete earlier ``separate`` run, of the tone: every file differs from the song's."""
    outdir = tmp_path_factory.mktemp("previous") / "out"
    assert main(["separate", str(songs["tone"]), "-o", str(outdir), *QUICK]) == 0
    return outdir


# -- SIGINT and SIGTERM -------------------------------------------------------------------------

# (moment held, signal, destination) -> what the destination holds afterwards.
# "fit" is held before the NMF; "during fit" holds nothing and signals once the
# fit of 100000 iterations (minutes) has started; "write" after the first WAV;
# "commit" after the first file moved into place, where the signal must wait.
INTERRUPTS = {
    ("fit", "SIGINT", "fresh"): "absent",
    ("during fit", "SIGTERM", "fresh"): "absent",
    ("write", "SIGTERM", "fresh"): "absent",
    ("write", "SIGINT", "previous"): "previous",
    ("commit", "SIGINT", "previous"): "new",
    ("commit", "SIGTERM", "fresh"): "new",
}
RERUN = [("write", "SIGTERM", "fresh")]  # and the killed run in lock_runs


@pytest.fixture(scope="module")
def interrupted(songs, previous, tmp_path_factory):
    """Every case of INTERRUPTS at once: the result, the moments, what the folders hold.

    Then a rerun without --force of the RERUN cases, into the same folder.
    """
    runs = {}
    for case in INTERRUPTS:
        moment, _, destination = case
        outdir = tmp_path_factory.mktemp("interrupted") / "out"
        iters = "100000" if moment == "during fit" else "5"
        args = ["separate", songs["song"], "-o", outdir, "-k", "2", "--iters", iters]
        if destination == "previous":
            shutil.copytree(previous, outdir)
            args.append("--force")
        hold = None if moment == "during fit" else moment
        runs[case] = (Run(args, outdir.parent / "moments", hold=hold), outdir)
    reached = {}
    for case, (run, _) in runs.items():
        moment, name, _ = case
        reached[case] = run.reaches("fit" if moment == "during fit" else moment)
        if moment == "during fit":
            time.sleep(1.0)  # well inside 100000 iterations
        if reached[case]:
            run.process.send_signal(getattr(signal, name))
    results = {
        case: {
            "reached": reached[case],
            "result": run.finish(),
            "moments": run.moments(),
            "outputs": contents(outdir) if outdir.exists() else None,
            "leftovers": leftovers(outdir, outdir.parent),
        }
        for case, (run, outdir) in runs.items()
    }
    reruns = {
        case: Run(
            ["separate", songs["song"], "-o", runs[case][1], *QUICK], runs[case][1].parent / "again"
        )
        for case in RERUN
    }
    for case, run in reruns.items():
        results[case]["rerun"] = run.finish()
        results[case]["rerun outputs"] = set(contents(runs[case][1]))
    return results


@pytest.mark.parametrize("case", list(INTERRUPTS), ids="-".join)
def test_an_interrupt_leaves_the_old_or_the_new_outputs_whole(case, interrupted, previous, songs):
    found = interrupted[case]
    moment, name, _ = case
    assert found["reached"], found["result"]
    status = {"SIGINT": 130, "SIGTERM": 143}[name]
    line = one_line(found["result"], status, prefix=f"interrupted: separate stopped by {name}")
    assert found["leftovers"] == []
    if moment == "during fit":
        assert found["moments"] == ["fit"]  # the signal came during the fit, not after it
    expected = INTERRUPTS[case]
    if expected == "absent":
        assert found["outputs"] is None and "nothing written" in line
    elif expected == "previous":
        assert found["outputs"] == contents(previous) and "nothing written" in line
    else:
        assert set(found["outputs"]) == SEPARATE_NAMES
        assert json.loads(found["outputs"]["summary.json"])["song"] == str(songs["song"])
        assert "the outputs were complete" in line


@pytest.mark.parametrize("case", RERUN, ids="-".join)
def test_a_rerun_after_an_interrupt_needs_no_force(case, interrupted):
    rerun = interrupted[case]["rerun"]
    assert rerun.returncode == 0, rerun.stderr
    assert interrupted[case]["rerun outputs"] == SEPARATE_NAMES


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    """Three 4-second tracks for scan."""
    folder = tmp_path_factory.mktemp("tracks")
    track = nh.load_audio(nh.clip_path("sampling_track"))[0]
    for k in range(3):
        sf.write(folder / f"track_{k}.wav", track[k * SR : (k + 4) * SR], SR, subtype="PCM_16")
    return folder


@pytest.mark.parametrize(("jobs", "name"), [("2", "SIGINT"), ("1", "SIGTERM")])
def test_an_interrupted_scan_writes_no_csv(jobs, name, tracks, tmp_path):
    csv_path = tmp_path / "found.csv"
    args = ["scan", nh.clip_path("sample"), tracks, "-o", csv_path, "--jobs", jobs, "--iters", "5"]
    run = Run(args, tmp_path / "moments", hold="row")  # one file checked, others under way
    run.wait_for("row")
    run.process.send_signal(getattr(signal, name))
    result = run.finish(timeout=30)  # the workers are stopped, not waited for
    line = one_line(result, {"SIGINT": 130, "SIGTERM": 143}[name], prefix="interrupted: scan")
    assert "rerun with --resume" in line  # the rows done are kept for it, nothing else
    assert sorted(path.name for path in tmp_path.iterdir()) == ["found.csv.partial", "moments"]


@pytest.mark.parametrize(("jobs", "name"), [("1", "SIGINT"), ("1", "SIGTERM")])
def test_a_signal_after_the_scan_has_finished_leaves_its_status_and_csv(
    jobs, name, tracks, tmp_path
):
    # The CSV written and the summary printed, the process shutting down: a late Ctrl-C or
    # SIGTERM must not turn the finished scan's status into 130 or 143 with no line.
    csv_path = tmp_path / "found.csv"
    args = ["scan", nh.clip_path("sample"), tracks, "-o", csv_path, "--jobs", "1", "--iters", "5"]
    log = tmp_path / "moments"
    run = Run(args, log, hold="exiting")
    run.wait_for("exiting")
    run.process.send_signal(getattr(signal, name))
    time.sleep(0.5)  # delivered (and ignored) before the run goes on
    log.unlink()  # lets the held run go on
    result = run.finish(timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    assert f"wrote {csv_path}" in result.stdout
    assert csv_path.read_text().count("\n") == 1 + 3  # the header and a row per track


# -- one run at a time --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lock_runs(songs, tmp_path_factory):
    """Two stories side by side, each run started as soon as it can be.

    "busy": a first run holds the lock (waiting before its NMF) while a second
    run is started into the same folder; then the first is let go.
    "killed": a run is killed (SIGKILL: no clean-up at all) with a WAV in its
    temporary folder; then the same command is run again.
    """
    folders = {story: tmp_path_factory.mktemp(story) for story in ["busy", "killed"]}
    args = {
        story: ["separate", songs["song"], "-o", f / "out", *QUICK] for story, f in folders.items()
    }
    first = Run(args["busy"], folders["busy"] / "first", hold="fit")
    killed = Run(args["killed"], folders["killed"] / "killed", hold="write")
    first.wait_for("fit")
    killed.wait_for("write")
    killed.process.kill()
    killed.finish()
    found = {"left by the killed run": leftovers(folders["killed"] / "out")}
    second = Run(args["busy"], folders["busy"] / "second")
    rerun = Run(args["killed"], folders["killed"] / "rerun")
    found["second"], found["second moments"] = second.finish(), second.moments()
    (folders["busy"] / "first").unlink()  # let the first run go on
    found["first"], found["rerun"] = first.finish(), rerun.finish()
    found["first pid"] = first.process.pid
    for story, folder in folders.items():
        found[f"{story} outputs"] = set(contents(folder / "out"))
    return found


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_works(lock_runs):
    line = one_line(lock_runs["second"], 2)
    assert "another run" in line and str(lock_runs["first pid"]) in line
    assert lock_runs["second moments"] == []  # refused before its NMF
    assert lock_runs["first"].returncode == 0, lock_runs["first"].stderr
    assert lock_runs["busy outputs"] == SEPARATE_NAMES


def test_a_killed_run_leaves_no_lock_behind(lock_runs):
    assert lock_runs["left by the killed run"] != []  # its lock file and temporary folder stay...
    rerun = lock_runs["rerun"]
    assert rerun.returncode == 0, rerun.stderr  # ...but bind nobody, and are cleaned up
    assert lock_runs["killed outputs"] == SEPARATE_NAMES


# -- outputs that cannot be written ------------------------------------------------------------


def _command(name: str, song: Path, out: Path) -> list[str]:
    if name == "scan":
        return ["scan", str(nh.clip_path("sample")), str(song.parent), "-o", str(out)]
    return [name, str(song), "-o", str(out), *QUICK]


def _snapshot(folder: Path) -> dict:
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() else None
        for path in sorted(folder.rglob("*"))
    }


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# -o ... --force, by command -> part of the one line
OCCUPIED = {
    ("separate", "{place}/a_file/out"): "a_file in -o",
    ("demo", "{place}/a_file/out"): "a_file in -o",
    ("scan", "{place}/a_file/out.csv"): "a_file in -o",
    ("separate", "{place}/a_file"): "is a file, not a folder",
    ("demo", "{place}/a_file"): "is a file, not a folder",
    ("separate", "{place}/taken"): "drums.wav is a folder",
    ("demo", "{place}/taken"): "demo.png is a folder",
    ("scan", "{place}/taken"): "taken is a folder",
    ("scan", "/dev/null"): "is not a regular file",
}


@pytest.mark.parametrize(("command", "out"), list(OCCUPIED))
def test_an_occupied_destination_is_refused_in_one_line(command, out, songs, tmp_path, capsys):
    (tmp_path / "a_file").write_text("mine")
    for name in ["drums.wav", "demo.png"]:
        (tmp_path / "taken" / name).mkdir(parents=True)
    before = _snapshot(tmp_path)
    status = main([*_command(command, songs["song"], out.format(place=tmp_path)), "--force"])
    assert status == 2
    assert OCCUPIED[command, out] in _one_line_error(capsys)
    assert _snapshot(tmp_path) == before


def test_an_input_among_the_outputs_is_refused_before_any_work(songs, previous, tmp_path, capsys):
    outdir = tmp_path / "out"
    shutil.copytree(previous, outdir)
    (outdir / "drums.wav").unlink()
    os.link(songs["song"], outdir / "drums.wav")  # the song, hard-linked under an output's name
    before = _snapshot(outdir)
    runs = [
        ["separate", outdir / "harmonic.wav", "-o", outdir, "--force"],  # o/harmonic.wav -o o
        ["separate", songs["song"], "-o", outdir, "--force"],  # a hard link
        ["demo", outdir / "summary.json", "-o", outdir, "--force"],
        ["scan", nh.clip_path("sample"), songs["song"].parent, "-o", songs["song"], "--force"],
    ]
    for args in runs:
        assert main([*map(str, args)]) == 2
        assert "is also the output" in _one_line_error(capsys)
    assert _snapshot(outdir) == before


@pytest.fixture()
def moments(tmp_path, monkeypatch):
    """The moments an in-process run reaches (the checkpoint hook)."""
    log = tmp_path / "moments"
    monkeypatch.setenv("NMF_HELPERS_CHECKPOINTS", str(log))
    monkeypatch.delenv("NMF_HELPERS_HOLD_AT", raising=False)
    return lambda: log.read_text().split() if log.exists() else []


@pytest.mark.parametrize("command", ["separate", "demo"])  # a CSV is small: scan does not ask
def test_too_little_free_space_is_refused_before_any_work(
    command, songs, tmp_path, capsys, monkeypatch, moments
):
    full = shutil.disk_usage(tmp_path)._replace(free=100_000)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: full)
    out = tmp_path / "new" / "out"
    assert main(_command(command, songs["song"], out)) == 2
    line = _one_line_error(capsys)
    assert "MB free" in line and "free some space" in line
    assert moments() == [] and not (tmp_path / "new").exists()


@pytest.mark.parametrize("command", ["separate", "demo"])
def test_a_full_disk_while_writing_is_one_line_and_leaves_nothing(
    command, songs, tmp_path, capsys, monkeypatch
):
    real_save = nh.save_audio

    def save_then_fill_the_disk(path, x, sr):
        real_save(path, x[: x.size // 2], sr)  # half a file, as a full disk leaves it
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(nh, "save_audio", save_then_fill_the_disk)
    out = tmp_path / "out"
    assert main(_command(command, songs["song"], out)) == 2
    line = _one_line_error(capsys)
    assert "the disk is full" in line and "nothing was written" in line
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_destination_is_refused_before_any_work(songs, nobody):
    prefix, popen = nobody
    folder = Path(tempfile.mkdtemp(prefix="nmf_helpers_faults_"))  # pytest's tmp is root's only
    try:
        shutil.copy(songs["song"], folder / "song.wav")
        (folder / "cache").mkdir()
        locked = folder / "read_only"
        locked.mkdir()
        modes = {folder: 0o755, folder / "song.wav": 0o644, locked: 0o555, folder / "cache": 0o777}
        for path, mode in modes.items():
            path.chmod(mode)
        # numba and matplotlib need a cache this user can write
        env = {"NUMBA_CACHE_DIR": str(folder / "cache"), "MPLCONFIGDIR": str(folder / "cache")}
        runs = {
            command: Run(
                _command(command, folder / "song.wav", locked / "out"),
                folder / "cache" / command,
                env=env,
                cwd=folder,
                prefix=prefix,
                **popen,
            )
            for command in ["separate", "demo", "scan"]
        }
        for command, run in runs.items():
            line = one_line(run.finish(), 2)
            assert f"{command}: cannot write" in line and "not writable" in line
            assert run.moments() == []  # before the NMF, before the scan
        assert list(locked.iterdir()) == []
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- what the user hears ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """3 s of the keys stem: a real instrument, no drums."""
    path = tmp_path_factory.mktemp("keys") / "keys.wav"
    sf.write(path, nh.load_audio(nh.clip_path("sample_keys"))[0][: 3 * SR], SR, subtype="PCM_16")
    return path


@pytest.mark.parametrize(("song", "K"), [("tone", "2"), ("keys", "4")])
def test_a_song_without_drums_gives_a_silent_drums_wav_said_once(
    song, K, songs, keys, tmp_path, capsys
):
    path = keys if song == "keys" else songs[song]
    assert main(["separate", str(path), "-o", str(tmp_path), "-k", K, "--iters", "5"]) == 0
    notes = capsys.readouterr().err.splitlines()
    assert len(notes) == 1 and notes[0].startswith("note: separate: drums.wav is silent"), notes
    drums, _ = sf.read(tmp_path / "drums.wav")
    assert drums.size == sf.info(path).frames and not drums.any()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [note for note in summary["notes"] if "drums.wav" in note] == [notes[0][16:]]
    assert summary["groups"]["drums"]["silent"] and not summary["groups"]["harmonic"]["silent"]


def test_parts_that_would_clip_are_scaled_together_and_said_once(songs, tmp_path, capsys):
    args = ["separate", str(songs["loud"]), "-o", str(tmp_path), *QUICK, "--components"]
    assert main(args) == 0
    err = capsys.readouterr().err.splitlines()
    assert all(line.startswith("note: separate: ") for line in err), err  # no raw warning
    (line,) = [line for line in err if "scaled by" in line]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert line[16:] in summary["notes"] and 0.5 < summary["scale"] < 0.7
    parts = {path.name: sf.read(path)[0] for path in tmp_path.glob("*.wav")}
    assert max(np.abs(y).max() for y in parts.values()) <= 1.0
    song = sf.read(songs["loud"])[0]
    np.testing.assert_allclose(
        parts["drums.wav"] + parts["harmonic.wav"], summary["scale"] * song, atol=4e-4
    )
    components = sum(parts[f"component_{k:02d}.wav"] for k in range(2))
    np.testing.assert_allclose(components, summary["scale"] * song, atol=4e-4)


def test_a_file_a_billion_times_too_loud_keeps_its_scale_in_the_summary(songs, tmp_path, capsys):
    song, sr = sf.read(songs["song"])
    loud = tmp_path / "loud.wav"
    sf.write(loud, 1e9 * song, sr, subtype="FLOAT")  # read as it is: below 2**31
    assert main(["separate", str(loud), "-o", str(tmp_path / "out"), *QUICK]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert 0 < summary["scale"] < 1e-8  # written with significant digits, never 0.0
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "scaled by" in line]
    assert "scaled by 0.000 " not in line


def test_demo_audio_that_would_clip_is_scaled_and_said_once(songs, tmp_path, capsys):
    assert main(["demo", str(songs["loud"]), "-o", str(tmp_path), *QUICK]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("note: demo: ") and "scaled by" in err[0], err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["notes"] == [err[0][12:]] and summary["scale"] < 1
    assert max(np.abs(sf.read(path)[0]).max() for path in tmp_path.glob("*.wav")) <= 1.0


def test_scan_caps_jobs_at_the_usable_cores_with_a_note(tracks, tmp_path, capsys):
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(tracks / "track_0.wav", folder)
    args = ["scan", str(nh.clip_path("sample")), str(folder), "-o", str(tmp_path / "found.csv")]
    assert main([*args, "--jobs", "1000", "--iters", "5"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("note: scan: --jobs 1000 is more than"), err
    assert (tmp_path / "found.csv").read_text().startswith("sample,track,decision,score")


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_the_package_is_still_importing_is_one_line(tmp_path, signum, status):
    """Before cli.main exists, numpy and numba are loading: still one line, nothing written."""
    out = tmp_path / "out"
    song = nh.clip_path("groove")
    run = Run(["separate", song, "-o", out], tmp_path / "moments", hold="starting")
    run.wait_for("starting")
    run.process.send_signal(signum)
    result = run.finish()
    line = one_line(result, status, prefix="interrupted: ")
    assert "while starting; nothing written" in line
    assert not out.exists()


# -- file names that are not UTF-8 ----------------------------------------------------------------

#: A Latin-1 "é" (one byte, invalid UTF-8), and a UTF-8 "ö" that the C locale cannot decode.
ODD_NAMES = {"latin-1": (b"caf\xe9", "C.UTF-8"), "utf-8 under C": ("n\u00f6t".encode(), "C")}


@pytest.mark.parametrize(("name", "locale"), ODD_NAMES.values(), ids=ODD_NAMES.keys())
def test_names_that_are_not_utf8_work_and_are_named_in_one_line(songs, tmp_path, name, locale):
    folder = os.fsencode(tmp_path)
    song = folder + b"/" + name + b".wav"
    shutil.copy(songs["song"], song)
    env = {**os.environ, "LC_ALL": locale, "PYTHONUTF8": "0"}

    def run(*args: bytes) -> subprocess.CompletedProcess:
        command = [os.fsencode(part) for part in PYTHON] + list(args)
        return subprocess.run(command, capture_output=True, env=env, timeout=300)

    quick = [os.fsencode(part) for part in QUICK]
    for command in [b"separate", b"demo"]:
        out = folder + b"/out-" + command + b"-" + name
        result = run(command, song, b"-o", out, *quick)
        assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr
        assert os.path.isdir(out) and os.listdir(out)
    found = run(b"detect", song, song, b"--json")
    assert found.returncode == 0 and b"Traceback" not in found.stderr, found.stderr
    report = json.loads(found.stdout)
    assert report["detected"] is True and os.fsencode(report["track"]) == song  # bytes as given

    missing = run(b"separate", folder + b"/gone-" + name + b".wav", b"-o", folder + b"/o")
    decoded = subprocess.CompletedProcess([], missing.returncode, "", missing.stderr.decode())
    line = one_line(decoded, 2)
    assert "no such file" in line and "gone-" in line
    assert "\\x" in line and "\\udc" not in line  # the odd bytes as ls shows them


def test_a_name_that_is_not_utf8_is_printed_as_its_bytes_on_a_strict_utf8_stdout(
    songs, tmp_path, monkeypatch
):
    # en_US.UTF-8 and most desktop locales give stdout errors="strict" (C.UTF-8 does not)
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    monkeypatch.setattr(sys, "stdout", stdout)
    song = os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.wav")
    shutil.copy(songs["song"], song)
    assert main(["separate", song, "-o", song + ".out", *QUICK]) == 0
    stdout.flush()
    assert b"caf\xe9.wav.out" in stdout.buffer.getvalue()
