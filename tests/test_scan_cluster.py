"""``scan`` when what it is given or runs on fails: clusters, names, disks, repeats.

The Dask tests run a real ``dask scheduler`` and ``dask worker`` on
127.0.0.1 and stop them at moments the fault-injection hook names
(:func:`nmf_helpers.cli._interrupts.checkpoint`: a worker held inside one
pair), so nothing depends on timing. Each checks that the scan stops or goes
on in one line, and that the CSV in the end is the one an uninterrupted
scan writes, byte for byte.
"""

from __future__ import annotations

import csv
import errno
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import soundfile as sf

import nmf_helpers as nh
from nmf_helpers.cli import main

SCAN = importlib.import_module("nmf_helpers.cli.scan")
ENGINE = importlib.import_module("nmf_helpers.detection.scan")

SR = 22050
QUICK = ["--iters", "8", "--screen-iters", "3", "--free", "5"]
PYTHON = [sys.executable, "-m", "nmf_helpers"]
DASK = str(Path(sys.executable).with_name("dask"))
#: Only a guard against a run that hangs: no test here is timed (speed is for benchmarks).
HANG_S = 120
# The workers' arithmetic is this process's (--jobs 1): one BLAS and numba thread.
ONE_THREAD = {
    name: "1"
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Two samples (3 s) and a folder of three tracks (4 s): six pairs."""
    folder = tmp_path_factory.mktemp("inputs")
    samples = []
    for name, start in [("sample", 0), ("groove_keys", 5)]:
        x = nh.load_audio(nh.clip_path(name))[0]
        path = folder / f"{name}.wav"
        sf.write(path, x[start * SR : (start + 3) * SR], SR, subtype="PCM_16")
        samples.append(str(path))
    tracks = folder / "tracks"
    tracks.mkdir()
    for name in ["sampling_track", "groove", "unrelated_track"]:
        x = nh.load_audio(nh.clip_path(name))[0]
        sf.write(tracks / f"{name}.wav", x[: 4 * SR], SR)
    return samples, tracks


@pytest.fixture(scope="module")
def serial(inputs, tmp_path_factory) -> bytes:
    """The uninterrupted scan's CSV, checked in this process (``--jobs 1``)."""
    samples, tracks = inputs
    out = tmp_path_factory.mktemp("serial") / "serial.csv"
    assert main(["scan", *samples, str(tracks), "-o", str(out), "--jobs", "1", *QUICK]) == 0
    return out.read_bytes()


def read_rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def one_line(err: str, prefix: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(prefix), lines[0]
    return lines[0]


# -- a real cluster -----------------------------------------------------------------------------


class Cluster:
    """A ``dask scheduler`` and its workers, processes of their own on 127.0.0.1."""

    def __init__(self, folder: Path, *, scheduler_env=None):
        self.folder, self.processes = folder, []
        info = folder / "scheduler.json"
        self.scheduler = self._start(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
            ["--scheduler-file", info],
            scheduler_env,
        )
        deadline = time.monotonic() + 60
        while not (info.exists() and info.read_text().strip().endswith("}")):
            assert time.monotonic() < deadline and self.scheduler.poll() is None, "no scheduler"
            time.sleep(0.05)
        self.address = json.loads(info.read_text())["address"]

    def _start(self, command, more, env) -> subprocess.Popen:
        process = subprocess.Popen(
            [*command, *map(str, more)],
            env={**os.environ, **ONE_THREAD, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        return process

    def add_worker(self, log: Path | None = None, hold: str | None = None) -> subprocess.Popen:
        """A worker of one thread; its checkpoints go to ``log``, held at ``hold``."""
        env = {"NMF_HELPERS_CHECKPOINTS": str(log)} if log else {}
        if hold:
            env["NMF_HELPERS_HOLD_AT"] = hold
        command = [DASK, "worker", self.address, "--nthreads", "1", "--no-dashboard"]
        return self._start(command, [], env)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()


@pytest.fixture
def clusters(tmp_path):
    """Start clusters with ``clusters(name)``; all are stopped at the end."""
    made = []

    def start(name: str, **options) -> Cluster:
        folder = tmp_path / name
        folder.mkdir()
        made.append(Cluster(folder, **options))
        return made[-1]

    yield start
    for cluster in made:
        cluster.stop()


def moments(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def wait_for(log: Path, moment: str, running) -> None:
    """Wait until ``moment`` is in ``log``, while ``running()`` (the scan) is true."""
    deadline = time.monotonic() + 120
    while moment not in moments(log):
        assert running(), "the scan ended first"
        assert time.monotonic() < deadline, f"never reached {moment}"
        time.sleep(0.02)


def pairs_checked(log: Path) -> list[str]:
    return [m.split("@")[0] for m in moments(log) if m.startswith("pair:")]


def test_a_lost_scheduler_stops_the_scan_in_one_line_and_a_new_cluster_resumes_it(
    inputs, serial, clusters, tmp_path
):
    samples, tracks = inputs
    out = tmp_path / "found.csv"
    args = ["scan", *samples, tracks, "-o", out, *QUICK]
    first = clusters("first")
    held = tmp_path / "first.log"
    first.add_worker(held, hold="check:1-1")  # its one worker held inside pair 1-1
    scan = subprocess.Popen(
        [*PYTHON, *map(str, [*args, "--scheduler", first.address])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(held, "check:1-1", lambda: scan.poll() is None)
    first.scheduler.kill()  # the cluster is lost while pair 1-1 is in flight
    try:
        _, err = scan.communicate(timeout=HANG_S)  # not a speed test: only a hang guard
    except subprocess.TimeoutExpired:
        scan.kill()
        pytest.fail(f"the scan still waits {HANG_S} s after its scheduler died")
    assert scan.returncode == 2, err
    line = one_line(err, f"error: scan: lost the Dask scheduler at {first.address}")
    assert "rerun with --resume" in line
    assert "distributed" not in err  # none of Dask's own log lines
    first.stop()

    partial = tmp_path / "found.csv.partial"
    kept = read_rows(partial) if partial.exists() else []
    assert all(row["decision"] in {"yes", "no"} for row in kept), kept  # no error rows
    names = [(row["sample"], Path(row["track"]).name) for row in kept]
    assert (samples[1], "sampling_track.wav") not in names  # in flight: left undone

    second = clusters("second")
    log = tmp_path / "second.log"
    second.add_worker(log)
    resumed = subprocess.run(
        [*PYTHON, *map(str, [*args, "--scheduler", second.address, "--resume"])],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_bytes() == serial
    assert len(pairs_checked(log)) == 6 - len(kept)  # only the pairs left undone
    assert not partial.exists()


@pytest.mark.parametrize("resubmissions", [ENGINE.RESUBMISSIONS, 0])
def test_pairs_lost_with_a_dying_worker_go_again_or_are_left_undone_never_errors(
    resubmissions, inputs, serial, clusters, tmp_path, capsys, monkeypatch
):
    samples, tracks = inputs
    monkeypatch.setattr(ENGINE, "RESUBMISSIONS", resubmissions)
    out = tmp_path / "found.csv"
    args = ["scan", *samples, str(tracks), "-o", str(out), *QUICK]
    # No second try on the scheduler's side: one death makes Dask give up on every pair
    # queued on that worker (KilledWorker), the one it was checking and the innocent others.
    cluster = clusters(
        "cluster", scheduler_env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    )
    held = tmp_path / "worker.log"
    cluster.add_worker(held, hold="check:0-2")  # its nanny restarts it: no hold the 2nd time
    status = []
    scan = threading.Thread(
        target=lambda: status.append(main([*args, "--scheduler", cluster.address]))
    )
    scan.start()
    wait_for(held, "check:0-2", scan.is_alive)
    (pid,) = [m.split("@")[1] for m in moments(held) if m.startswith("pair:0-2@")]
    os.kill(int(pid), signal.SIGKILL)  # the worker dies inside pair 0-2
    scan.join(timeout=120)
    err = capsys.readouterr().err
    if resubmissions:
        assert status == [0], err
        assert err == ""
        assert "pair:0-2+1" in pairs_checked(held)  # sent again, under a key of its own
        assert out.read_bytes() == serial
        return
    assert status == [2], err
    line = one_line(err, "error: scan: ")
    rows = read_rows(tmp_path / "found.csv.partial")
    assert f"{6 - len(rows)} of 6 pairs are left undone: the Dask workers" in line, line
    assert "rerun with --resume" in line
    assert all(row["decision"] in {"yes", "no"} for row in rows), rows  # no error rows
    assert (samples[0], "unrelated_track.wav") not in [
        (row["sample"], Path(row["track"]).name) for row in rows
    ]
    cluster.stop()
    # Any cluster, or none, may go on with it: the rows are the same.
    assert main([*args, "--jobs", "1", "--resume"]) == 0
    assert out.read_bytes() == serial


def test_a_scheduler_without_workers_is_said_once_and_the_scan_waits_for_one(
    inputs, serial, clusters, tmp_path, capsys, monkeypatch
):
    samples, tracks = inputs
    cluster = clusters("empty")
    said = []

    def note(command, text):
        said.append(text)
        if "has no workers" in text:
            cluster.add_worker()  # the user reads the note and starts one

    monkeypatch.setattr(ENGINE, "NO_WORKER_S", 0.5)
    monkeypatch.setattr(SCAN, "note", note)
    out = tmp_path / "found.csv"
    args = ["scan", *samples, str(tracks), "-o", str(out), *QUICK, "--jobs", "2"]
    late = threading.Timer(30, cluster.add_worker)  # no note: the test fails, not hangs
    late.start()
    try:
        assert main([*args, "--scheduler", cluster.address]) == 0
    finally:
        late.cancel()
    assert out.read_bytes() == serial
    assert len(said) == 2, said
    assert said[0] == f"--jobs 2 is for local workers; the cluster at {cluster.address} has its own"
    assert said[1].startswith(f"the scheduler at {cluster.address} has no workers")
    assert f"dask worker {cluster.address}" in said[1]


def scan_without_dask(args, monkeypatch) -> int:
    """``main(args)`` in a thread, refused before Dask's own connection is ever tried.

    Dask retries a refused port for its whole connect timeout (20 s) and waits
    forever on a silent one: reaching it is the failure. The thread's join is
    only a guard against a hang, nothing is timed.
    """
    tried = []
    monkeypatch.setattr(SCAN, "dask_client", lambda *a: tried.append(a) or 1 / 0)
    status = []
    scan = threading.Thread(target=lambda: status.append(main(args)))
    scan.start()
    scan.join(timeout=HANG_S)
    assert not scan.is_alive(), f"still running after {HANG_S} s"
    assert tried == [], "went on to Dask's own connection"
    return status[0]


def test_a_scheduler_address_that_does_not_answer_is_refused_before_dask_in_one_line(
    inputs, tmp_path, capsys, monkeypatch
):
    samples, tracks = inputs
    out = tmp_path / "found.csv"
    with socket.socket() as silent:  # accepts connections, never says a word (a web port)
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        web = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        refused = "tcp://127.0.0.1:1"
        for address, words in [
            (
                refused,
                "cannot reach the Dask scheduler at 'tcp://127.0.0.1:1' (connection refused)",
            ),
            (web, "does not answer as a Dask scheduler"),
        ]:
            args = ["scan", samples[0], str(tracks), "-o", str(out), "--scheduler", address]
            assert scan_without_dask(args, monkeypatch) == 2
            line = one_line(capsys.readouterr().err, "error: scan: ")
            assert address in line and words in line, line
    assert list(tmp_path.iterdir()) == []


def test_an_address_that_never_connects_is_unreachable_not_a_silent_scheduler(
    inputs, tmp_path, capsys, monkeypatch
):
    # A firewall that drops packets, or an address no one has: the connection
    # itself times out. That is not a port that accepted and stayed silent.
    def no_answer(address, timeout=None, **options):
        raise TimeoutError("timed out")

    monkeypatch.setattr(ENGINE.socket, "create_connection", no_answer)
    samples, tracks = inputs
    address = "tcp://10.255.255.1:8786"
    args = ["scan", samples[0], str(tracks), "-o", str(tmp_path / "found.csv")]
    assert scan_without_dask([*args, "--scheduler", address], monkeypatch) == 2
    line = one_line(capsys.readouterr().err, "error: scan: ")
    assert line == (
        f"error: scan: cannot reach the Dask scheduler at '{address}'"
        f" (no answer within {ENGINE.PROBE_S:g} s); start it (dask scheduler) or check --scheduler"
    )


# -- names, disks, repeats, errors, progress ----------------------------------------------------


def stop_after_rows(n: int):
    """A checkpoint that interrupts the scan after its ``n``-th row, like a Ctrl-C."""
    rows = []

    def checkpoint(moment):
        if moment == "row":
            rows.append(moment)
            if len(rows) == n:
                raise SCAN.Interrupted(signal.SIGINT)

    return checkpoint


def test_file_names_that_are_not_utf8_are_kept_in_the_csv_and_resumed(
    inputs, tmp_path, monkeypatch
):
    samples, tracks = inputs
    folder = os.fsencode(tmp_path / "odd")
    os.mkdir(folder)
    for source, name in [("groove.wav", b"caf\xe9.wav"), ("unrelated_track.wav", b"n\xc3\xa9.wav")]:
        shutil.copy(tracks / source, os.path.join(folder, name))  # Latin-1, then UTF-8
    sample = os.path.join(folder, b"riff \xff.wav")
    shutil.copy(samples[0], sample)
    listing = tmp_path / "odd.txt"
    listing.write_bytes(b"odd/caf\xe9.wav\nodd/n\xc3\xa9.wav\n")
    # A C locale without UTF-8 mode: every byte above 127 of a name is undecodable there.
    ascii_only = {**os.environ, "LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    for name, catalogue in [(b"folder", folder), (b"listing", os.fsencode(listing))]:
        args = [b"scan", sample, catalogue, *map(os.fsencode, QUICK), b"--jobs", b"1"]
        whole = os.path.join(os.fsencode(tmp_path), name + b"-whole.csv")
        assert main([*map(os.fsdecode, args), "-o", os.fsdecode(whole)]) == 0
        out = os.path.join(os.fsencode(tmp_path), name + b".csv")
        with monkeypatch.context() as patch:
            patch.setattr(SCAN, "checkpoint", stop_after_rows(2))  # both rows in, no CSV
            assert main([*map(os.fsdecode, args), "-o", os.fsdecode(out)]) == 130
        # Resumed in the C locale: each row is found again by the bytes of its names.
        log = tmp_path / f"{name.decode()}.log"
        resumed = subprocess.run(
            [*map(os.fsencode, PYTHON), *args, b"-o", out, b"--resume"],
            capture_output=True,
            env={**ascii_only, "NMF_HELPERS_CHECKPOINTS": str(log)},
            timeout=120,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert pairs_checked(log) == []  # nothing checked twice
        assert b"riff \\xff.wav: in " in resumed.stdout
        with open(whole, "rb") as handle:
            data = handle.read()
        with open(out, "rb") as handle:
            assert handle.read() == data
        assert b"caf\xe9.wav," in data and b"n\xc3\xa9.wav," in data and b"riff \xff.wav" in data


@pytest.mark.parametrize("filled", ["partial", "csv"])
def test_a_full_disk_says_what_is_kept_and_resume_goes_on(
    filled, inputs, serial, tmp_path, monkeypatch, capsys
):
    samples, tracks = inputs
    out = tmp_path / "found.csv"
    args = ["scan", *samples, str(tracks), "-o", str(out), "--jobs", "1", *QUICK]
    real_open = SCAN.open_csv

    class Filling:
        """A file on a disk that fills up: at the partial file's third row, or in the CSV."""

        def __init__(self, path, mode):
            self.handle, self.rows = real_open(path, mode), 0
            self.fills = str(path).endswith(".partial") == (filled == "partial")

        def write(self, text):
            if self.fills and not text.startswith(("#", "sample,")):
                self.rows += 1
                if self.rows == 3 or filled == "csv":
                    self.handle.write(text[:5])
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.handle.write(text)

        def writelines(self, lines):
            for line in lines:
                self.write(line)

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    with monkeypatch.context() as patch:
        patch.setattr(SCAN, "open_csv", Filling)
        assert main(args) == 2
    line = one_line(capsys.readouterr().err, "error: scan: could not write ")
    assert "the disk is full" in line and "--resume" in line and "nothing was written" not in line
    kept = "the 2 rows written before are kept" if filled == "partial" else "all 6 rows are kept"
    assert kept in line, line
    assert not out.exists()
    assert main([*args, "--resume"]) == 0
    assert out.read_bytes() == serial


def test_a_silent_sample_is_named(inputs, tmp_path, capsys):
    samples, tracks = inputs
    silent = tmp_path / "quiet riff.wav"
    sf.write(silent, [0.0] * (3 * SR), SR)
    out = tmp_path / "found.csv"
    assert main(["scan", samples[0], str(silent), str(tracks), "-o", str(out), "--jobs", "1"]) == 2
    line = one_line(capsys.readouterr().err, "error: scan: ")
    assert str(silent) in line and "silent" in line
    assert not out.exists() and not (tmp_path / "found.csv.partial").exists()


def test_repeated_tracks_and_samples_are_checked_once_with_a_note(inputs, tmp_path, capsys):
    samples, tracks = inputs
    listing = tmp_path / "list.txt"
    groove = tracks / "groove.wav"
    listing.write_text(f"{groove}\n{tracks / 'unrelated_track.wav'}\n{groove}\n{groove}\n")
    again = os.path.relpath(samples[0])  # the same file under another name
    out = tmp_path / "found.csv"
    args = ["scan", samples[0], again, str(listing), "-o", str(out), "--jobs", "1", *QUICK]
    assert main(args) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"note: scan: {samples[0]!r} is given as a sample 2 times; it is checked once",
        f"note: scan: {str(groove)!r} is listed in {str(listing)!r} 3 times; it is checked once",
    ]
    rows = read_rows(out)
    assert [(row["sample"], Path(row["track"]).name) for row in rows] == [
        (samples[0], "groove.wav"),
        (samples[0], "unrelated_track.wav"),
    ]


def test_error_rows_are_checked_again_with_resume_retry_errors(inputs, tmp_path, capsys):
    samples, tracks = inputs
    listing = tmp_path / "list.txt"
    listing.write_text("late.wav\nsampling_track.wav\n")
    shutil.copy(tracks / "sampling_track.wav", tmp_path)
    out = tmp_path / "found.csv"
    args = ["scan", samples[0], str(listing), "-o", str(out), "--jobs", "1", *QUICK]
    assert main(args) == 2  # late.wav is missing: an error row
    line = one_line(capsys.readouterr().err, "error: scan: 1 of 2 pairs could not be checked")
    assert "--resume --retry-errors" in line
    assert read_rows(out)[0]["decision"] == "error"

    assert main([*args, "--retry-errors"]) == 2
    one_line(capsys.readouterr().err, "error: scan: --retry-errors re-checks")
    assert main([*args, "--resume"]) == 2  # without the flag the error row stays
    one_line(capsys.readouterr().err, "error: scan: 1 of 2 pairs could not be checked")
    shutil.copy(tracks / "groove.wav", tmp_path / "late.wav")  # the missing track arrives
    assert main([*args, "--resume", "--retry-errors"]) == 0
    assert "checking again the 1 pairs whose rows are errors" in capsys.readouterr().err
    whole = tmp_path / "whole.csv"
    assert main([*args[:3], "-o", str(whole), *args[5:]]) == 0
    assert out.read_bytes() == whole.read_bytes()
    assert not (tmp_path / "found.csv.partial").exists()


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(
    inputs, tmp_path, capsys, monkeypatch
):
    samples, tracks = inputs
    args = ["scan", samples[0], str(tracks), "--jobs", "1", *QUICK]
    assert main([*args, "-o", str(tmp_path / "quiet.csv")]) == 0
    assert capsys.readouterr().err == ""  # within PROGRESS_S: nothing
    monkeypatch.setattr(SCAN, "PROGRESS_S", 0.0)
    assert main([*args, "-o", str(tmp_path / "found.csv")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        f"scan: {n} of 3 pairs checked" for n in (1, 2, 3)
    ]


def test_a_lost_cluster_is_told_by_the_errors_type_not_its_text():
    """Dask's closed connection, an OSError or a cancelled future: the connection was lost."""
    import asyncio
    import concurrent.futures

    from distributed.comm.core import CommClosedError

    lost = "the connection to it was lost"
    for error in [
        CommClosedError("in <TCP (closed)>: Stream is closed"),
        ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
        TimeoutError("Timed out trying to connect"),
        concurrent.futures.CancelledError(),
        asyncio.CancelledError(),
    ]:
        assert ENGINE._cluster_reason(error) == lost, error
    cancelled = getattr(importlib.import_module("distributed.client"), "FutureCancelledError", None)
    if cancelled is not None:
        assert issubclass(cancelled, concurrent.futures.CancelledError)
    # A word in the text routes nothing: the error is named as it is.
    error = RuntimeError("the connection pool is full")
    assert ENGINE._cluster_reason(error) == "RuntimeError: the connection pool is full"
