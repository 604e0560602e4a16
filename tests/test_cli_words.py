"""The commands speak in the user's words: options as typed, times before long runs, quiet logs.

Every bad option value is refused while the command line is parsed, in one
line naming the command, the option and the value (never a library
function's argument, ``nmf_kl: K``); a run that will take more than a few
minutes says so before it starts; progress bars stay off when stderr is not
a terminal (a log file). All in this process, through ``main`` and capsys:
tiny songs, few iterations.
"""

from __future__ import annotations

import importlib
import os

import pytest
import soundfile as sf

import nmf_helpers as nh
from nmf_helpers.cli import main

OPTIONS = importlib.import_module("nmf_helpers.cli._options")
SEPARATE = importlib.import_module("nmf_helpers.cli.separate")
SCAN = importlib.import_module("nmf_helpers.cli.scan")
SR = 22050


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    """3 s of the groove; 2 s of the unrelated track (shorter than --min-part's 2.5 s)."""
    folder = tmp_path_factory.mktemp("songs")
    groove, _ = nh.load_audio(nh.clip_path("groove"))
    unrelated, _ = nh.load_audio(nh.clip_path("unrelated_track"))
    paths = {"song": folder / "song.wav", "short track": folder / "short_track.wav"}
    sf.write(paths["song"], groove[: 3 * SR], SR, subtype="PCM_16")
    sf.write(paths["short track"], unrelated[: 2 * SR], SR, subtype="PCM_16")
    return {name: str(path) for name, path in paths.items()}


def one_line(capsys, prefix: str = "error: ") -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix) and "Traceback" not in err, err
    return lines[0]


SAMPLE = str(nh.clip_path("sample"))

#: (arguments after the song, out) -> the exact line.
BAD_OPTIONS = [
    (
        ["demo", "{song}", "-o", "{out}", "--iters", "1e30"],
        "error: demo: --iters must be a whole number between 1 and 100000, got 1e30",
    ),
    (
        ["demo", "{song}", "-o", "{out}", "--iters", "10000000000"],
        "error: demo: --iters must be a whole number between 1 and 100000, got 10000000000",
    ),
    (
        ["demo", "{song}", "-o", "{out}", "-k", "0"],
        "error: demo: -k must be a whole number between 1 and 256, got 0",
    ),
    (
        ["demo", "{song}", "-o", "{out}", "-k", "200"],
        "error: demo: -k 200 is more than the 130 frames of {song} (3.00 s); give a smaller -k",
    ),
    (
        ["demo", "{song}", "-o", "{out}", "--seed", "-1"],
        "error: demo: --seed must be a whole number between 0 and 4294967295, got -1",
    ),
    (
        ["separate", "{song}", "-o", "{out}", "--vocals-from", "0:0.01"],
        "error: separate: --vocals-from 0:0.01 s is shorter than one frame (0.093 s)",
    ),
    (
        ["separate", "{song}", "-o", "{out}", "--vocals-from", "0:0.2"],
        "error: separate: --vocals-from 0:0.2 holds 7 frames, fewer than -k 16 (the accompaniment"
        " templates learned there); give a passage of at least about 0.4 s, or a smaller -k",
    ),
    (
        ["separate", "{song}", "-o", "{out}", "--vocals-from", "0:nan"],
        "error: separate: --vocals-from 0:nan: START and END must be seconds, START at least 0",
    ),
    (
        ["separate", "{song}", "-o", "{out}", "-k", "200"],
        "error: separate: -k 200 is more than the 130 frames of {song} (3.00 s); give a smaller -k",
    ),
    (
        ["separate", "{song}", "-o", "{out}", "--power", "inf"],
        "error: separate: --power must be a number between 0.1 and 10, got inf",
    ),
    (
        ["separate", "{song}", "-o", "{out}", "--voice-components", "2.5"],
        "error: separate: --voice-components must be a whole number between 1 and 64, got 2.5",
    ),
    (
        ["detect", SAMPLE, "{song}", "--iters", "0"],
        "error: detect: --iters must be a whole number between 1 and 100000, got 0",
    ),
    (
        ["detect", SAMPLE, "{song}", "--threshold", "nan"],
        "error: detect: --threshold must be a number between -1 and 1, got nan",
    ),
    (
        ["scan", SAMPLE, "{out}", "-o", "{out}/x.csv", "--free", "-3"],
        "error: scan: --free must be a whole number between 0 and 256, got -3",
    ),
    (
        ["separate", "{song}", "-o", ""],
        "error: separate: -o is empty; give the folder for the outputs (-o . for this one)",
    ),
    (
        ["demo", "{song}", "-o", " "],
        "error: demo: -o is empty; give the folder for the outputs (-o . for this one)",
    ),
]


@pytest.mark.parametrize(
    ("arguments", "line"),
    BAD_OPTIONS,
    ids=[" ".join([arguments[0], *arguments[3:]]) for arguments, _ in BAD_OPTIONS],
)
def test_a_bad_option_is_one_line_naming_the_option_and_nothing_is_written(
    arguments, line, songs, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # an empty -o must not write here either
    names = {"song": songs["song"], "out": str(tmp_path / "out")}
    assert main([argument.format(**names) for argument in arguments]) == 2
    assert one_line(capsys) == line.format(**names)
    assert list(tmp_path.iterdir()) == []


def test_the_commands_iteration_ceiling_has_its_own_name_below_the_librarys():
    # Two ceilings, two meanings: what --iters accepts, and what any code may ask.
    from nmf_helpers import _validation

    assert "ITERATIONS_OPTION_MAX" in OPTIONS.__all__ and "MAX_ITERATIONS" not in OPTIONS.__all__
    assert OPTIONS.ITERATIONS_OPTION_MAX == 100_000 < _validation.MAX_ITERATIONS


# -- how long it will take --------------------------------------------------------------------


def test_the_estimate_of_a_long_separation_is_hours_and_of_the_default_a_few_seconds():
    five_minutes = 300 * SR
    assert OPTIONS.estimated_seconds(five_minutes, 256, 100_000) > 10 * 3600
    assert OPTIONS.estimated_seconds(five_minutes, 20, 100) < 60
    assert OPTIONS.time_note(60.0, "shorter") is None  # a default run says nothing
    assert OPTIONS.time_note(3 * 3600.0, "fewer --iters") == (
        "this run may take about 3.0 hours (a rough estimate; Ctrl-C stops it cleanly);"
        " fewer --iters"
    )


def test_a_long_run_says_how_long_before_it_starts(songs, tmp_path, capsys, monkeypatch):
    # As if each element cost a second: the 3 s song at K = 2, 2 iterations is then days.
    monkeypatch.setattr(OPTIONS, "SECONDS_PER_ELEMENT", 1.0)
    started = []
    real_split = nh.split_drums
    monkeypatch.setattr(
        nh,
        "split_drums",
        lambda *a, **k: started.append(capsys.readouterr().err) or real_split(*a, **k),
    )
    out = tmp_path / "out"
    assert main(["separate", songs["song"], "-o", str(out), "-k", "2", "--iters", "2"]) == 0
    (before,) = started
    assert before.startswith("note: separate: this run may take about ") and "hours" in before
    assert before.rstrip().endswith(
        "fewer --iters (now 2) or a smaller -k (now 2) make it shorter, in proportion"
    )
    assert before.count("\n") == 1


def test_a_short_run_says_nothing_about_time(songs, tmp_path, capsys):
    assert main(["demo", songs["song"], "-o", str(tmp_path / "o"), "-k", "2", "--iters", "3"]) == 0
    assert capsys.readouterr().err == ""


# -- quiet logs ---------------------------------------------------------------------------------


def test_no_progress_bar_is_drawn_when_stderr_is_not_a_terminal(
    songs, tmp_path, capsys, monkeypatch
):
    # capsys's stderr is no terminal, as a log file is not; every song counts as long here.
    monkeypatch.setattr(SEPARATE, "PROGRESS_AFTER_S", 0.0)
    out = str(tmp_path / "out")
    assert main(["separate", songs["song"], "-o", out, "-k", "2", "--iters", "3"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "it/s" not in err and "split_drums" not in err, err


# -- detect: a track shorter than --min-part ------------------------------------------------


def test_a_track_shorter_than_min_part_says_why_nothing_was_found(songs, capsys):
    assert main(["detect", SAMPLE, songs["short track"], "--iters", "10"]) == 0
    captured = capsys.readouterr()
    assert "the sample is NOT found" in captured.out
    assert captured.err.splitlines() == [
        "note: detect: the track lasts 2.00 s, shorter than --min-part 2.5 s: no part that long"
        " can be in it, so nothing could be found; give a smaller --min-part to search for"
        " shorter parts"
    ]


# -- detect's and scan's options: one checker each, while parsing ------------------------------

#: (option and value, the line after "error: COMMAND: "), for both commands.
SEARCH_OPTIONS = [
    (["--iters", "0"], "--iters must be a whole number between 1 and 100000, got 0"),
    (["--iters", "1e30"], "--iters must be a whole number between 1 and 100000, got 1e30"),
    (["--free", "-3"], "--free must be a whole number between 0 and 256, got -3"),
    (["--free", "2.5"], "--free must be a whole number between 0 and 256, got 2.5"),
    (["--seed", "-1"], "--seed must be a whole number between 0 and 4294967295, got -1"),
    (
        ["--seed", "4294967296"],
        "--seed must be a whole number between 0 and 4294967295, got 4294967296",
    ),
    (["--threshold", "nan"], "--threshold must be a number between -1 and 1, got nan"),
    (["--threshold", "1.5"], "--threshold must be a number between -1 and 1, got 1.5"),
    # --min-part and --tempo-range: the library's checks, told the option's name.
    (["--min-part", "0.5"], "--min-part must be between 1.0 and 600.0, got 0.5"),
    (["--min-part", "inf"], "--min-part must be a finite number, got inf"),
    (["--min-part", "x"], "--min-part must be a finite number, got 'x'"),
    (["--tempo-range", "0.5", "1.1"], "--tempo-range LOW must be between 0.8 and 1.25, got 0.5"),
    (["--tempo-range", "0.9", "x"], "--tempo-range HIGH must be a finite number, got 'x'"),
    (
        ["--tempo-range", "1.1", "0.9"],
        "--tempo-range must be (low, high) with low <= high, got (1.1, 0.9)",
    ),
]
#: scan's own.
SCAN_OPTIONS = [
    (
        ["--screen-iters", "-1"],
        "--screen-iters must be a whole number between 0 and 100000, got -1",
    ),
    (
        ["--screen-iters", "100001"],
        "--screen-iters must be a whole number between 0 and 100000, got 100001",
    ),
    (["--jobs", "0"], "--jobs must be a whole number of at least 1, got 0"),
    (["--jobs", "two"], "--jobs must be a whole number of at least 1, got two"),
]
SEARCH_CASES = [
    (command, given, line)
    for command in ("detect", "scan")
    for given, line in SEARCH_OPTIONS + (SCAN_OPTIONS if command == "scan" else [])
]


def _never_run(args):
    raise AssertionError(f"{args.command} ran: its options were not checked while parsing")


def _command_line(command: str, folder) -> list[str]:
    if command == "detect":
        return ["detect", SAMPLE, SAMPLE]
    return ["scan", SAMPLE, str(folder), "-o", str(folder / "found.csv")]


@pytest.mark.parametrize(
    ("command", "given", "line"),
    SEARCH_CASES,
    ids=[" ".join([command, *given]) for command, given, _ in SEARCH_CASES],
)
def test_detect_and_scan_refuse_a_bad_option_while_parsing_in_the_same_words(
    command, given, line, tmp_path, capsys, monkeypatch
):
    # The command itself never runs: the one line comes from the option's type= (or action=).
    monkeypatch.setattr(importlib.import_module(f"nmf_helpers.cli.{command}"), "run", _never_run)
    monkeypatch.chdir(tmp_path)
    assert main([*_command_line(command, tmp_path), *given]) == 2
    assert one_line(capsys) == f"error: {command}: {line}"
    assert list(tmp_path.iterdir()) == []


def test_detect_and_scan_take_the_ends_of_each_range(tmp_path, monkeypatch):
    seen = {}

    def keep(args):
        seen[args.command] = vars(args)
        return 0

    ends = {
        "--iters": "100000",
        "--free": "0",
        "--seed": "4294967295",
        "--threshold": "-1",
        "--min-part": "600",
    }
    given = [*(word for pair in ends.items() for word in pair), "--tempo-range", "0.8", "1.25"]
    for command in ("detect", "scan"):
        monkeypatch.setattr(importlib.import_module(f"nmf_helpers.cli.{command}"), "run", keep)
        extra = ["--screen-iters", "100000", "--jobs", "1"] if command == "scan" else []
        assert main([*_command_line(command, tmp_path), *given, *extra]) == 0
        taken = seen[command]
        assert (taken["iters"], taken["free"], taken["seed"]) == (100000, 0, 2**32 - 1)
        assert (taken["threshold"], taken["min_part"]) == (-1.0, 600.0)
        assert taken["tempo_range"] == (0.8, 1.25)
    assert (seen["scan"]["screen_iters"], seen["scan"]["jobs"]) == (100000, 1)


def test_the_defaults_of_detect_and_scan_are_what_the_library_uses(tmp_path, monkeypatch):
    seen = {}
    for command in ("detect", "scan"):
        module = importlib.import_module(f"nmf_helpers.cli.{command}")
        monkeypatch.setattr(module, "run", lambda args: seen.update(vars(args)) or 0)
        assert main(_command_line(command, tmp_path)) == 0
        assert seen["tempo_range"] == nh.DEFAULT_TEMPO_RANGE
        assert seen["min_part"] == nh.MIN_PART_SECONDS


def test_the_min_part_range_of_the_option_is_the_one_the_library_accepts(
    tmp_path, capsys, monkeypatch
):
    detection = importlib.import_module("nmf_helpers.detection.settings")
    low, high = detection.MIN_PART_RANGE
    assert detection.check_min_part("x", low) == low and detection.check_min_part("x", high) == high
    for outside in (low - 1e-9, high + 1e-9):
        with pytest.raises(nh.ParameterError):
            detection.check_min_part("x", outside)
    # The option reads the same constant: move it, and both move together.
    monkeypatch.setattr(detection, "MIN_PART_RANGE", (2.0, 3.0))
    monkeypatch.setattr(SCAN, "run", _never_run)
    assert main([*_command_line("scan", tmp_path), "--min-part", "4"]) == 2
    assert one_line(capsys) == "error: scan: --min-part must be between 2.0 and 3.0, got 4.0"
    with pytest.raises(nh.ParameterError):
        detection.check_min_part("x", 4.0)


@pytest.mark.parametrize("command", ["separate", "demo", "detect"])
def test_an_input_that_is_not_a_file_is_named_by_the_command(command, songs, tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it to read would wait for a writer forever
    args = [command, str(fifo), songs["song"]] if command == "detect" else [command, str(fifo)]
    out = [] if command == "detect" else ["-o", str(tmp_path / "out")]
    assert main([*args, *out]) == 2
    line = one_line(capsys)
    assert line.startswith(f"error: {command}: ") and "is a FIFO" in line
