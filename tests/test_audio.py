"""Tests of nmf_helpers/audio.py: any common file loads; nothing given is overwritten."""

import os
import shutil
import tempfile
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
