"""The project's own clips in audio/: files, stems, offsets and the script that makes them.

The rendered files are checked as shipped; the pure parts of the script
(``scripts/make_audio.py`` and its modules in ``scripts/make_audio_lib/``:
composition, loop placement, normalisation, mixing, the Ogg patch) are
checked without FluidSynth.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import correlate

from nmf_helpers import load_audio

ROOT = Path(__file__).resolve().parent.parent
AUDIO_DIR = ROOT / "audio"
SCRIPTS_DIR = ROOT / "scripts"
CLIPS = json.loads((AUDIO_DIR / "clips.json").read_text())["clips"]
MONO_CLIPS = [name for name, entry in CLIPS.items() if entry["file"].endswith(".flac")]
ALL_FILES = sorted({entry["file"] for entry in CLIPS.values()} | {
    stem for entry in CLIPS.values() for stem in entry["stems"]
})  # fmt: skip
MAX_AUDIO_BYTES = 10 * 1024 * 1024


def _load_script_package(name: str):
    """Import scripts/<name>/, which sits beside the scripts, not in the installed package."""
    init = SCRIPTS_DIR / name / "__init__.py"
    spec = importlib.util.spec_from_file_location(
        name, init, submodule_search_locations=[str(init.parent)]
    )
    package = importlib.util.module_from_spec(spec)
    # Registered so that its modules' relative imports (and dataclasses, which
    # look their module up here) find it.
    sys.modules[name] = package
    spec.loader.exec_module(package)
    return package


_load_script_package("make_audio_lib")
compose = importlib.import_module("make_audio_lib.compose")
mixing = importlib.import_module("make_audio_lib.mix")
ogg = importlib.import_module("make_audio_lib.ogg")
render = importlib.import_module("make_audio_lib.render")


@cache
def read_int16(file: str) -> np.ndarray:
    """Samples of a shipped mono FLAC as int16, exactly as stored."""
    samples, rate = sf.read(AUDIO_DIR / file, dtype="int16")
    assert rate == 22050
    return samples


def normalised_cross_correlation(signal: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Cosine similarity between ``template`` and each same-length window of ``signal``."""
    signal = signal.astype(np.float64)
    template = template.astype(np.float64)
    raw = correlate(signal, template, mode="valid", method="fft")
    energy = np.concatenate([[0.0], np.cumsum(signal**2)])
    window_norm = np.sqrt(np.maximum(energy[len(template) :] - energy[: -len(template)], 0.0))
    return raw / (np.linalg.norm(template) * np.maximum(window_norm, 1e-9))


# ---------------------------------------------------------------------------
# The shipped files
# ---------------------------------------------------------------------------


def test_audio_folder_is_small():
    total = sum(path.stat().st_size for path in AUDIO_DIR.rglob("*") if path.is_file())
    assert total < MAX_AUDIO_BYTES


def test_clips_json_lists_the_expected_clips_and_stems():
    assert set(CLIPS) == {
        "groove",
        "groove_stereo44k",
        "sample",
        "sampling_track",
        "unrelated_track",
    }
    assert CLIPS["groove"]["stems"] == [
        f"groove_{stem}.flac" for stem in ("drums", "bass", "keys", "vocals")
    ]
    assert CLIPS["sampling_track"]["stems"] == [
        f"sampling_track_{stem}.flac" for stem in ("sample", "drums", "lead")
    ]
    for entry in CLIPS.values():
        for key in ("file", "duration_s", "n_samples", "sample_rate", "stems"):
            assert key in entry
        assert entry["duration_s"] == pytest.approx(entry["n_samples"] / entry["sample_rate"])
    for file in ALL_FILES:
        assert (AUDIO_DIR / file).is_file(), file


@pytest.mark.parametrize("name", MONO_CLIPS)
def test_documented_rate_duration_and_format_hold(name):
    entry = CLIPS[name]
    assert 6.0 <= entry["duration_s"] <= 20.0
    for file in [entry["file"], *entry["stems"]]:
        info = sf.info(AUDIO_DIR / file)
        assert (info.format, info.subtype) == ("FLAC", "PCM_16")
        assert info.channels == 1
        assert info.samplerate == entry["sample_rate"] == 22050
        assert info.frames == entry["n_samples"]


@pytest.mark.parametrize("file", [f for f in ALL_FILES if f.endswith(".flac")])
def test_every_mono_file_loads_with_load_audio(file):
    x, sr = load_audio(AUDIO_DIR / file, sr=22050)
    assert sr == 22050
    assert isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim == 1
    assert len(x) == len(read_int16(file))
    assert np.max(np.abs(x)) > 0.05  # not silent


def test_stereo_ogg_loads_as_mono_22050_and_is_the_groove():
    entry = CLIPS["groove_stereo44k"]
    info = sf.info(AUDIO_DIR / entry["file"])
    assert (info.format, info.subtype) == ("OGG", "VORBIS")
    assert (info.samplerate, info.channels) == (44100, 2) == (entry["sample_rate"], 2)
    stereo, _ = sf.read(AUDIO_DIR / entry["file"])
    # The pans make the two channels genuinely different.
    assert np.corrcoef(stereo[:, 0], stereo[:, 1])[0, 1] < 0.99

    x, sr = load_audio(AUDIO_DIR / entry["file"], sr=22050)
    assert sr == 22050 and x.dtype == np.float32 and x.ndim == 1
    assert len(x) / sr == pytest.approx(CLIPS["groove"]["duration_s"], abs=0.02)
    groove = read_int16("groove.flac").astype(np.float64)
    n = min(len(x), len(groove))
    assert np.corrcoef(x[:n], groove[:n])[0, 1] > 0.9


@pytest.mark.parametrize("name", [n for n in MONO_CLIPS if CLIPS[n]["stems"]])
def test_mix_is_the_sum_of_its_stems(name):
    entry = CLIPS[name]
    mix = read_int16(entry["file"]).astype(np.int32)
    stems = [read_int16(stem).astype(np.int32) for stem in entry["stems"]]
    assert np.max(np.abs(mix - np.sum(stems, axis=0))) <= 2
    # Normalised with headroom, not clipping, and every stem audible.
    assert 0.5 * 32767 < np.max(np.abs(mix)) < 32767
    for stem in stems:
        assert np.max(np.abs(stem)) > 0.1 * 32767


def test_groove_intro_is_instrumental_then_the_voice_enters():
    entry = CLIPS["groove"]
    intro_end = entry["instrumental_intro_end_samples"]
    assert intro_end == round(entry["instrumental_intro_end_s"] * 22050) == 4 * 22050
    vocals = read_int16("groove_vocals.flac")
    assert np.all(vocals[:intro_end] == 0)
    assert np.max(np.abs(vocals[intro_end : intro_end + 22050])) > 0.2 * 32767
    for stem in ("drums", "bass", "keys"):
        assert np.max(np.abs(read_int16(f"groove_{stem}.flac")[:intro_end])) > 0.1 * 32767


def test_sampling_track_holds_the_sample_verbatim_at_the_documented_offsets():
    entry = CLIPS["sampling_track"]
    sample = read_int16(entry["sample_file"]).astype(np.float64)
    offsets = entry["sample_offsets_samples"]
    gain = entry["sample_gain"]
    assert len(offsets) >= 2
    assert entry["sample_offsets_s"] == pytest.approx([o / 22050 for o in offsets])
    # Back to back: the audio is looped, not re-rendered.
    assert np.all(np.diff(offsets) == len(sample))

    sample_stem = read_int16("sampling_track_sample.flac").astype(np.float64)
    without_new_parts = read_int16(entry["file"]).astype(np.float64)
    for stem in ("drums", "lead"):
        without_new_parts -= read_int16(f"sampling_track_{stem}.flac")
    for offset in offsets:
        for signal in (sample_stem, without_new_parts):
            segment = signal[offset : offset + len(sample)]
            assert np.max(np.abs(segment - gain * sample)) <= 2
            assert np.corrcoef(segment, sample)[0, 1] > 0.99
    # Outside the copies the sample part is silent.
    covered = np.zeros(len(sample_stem), dtype=bool)
    for offset in offsets:
        covered[offset : offset + len(sample)] = True
    assert np.all(sample_stem[~covered] == 0)


def test_cross_correlation_finds_the_sample_in_the_mix_but_not_in_the_unrelated_track():
    entry = CLIPS["sampling_track"]
    sample = read_int16(entry["sample_file"])
    similarity = normalised_cross_correlation(read_int16(entry["file"]), sample)
    bar = 49000  # one bar at 108 BPM
    for offset in entry["sample_offsets_samples"]:
        window = similarity[max(0, offset - bar) : offset + bar + 1]
        assert similarity[offset] == pytest.approx(window.max())
        assert similarity[offset] > 0.5
    unrelated = normalised_cross_correlation(read_int16("unrelated_track.flac"), sample)
    assert not CLIPS["unrelated_track"].get("contains_sample", True)
    assert unrelated.max() < 0.3
    assert unrelated.max() < 0.5 * min(similarity[o] for o in entry["sample_offsets_samples"])


# ---------------------------------------------------------------------------
# The script's pure parts (scripts/make_audio_lib/), without FluidSynth
# ---------------------------------------------------------------------------


def test_composition_is_deterministic_and_matches_the_shipped_lengths():
    groove = compose.compose_groove()
    assert groove == compose.compose_groove()
    assert groove != compose.compose_groove(seed=1)  # the seed drives the velocities
    cases = [
        (groove, "groove"),
        (compose.compose_sample(), "sample"),
        (compose.compose_sampling_track_parts(), "sampling_track"),
        (compose.compose_unrelated_track(), "unrelated_track"),
    ]
    for arrangement, name in cases:
        assert compose.arrangement_n_samples(arrangement) == CLIPS[name]["n_samples"]
        assert CLIPS[name]["tempo_bpm"] == arrangement.bpm


@pytest.mark.parametrize(
    "composer",
    ["compose_groove", "compose_sample", "compose_sampling_track_parts", "compose_unrelated_track"],
)
def test_compositions_are_playable_music(composer):
    arrangement = getattr(compose, composer)()
    assert 100 <= arrangement.bpm <= 110
    for name, part in arrangement.parts.items():
        assert part.notes, name
        starts = np.array([note.start for note in part.notes])
        ends = starts + np.array([note.length for note in part.notes])
        assert starts.min() >= 0 and ends.max() <= arrangement.n_beats, name
        velocities = {note.velocity for note in part.notes}
        assert velocities <= set(range(1, 128)) and len(velocities) > 3, name
        assert all(0 <= note.pitch <= 127 for note in part.notes)
    drum_parts = [part for part in arrangement.parts.values() if part.is_drum]
    assert len(drum_parts) == (0 if composer == "compose_sample" else 1)


def test_groove_has_the_documented_band_and_voice_entry():
    groove = compose.compose_groove()
    assert set(groove.parts) == {"drums", "bass", "keys", "vocals"}
    assert groove.parts["drums"].is_drum
    assert groove.parts["vocals"].program in (52, 53)  # Choir Aahs or Voice Oohs
    first_vocal = min(note.start for note in groove.parts["vocals"].notes)
    assert compose.beats_to_seconds(first_vocal, groove.bpm) == pytest.approx(
        CLIPS["groove"]["instrumental_intro_end_s"]
    )
    # The bass plays with the kick: every kick in a full bar has a bass note with it.
    kicks = {n.start for n in groove.parts["drums"].notes if n.pitch == compose.KICK}
    bass_starts = {n.start for n in groove.parts["bass"].notes}
    assert kicks <= bass_starts


def test_part_to_midi_converts_beats_to_seconds():
    part = compose.Part(
        program=4,
        notes=[compose.NoteEvent(2.0, 1.0, 60, 90), compose.NoteEvent(3.0, 0.5, 64, 80)],
    )
    midi = render.part_to_midi(part, bpm=120)
    (instrument,) = midi.instruments
    assert instrument.program == 4 and not instrument.is_drum
    assert [(n.start, n.end, n.pitch) for n in instrument.notes] == [
        (1.0, 1.5, 60),
        (1.5, 1.75, 64),
    ]
    assert midi.get_tempo_changes()[1][0] == pytest.approx(120)


def test_beats_to_samples_refuses_fractional_samples():
    assert compose.beats_to_samples(4, 108) == 49000
    assert compose.beats_to_samples(7, 105) == 88200
    with pytest.raises(ValueError):
        compose.beats_to_samples(0.25, 108)


def test_sample_offsets_and_loop_audio_place_verbatim_copies():
    offsets = mixing.sample_offsets(pickup_beats=2, loop_beats=16, n_loops=2, bpm=108)
    assert offsets == CLIPS["sampling_track"]["sample_offsets_samples"] == [24500, 220500]

    segment = np.array([3, -1, 4, 1, -5], dtype=np.int16)
    looped = mixing.loop_audio(segment, [2, 7], 14)
    assert looped.dtype == np.int16
    np.testing.assert_array_equal(looped[2:7], segment)
    np.testing.assert_array_equal(looped[7:12], segment)
    assert np.all(looped[[0, 1, 12, 13]] == 0)
    with pytest.raises(ValueError):
        mixing.loop_audio(segment, [0, 3], 14)  # overlapping copies would add up
    with pytest.raises(ValueError):
        mixing.loop_audio(segment, [10], 14)  # runs past the end


def test_shared_gain_quantisation_and_mix_sum():
    rng = np.random.default_rng(0)
    stems = {name: rng.normal(scale=0.4, size=1000) for name in ("a", "b", "c")}
    float_mix = sum(stems.values())
    gain = mixing.peak_normalising_gain([float_mix], peak_dbfs=-1.0)
    assert np.max(np.abs(gain * float_mix)) == pytest.approx(10 ** (-1 / 20))

    quantised = mixing.scale_and_quantize(stems, gain)
    assert all(stem.dtype == np.int16 for stem in quantised.values())
    np.testing.assert_allclose(quantised["a"] / 32767, gain * stems["a"], atol=0.5 / 32767)
    mix = mixing.mix_of_stems(quantised.values())
    np.testing.assert_array_equal(
        mix.astype(np.int32), sum(stem.astype(np.int32) for stem in quantised.values())
    )
    # The rounding of three stems moves the mix peak by at most 1.5 LSB.
    assert abs(np.max(np.abs(mix)) - 10 ** (-1 / 20) * 32767) <= 1.5

    with pytest.raises(ValueError):
        mixing.quantize_to_int16(np.array([0.0, 1.01]))
    with pytest.raises(ValueError):
        mixing.mix_of_stems([np.full(4, 20000, np.int16), np.full(4, 20000, np.int16)])
    with pytest.raises(ValueError):
        mixing.peak_normalising_gain([np.zeros(8)])


def test_fit_length_fade_out_and_pan():
    x = np.arange(1.0, 6.0)
    np.testing.assert_array_equal(mixing.fit_length(x, 3), [1, 2, 3])
    np.testing.assert_array_equal(mixing.fit_length(x, 7), [1, 2, 3, 4, 5, 0, 0])
    faded = mixing.fade_out(np.ones(10), 4)
    np.testing.assert_allclose(faded, [1, 1, 1, 1, 1, 1, 1, 2 / 3, 1 / 3, 0])

    stereo = mixing.pan_to_stereo(
        {"mid": np.ones(3), "left": np.full(3, 2.0)}, {"mid": 0.0, "left": -0.5}
    )
    np.testing.assert_allclose(stereo[:, 0], 3.0)  # both at full level on the left
    np.testing.assert_allclose(stereo[:, 1], 2.0)  # 1 + 2 * (1 - 0.5)


def test_set_ogg_serial_is_reproducible_and_keeps_the_audio(tmp_path):
    time = np.arange(4410) / 44100
    tone = 0.3 * np.sin(2 * np.pi * 440 * time)[:, None] * np.ones(2)
    files = []
    for i in range(2):
        path = tmp_path / f"tone{i}.ogg"
        sf.write(path, tone, 44100, format="OGG", subtype="VORBIS")
        path.write_bytes(ogg.set_ogg_serial(path.read_bytes(), serial=7))
        files.append(path)
    assert files[0].read_bytes() == files[1].read_bytes()
    # libogg drops pages whose checksum is wrong, so this read fails unless the
    # recomputed checksums are right.
    decoded, rate = sf.read(files[0])
    assert rate == 44100 and decoded.shape == tone.shape
    assert np.corrcoef(decoded[:, 0], tone[:, 0])[0, 1] > 0.99
    with pytest.raises(ValueError):
        ogg.set_ogg_serial(b"not an ogg file")


def test_check_renderer_explains_what_is_missing(tmp_path):
    with pytest.raises(SystemExit, match="fluid-soundfont-gm"):
        render.check_renderer(soundfont=tmp_path / "missing.sf2")
    with pytest.raises(SystemExit, match="apt-get install fluidsynth"):
        render.check_renderer(fluidsynth="no-such-fluidsynth-binary")


def test_the_documented_command_starts_from_the_repository_root():
    # --help stops before the renderer check, so this runs without FluidSynth;
    # it fails if scripts/make_audio.py can no longer find its modules.
    result = subprocess.run(
        [sys.executable, "scripts/make_audio.py", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--out" in result.stdout
