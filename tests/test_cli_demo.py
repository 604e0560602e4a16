"""Tests of the demo command (nmf_helpers/cli/demo.py) and the CLI's error discipline."""

import json
import subprocess
import sys

import numpy as np
import soundfile

import nmf_helpers as nh


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "nmf_helpers", *map(str, args)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_demo_writes_audio_figure_and_summary(tmp_path):
    song = tmp_path / "short.wav"
    x, sr = nh.load_audio(nh.clip_path("groove"))
    soundfile.write(song, x[: 6 * sr], sr)
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
    assert rate == sr and audio.size == 6 * sr and np.abs(audio).max() > 0.01

    before = (tmp_path / "out" / "summary.json").read_bytes()
    again = run_cli("demo", song, "-o", tmp_path / "out", "-k", "2", "--iters", "20")
    assert again.returncode == 2
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert (tmp_path / "out" / "summary.json").read_bytes() == before


def test_bad_input_exits_2_with_one_line(tmp_path):
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(22050, np.float32), 22050)
    text = tmp_path / "text.wav"
    text.write_text("not audio")
    cases = [
        ((tmp_path / "missing.wav",), "no such file"),
        ((silent,), "silent"),
        ((text,), "cannot read"),
        ((nh.clip_path("sample"), "-k", "0"), "K must be >= 1"),
    ]
    for (song, *options), message in cases:
        result = run_cli("demo", song, "-o", tmp_path / "out", *options)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
