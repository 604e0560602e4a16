"""Tests of the demo command (nmf_helpers/cli/demo.py) and the CLI's error discipline."""

import json
import subprocess
import sys

import numpy as np
import soundfile

import nmf_helpers as nh
from nmf_helpers.cli import main


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "nmf_helpers", *map(str, args)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_demo_writes_audio_figure_and_summary(tmp_path, capsys):
    song = tmp_path / "short.wav"
    x, sr = nh.load_audio(nh.clip_path("groove"))
    soundfile.write(song, x[: 3 * sr], sr)  # short: each run rebuilds 3 signals by Griffin-Lim
    result = run_cli("demo", song, "-o", tmp_path / "out", "-k", "2", "--iters", "20")
    assert result.returncode == 0, result.stderr
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert written == [
        "component_0.wav", "component_1.wav", "demo.png", "reconstruction.wav", "summary.json",
    ]  # fmt: skip
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["K"] == 2 and summary["iterations"] == 20
    assert summary["scale"] == 1.0 and summary["notes"] == []  # the groove does not clip
    assert result.stderr == ""  # no progress bar when stderr is not a terminal
    assert np.isfinite(summary["final_kl_divergence"])
    audio, rate = soundfile.read(tmp_path / "out" / "component_0.wav")
    assert rate == sr and audio.size == 3 * sr and np.abs(audio).max() > 0.01

    before = (tmp_path / "out" / "summary.json").read_bytes()
    # In this process from here: the run above already shows the command line's own exit.
    assert main(["demo", str(song), "-o", str(tmp_path / "out"), "-k", "2", "--iters", "20"]) == 2
    refused = capsys.readouterr().err
    assert "already exists" in refused and "--force" in refused
    assert (tmp_path / "out" / "summary.json").read_bytes() == before

    # --force replaces every file with those of the new run.
    assert main(["demo", str(song), "-o", str(tmp_path / "out"), "-k", "2", "--iters", "5",
                 "--force"]) == 0  # fmt: skip
    forced = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert forced["iterations"] == 5 and forced["K"] == 2
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == written
    assert soundfile.read(tmp_path / "out" / "component_0.wav")[0].size == 3 * sr


def test_bad_input_exits_2_with_one_line(tmp_path, capsys):
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(22050, np.float32), 22050)
    text = tmp_path / "text.wav"
    text.write_text("not audio")
    cases = [
        ((tmp_path / "missing.wav",), "no such file"),
        ((silent,), "silent"),
        ((text,), "cannot read"),
        ((nh.clip_path("sample"), "-k", "0"), "error: demo: -k must be a whole number between 1"),
    ]
    for index, ((song, *options), message) in enumerate(cases):
        args = ["demo", *map(str, [song, "-o", tmp_path / "out", *options])]
        if index == 0:  # one from the shell: the exit status and stderr a user sees
            result = run_cli(*args)
        else:  # the others in this process, where they cost no import of the package
            result = subprocess.CompletedProcess(args, main(args), "", capsys.readouterr().err)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
