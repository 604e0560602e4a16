"""Tests of nmf_helpers/long_songs.py: streamed decoding, seamless chunks, the short path."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

import nmf_helpers as nh
from nmf_helpers.separation import separate_unchecked

FAST = {"K": 8, "n_iter": 10}


def outputs_in(folder, suffix=".wav") -> dict:
    return {"drums": folder / f"drums{suffix}", "harmonic": folder / f"harmonic{suffix}"}


def read_parts(paths: dict) -> np.ndarray:
    return np.stack(
        [soundfile.read(paths[part], dtype="float32")[0] for part in nh.long_songs.PARTS]
    )


@pytest.mark.parametrize("clip", ["groove", "groove_stereo44k"])
def test_chunks_are_seamless(clip, tmp_path):
    """18 s in chunks of 3 s: the files are one separate_unchecked of the whole song."""
    path = nh.clip_path(clip)
    paths = outputs_in(tmp_path)
    result = nh.split_drums_file(
        path, paths, chunk_seconds=3.0, learn_seconds=6.0, keep_activations=True, **FAST
    )
    x = nh.load_audio(path)[0]
    assert result.streamed
    assert result.chunk_losses.size == 7  # 788 frames in chunks of 129
    assert result.H.shape == (FAST["K"], 1 + x.size // 512)
    groups = [result.percussive, result.harmonic_components]
    whole = separate_unchecked(x, result.W, result.H, groups, power=1.0, win=2048, hop=512)
    parts = read_parts(paths)
    assert parts.shape == whole.shape
    np.testing.assert_allclose(parts, whole, rtol=0, atol=1e-6)
    np.testing.assert_allclose(parts.sum(axis=0), x, rtol=0, atol=1e-5)
    assert result.peaks == pytest.approx(
        {part: float(np.abs(y).max()) for part, y in zip(nh.long_songs.PARTS, parts, strict=True)}
    )
    # Each chunk fitted the whole song's frames (with their context), not a zero-padded cut.
    V, WH = nh.spectrogram(x), result.W @ result.H
    edges = range(0, V.shape[1], 129)  # 3 s of frames
    for chunk, (f0, f1) in enumerate(zip(edges, [*edges[1:], V.shape[1]], strict=True)):
        v, wh = V[:, f0:f1].astype(np.float64), np.maximum(WH[:, f0:f1], nh.EPS)
        kl = np.sum(v * np.log(np.maximum(v / wh, nh.EPS)) - v + wh)
        assert kl == pytest.approx(result.chunk_losses[chunk], rel=1e-4)


def test_chunk_size_does_not_change_the_result(tmp_path):
    """The same seed gives the same W; each chunk's H differs only by its random start."""
    path = nh.clip_path("groove")
    split = {}
    for seconds in (2.0, 7.0):
        folder = tmp_path / f"{seconds:g}"
        split[seconds] = nh.split_drums_file(
            path, outputs_in(folder), chunk_seconds=seconds, learn_seconds=6.0, **FAST
        )
    np.testing.assert_array_equal(split[2.0].W, split[7.0].W)
    assert split[2.0].percussive == split[7.0].percussive


def test_a_short_song_is_split_drums_bit_for_bit(tmp_path):
    path = nh.clip_path("groove")
    result = nh.split_drums_file(path, outputs_in(tmp_path), chunk_seconds=60.0, **FAST)
    assert not result.streamed
    x, sr = nh.load_audio(path)
    reference = nh.split_drums(x, **FAST)
    today = outputs_in(tmp_path / "today")
    nh.save_audio(today["drums"], reference.drums, sr)
    nh.save_audio(today["harmonic"], reference.harmonic, sr)
    for part in nh.long_songs.PARTS:
        assert result.outputs[part].read_bytes() == today[part].read_bytes()
    assert result.percussive == reference.percussive
    np.testing.assert_array_equal(result.losses, reference.losses)


@pytest.fixture(scope="module")
def odd_48k(tmp_path_factory):
    """Stereo at 48 kHz with an odd length: the stream's length must be load_audio's."""
    path = tmp_path_factory.mktemp("odd") / "odd_48k.wav"
    x = soxr.resample(nh.load_audio(nh.clip_path("groove"))[0], 22050, 48000)[:200_001]
    soundfile.write(path, np.stack([x, 0.5 * x], axis=1), 48000, subtype="FLOAT")
    return path


@pytest.mark.parametrize(
    ("song", "block_frames"),
    [("groove_stereo44k", 65536), ("groove_stereo44k", 1000), ("odd_48k", 4096)],
)
def test_blocks_decode_like_load_audio(song, block_frames, odd_48k):
    # stereo at 44.1 or 48 kHz: downmix and resample
    path = odd_48k if song == "odd_48k" else nh.clip_path(song)
    blocks = list(nh.audio_blocks(path, block_frames=block_frames))
    assert len(blocks) > 1
    x = np.concatenate(blocks)
    reference = nh.load_audio(path)[0]
    assert x.dtype == np.float32 and x.shape == reference.shape
    np.testing.assert_allclose(x, reference, rtol=0, atol=1e-5)


def test_flac_outputs_are_24_bit(tmp_path):
    paths = outputs_in(tmp_path, ".flac")
    nh.split_drums_file(nh.clip_path("groove"), paths, chunk_seconds=5.0, learn_seconds=6.0, **FAST)
    assert soundfile.info(paths["drums"]).subtype == "PCM_24"
    assert soundfile.info(paths["drums"]).samplerate == 22050


def test_memory_is_flat_beyond_a_chunk():
    hour, three_hours = nh.memory_estimate(3600), nh.memory_estimate(3 * 3600)
    assert hour.streams and three_hours.streams
    assert hour.streamed_gb == three_hours.streamed_gb < 2.0
    assert three_hours.in_memory_gb > 3 * hour.in_memory_gb / 2
    assert not nh.memory_estimate(60).streams
    assert "min" in str(three_hours)


@pytest.fixture(params=["FLOAT", "PCM_16"])
def silent_file(tmp_path, request):
    """Five seconds of digital silence (all samples zero), as float or 16-bit samples."""
    path = tmp_path / "silence.wav"
    soundfile.write(path, np.zeros(5 * 22050, np.float32), 22050, subtype=request.param)
    return path


@pytest.mark.parametrize("chunk_seconds", [60.0, 1.0])  # in one piece, and streamed
def test_a_silent_file_is_named(silent_file, tmp_path, chunk_seconds):
    with pytest.raises(nh.ParameterError, match=r"split_drums_file: .*silence\.wav.* is silent"):
        nh.split_drums_file(
            silent_file, outputs_in(tmp_path), chunk_seconds=chunk_seconds, K=4, n_iter=2
        )


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"split_drums_file: no such file: .*nothing\.wav"):
        nh.split_drums_file(tmp_path / "nothing.wav", outputs_in(tmp_path))


def test_silence_is_all_samples_zero():
    # One rule for every waveform (nmf_helpers._validation), exact and so
    # gain-invariant like NMF: any nonzero sample, however quiet, is signal.
    validation = importlib.import_module("nmf_helpers._validation")
    assert validation.is_silent(np.zeros(4, np.float32))
    assert validation.is_silent(np.zeros(0, np.float32))
    assert validation.is_silent(np.float32(0.0))  # a part's peak, as separate flags it
    assert not validation.is_silent(np.array([0.0, 0.0, 2.0**-15], np.float32))
    assert not validation.is_silent(np.full(4, -(10 ** (-140 / 20)), np.float32))
    assert not validation.is_silent(np.full(4, np.finfo(np.float32).smallest_subnormal))
    assert not hasattr(validation, "SILENCE_DBFS")
    with pytest.raises(nh.ParameterError) as error:
        validation.check_not_silent("f", "x", np.zeros(4, np.float32))
    assert str(error.value) == "f: x is silent (all samples are zero)"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [((0.5, 180.0), "chunk_seconds"), ((1e5, 180.0), "chunk_seconds"),
     ((300.0, -3.0), "learn_seconds"), ((300.0, 4.0), "learn_seconds"),
     ((300.0, float("nan")), "learn_seconds"), (("300", 180.0), "chunk_seconds")],
)  # fmt: skip
def test_streaming_is_checked_when_made(arguments, field):
    # Streaming(0.5, -3).samples(10) used to answer (220500, -66150).
    with pytest.raises(nh.ParameterError, match=rf"^Streaming: {field} must be"):
        nh.long_songs.Streaming(*arguments)


def test_streaming_and_memory_estimate_share_split_drums_files_ranges():
    long_songs = nh.long_songs
    low = {"chunk_seconds": long_songs.CHUNK_SECONDS_RANGE[0]}
    low["learn_seconds"] = long_songs.LEARN_SECONDS_RANGE[0]
    streaming = long_songs.Streaming(**low)
    assert streaming.memory(3600).streams and streaming.samples(10) == (220500, 110250)
    assert nh.memory_estimate(3600, **low).streams
    for name, (lowest, highest) in [
        ("chunk_seconds", long_songs.CHUNK_SECONDS_RANGE),
        ("learn_seconds", long_songs.LEARN_SECONDS_RANGE),
    ]:
        for value in (lowest / 2, highest * 2):
            with pytest.raises(nh.ParameterError, match=rf"^memory_estimate: {name} must be"):
                nh.memory_estimate(3600, **{name: value})
            with pytest.raises(nh.ParameterError, match=rf"^Streaming: {name} must be"):
                long_songs.Streaming(**{name: value})
    assert long_songs.Streaming(300, 180) == long_songs.Streaming(300.0, 180.0)


@pytest.mark.parametrize("chunk_seconds", [0.5, 1e5, float("nan"), "300"])
def test_chunk_seconds_out_of_range(chunk_seconds, tmp_path):
    with pytest.raises(nh.ParameterError, match="split_drums_file: chunk_seconds must be"):
        nh.split_drums_file(
            nh.clip_path("groove"), outputs_in(tmp_path), chunk_seconds=chunk_seconds
        )
    assert not any(tmp_path.iterdir())


def test_an_output_that_is_the_input_is_refused(tmp_path):
    song = tmp_path / "song.wav"
    soundfile.write(song, nh.load_audio(nh.clip_path("groove"))[0], 22050)
    before = song.read_bytes()
    with pytest.raises(nh.ParameterError, match=r"outputs\['drums'\] is the input file"):
        nh.split_drums_file(song, {"drums": song, "harmonic": tmp_path / "h.wav"})
    assert song.read_bytes() == before


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({"drums": "d.wav"}, "keys 'drums' and 'harmonic'"),
        ({"drums": "d.mp3", "harmonic": "h.wav"}, r"outputs\['drums'\] must end in .wav or .flac"),
        ({"drums": "same.wav", "harmonic": "same.wav"}, "name one file twice"),
    ],
)
def test_bad_outputs_are_named(outputs, message, tmp_path):
    outputs = {part: tmp_path / name for part, name in outputs.items()}
    with pytest.raises(nh.ParameterError, match=f"split_drums_file: .*{message}"):
        nh.split_drums_file(nh.clip_path("groove"), outputs)


def test_bad_options_are_named(tmp_path):
    song, paths = nh.clip_path("groove"), outputs_in(tmp_path)
    with pytest.raises(nh.ParameterError, match="split_drums_file: K = 5000 is out of range"):
        nh.split_drums_file(song, paths, K=5000)
    with pytest.raises(nh.ParameterError, match="split_drums_file: loss must be"):
        nh.split_drums_file(song, paths, loss="itakura")
    with pytest.raises(nh.ParameterError, match="split_drums_file: learn_seconds must be"):
        nh.split_drums_file(song, paths, learn_seconds=1.0)


def test_every_fit_of_a_streamed_split_names_the_function(tmp_path, monkeypatch):
    """An error in any chunk's fit says which door the user called, not the core's "nmf"."""
    names = []
    factorise = nh.long_songs.factorise

    def spy(*args, **kwargs):
        names.append(kwargs.get("name", "nmf"))
        return factorise(*args, **kwargs)

    monkeypatch.setattr(nh.long_songs, "factorise", spy)
    paths = outputs_in(tmp_path)
    nh.split_drums_file(nh.clip_path("groove"), paths, chunk_seconds=5.0, learn_seconds=6.0, **FAST)
    assert len(names) > 2  # the learning fit and several chunks
    assert all(name.startswith("split_drums_file") for name in names), names


@pytest.mark.parametrize("minutes", [5.2, 6, 10, 30, 60, 180])
def test_chunks_never_claim_more_memory_than_the_whole_song(minutes):
    # Both figures come from one model: a song just over a chunk costs the same either way.
    estimate = nh.memory_estimate(minutes * 60)
    assert estimate.streams and estimate.streamed_gb <= estimate.in_memory_gb
    assert estimate.streamed_gb <= nh.memory_estimate(3 * 3600).streamed_gb


def header_as_it_claims(function, path):
    """``check_streamable`` that trusts the header, as if the damage were in the middle."""
    return Path(path), soundfile.info(str(path))


@pytest.fixture()
def damaged_flac(tmp_path):
    """40 s of FLAC at 8 kHz, cut to a fraction of its bytes: ``fraction -> path``."""
    sr = 8000
    t = np.arange(40 * sr) / sr
    noise = np.random.default_rng(0).standard_normal(t.size)
    x = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * noise).astype(np.float32)
    whole = tmp_path / "whole.flac"
    soundfile.write(whole, x, sr)

    def cut(fraction: float) -> Path:
        path = tmp_path / f"cut_{fraction}.flac"
        data = whole.read_bytes()
        path.write_bytes(data[: round(len(data) * fraction)])
        return path

    return cut


def split_damaged(path, tmp_path):
    return nh.split_drums_file(
        path, outputs_in(tmp_path), K=2, n_iter=2, chunk_seconds=5.0, learn_seconds=5.0
    )


def test_a_file_cut_before_the_excerpts_is_blamed_with_how_far_it_reads(
    damaged_flac, tmp_path, monkeypatch
):
    # Cut at 40 % of its bytes: the excerpt W is learned on (the middle, 20 s) is past the end.
    path = damaged_flac(0.4)
    monkeypatch.setattr(nh.long_songs, "check_streamable", header_as_it_claims)
    with pytest.raises(nh.long_songs.DamagedAudio) as raised:
        split_damaged(path, tmp_path)
    damaged = raised.value
    assert damaged.total_s == 40.0 and 0.3 * 40 < damaged.read_s < 0.4 * 40 + 2, damaged.read_s
    assert str(damaged) == (
        f"split_drums_file: {str(path)!r}: the file is damaged or ends early (read"
        f" {damaged.read_s:.0f} s of 40 s); repair or re-encode it, or give a complete copy"
    )
    assert isinstance(damaged, nh.ParameterError)


def test_a_file_cut_after_the_excerpts_is_blamed_while_streaming(
    damaged_flac, tmp_path, monkeypatch
):
    # Cut at 90 %: W is learned, then the stream runs into the end (the decoder "lost sync").
    path = damaged_flac(0.9)
    monkeypatch.setattr(nh.long_songs, "check_streamable", header_as_it_claims)
    with pytest.raises(nh.long_songs.DamagedAudio) as raised:
        split_damaged(path, tmp_path)
    damaged = raised.value
    assert damaged.total_s == 40.0 and 0.5 * 40 < damaged.read_s < 0.9 * 40 + 2, damaged.read_s
    assert str(damaged) == (
        f"split_drums_file: {str(path)!r}: the file is damaged or ends early (read"
        f" {damaged.read_s:.0f} s of 40 s); repair or re-encode it, or give a complete copy"
    )
