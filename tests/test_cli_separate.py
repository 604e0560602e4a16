"""``python -m nmf_helpers separate``: the files it promises, and one-line errors (exit 2).

The runs that write files are real subprocesses, and so is one bad input of
each kind that stops a run (the package's own check, argparse's, outputs
that exist): those show the exit status and stderr a shell sees. They are
started together and awaited together, since each spends most of its time
importing the package. The other bad inputs go through ``main`` in this
process, where each costs no import.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import nmf_helpers as nh
from nmf_helpers.cli import console_main, main

SEPARATE = importlib.import_module("nmf_helpers.cli.separate")

SR = 22050
COMMAND = [sys.executable, "-m", "nmf_helpers", "separate"]


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return _finish(_start(args))


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    """A 6-second excerpt of the groove (intro up to 4 s), a silent file, a non-audio file."""
    folder = tmp_path_factory.mktemp("songs")
    x, _ = nh.load_audio(nh.clip_path("groove"))
    paths = {"song": folder / "song.wav", "silent": folder / "silent.wav"}
    sf.write(paths["song"], x[: 6 * SR], SR, subtype="PCM_16")
    sf.write(paths["silent"], np.zeros(2 * SR, dtype=np.float32), SR, subtype="PCM_16")
    paths["text"] = folder / "notes.wav"
    paths["text"].write_text("not audio at all\n")
    return paths


@pytest.fixture(scope="module")
def drums_run(songs, tmp_path_factory):
    outdir = tmp_path_factory.mktemp("drums_out")
    args = [str(songs["song"]), "-o", str(outdir), "-k", "6", "--iters", "30", "--components"]
    result = _run(args)
    # What the run wrote, byte for byte and with its times, before anything reruns into it.
    written = {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in outdir.iterdir()}
    return result, outdir, args, written


@pytest.fixture(scope="module")
def vocals_run(songs, tmp_path_factory):
    outdir = tmp_path_factory.mktemp("vocals_out")
    args = [str(songs["song"]), "-o", str(outdir), "--vocals-from", "0:4", "--iters", "10"]
    args += ["-k", "6", "--components"]
    return _run(args), outdir


def test_drum_split_writes_the_promised_files(drums_run):
    result, outdir, _, _ = drums_run
    assert result.returncode == 0, result.stderr
    expected = {"drums.wav", "harmonic.wav", "spectrograms.png", "losses.png", "grouping.png"}
    expected |= {"summary.json"} | {f"component_{k:02d}.wav" for k in range(6)}
    assert {path.name for path in outdir.iterdir()} == expected
    drums, sr = sf.read(outdir / "drums.wav")
    harmonic, _ = sf.read(outdir / "harmonic.wav")
    assert sr == SR and drums.shape == harmonic.shape == (6 * SR,)
    summary = json.loads((outdir / "summary.json").read_text())
    assert summary["parameters"] == {
        "mode": "drums", "K": 6, "loss": "kl", "iterations": 30, "power": 1.0, "seed": 0
    }  # fmt: skip
    groups = summary["groups"]
    assert sorted(groups["drums"]["components"] + groups["harmonic"]["components"]) == list(
        range(6)
    )
    assert summary["final_loss"]["NMF"] > 0
    assert set(summary["seconds"]) == {"load", "separate", "write", "total"}
    assert summary["scale"] == 1.0  # nothing would clip: written as separated
    silent = [name for name, group in groups.items() if group["silent"]]
    assert len(summary["notes"]) == len(silent)  # a silent group is said, and only then


def test_the_group_and_component_files_add_up_to_the_song(drums_run, songs):
    _, outdir, _, _ = drums_run
    song, _ = sf.read(songs["song"])
    groups = sf.read(outdir / "drums.wav")[0] + sf.read(outdir / "harmonic.wav")[0]
    parts = sum(sf.read(outdir / f"component_{k:02d}.wav")[0] for k in range(6))
    np.testing.assert_allclose(groups, song, atol=4e-4)  # two 16-bit roundings
    np.testing.assert_allclose(parts, song, atol=6 * 2e-4)


def test_vocal_filtering_writes_karaoke_vocals_and_a_summary(vocals_run):
    result, outdir = vocals_run
    assert result.returncode == 0, result.stderr
    expected = {"karaoke.wav", "vocals.wav", "spectrograms.png", "losses.png", "summary.json"}
    expected |= {f"component_{k:02d}.wav" for k in range(6 + 3)}
    assert {path.name for path in outdir.iterdir()} == expected
    summary = json.loads((outdir / "summary.json").read_text())
    assert summary["parameters"]["vocals_from_s"] == [0.0, 4.0]
    assert summary["groups"]["vocals"]["components"] == [6, 7, 8]
    assert summary["parameters"]["loss"] == "euclidean"
    assert set(summary["final_loss"]) == {"instrumental", "song", "refit"}
    assert "vocals split" in result.stdout


BAD_INPUTS = {
    "missing file": (["{missing}", "-o", "{out}"], "no such file"),
    "not audio": (["{text}", "-o", "{out}"], "cannot read"),
    "silent audio": (["{silent}", "-o", "{out}"], "is silent"),
    "END before START": (["{song}", "-o", "{out}", "--vocals-from", "3:1"], "END must be greater"),
    "range past the end": (["{song}", "-o", "{out}", "--vocals-from", "0:100"], "ends after"),
    "malformed range": (["{song}", "-o", "{out}", "--vocals-from", "4"], "must be START:END"),
    "three-part range": (["{song}", "-o", "{out}", "--vocals-from", "1:2:3"], "START:END"),
    "K zero": (["{song}", "-o", "{out}", "-k", "0"], "-k must be a whole number between 2 and"),
    "K huge": (["{song}", "-o", "{out}", "-k", "5000"], "-k must be a whole number between 2 and"),
    "K not a number": (["{song}", "-o", "{out}", "-k", "many"], "-k must be a whole number"),
    "zero iterations": (
        ["{song}", "-o", "{out}", "--iters", "0"],
        "--iters must be a whole number between 2",
    ),
    "unknown loss": (["{song}", "-o", "{out}", "--loss", "l1"], "invalid choice"),
    "no output folder": (["{song}"], "-o/--outdir"),
}


#: The bad inputs run as real processes (the others go through ``main``).
FROM_THE_SHELL = ("missing file", "K not a number")


@pytest.fixture(scope="module")
def bad_runs(songs, tmp_path_factory, drums_run):
    """The runs of FROM_THE_SHELL and a rerun without --force into the drum run's folder.

    Returns their results by case, and the names the cases' arguments use.
    """
    out = tmp_path_factory.mktemp("bad_out") / "never"
    names = {key: str(path) for key, path in songs.items()}
    names |= {"missing": str(out.parent / "missing.wav"), "out": str(out)}
    processes = {
        case: _start([arg.format(**names) for arg in BAD_INPUTS[case][0]])
        for case in FROM_THE_SHELL
    }
    processes["existing outputs"] = _start(drums_run[2])
    results = {case: _finish(process) for case, process in processes.items()}
    return results, names


def _in_this_process(args: list[str], capsys) -> subprocess.CompletedProcess:
    """``separate ARGS`` through ``main``: its status (argparse's exit too) and its output."""
    try:
        status = main(["separate", *args])
    except SystemExit as exit_:  # argparse ends the program on its errors
        status = exit_.code
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, captured.out, captured.err)


@pytest.mark.parametrize("case", [*BAD_INPUTS, "existing outputs"])
def test_bad_input_exits_2_with_one_line_and_no_traceback(bad_runs, case, capsys):
    results, names = bad_runs
    if case in results:
        result = results[case]
    else:
        result = _in_this_process([arg.format(**names) for arg in BAD_INPUTS[case][0]], capsys)
    expected = BAD_INPUTS[case][1] if case in BAD_INPUTS else "already exists"
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert expected in result.stderr
    assert not Path(names["out"]).exists()  # nothing written for a bad input


def test_existing_outputs_are_never_overwritten_and_force_does(
    songs, tmp_path, drums_run, bad_runs, capsys
):
    _, outdir, _, written = drums_run
    results, _ = bad_runs  # it reran the drum split into outdir, without --force
    assert results["existing outputs"].returncode == 2
    after = {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in outdir.iterdir()}
    assert after == written  # every file, its bytes and its time, as the first run left it

    (tmp_path / "losses.png").write_bytes(b"mine")
    # In this process: the subprocess runs above already show the exit status.
    args = ["separate", str(songs["song"]), "-o", str(tmp_path), "-k", "3", "--iters", "5"]
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "losses.png").read_bytes() == b"mine"
    assert [path.name for path in tmp_path.iterdir()] == ["losses.png"]  # refused before work
    assert main([*args, "--force"]) == 0
    assert (tmp_path / "losses.png").read_bytes()[:4] == b"\x89PNG"


def test_console_script_is_installed_and_runs_the_command(monkeypatch, capsys):
    (script,) = entry_points(group="console_scripts", name="nmf-separate")
    assert script.value == "nmf_helpers.cli.separate:console_main"
    monkeypatch.setattr(sys, "argv", ["nmf-separate", "--help"])
    with pytest.raises(SystemExit) as exit_:
        script.load()()
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--vocals-from" in out and "--force" in out


def test_a_song_longer_than_one_chunk_is_streamed(tmp_path, monkeypatch, capsys):
    """The groove with 6-second chunks takes the bounded-memory path; the parts add up."""
    monkeypatch.setattr(SEPARATE, "STREAMING", nh.long_songs.Streaming(6.0, 6.0))
    out = tmp_path / "out"
    assert main(["separate", str(nh.clip_path("groove")), "-o", str(out), "--iters", "5"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parameters"]["streamed"] is True
    assert list(summary) == [
        "song", "sample_rate", "duration_s", "parameters", "final_loss", "groups", "peaks",
        "scale", "notes", "seconds", "outputs",
    ]  # fmt: skip
    assert (
        summary["parameters"] | {"chunk_seconds": 6.0, "learn_seconds": 6.0}
        == summary["parameters"]
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "drums.wav", "grouping.png", "harmonic.wav", "losses.png", "summary.json"
    ]  # fmt: skip
    x, _ = nh.load_audio(nh.clip_path("groove"))
    drums, rate = sf.read(out / "drums.wav", dtype="float32")
    harmonic, _ = sf.read(out / "harmonic.wav", dtype="float32")
    assert rate == 22050 and sf.info(out / "drums.wav").subtype == "FLOAT"
    np.testing.assert_allclose(drums + harmonic, x, atol=1e-4)
    assert "processed in chunks" in capsys.readouterr().err


def _read(path) -> np.ndarray:
    return sf.read(path, dtype="float32")[0]


# The WAVs are 16-bit: each sample is within one step (2**-15) of what was separated.
ONE_STEP = 2.0**-15 * 1.001


def test_power_seed_and_loss_reach_the_drum_split(songs, tmp_path):
    """The options change the result the library gives for them, each one seen."""
    out = tmp_path / "out"
    options = {"K": 4, "n_iter": 8, "loss": "euclidean", "power": 3.0, "seed": 5}
    argv = ["separate", str(songs["song"]), "-o", str(out), "-k", "4", "--iters", "8"]
    assert main([*argv, "--loss", "euclidean", "--power", "3", "--seed", "5"]) == 0
    x, _ = nh.load_audio(songs["song"])
    written = np.stack([_read(out / "drums.wav"), _read(out / "harmonic.wav")])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parameters"] == {"mode": "drums", "K": 4, "iterations": 8} | {
        key: options[key] for key in ("loss", "power", "seed")
    }

    def split(**changes):
        result = nh.split_drums(x, **(options | changes))
        return np.stack([result.drums, result.harmonic])

    np.testing.assert_allclose(written, split(), rtol=0, atol=ONE_STEP)
    # Each option, left at its default, would have given other files.
    for changes in ({"loss": "kl"}, {"power": 1.0}, {"seed": 0}):
        assert np.abs(written - split(**changes)).max() > 1e-3, changes


def test_voice_components_power_and_seed_reach_the_vocal_filter(songs, tmp_path):
    out = tmp_path / "out"
    argv = ["separate", str(songs["song"]), "-o", str(out), "--vocals-from", "0:4", "-k", "4"]
    argv += ["--iters", "5", "--voice-components", "2", "--power", "2", "--seed", "3"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parameters"]["K_voice"] == 2
    assert summary["parameters"]["power"] == 2.0 and summary["parameters"]["seed"] == 3
    assert summary["groups"]["vocals"]["components"] == [4, 5]
    x, _ = nh.load_audio(songs["song"])
    options = {"instrumental": (0.0, 4.0), "K": 4, "n_iter": 5, "K_voice": 2, "power": 2.0}
    expected = nh.filter_vocals(x, seed=3, **options)
    np.testing.assert_allclose(_read(out / "vocals.wav"), expected.vocals, rtol=0, atol=ONE_STEP)
    np.testing.assert_allclose(_read(out / "karaoke.wav"), expected.karaoke, rtol=0, atol=ONE_STEP)
    other = nh.filter_vocals(x, seed=0, **(options | {"K_voice": 3, "power": 1.0}))
    assert np.abs(_read(out / "vocals.wav") - other.vocals).max() > 1e-3


def test_the_nmf_helpers_console_script_runs_the_command_line():
    (script,) = entry_points(group="console_scripts", name="nmf-helpers")
    assert script.load() is console_main  # main, then exit_with: no late signal changes its status
    installed = Path(sys.executable).with_name("nmf-helpers")
    result = subprocess.run(
        [str(installed), "separate", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "--vocals-from" in result.stdout and "--power" in result.stdout
    assert result.stdout.startswith("usage: nmf-helpers separate ")  # as it was run
    wrong = subprocess.run([str(installed), "detect"], capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("error: detect: the following arguments are required")


@pytest.mark.parametrize("chunk_seconds", [60.0, 5.0])  # in one piece, and streamed
def test_a_song_of_zeros_is_silent_on_either_path(tmp_path, monkeypatch, capsys, chunk_seconds):
    """All samples zero is refused before any fit, by the library's one rule."""
    monkeypatch.setattr(SEPARATE, "STREAMING", nh.long_songs.Streaming(chunk_seconds, 5.0))
    song = tmp_path / "zeros.wav"
    sf.write(song, np.zeros(12 * SR, np.float32), SR, subtype="FLOAT")
    out = tmp_path / "out"
    assert main(["separate", str(song), "-o", str(out), "-k", "2", "--iters", "2"]) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    if chunk_seconds == 60.0:
        assert error == f"error: separate: {song} is silent (all samples are zero)"
    else:  # only excerpts are read before the fit
        assert error == (
            f"error: split_drums_file: {str(song)!r} is silent where W is learned"
            " (all samples of every excerpt spread over the song are zero)"
        )
    assert not out.exists()


def test_a_quiet_song_is_separated_and_drawn(songs, tmp_path, capsys, monkeypatch):
    """The groove at -100 dBFS: NMF is gain-invariant, so is the rule; every part is drawn."""
    drawn = []
    plot_spectrograms = nh.plot_spectrograms

    def recording(spectrograms, **options):
        drawn.extend(spectrograms)
        return plot_spectrograms(spectrograms, **options)

    monkeypatch.setattr(nh, "plot_spectrograms", recording)
    x, _ = sf.read(songs["song"], dtype="float32")
    song = tmp_path / "quiet.wav"
    sf.write(song, x / np.abs(x).max() * 10 ** (-100 / 20), SR, subtype="FLOAT")
    out = tmp_path / "out"
    assert main(["separate", str(song), "-o", str(out), "-k", "6", "--iters", "5"]) == 0
    capsys.readouterr()
    assert {"spectrograms.png", "losses.png", "grouping.png"} <= {p.name for p in out.iterdir()}
    summary = json.loads((out / "summary.json").read_text())
    for name, group in summary["groups"].items():
        assert group["silent"] == (not group["components"]), name
    audible = [name for name, group in summary["groups"].items() if not group["silent"]]
    assert drawn == ["quiet.wav: mixture", *audible]


def test_a_damaged_long_song_is_blamed_not_the_outputs(tmp_path, monkeypatch, capsys):
    """A FLAC cut short (40 s claimed, 16 s there), streamed: the song is at fault."""
    monkeypatch.setattr(SEPARATE, "STREAMING", nh.long_songs.Streaming(5.0, 5.0))
    # As if the damage were found only while reading (the up-front check trusts the header).
    monkeypatch.setattr(
        nh.long_songs, "check_streamable", lambda function, path: (Path(path), sf.info(str(path)))
    )
    t = np.arange(40 * 8000) / 8000
    whole, song = tmp_path / "whole.flac", tmp_path / "song.flac"
    sf.write(whole, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 8000)
    song.write_bytes(whole.read_bytes()[: whole.stat().st_size * 4 // 10])
    out = tmp_path / "out"
    assert main(["separate", str(song), "-o", str(out), "-k", "2", "--iters", "2"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("note: separate: a long song, processed in chunks")
    assert len(lines) == 2 and re.fullmatch(
        rf"error: separate: {re.escape(str(song))}: the file is damaged or ends early"
        r" \(read \d+ s of 40 s\); repair or re-encode it, or give a complete copy",
        lines[1],
    ), lines
    assert not out.exists()
