"""``scan SAMPLE... CATALOGUE``: every pair, on Dask or here, resumable, one row per pair.

Short inputs and few iterations: what is checked is the bookkeeping (every
pair once, the same bytes whoever computes them, resumes that redo nothing),
not the detector, which ``tests/test_detection.py`` checks.
"""

from __future__ import annotations

import csv
import errno
import importlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

import nmf_helpers as nh
from nmf_helpers import detection
from nmf_helpers.cli import main
from nmf_helpers.cli.scan import Partial

SCAN = importlib.import_module("nmf_helpers.cli.scan")
ENGINE = importlib.import_module("nmf_helpers.detection.scan")

SR = 22050
# Enough work per pair that a worker can be caught in one, little enough to stay quick.
QUICK = ["--iters", "8", "--screen-iters", "3", "--free", "5"]
PYTHON = [sys.executable, "-m", "nmf_helpers"]


@pytest.fixture(scope="module")
def scan_inputs(tmp_path_factory):
    """Three samples (3 s) and a folder of six tracks (4 s)."""
    folder = tmp_path_factory.mktemp("scan")
    clips = {name: nh.load_audio(nh.clip_path(name))[0] for name in ["sampling_track", "groove"]}
    clips["unrelated_track"] = nh.load_audio(nh.clip_path("unrelated_track"))[0]
    samples = []
    for name, start in [("sample", 0), ("sample_keys", 2), ("groove_keys", 5)]:
        x = nh.load_audio(nh.clip_path(name))[0]
        path = folder / f"{name}.wav"
        sf.write(path, x[start * SR : (start + 3) * SR], SR, subtype="PCM_16")
        samples.append(str(path))
    tracks = folder / "tracks"
    tracks.mkdir()
    for name, x in clips.items():
        for start in (0, 6):
            sf.write(tracks / f"{name}_{start}.wav", x[start * SR : (start + 4) * SR], SR)
    return samples, tracks


@pytest.fixture(scope="module")
def shifted_track(scan_inputs):
    """``sampling_track_0.wav`` a semitone up, outside the folder the scans read.

    No exact copy of the sample is left in it, so the activations decide: an exact copy
    scores 1 whatever the fit's options (detection/copies.py), and these tests are about
    what the options change.
    """
    _, tracks = scan_inputs
    x = nh.load_audio(tracks / "sampling_track_0.wav")[0]
    path = tracks.parent / "sampling_track_0_up.wav"
    sf.write(path, librosa.effects.pitch_shift(x, sr=SR, n_steps=1), SR)
    return path


def read_rows(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def serial(scan_inputs, tmp_path_factory):
    """The 3 x 6 scan checked in this process, pair after pair (``--jobs 1``)."""
    samples, tracks = scan_inputs
    out = tmp_path_factory.mktemp("serial") / "serial.csv"
    assert main(["scan", *samples, str(tracks), "-o", str(out), "--jobs", "1", *QUICK]) == 0
    return out.read_bytes()


def test_a_local_cluster_gives_the_serial_results_bit_for_bit(
    scan_inputs, serial, tmp_path, capsys
):
    samples, tracks = scan_inputs
    capsys.readouterr()
    out = tmp_path / "cluster.csv"
    threads = ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    before = {name: os.environ.get(name) for name in threads}
    assert main(["scan", *samples, str(tracks), "-o", str(out), "--jobs", "2", *QUICK]) == 0
    assert "dashboard: " in capsys.readouterr().out  # it did run on the cluster
    # The workers' one-thread settings stay theirs: Dask's nanny had left them in this
    # process, and numba then refused to compile anything (its pool has another size).
    assert {name: os.environ.get(name) for name in threads} == before
    assert out.read_bytes() == serial
    rows = read_rows(out)
    pairs = [(row["sample"], Path(row["track"]).name) for row in rows]
    names = sorted(path.name for path in tracks.iterdir())
    assert pairs == [(sample, name) for sample in samples for name in names]
    assert not (tmp_path / "cluster.csv.partial").exists()


class Run:
    """A scan subprocess whose checkpoints (and its workers') go to ``log``."""

    def __init__(self, args, log: Path, hold: str | None = None):
        self.log = log
        env = {**os.environ, "NMF_HELPERS_CHECKPOINTS": str(log)}
        env.pop("NMF_HELPERS_HOLD_AT", None)
        if hold:
            env["NMF_HELPERS_HOLD_AT"] = hold
        self.process = subprocess.Popen(
            [*PYTHON, *map(str, args)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

    def moments(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []

    def wait_for(self, found, timeout: float = 120):
        """The first moment for which ``found(moment)`` is true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [moment for moment in self.moments() if found(moment)]
            if hits:
                return hits[0]
            if self.process.poll() is not None:
                pytest.fail(f"ended first: {self.process.communicate()}")
            time.sleep(0.02)
        self.process.kill()
        pytest.fail("never got there")

    def finish(self, timeout: float = 180) -> subprocess.CompletedProcess:
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
            pytest.fail(f"still running after {timeout} s: {err}")
        return subprocess.CompletedProcess([], self.process.returncode, out, err)


def test_a_worker_killed_mid_scan_loses_only_its_pair_which_runs_again(scan_inputs, tmp_path):
    samples, tracks = scan_inputs
    out = tmp_path / "found.csv"
    names = ["sampling_track_0.wav", "groove_0.wav", "unrelated_track_0.wav"]
    listing = tmp_path / "three.txt"
    listing.write_text("".join(f"{tracks / name}\n" for name in names))
    # Longer fits than QUICK, so the worker is caught inside its pair.
    args = ["scan", samples[0], listing, "-o", out, "--jobs", "2", "--iters", "150"]
    run = Run([*args, "--screen-iters", "0", "--free", "5"], tmp_path / "moments")
    moment = run.wait_for(lambda m: m.startswith("pair:"))
    label, pid = moment.split("@")
    os.kill(int(pid), signal.SIGTERM)  # its process terminated while it checks that pair
    result = run.finish()
    assert result.returncode == 0, result.stderr
    assert [m.split("@")[0] for m in run.moments()].count(label) == 2  # checked again, elsewhere
    rows = read_rows(out)
    assert [Path(row["track"]).name for row in rows] == names
    assert all(row["decision"] in {"yes", "no"} for row in rows), rows


def test_a_killed_scan_resumes_where_it_stopped_and_writes_the_same_csv(
    scan_inputs, serial, tmp_path, monkeypatch
):
    samples, tracks = scan_inputs
    out = tmp_path / "found.csv"
    args = ["scan", *samples, str(tracks), "-o", str(out), "--jobs", "1", *QUICK]
    run = Run(args, tmp_path / "killed", hold="row")  # held just after its first row
    run.wait_for(lambda m: m == "row")
    run.process.kill()  # SIGKILL: no clean-up at all
    run.finish()
    partial = tmp_path / "found.csv.partial"
    first = partial.read_text().splitlines()[2]
    with open(partial, "a") as handle:
        handle.write(first[: len(first) // 2])  # a row cut in half by the kill

    assert main(args) == 2  # a leftover partial file is not overwritten without a word
    assert partial.read_text().splitlines()[2] == first

    log = tmp_path / "resumed"
    monkeypatch.setenv("NMF_HELPERS_CHECKPOINTS", str(log))
    monkeypatch.delenv("NMF_HELPERS_HOLD_AT", raising=False)
    assert main([*args, "--resume"]) == 0
    assert out.read_bytes() == serial
    checked = [m.split("@")[0] for m in log.read_text().split() if m.startswith("pair:")]
    assert len(checked) == len(set(checked)) == 3 * 6 - 1  # the first pair is not redone
    assert not partial.exists()


def test_resume_refuses_other_settings(scan_inputs, tmp_path, capsys):
    samples, tracks = scan_inputs
    out = tmp_path / "found.csv"
    partial = tmp_path / "found.csv.partial"
    partial.write_text('# nmf_helpers scan, settings: {"n_iter": 99}\nsample,track\n')
    args = ["scan", samples[0], str(tracks), "-o", str(out), "--jobs", "1", *QUICK, "--resume"]
    assert main(args) == 2
    assert "was made with n_iter = 99, not 8" in capsys.readouterr().err
    assert partial.read_text().startswith("# nmf_helpers scan")  # left as it was


def test_a_catalogue_list_with_missing_and_junk_paths_gives_error_rows(
    scan_inputs, tmp_path, capsys
):
    samples, tracks = scan_inputs
    (tmp_path / "junk.wav").write_bytes(b"RIFF this is not audio")
    listing = tmp_path / "catalogue.txt"
    good = tracks / "sampling_track_0.wav"
    listing.write_text(f"# three tracks\n{good}\n\nmissing.flac\njunk.wav\n")
    out = tmp_path / "found.csv"
    status = main(["scan", samples[0], str(listing), "-o", str(out), "--jobs", "1", *QUICK])
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.count("\n") == 0, err
    assert "2 of 3 pairs could not be checked" in err
    rows = {Path(row["track"]).name: row for row in read_rows(out)}
    assert list(rows) == ["sampling_track_0.wav", "missing.flac", "junk.wav"]
    assert rows["sampling_track_0.wav"]["decision"] in {"yes", "no"}
    assert rows["missing.flac"]["decision"] == rows["junk.wav"]["decision"] == "error"
    assert "no such file" in rows["missing.flac"]["error"]
    assert "cannot read" in rows["junk.wav"]["error"]


@pytest.mark.parametrize(("free", "seed"), [(3, 7), (4, 1)])
def test_scan_free_and_seed_reach_the_fit(free, seed, scan_inputs, shifted_track, tmp_path):
    """The score written is the library's for that --free and --seed (its templates' seed too)."""
    samples, _ = scan_inputs
    track = shifted_track
    out = tmp_path / "found.csv"
    args = ["--free", str(free), "--seed", str(seed), "--iters", "5", "--screen-iters", "0"]
    assert main(["scan", samples[0], str(track), "-o", str(out), *args]) == 0
    (row,) = read_rows(out)
    templates = nh.learn_sample(samples[0], seed=seed)
    x = nh.load_audio(track)[0]
    expected = nh.detect_sample(templates, x, n_free=free, n_iter=5, seed=seed).score
    assert row["score"] == f"{expected:.4f}"
    other = nh.detect_sample(templates, x, n_free=free + 1, n_iter=5, seed=seed + 1).score
    assert f"{other:.4f}" != row["score"]  # the comparison can tell the options apart


def test_scan_force_replaces_the_csv_and_a_stopped_scans_rows(scan_inputs, tmp_path, capsys):
    samples, tracks = scan_inputs
    track = str(tracks / "groove_0.wav")
    out = tmp_path / "found.csv"
    out.write_text("my own notes\n")
    partial = tmp_path / "found.csv.partial"
    partial.write_text("rows of a stopped scan\n")
    args = ["scan", samples[0], track, "-o", str(out), "--jobs", "1", *QUICK]
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    out.unlink()
    assert main(args) == 2
    assert "pass --resume to go on" in capsys.readouterr().err
    out.write_text("my own notes\n")
    assert main([*args, "--force"]) == 0
    rows = read_rows(out)
    assert [row["track"] for row in rows] == [track]
    assert not partial.exists()


def test_a_row_cut_in_half_is_dropped_before_new_rows_are_added(tmp_path):
    path = tmp_path / "found.csv.partial"
    settings = {"n_iter": 8}
    journal = Partial(path, settings, resume=False, force=False)
    journal.add("riff.wav", "a.wav", {"decision": "no", "score": "0.1000"})
    journal.add("riff.wav", "b.wav", {"decision": "yes", "score": "0.9000"})
    journal.close()
    path.write_text(path.read_text()[:-8])  # the kill came while b.wav's row was written
    journal = Partial(path, settings, resume=True, force=False)
    assert list(journal.done) == [("riff.wav", "a.wav")]
    journal.add("riff.wav", "c.wav", {"decision": "no", "score": "0.2000"})
    journal.close()
    again = Partial(path, settings, resume=True, force=False)
    again.close()
    assert list(again.done) == [("riff.wav", "a.wav"), ("riff.wav", "c.wav")]
    assert again.done["riff.wav", "c.wav"][2:4] == ["no", "0.2000"]


def test_a_pair_is_ruled_out_by_its_coarse_score_or_gets_detect_samples_row(tmp_path):
    """The catalogue's shared spectrogram changes nothing: a kept pair's row is detect_sample's."""
    templates = nh.learn_sample(nh.clip_path("sample"), n_iter=30)
    # The first pass at its own iterations; a margin that rules out the other style's track.
    # (unrelated_track, of the sample's style, shares notes of the sample's very soundfont
    # and passes it: its waveform's z reaches 11.2 in the first pass, detection/copies.py.)
    settings = ENGINE.ScanSettings(n_iter=20, n_free=5, screen_margin=0.05)
    rows = {}
    for name in ("sampling_track", "groove"):
        track = ENGINE.read_track(str(nh.clip_path(name)), SR)
        rows[name] = ENGINE.scan_pair(templates, track, settings)
    x = nh.load_audio(nh.clip_path("sampling_track"))[0]
    full = nh.detect_sample(templates, x, n_iter=20, n_free=5)
    assert rows["sampling_track"] == ENGINE.result_fields(full, "full fit")
    x = nh.load_audio(nh.clip_path("groove"))[0]
    V = detection.track_spectrogram_unchecked(x, 2048, 512)
    white = detection.copies.WhiteTrack(detection.copies.whiten_unchecked(x))
    coarse = detection.coarse_score_unchecked(
        templates,
        V,
        n_free=5,
        n_iter=ENGINE.SCREEN_ITERATIONS,
        n_ratios=ENGINE.SCREEN_RATIOS,
        white=white,
    )
    assert coarse < settings.threshold - settings.screen_margin
    assert rows["groove"] == {field: "" for field in ENGINE.ROW_FIELDS} | {
        "decision": "no",
        "score": f"{coarse:.4f}",
        "stage": "first pass",
    }


def test_a_silent_or_too_short_track_gives_an_error_row_naming_it(tmp_path):
    templates = nh.learn_sample(nh.clip_path("sample"), n_iter=5)
    for name, x in [("silent.wav", np.zeros(SR)), ("short.wav", 0.1 * np.ones(1000))]:
        sf.write(tmp_path / name, x, SR)
        track = ENGINE.read_track(str(tmp_path / name), SR)
        row = ENGINE.scan_pair(templates, track, ENGINE.ScanSettings(n_iter=2))
        assert row["decision"] == "error"
        assert (
            "silent" if name == "silent.wav" else "track is 0.045 s long (1000 samples at 22050 Hz)"
        ) in row["error"]


# -- --tempo-range and --min-part: detect's options, in both passes --------------------------------

# Each option against the sample's 3 s and its true ratio x1.00: each changes both passes' score.
SEARCH_OPTIONS = {
    "tempo_range": (["--tempo-range", "1.04", "1.1"], {"tempo_range": (1.04, 1.1)}),
    "min_part_s": (["--min-part", "1.5"], {"min_part_s": 1.5}),
}
# --threshold 0.99: every pair is ruled out by the first pass (its score is all the row has).
PASSES = {"first pass": ["--screen-iters", "3", "--threshold", "0.99"], "full fit": []}


@pytest.mark.parametrize("stage", list(PASSES))
@pytest.mark.parametrize("option", list(SEARCH_OPTIONS))
def test_scan_tempo_range_and_min_part_reach_both_passes(
    option, stage, scan_inputs, shifted_track, tmp_path
):
    """The score written is the library's for that option, in the pass that decided."""
    samples, _ = scan_inputs
    track = shifted_track
    out = tmp_path / "found.csv"
    given, search = SEARCH_OPTIONS[option]
    args = ["scan", samples[0], str(track), "-o", str(out), "--iters", "5", "--free", "5"]
    assert main([*args, *PASSES[stage], *given]) == 0
    (row,) = read_rows(out)
    assert row["stage"] == stage
    templates = nh.learn_sample(samples[0])
    x = nh.load_audio(track)[0]
    if stage == "full fit":

        def score(**options):
            return nh.detect_sample(templates, x, n_free=5, n_iter=5, **options).score
    else:
        V = detection.track_spectrogram_unchecked(x, 2048, 512)

        def score(**options):
            return detection.coarse_score_unchecked(
                templates, V, n_free=5, n_iter=3, n_ratios=ENGINE.SCREEN_RATIOS, **options
            )

    assert row["score"] == f"{score(**search):.4f}"
    assert f"{score():.4f}" != row["score"]  # the comparison can tell the option was used


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            ["--tempo-range", "0.5", "1.1"],
            "error: scan: --tempo-range LOW must be between 0.8 and 1.25, got 0.5",
        ),
        (["--tempo-range", "1.1", "0.9"], "error: scan: --tempo-range must be (low, high)"),
        (["--min-part", "0.5"], "error: scan: --min-part"),
    ],
)
def test_scan_refuses_a_bad_search_option_in_one_line_before_any_work(
    given, message, scan_inputs, tmp_path, capsys
):
    samples, tracks = scan_inputs
    out = tmp_path / "found.csv"
    assert main(["scan", samples[0], str(tracks), "-o", str(out), *given]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(message), err
    assert "tempo_range" not in err and "min_part_s" not in err
    assert list(tmp_path.iterdir()) == []  # no CSV, no partial file


def test_a_sample_shorter_than_min_part_gets_error_rows_naming_the_option(scan_inputs, tmp_path):
    """The scan's check_part, told the option's name: the rows say --min-part, not min_part_s."""
    _, tracks = scan_inputs
    short = tmp_path / "short.wav"
    sf.write(short, nh.load_audio(nh.clip_path("sample"))[0][:SR], SR)  # 1 s < 2.5 s
    out = tmp_path / "found.csv"
    track = tracks / "groove_0.wav"
    assert main(["scan", str(short), str(track), "-o", str(out), "--jobs", "1", *QUICK]) == 2
    (row,) = read_rows(out)
    assert row["decision"] == "error"
    assert row["error"] == (
        "scan: the sample lasts 1.00 s, shorter than the 2.5 s part the detector searches for"
        " (about one bar); give a longer sample, or a smaller --min-part (at least 1 s)"
    )
    # The library's own door keeps the argument's name.
    templates = nh.learn_sample(str(short), n_iter=5)
    track_read = ENGINE.read_track(str(track), SR)
    library_row = ENGINE.scan_pair(templates, track_read, ENGINE.ScanSettings(n_iter=2))
    assert "a smaller min_part_s (at least 1 s)" in library_row["error"]


def test_a_scan_with_search_options_resumes_only_with_the_same_ones(
    scan_inputs, tmp_path, capsys, monkeypatch
):
    samples, tracks = scan_inputs
    out = tmp_path / "found.csv"
    listing = tmp_path / "two.txt"
    listing.write_text(f"{tracks / 'groove_0.wav'}\n{tracks / 'groove_6.wav'}\n")
    args = ["scan", samples[0], str(listing), "-o", str(out), "--jobs", "1", *QUICK]
    options = ["--tempo-range", "0.95", "1.05", "--min-part", "2"]

    def stop_after_the_first_row(moment):
        if moment == "row":
            raise SCAN.Interrupted(signal.SIGINT)

    with monkeypatch.context() as patch:
        patch.setattr(SCAN, "checkpoint", stop_after_the_first_row)
        assert main([*args, *options]) == 130
    assert "rerun with --resume" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 2  # the default range is another scan
    assert "was made with tempo_range = [0.95, 1.05], not [0.9, 1.1]" in capsys.readouterr().err
    assert main([*args, *options, "--resume"]) == 0
    assert [Path(row["track"]).name for row in read_rows(out)] == ["groove_0.wav", "groove_6.wav"]


def test_a_full_disk_on_the_journals_first_line_leaves_no_journal_and_a_rerun_works(
    tmp_path, monkeypatch, capsys
):
    # The file is made, then its header cannot be written: left behind, it made
    # every rerun refused ("pass --resume", then "not the partial file of a scan").
    real_open_csv = SCAN.open_csv
    opened = []

    class FullDisk(io.StringIO):
        def flush(self):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self):
            opened.remove(self)
            super().close()

    def open_on_a_full_disk(path, mode):
        if str(path).endswith(".partial") and mode == "a":
            real_open_csv(path, mode).close()  # made, as open() makes it
            opened.append(FullDisk())
            return opened[-1]
        return real_open_csv(path, mode)

    monkeypatch.setattr(SCAN, "open_csv", open_on_a_full_disk)
    out = tmp_path / "found.csv"
    args = ["scan", str(nh.clip_path("sample")), str(nh.clip_path("groove")), "-o", str(out)]
    args += [*QUICK, "--jobs", "1"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: scan: could not write {out}.partial: the disk is full; nothing was written:"
        " free some space and rerun\n"
    )
    assert list(tmp_path.iterdir()) == [] and opened == []  # no file, no open handle
    monkeypatch.setattr(SCAN, "open_csv", real_open_csv)
    assert main(args) == 0
    assert len(read_rows(out)) == 1


def test_a_name_that_is_not_utf8_is_shown_as_stderr_shows_it_and_kept_as_bytes_in_the_csv(
    monkeypatch,
):
    name = SCAN.csv_name(os.fsdecode(b"caf\xe9.wav"))
    assert name.encode("utf-8", "surrogateescape") == b"caf\xe9.wav"  # the CSV's exact bytes
    for encoding in ["utf-8", "latin-1", "ascii"]:
        monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding=encoding))
        assert SCAN._shown(name) == "caf\\xe9.wav", encoding  # as printable() on stderr
    # Still on an ASCII stdout: a UTF-8 name too wide for it does not fail the print.
    assert SCAN._shown(SCAN.csv_name("n\u00e9.wav")) == "n\\xe9.wav"
