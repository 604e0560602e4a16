"""The ``detect`` and ``scan`` commands: output, CSV, and one-line errors with exit 2."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import librosa
import numpy as np
import pytest

import nmf_helpers as nh
from nmf_helpers.cli import main

SR = 22050
ITERS = ["--iters", "30"]
SAMPLE = str(nh.clip_path("sample"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three short tracks: two with the sample's first copy, one without."""
    folder = tmp_path_factory.mktemp("tracks")
    track = nh.load_audio(nh.clip_path("sampling_track"))[0]
    unrelated = nh.load_audio(nh.clip_path("unrelated_track"))[0]
    nh.save_audio(folder / "a_sampling.wav", track[: 11 * SR], SR)
    nh.save_audio(folder / "b_unrelated.flac", unrelated[: 9 * SR], SR)
    nh.save_audio(folder / "c_quiet_sampling.wav", 0.25 * track[: 11 * SR], SR)
    (folder / "notes.txt").write_text("not audio: skipped")
    return folder


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: "), err
    assert "Traceback" not in err
    return err


TRACK = str(nh.clip_path("sampling_track"))


@pytest.fixture(scope="module")
def shifted(tmp_path_factory):
    """The sampling track a semitone up: no exact copy of the sample left in it.

    An exact copy scores 1 whatever the fit (detection/copies.py), so the tests of what
    an option changes use this track, where the activations decide.
    """
    path = tmp_path_factory.mktemp("shifted") / "sampling_track_up.wav"
    x = nh.load_audio(nh.clip_path("sampling_track"))[0]
    nh.save_audio(path, librosa.effects.pitch_shift(x, sr=SR, n_steps=1), SR)
    return str(path)


# detect_sample promises ranges within 0.5 s of the truth (its benchmark
# measures them); the printed ranges are held to that, against clips.json.
RANGE_TOLERANCE_S = 0.5


def detect_json(capsys, *arguments) -> dict:
    assert main(["detect", *arguments, "--json", *ITERS]) == 0
    return json.loads(capsys.readouterr().out)


def test_detect_prints_score_decision_and_ranges(capsys):
    status = main(["detect", SAMPLE, TRACK, *ITERS])
    out = capsys.readouterr().out
    assert status == 0
    assert "the sample IS used" in out
    assert f"threshold {nh.DETECTION_THRESHOLD:g}" in out
    printed = re.search(r"ranges: (.*)", out).group(1)
    found = [tuple(map(float, r.removesuffix(" s").split("-"))) for r in printed.split(", ")]
    truth = nh.sample_ranges("sampling_track")
    assert len(found) == len(truth)
    for (start, end), (true_start, true_end) in zip(found, truth, strict=True):
        assert abs(start - true_start) <= RANGE_TOLERANCE_S
        assert abs(end - true_end) <= RANGE_TOLERANCE_S
    # One line per occurrence: which part of the sample, how fast, how high.
    assert out.count("plays sample 0.") == 2 and out.count("tempo x") == 2


def test_detect_json_parses(capsys):
    report = detect_json(capsys, SAMPLE, str(nh.clip_path("unrelated_track")))
    assert report["detected"] is False
    assert report["ranges_s"] == [] and report["occurrences"] == []
    assert report["score"] < report["threshold"] == nh.DETECTION_THRESHOLD
    assert set(report) >= {"sample", "track", "score", "detected", "shift_semitones"}


def test_detect_json_carries_each_occurrence(capsys):
    """The same facts as the SampleDetection: track range, sample range, tempo ratio, pitch."""
    report = detect_json(capsys, SAMPLE, TRACK)
    result = nh.detect_sample(SAMPLE, TRACK, n_iter=int(ITERS[1]))
    assert report["detected"] is True
    assert len(report["occurrences"]) == len(result.occurrences) == 2
    for row, occurrence in zip(report["occurrences"], result.occurrences, strict=True):
        for key, value in row.items():
            assert value == pytest.approx(getattr(occurrence, key), abs=1e-3), key
    assert report["ranges_s"] == [
        [o["track_start_s"], o["track_end_s"]] for o in report["occurrences"]
    ]
    assert report["tempo_ratio"] == pytest.approx(result.tempo_ratio, abs=1e-3)


def test_detect_threshold_option_decides(capsys, shifted):
    """--threshold reaches the decision: the same track, a threshold above its score."""
    default = detect_json(capsys, SAMPLE, shifted)
    above = f"{default['score'] + 0.01:.4f}"
    raised = detect_json(capsys, SAMPLE, shifted, "--threshold", above)
    assert default["detected"] is True
    assert raised["detected"] is False and raised["occurrences"] == []
    assert raised["threshold"] == float(above)
    assert raised["score"] == default["score"]


def test_detect_free_and_seed_reach_the_fit(capsys, shifted):
    """--free and --seed change the fit exactly as n_free and seed do in detect_sample.

    Ignoring either one gives the fit of (20 free, seed 3) or (5 free, seed 0),
    whose scores differ from this one's.
    """
    default = detect_json(capsys, SAMPLE, shifted)
    chosen = detect_json(capsys, SAMPLE, shifted, "--free", "5", "--seed", "3")
    expected = nh.detect_sample(SAMPLE, shifted, n_iter=int(ITERS[1]), n_free=5, seed=3)
    assert chosen["score"] == pytest.approx(expected.score, abs=1e-4)
    assert chosen["score"] != default["score"]


def test_detect_tempo_range_and_min_part_reach_the_search(capsys, shifted):
    """--tempo-range and --min-part change the search exactly as in detect_sample.

    Ignored, the defaults (x0.90-x1.10, 2.5 s windows) give another score.
    """
    default = detect_json(capsys, SAMPLE, shifted)
    options = ["--tempo-range", "1.04", "1.1", "--min-part", "4"]
    chosen = detect_json(capsys, SAMPLE, shifted, *options)
    expected = nh.detect_sample(
        SAMPLE, shifted, n_iter=int(ITERS[1]), tempo_range=(1.04, 1.1), min_part_s=4
    )
    assert chosen["score"] == pytest.approx(expected.score, abs=1e-4)
    assert chosen["score"] < default["score"] - 0.05  # the sample plays at x1.00


def test_scan_writes_a_csv_and_refuses_to_overwrite_it(folder, tmp_path, capsys):
    output = tmp_path / "results.csv"
    status = main(["scan", SAMPLE, str(folder), "-o", str(output), "--jobs", "1", *ITERS])
    assert status == 0
    assert f"{SAMPLE}: in 2 of 3 tracks" in capsys.readouterr().out
    with open(output, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["track"].rsplit("/", 1)[-1] for row in rows] == [
        "a_sampling.wav",
        "b_unrelated.flac",
        "c_quiet_sampling.wav",
    ]
    assert [row["decision"] for row in rows] == ["yes", "no", "yes"]
    assert rows[0]["track_ranges"] == rows[2]["track_ranges"]  # gain changes nothing
    found = [float(t) for t in rows[0]["track_ranges"].split("-")]
    truth = nh.sample_ranges("sampling_track")[0]  # the first copy, whole in the 11 s excerpt
    assert found == pytest.approx(truth, abs=0.5)  # the detector's stated range accuracy
    assert float(rows[0]["score"]) == pytest.approx(float(rows[2]["score"]), abs=1e-3)
    assert rows[1]["track_ranges"] == "" and rows[1]["error"] == ""

    before = output.read_bytes()
    status = main(["scan", SAMPLE, str(folder), "-o", str(output), *ITERS])
    assert status == 2
    assert "already exists" in one_line_error(capsys)
    assert output.read_bytes() == before


def test_scan_records_unreadable_and_silent_files_then_exits_2(tmp_path, capsys):
    folder = tmp_path / "tracks"
    folder.mkdir()
    (folder / "broken.wav").write_bytes(b"RIFF nonsense")
    nh.save_audio(folder / "silent.wav", np.zeros(2 * SR, dtype=np.float32), SR)
    output = tmp_path / "results.csv"
    status = main(["scan", SAMPLE, str(folder), "-o", str(output), "--jobs", "1", *ITERS])
    assert status == 2
    assert "2 of 2 pairs could not be checked" in one_line_error(capsys)
    with open(output, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["decision"] for row in rows] == ["error", "error"]
    assert "cannot read" in rows[0]["error"]
    assert "silent" in rows[1]["error"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["detect", "missing.flac", SAMPLE], "no such file"),
        (["scan", SAMPLE, "no_such_folder"], "no such folder"),
        (["scan", SAMPLE, "{empty}"], "no audio files"),
        (["scan", SAMPLE, "{empty}", "--jobs", "0"], "--jobs must be a whole number of at least 1"),
        (
            ["detect", SAMPLE, SAMPLE, "--threshold", "3"],
            "--threshold must be a number between -1 and 1, got 3",
        ),
        (
            ["detect", SAMPLE, SAMPLE, "--tempo-range", "0.7", "1.1"],
            "error: detect: --tempo-range LOW must be between 0.8 and 1.25, got 0.7",
        ),
        (
            ["detect", SAMPLE, SAMPLE, "--tempo-range", "0.9", "1.3"],
            "--tempo-range HIGH must be between",
        ),
        (
            ["detect", SAMPLE, SAMPLE, "--tempo-range", "1.1", "0.9"],
            "error: detect: --tempo-range must be (low, high) with low <= high, got (1.1, 0.9)",
        ),
        (
            ["detect", SAMPLE, SAMPLE, "--min-part", "0.5"],
            "error: detect: --min-part must be between 1.0 and 600.0, got 0.5",
        ),
        (
            ["detect", SAMPLE, SAMPLE, "--min-part", "20"],
            "error: detect: the sample lasts 8.89 s, shorter than the 20 s part the detector"
            " searches for (about one bar); give a longer sample, or a smaller --min-part"
            " (at least 1 s)",
        ),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(arguments, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    arguments = [a.replace("{empty}", str(tmp_path / "empty")) for a in arguments]
    assert main(arguments) == 2
    line = one_line_error(capsys)
    assert message in line
    # Named as the user typed them, not as the library's arguments.
    assert "tempo_range" not in line and "min_part_s" not in line


def test_missing_file_from_the_shell_exits_2_without_traceback(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "nmf_helpers", "detect", SAMPLE, str(tmp_path / "missing.wav")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "missing.wav" in lines[0]


@pytest.mark.parametrize("which", ["sample", "track"])
def test_a_silent_file_is_named_as_detects_argument(which, tmp_path, capsys):
    """Not as the library's ``detect_sample`` would name it: the user ran ``detect``."""
    silent = tmp_path / "silent.wav"
    nh.save_audio(silent, np.zeros(4 * SR, dtype=np.float32), SR)
    arguments = [str(silent), SAMPLE] if which == "sample" else [SAMPLE, str(silent)]
    assert main(["detect", *arguments]) == 2
    assert one_line_error(capsys) == (
        f"error: detect: {which} {str(silent)!r} is silent (all samples are zero)"
    )
