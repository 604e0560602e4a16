"""What a user brings to the library's input edge (issue 23): odd paths, damaged files, extremes.

Every case gets one clear error naming the file or argument and the value,
or works with one warning; none crashes, hangs or leaks a decoder's chatter.
The files are tiny and synthetic; a damaged one is a good one cut short.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import soundfile as sf

import nmf_helpers as nh
from nmf_helpers.cli import main
from nmf_helpers.detection.scan import ScanSettings

SR = 22050


def _tone(seconds: float = 2.0, sr: int = SR) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    noise = 0.05 * np.random.default_rng(0).standard_normal(t.size)
    return (0.5 * np.sin(2 * np.pi * 440 * t) + noise).astype(np.float32)


def _write(path: Path, x: np.ndarray, sr: int = SR, **options) -> Path:
    sf.write(path, x, sr, **options)
    return path


def _truncated(path: Path, fraction: float) -> Path:
    """A copy of ``path`` with only the first ``fraction`` of its bytes."""
    data = path.read_bytes()
    cut = path.with_name(f"cut_{path.name}")
    cut.write_bytes(data[: int(len(data) * fraction)])
    return cut


# --- 4: extreme but finite audio -------------------------------------------------------------


@pytest.mark.parametrize("peak", [1e18, 1e25, 3e38])
def test_a_file_louder_than_any_audio_is_refused_naming_file_and_peak(tmp_path, peak):
    x = _tone().astype(np.float64)
    path = _write(
        tmp_path / "loud.wav", (x * (peak / np.abs(x).max())).astype(np.float32), subtype="FLOAT"
    )
    for read in (nh.load_audio, lambda p: list(nh.audio_blocks(p))):
        with pytest.raises(nh.ParameterError) as error:
            read(path)
        message = str(error.value)
        assert repr(str(path)) in message and "has samples up to" in message
        assert f"{float(np.abs(sf.read(path)[0]).max()):.3g}" in message
        assert "damaged or mis-scaled" in message


def test_a_loud_float_file_within_32_bit_scale_is_read(tmp_path):
    path = _write(tmp_path / "int32_scale.wav", _tone() * np.float32(2e9), subtype="FLOAT")
    x, _ = nh.load_audio(path)
    assert np.isfinite(x).all() and np.abs(x).max() > 1e9


def test_a_spectrogram_that_would_pass_float32s_range_is_refused():
    x = np.full(4096, 1e38, dtype=np.float32)
    for door in (nh.spectrogram, nh.stft):
        with pytest.raises(nh.ParameterError, match="x peaks at 1e\\+38, and its STFT would pass"):
            door(x)
    assert np.isfinite(nh.spectrogram(np.full(4096, 1e30, dtype=np.float32))).all()


def test_a_spectrogram_of_huge_magnitudes_is_drawn_without_overflow():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    V = np.random.default_rng(0).random((1025, 20)).astype(np.float32) * np.float32(1e30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "overflow encountered in square" was one
        ax = nh.plot_spectrogram(V)
        figure = nh.plot_spectrograms({"a": V, "b": V / 2})
    decibels = ax.collections[0].get_array()
    assert np.isfinite(decibels).all() and decibels.max() == pytest.approx(0.0, abs=1e-4)
    matplotlib.pyplot.close(ax.figure)
    matplotlib.pyplot.close(figure)


def test_the_command_line_refuses_an_absurdly_loud_file_in_one_line(tmp_path, capsys):
    path = _write(tmp_path / "loud.wav", _tone() * np.float32(1e25), subtype="FLOAT")
    for command in ("separate", "demo"):
        status = main([command, str(path), "-o", str(tmp_path / command), "-k", "2"])
        err = capsys.readouterr().err
        assert status == 2
        assert err.startswith("error: load_audio: ") and err.count("\n") == 1
        assert "loud.wav" in err and "e+24" in err
        assert not (tmp_path / command).exists()


# --- 5: bounds that keep the process alive ----------------------------------------------------


def test_sample_rates_beyond_384000_are_refused_before_soxr_sees_them(tmp_path):
    path = _write(tmp_path / "a.wav", _tone(0.2))
    message = "sr must be <= 384000, got 1000000000"
    with pytest.raises(nh.ParameterError, match=f"load_audio: {message}"):
        nh.load_audio(path, sr=10**9)  # soxr dies in SIGSEGV on this one
    with pytest.raises(nh.ParameterError, match=f"audio_blocks: {message}"):
        nh.audio_blocks(path, sr=10**9)
    with pytest.raises(nh.ParameterError, match=f"save_audio: {message}"):
        nh.save_audio(tmp_path / "b.wav", _tone(0.2), 10**9)
    assert nh.load_audio(path, sr=384000)[1] == 384000


@pytest.mark.parametrize(
    "call",
    [
        lambda V: nh.nmf_kl(V, 2, n_iter=10**10),
        lambda V: nh.nmf_euclidean(V, 2, n_iter=10**10),
        lambda V: nh.nmf(V, 2, n_iter=10**10),
        lambda V: nh.griffin_lim(V, n_iter=10**30),
        lambda V: nh.split_drums(_tone(0.5), n_iter=10**10),
        lambda V: nh.filter_vocals(_tone(0.5), instrumental=(0.0, 0.2), n_iter=10**10),
        lambda V: nh.split_drums_file(
            nh.clip_path("groove"), {"drums": "d.wav", "harmonic": "h.wav"}, n_iter=10**10
        ),
        lambda V: ScanSettings(n_iter=10**10),
        lambda V: ScanSettings(screen_iter=10**10),
    ],
    ids=[
        "nmf_kl",
        "nmf_euclidean",
        "nmf",
        "griffin_lim",
        "split_drums",
        "filter_vocals",
        "split_drums_file",
        "scan",
        "scan_screen",
    ],
)
def test_iteration_counts_have_a_documented_ceiling(call):
    V = nh.spectrogram(_tone(0.5))
    with pytest.raises(nh.ParameterError, match="n_iter must be <= 1000000, got 10000"):
        call(V)  # the loss history preallocated n_iter floats (80 GB for 10**10)


# --- 7: damaged files -------------------------------------------------------------------------


@pytest.mark.parametrize(("file_format", "fraction"), [("FLAC", 0.6), ("MP3", 0.6), ("WAV", 0.6)])
def test_a_truncated_file_warns_once_with_decoded_and_claimed_length(
    tmp_path, capfd, file_format, fraction
):
    whole = _write(tmp_path / f"song.{file_format.lower()}", _tone(3.0), format=file_format)
    cut = _truncated(whole, fraction)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x, sr = nh.load_audio(cut)
        blocks = np.concatenate(list(nh.audio_blocks(cut)))
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1, messages  # once per file, whoever reads it
    decoded = x.size / sr
    assert messages[0] == (
        f"load_audio: {str(cut)!r} ends early (truncated or damaged): decoded {decoded:.2f} s,"
        f" but its header claims 3.00 s; using the {decoded:.2f} s decoded"
    )
    assert 0.5 < decoded < 2.9 and blocks.size == x.size
    # libmpg123 writes "part2_3_length too large", "Xing stream size off" to fd 2 from C.
    assert capfd.readouterr().err == ""


def test_an_intact_file_does_not_warn(tmp_path, capfd):
    for file_format in ("FLAC", "MP3", "OGG", "WAV"):
        path = _write(tmp_path / f"song.{file_format.lower()}", _tone(1.0), format=file_format)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert nh.load_audio(path)[0].size == SR
            assert np.concatenate(list(nh.audio_blocks(path))).size == SR
    assert capfd.readouterr().err == ""


def test_a_truncated_ogg_warns_though_its_header_gives_no_length(tmp_path, capfd):
    """libsndfile counts a cut Ogg's frames from its last page: 1.4 s of 3 s, said to be all."""
    cut = _truncated(_write(tmp_path / "song.ogg", _tone(3.0), format="OGG"), 0.6)
    with pytest.warns(UserWarning) as caught:
        x, sr = nh.load_audio(cut)
    assert [str(w.message) for w in caught] == [
        f"load_audio: {str(cut)!r} ends early (truncated or damaged): decoded"
        f" {x.size / sr:.2f} s, but its last Ogg page does not close the stream;"
        f" using the {x.size / sr:.2f} s decoded"
    ]
    assert capfd.readouterr().err == ""


def test_a_truncated_ogg_that_decodes_to_nothing_says_it_is_damaged(tmp_path):
    cut = _truncated(_write(tmp_path / "song.ogg", _tone(3.0), format="OGG"), 0.3)
    for read in (nh.load_audio, nh.audio_blocks):
        with pytest.raises(nh.ParameterError) as error:
            read(cut)
        message = str(error.value)
        assert repr(str(cut)) in message and "damaged or truncated" in message


def test_streaming_a_truncated_flac_reads_what_is_there(tmp_path):
    """The long-song path seeks into the file: past a cut it got "psf_fseek() failed"."""
    whole = _write(tmp_path / "set.flac", _tone(30.0, sr=8000), sr=8000)
    cut = _truncated(whole, 0.5)
    with pytest.warns(UserWarning, match="split_drums_file: .* ends early"):
        result = nh.split_drums_file(
            cut,
            {"drums": tmp_path / "d.wav", "harmonic": tmp_path / "h.wav"},
            K=2,
            n_iter=3,
            learn_seconds=6.0,
            chunk_seconds=10.0,
        )
    assert 10.0 < result.duration_s < 20.0
    assert sf.info(tmp_path / "h.wav").duration == pytest.approx(result.duration_s, abs=0.01)


# --- 8, 11, 3: what the path is ---------------------------------------------------------------


def test_a_fifo_is_refused_before_anything_opens_it(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    outcome = {}

    def read():
        for door in (nh.load_audio, nh.audio_blocks):
            try:
                door(fifo)
            except nh.ParameterError as error:
                outcome.setdefault("messages", []).append(str(error))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=20)
    if reader.is_alive():  # blocked in open(): a writer lets it go, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("reading a FIFO blocked")
    assert outcome["messages"] == [
        f"{door}: {str(fifo)!r} is a FIFO (named pipe), not an audio file; give a regular file"
        for door in ("load_audio", "audio_blocks")
    ]


def test_a_symlink_loop_is_called_a_symlink_loop(tmp_path):
    (tmp_path / "a.wav").symlink_to(tmp_path / "b.wav")
    (tmp_path / "b.wav").symlink_to(tmp_path / "a.wav")
    with pytest.raises(OSError, match="load_audio: cannot read .*a.wav': symlink loop") as error:
        nh.load_audio(tmp_path / "a.wav")
    assert not isinstance(error.value, FileNotFoundError)


def test_a_dangling_symlink_names_its_target(tmp_path):
    (tmp_path / "a.wav").symlink_to(tmp_path / "gone.wav")
    with pytest.raises(FileNotFoundError, match="a symlink to '.*gone.wav', which does not exist"):
        nh.load_audio(tmp_path / "a.wav")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "load_audio: path is empty; give the name of an audio file"),
        (
            "https://example.com/song.mp3",
            "load_audio: 'https://example.com/song.mp3' is a URL, and only local files are read;"
            " download the file first and give its path",
        ),
    ],
)
def test_an_empty_path_or_a_url_is_called_what_it_is(path, message):
    with pytest.raises(nh.ParameterError) as error:
        nh.load_audio(path)
    assert str(error.value) == message


def test_names_that_are_not_utf8_are_read_written_and_reported(tmp_path):
    folder = os.fsencode(tmp_path)
    name = os.fsdecode(folder + b"/caf\xe9.wav")  # a str with a surrogate escape
    nh.save_audio(name, _tone(0.3), SR)
    assert nh.load_audio(name)[0].size == round(0.3 * SR)
    assert nh.load_audio(os.fsencode(name))[0].size == round(0.3 * SR)
    assert np.concatenate(list(nh.audio_blocks(name))).size == round(0.3 * SR)
    with pytest.raises(nh.ParameterError, match="refusing to overwrite"):
        nh.save_audio(name, _tone(0.3), SR)
    missing = os.fsdecode(folder + b"/na\xefve.wav")
    with pytest.raises(FileNotFoundError) as error:
        nh.load_audio(missing)
    str(error.value).encode("ascii")  # printable anywhere: repr escapes the odd byte
    assert "na\\udcefve.wav" in str(error.value)


# --- 10: library checks that name what the caller gave -------------------------------------------


def test_sparse_and_masked_arrays_are_refused_by_name():
    V = nh.spectrogram(_tone(0.5))
    with pytest.raises(nh.ParameterError) as error:
        nh.nmf_kl(scipy.sparse.csr_matrix(V), 2)
    assert str(error.value) == (
        "nmf_kl: V is a scipy.sparse csr_matrix, and sparse matrices are not accepted;"
        " pass V.toarray()"
    )
    masked = np.ma.masked_array(V, mask=np.zeros(V.shape, bool))
    masked[3, 4] = np.ma.masked
    with pytest.raises(nh.ParameterError, match="nmf_kl: V is a masked array with 1 masked"):
        nh.nmf_kl(masked, 2)
    x = np.ma.masked_array(_tone(0.5), mask=np.zeros(round(0.5 * SR), bool))
    x.mask[:10] = True
    with pytest.raises(nh.ParameterError, match="spectrogram: x is a masked array with 10 masked"):
        nh.spectrogram(x)
    # Nothing masked: the data as it is.
    unmasked = np.ma.masked_array(V, mask=np.zeros(V.shape, bool))
    assert np.array_equal(nh.nmf_kl(unmasked, 2, n_iter=3)[0], nh.nmf_kl(V, 2, n_iter=3)[0])


def test_griffin_lim_of_one_frame_says_the_spectrogram_is_too_short():
    with pytest.raises(nh.ParameterError) as error:
        nh.griffin_lim(np.ones((1025, 1), np.float32))
    assert str(error.value).startswith("griffin_lim: V has only 1 frame, too few to make a wave")
    assert nh.griffin_lim(np.ones((1025, 1), np.float32), length=1000, n_iter=2).shape == (1000,)


def test_detect_sample_on_a_short_track_says_the_track_is_too_short():
    templates = nh.learn_sample(_tone(3.0), n_iter=3)
    with pytest.raises(nh.ParameterError) as error:
        nh.detect_sample(templates, _tone(2048 / SR), n_iter=3)
    # The fit's frames are pairs of STFT frames (detection.bands): 5 frames, 3 pairs.
    assert str(error.value) == (
        "detect_sample: the track is too short: 0.09 s (3 frames of 1024 samples) leave room"
        " for 3 free components, and n_free = 20 needs a track of at least 0.88 s (19456"
        " samples); give a longer track or a smaller n_free"
    )


def test_a_file_shorter_than_one_window_is_told_in_seconds_at_the_rate_it_was_read(
    tmp_path, capsys
):
    """A 3000-sample file at 44.1 kHz is 1500 samples at the detector's rate: say seconds too."""
    sample = _write(tmp_path / "sample.wav", _tone(3.0))
    track = _write(tmp_path / "track.wav", _tone(3000 / 44100, sr=44100), sr=44100)
    assert main(["detect", str(sample), str(track)]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: detect_sample: track is 0.068 s long (1500 samples at 22050 Hz), shorter than"
        " one window (2048 samples, 0.093 s); give at least 0.093 s of audio"
    )
    # Without a rate (an array given to the library), samples.
    with pytest.raises(nh.ParameterError) as error:
        nh.spectrogram(np.ones(100, np.float32))
    assert str(error.value) == (
        "spectrogram: x has 100 samples, shorter than one window (win = 2048);"
        " give at least 2048 samples"
    )


def test_a_commands_header_look_checks_the_path_as_load_audio_does(tmp_path):
    """What a command reads first (the song's length) must not hang on a FIFO or crash on a name."""
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    with pytest.raises(nh.ParameterError, match="separate: .*pipe.wav' is a FIFO"):
        nh.audio.audio_header("separate", fifo)
    name = os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.wav")
    nh.save_audio(name, _tone(0.5), SR)
    assert nh.audio.audio_header("separate", name).duration == pytest.approx(0.5)
    (tmp_path / "notes.txt").write_text("not audio")
    assert nh.audio.audio_header("separate", tmp_path / "notes.txt") is None


def test_a_title_holding_a_name_that_is_not_utf8_is_drawn(tmp_path):
    """matplotlib's font code raised TypeError on the surrogate of ``caf\\xe9.wav``."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    title = os.fsdecode(b"caf\xe9.wav") + ": mixture"
    figure = nh.plot_spectrograms({title: np.ones((1025, 10), np.float32)})
    figure.savefig(tmp_path / "figure.png")
    assert figure.axes[0].get_title() == "caf\\xe9.wav: mixture"
    matplotlib.pyplot.close(figure)


def test_an_early_end_is_reported_at_the_line_that_asked(tmp_path):
    """load_audio's warning pointed inside audio.py (through load_audio_unchecked)."""
    # Two files: each warns once a process.
    cuts = [_truncated(_write(tmp_path / f"{n}.flac", _tone(3.0)), 0.6) for n in "ab"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nh.load_audio(cuts[0])
        nh.audio_blocks(cuts[1])
    assert [Path(w.filename).name for w in caught] == [Path(__file__).name] * 2, [
        f"{w.filename}:{w.lineno}" for w in caught
    ]


def test_damage_met_while_streaming_is_damaged_audio(tmp_path):
    """A FLAC that loses sync mid-stream: DamagedAudio, as split_drums_file and the CLI expect."""
    whole = _write(tmp_path / "set.flac", _tone(20.0, sr=8000), sr=8000)
    cut = _truncated(whole, 0.5)
    header = sf.info(str(cut))  # as the header claims: 20 s
    blocks = nh.audio.audio_blocks_unchecked(cut, header, 8000, 4096, "audio_blocks")
    with pytest.raises(nh.long_songs.DamagedAudio) as raised:
        for _ in blocks:
            pass
    damaged = raised.value
    assert isinstance(damaged, nh.ParameterError) and damaged.total_s == 20.0
    assert 5.0 < damaged.read_s < 11.0, damaged.read_s
    assert (
        str(damaged)
        == damaged.reworded("audio_blocks", repr(str(cut)))
        == (
            f"audio_blocks: {str(cut)!r}: the file is damaged or ends early (read"
            f" {damaged.read_s:.0f} s of 20 s); repair or re-encode it, or give a complete copy"
        )
    )
    assert nh.long_songs.DamagedAudio is nh.audio.DamagedAudio


def test_a_waveform_at_minus_120_dbfs_is_signal_not_silence():
    # NMF is gain-invariant, and so is the silence rule (all samples zero):
    # a quiet waveform is analysed as it would be at full scale.
    x = _tone(3.0)
    quiet = (x / np.abs(x).max() * 10 ** (-120 / 20)).astype(np.float32)
    V = nh.spectrogram(quiet)
    assert V.any() and np.all(np.isfinite(V))
    result = nh.split_drums(quiet, K=4, n_iter=5)
    assert result.drums.shape == result.harmonic.shape == quiet.shape
    assert np.all(np.isfinite(result.drums)) and np.all(np.isfinite(result.harmonic))
    np.testing.assert_allclose(result.drums + result.harmonic, quiet, atol=1e-9)
    with pytest.raises(nh.ParameterError, match=r"^split_drums: x is silent \(all samples"):
        nh.split_drums(np.zeros_like(quiet), K=4, n_iter=5)
