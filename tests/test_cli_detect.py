"""The ``detect`` and ``scan`` commands: output, CSV, and one-line errors with exit 2."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

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


def test_detect_prints_score_decision_and_ranges(capsys):
    status = main(["detect", SAMPLE, str(nh.clip_path("sampling_track")), *ITERS])
    out = capsys.readouterr().out
    assert status == 0
    assert "the sample IS used" in out
    assert "threshold 0.23" in out
    assert "ranges: 1.11-10.00 s, 10.01-18.89 s" in out


def test_detect_json_parses(capsys):
    status = main(["detect", SAMPLE, str(nh.clip_path("unrelated_track")), "--json", *ITERS])
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert report["detected"] is False
    assert report["ranges_s"] == []
    assert report["score"] < report["threshold"] == nh.DETECTION_THRESHOLD
    assert set(report) >= {"sample", "track", "score", "detected", "shift_semitones"}


def test_scan_writes_a_csv_and_refuses_to_overwrite_it(folder, tmp_path, capsys):
    output = tmp_path / "results.csv"
    status = main(["scan", SAMPLE, str(folder), "-o", str(output), "--jobs", "2", *ITERS])
    assert status == 0
    assert "the sample is in 2 of 3 files" in capsys.readouterr().out
    with open(output, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["path"].rsplit("/", 1)[-1] for row in rows] == [
        "a_sampling.wav",
        "b_unrelated.flac",
        "c_quiet_sampling.wav",
    ]
    assert [row["decision"] for row in rows] == ["yes", "no", "yes"]
    assert rows[0]["ranges"] == rows[2]["ranges"] == "1.11-10.00"
    assert float(rows[0]["score"]) == pytest.approx(float(rows[2]["score"]), abs=1e-3)
    assert rows[1]["ranges"] == "" and rows[1]["error"] == ""

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
    assert "2 of 2 files could not be checked" in one_line_error(capsys)
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
        (["scan", SAMPLE, "{empty}", "--jobs", "0"], "--jobs must be >= 1"),
        (["detect", SAMPLE, SAMPLE, "--threshold", "3"], "threshold must be between"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(arguments, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    arguments = [a.replace("{empty}", str(tmp_path / "empty")) for a in arguments]
    assert main(arguments) == 2
    assert message in one_line_error(capsys)


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
