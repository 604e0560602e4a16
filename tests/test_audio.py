"""Tests of nmf_helpers/audio.py: any common file loads; nothing given is overwritten."""

import importlib
import os
import shutil
import signal
import tempfile
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile

import nmf_helpers as nh


@pytest.fixture()
def tone():
    t = np.arange(44100) / 44100
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    right = 0.25 * np.sin(2 * np.pi * 660 * t)
    return np.stack([left, right], axis=1).astype(np.float32)


@pytest.mark.parametrize(
    ("suffix", "file_format", "subtype", "tolerance"),
    [
        (".wav", "WAV", "PCM_16", 1e-3),
        (".flac", "FLAC", "PCM_24", 1e-3),
        (".ogg", "OGG", "VORBIS", 0.05),
        (".mp3", "MP3", "MPEG_LAYER_III", 0.08),
        (".aiff", "AIFF", "FLOAT", 1e-3),
    ],
)
def test_stereo_44k_files_load_as_mono_22k(tmp_path, tone, suffix, file_format, subtype, tolerance):
    path = tmp_path / f"tone{suffix}"
    soundfile.write(path, tone, 44100, format=file_format, subtype=subtype)
    x, sr = nh.load_audio(path)
    assert sr == 22050 and x.dtype == np.float32 and x.ndim == 1
    assert abs(x.size - 22050) < 2000  # encoders may pad a little
    expected = tone.mean(axis=1)[::2][:22000]
    # Compare levels, not samples: lossy codecs and resampling shift phase.
    assert np.sqrt(np.mean(x[:22000] ** 2)) == pytest.approx(
        np.sqrt(np.mean(expected**2)), abs=tolerance
    )


def test_native_rate_is_kept_with_sr_none(tmp_path, tone):
    path = tmp_path / "tone.wav"
    soundfile.write(path, tone, 44100)
    x, sr = nh.load_audio(path, sr=None)
    assert sr == 44100 and x.size == 44100
    assert np.allclose(x, tone.mean(axis=1), atol=1e-4)


def test_the_project_ogg_copy_loads(groove):
    x, sr = nh.load_audio(nh.clip_path("groove_stereo44k.ogg"))
    assert sr == 22050
    assert abs(x.size - groove[0].size) < 100


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="load_audio: no such file"):
        nh.load_audio(tmp_path / "nope.wav")


def test_not_audio(tmp_path):
    path = tmp_path / "notes.mp3"
    path.write_text("this is not audio\n" * 100)
    with pytest.raises(nh.ParameterError, match="load_audio: cannot read .*notes.mp3"):
        nh.load_audio(path)


def test_directory(tmp_path):
    with pytest.raises(nh.ParameterError, match="is a directory"):
        nh.load_audio(tmp_path)


def test_empty_audio(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros(0, np.float32), 22050)
    with pytest.raises(nh.ParameterError, match="contains no audio samples"):
        nh.load_audio(path)


def test_nan_samples(tmp_path):
    path = tmp_path / "nan.wav"
    soundfile.write(path, np.full(1000, np.nan, np.float32), 22050, subtype="FLOAT")
    with pytest.raises(nh.ParameterError, match="NaN or Inf"):
        nh.load_audio(path)


def test_silent_audio_loads_but_cannot_be_analysed(tmp_path):
    path = tmp_path / "silence.wav"
    soundfile.write(path, np.zeros(22050, np.float32), 22050)
    x, _ = nh.load_audio(path)
    with pytest.raises(nh.ParameterError, match="spectrogram: x is silent"):
        nh.spectrogram(x)


def test_save_round_trip(tmp_path, rng):
    x = (0.5 * rng.standard_normal(5000)).clip(-0.9, 0.9).astype(np.float32)
    for suffix in (".wav", ".flac"):
        path = nh.save_audio(tmp_path / "out" / f"x{suffix}", x, 22050)
        y, sr = nh.load_audio(path, sr=None)
        assert sr == 22050 and np.max(np.abs(y - x)) < 1e-4


def test_save_refuses_to_overwrite_an_input(tmp_path, tone):
    path = tmp_path / "input.wav"
    soundfile.write(path, tone, 44100)
    before = path.read_bytes()
    x, sr = nh.load_audio(path)
    with pytest.raises(nh.ParameterError, match="refusing to overwrite"):
        nh.save_audio(path, x, sr)
    assert path.read_bytes() == before


def test_save_warns_and_clips(tmp_path):
    path = tmp_path / "loud.wav"
    with pytest.warns(UserWarning, match="peaks at 2.000 > 1 and was clipped"):
        nh.save_audio(path, np.array([0.0, 2.0, -2.0], np.float32), 22050)
    y, _ = nh.load_audio(path, sr=None)
    assert np.max(np.abs(y)) <= 1.0


def test_save_checks_its_arguments(tmp_path):
    with pytest.raises(nh.ParameterError, match="must end in .wav or .flac"):
        nh.save_audio(tmp_path / "x.mp3", np.zeros(10, np.float32), 22050)
    with pytest.raises(nh.ParameterError, match="save_audio: x contains NaN"):
        nh.save_audio(tmp_path / "x.wav", np.array([np.nan], np.float32), 22050)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nh.save_audio(tmp_path / "quiet.wav", np.zeros(10, np.float32), 22050)


def test_clip_path_names_what_exists():
    assert nh.clip_path("groove").name == "groove.flac"
    with pytest.raises(FileNotFoundError, match="available: .*groove"):
        nh.clip_path("no_such_clip")


def test_project_stems_and_facts_come_from_clips_json():
    stems = nh.load_stems("groove")
    assert list(stems) == ["drums", "bass", "keys", "vocals"]
    x, _ = nh.load_audio(nh.clip_path("groove"))
    np.testing.assert_allclose(sum(stems.values()), x, atol=1e-4)  # the mix is their sum
    assert nh.clip_facts("groove")["instrumental_intro_end_s"] == 4.0
    with pytest.raises(nh.ParameterError, match="no clip named"):
        nh.clip_facts("nope")
    with pytest.raises(nh.ParameterError, match="has no stems"):
        nh.load_stems("groove_stereo44k")


def test_the_catalogue_lists_clips_and_where_the_sample_plays():
    assert nh.clip_names()[:2] == ["groove", "groove_stereo44k"]
    facts = nh.clip_facts("sampling_track")
    facts["sample_offsets_s"].append(99.0)  # a copy: the next caller sees the file's facts
    ranges = nh.sample_ranges("sampling_track")
    sample_length = nh.clip_facts("sample")["duration_s"]
    assert [start for start, _ in ranges] == nh.clip_facts("sampling_track")["sample_offsets_s"]
    assert ranges[0][1] - ranges[0][0] == pytest.approx(sample_length)
    assert ranges[-1][1] == pytest.approx(facts["duration_s"])  # cut at the end of the track
    with pytest.raises(nh.ParameterError, match="sample_ranges: clip 'groove' does not play"):
        nh.sample_ranges("groove")
    with pytest.raises(nh.ParameterError, match="sample_ranges: no clip named 'nope'"):
        nh.sample_ranges("nope")


@pytest.mark.parametrize("link", [os.link, os.symlink], ids=["hard link", "symlink"])
def test_save_refuses_another_name_of_an_input(tmp_path, tone, link):
    path = tmp_path / "input.wav"
    soundfile.write(path, tone, 44100)
    before = path.read_bytes()
    x, sr = nh.load_audio(path)
    other = tmp_path / "other_name.wav"
    link(path, other)
    with pytest.raises(nh.ParameterError) as error:
        nh.save_audio(other, x, sr)
    assert str(error.value) == (
        f"save_audio: refusing to overwrite {str(other)!r}, which was loaded as input"
        f" (it is {str(path.resolve())!r} under another name); choose another file name"
    )
    assert path.read_bytes() == before


def test_save_under_a_regular_file_names_the_file(tmp_path):
    blocking = tmp_path / "notes.txt"
    blocking.write_text("not a folder")
    for path in (blocking / "x.wav", blocking / "deeper" / "x.wav"):
        with pytest.raises(NotADirectoryError) as error:
            nh.save_audio(path, np.zeros(10, np.float32), 22050)
        assert str(error.value) == (
            f"save_audio: cannot write {str(path)!r}: {str(blocking)!r} is a file,"
            " not a folder; choose another folder"
        )


def test_save_onto_a_folder_says_so(tmp_path):
    folder = tmp_path / "x.wav"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as error:
        nh.save_audio(folder, np.zeros(10, np.float32), 22050)
    assert str(error.value) == (
        f"save_audio: cannot write {str(folder)!r}: it is a folder; give a file name"
    )


def _error_of(function) -> str:
    """``"Type: message"`` of what ``function()`` raises, run without root's rights.

    Root may write anywhere, so as root it runs in a forked child that has
    given up its privileges (no new interpreter: the venv is root's).
    """
    if os.geteuid() != 0:
        try:
            function()
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        return "no error"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running pytest's exit handlers
        try:
            os.close(read)
            os.setgid(65534)
            os.setuid(65534)
            try:
                function()
                result = "no error"
            except Exception as error:
                result = f"{type(error).__name__}: {error}"
            os.write(write, result.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        result = pipe.read().decode()
    os.waitpid(pid, 0)
    return result


def test_save_into_a_read_only_folder_says_why():
    # Under /tmp, not tmp_path: the unprivileged child must be able to reach it.
    base = Path(tempfile.mkdtemp(prefix="nmf_helpers_read_only_"))
    try:
        base.chmod(0o755)
        folder = base / "locked"
        folder.mkdir(mode=0o555)
        folder.chmod(0o555)
        path = folder / "x.wav"
        result = _error_of(lambda: nh.save_audio(path, np.zeros(10, np.float32), 22050))
        assert result == (
            f"PermissionError: save_audio: cannot write {str(path)!r}: permission denied;"
            " choose a folder you can write to"
        )
        assert not path.exists()
    finally:
        (base / "locked").chmod(0o755)
        shutil.rmtree(base)


def test_save_refuses_samples_beyond_float32(tmp_path):
    with pytest.raises(nh.ParameterError) as error:
        nh.save_audio(tmp_path / "x.wav", np.array([0.0, 1e39]), 22050)
    assert str(error.value).startswith("save_audio: x has samples up to 1e+39 in magnitude")


def test_load_audio_of_none_is_a_clear_error():
    with pytest.raises(nh.ParameterError) as error:
        nh.load_audio(None)
    assert str(error.value) == "load_audio: path must be a file name (str or Path), got NoneType"


# --- stderr: only MP3 decoding silences fd 2, and it always comes back ------------------------

AUDIO = importlib.import_module("nmf_helpers.audio")


def _fd2_is_devnull() -> bool:
    here, null = os.fstat(2), os.stat(os.devnull)
    return (here.st_dev, here.st_ino) == (null.st_dev, null.st_ino)


@pytest.mark.parametrize("file_format", ["WAV", "FLAC", "OGG"])
def test_other_threads_stderr_survives_a_concurrent_decode(tmp_path, capfd, file_format):
    """fd 2 is the process's: silencing it for a decoder silenced every thread's warnings."""
    t = np.arange(2 * 22050) / 22050
    path = tmp_path / f"song.{file_format.lower()}"
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 22050,
                    format=file_format)  # fmt: skip
    decoding, stop = threading.Event(), threading.Event()

    def decode():
        while not stop.is_set():
            nh.load_audio(path, sr=None)
            list(nh.audio_blocks(path, sr=22050))
            AUDIO.audio_header("test", path)
            decoding.set()

    reader = threading.Thread(target=decode)
    reader.start()
    try:
        assert decoding.wait(30)
        for k in range(150):
            os.write(2, f"line {k}\n".encode())
            time.sleep(0.002)
    finally:
        stop.set()
        reader.join()
    lines = capfd.readouterr().err.splitlines()
    assert lines == [f"line {k}" for k in range(150)], f"{len(lines)} of 150 lines reached stderr"


def test_threads_decoding_mp3_at_once_share_one_silencing(capfd):
    """A enters, B enters, A leaves, B leaves: fd 2 must come back, not stay on /dev/null.

    Each thread saving and restoring fd 2 on its own, B saves the /dev/null A
    put there, and restores it last.
    """
    steps = {name: threading.Event() for name in ("a_in", "b_in", "a_out", "b_may_leave")}
    seen = {}

    def a():
        with AUDIO._quiet_stderr(True):
            steps["a_in"].set()
            steps["b_in"].wait(10)
        seen["after_a"] = _fd2_is_devnull()
        steps["a_out"].set()

    def b():
        steps["a_in"].wait(10)
        with AUDIO._quiet_stderr(True):
            steps["b_in"].set()
            steps["a_out"].wait(10)
            seen["b_inside"] = _fd2_is_devnull()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    before = os.fstat(2)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    after = os.fstat(2)
    assert seen == {"after_a": True, "b_inside": True}  # still decoding in B: still quiet
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    assert AUDIO._quiet == {"depth": 0, "saved": None}
    os.write(2, b"heard\n")
    assert capfd.readouterr().err == "heard\n"


class _Interrupted(Exception):
    pass


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="no signal masks")
def test_a_signal_while_fd2_is_restored_is_raised_after_it_is(capfd, monkeypatch):
    """A Ctrl-C raised in _quiet_stderr's finally, before the dup2, left stderr on /dev/null."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("Python runs signal handlers in the main thread only")
    real_dup2, calls = os.dup2, []

    def dup2(fd, fd2, *args):
        calls.append(fd2)
        if fd2 == 2 and calls.count(2) == 2:  # the restoring one
            signal.raise_signal(signal.SIGUSR1)  # Python runs the handler before returning
        return real_dup2(fd, fd2, *args)

    def interrupt(signum, frame):
        raise _Interrupted

    previous = signal.signal(signal.SIGUSR1, interrupt)
    monkeypatch.setattr(AUDIO.os, "dup2", dup2)
    try:
        with pytest.raises(_Interrupted), AUDIO._quiet_stderr(True):
            pass
    finally:
        monkeypatch.undo()
        signal.signal(signal.SIGUSR1, previous)
    assert not _fd2_is_devnull() and AUDIO._quiet == {"depth": 0, "saved": None}
    os.write(2, b"heard\n")
    assert capfd.readouterr().err == "heard\n"


# --- what a header or a decoder says ----------------------------------------------------------


def test_a_wav_streamed_to_a_pipe_has_no_claimed_length(tmp_path):
    """A writer that cannot seek back leaves 0xFFFFFFFF as the data size: not 97391 s claimed."""
    x = (0.3 * np.sin(np.arange(22050) / 10)).astype(np.float32)
    whole = tmp_path / "whole.wav"
    soundfile.write(whole, x, 22050, subtype="PCM_16")
    data = bytearray(whole.read_bytes())
    at = data.find(b"data")
    data[at + 4 : at + 8] = data[4:8] = (0xFFFFFFFF).to_bytes(4, "little")
    piped = tmp_path / "piped.wav"
    piped.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nh.load_audio(piped, sr=None)[0].size == x.size
        assert np.concatenate(list(nh.audio_blocks(piped))).size == x.size


@pytest.mark.parametrize("as_bytes", [False, True])
def test_a_file_libsndfile_cannot_open_is_named_once_in_plain_words(tmp_path, as_bytes):
    path = tmp_path / "notaudio.wav"
    path.write_text("this is not audio\n" * 100)
    with pytest.raises(nh.ParameterError) as error:
        nh.audio_blocks(os.fsencode(path) if as_bytes else path)
    assert str(error.value) == (
        f"audio_blocks: cannot stream {str(path)!r}: format not recognised;"
        " convert it to WAV or FLAC"
    )


# --- the peak check looks at the samples without copying them ----------------------------------


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_the_peak_check_holds_no_copy_of_the_song(sign):
    data = np.zeros((1 << 21, 2), np.float32)  # 16 MB
    data[5, 1] = 0.5 * sign
    tracemalloc.start()
    try:
        AUDIO._check_peak("load_audio", Path("song.wav"), data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < data.nbytes // 16, f"{peak} bytes held to check {data.nbytes}"
    data[7, 0] = 3e9 * sign  # a negative peak counts as much as a positive one
    with pytest.raises(nh.ParameterError, match="has samples up to 3e"):
        AUDIO._check_peak("load_audio", Path("song.wav"), data)
    data[9, 0] = np.nan
    with pytest.raises(nh.ParameterError, match="NaN or Inf"):
        AUDIO._check_peak("load_audio", Path("song.wav"), data)
