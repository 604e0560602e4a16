"""Rendering with FluidSynth: each part to MIDI, then to mono float audio of an exact length.

Only :func:`render_part` and :func:`render_arrangement` run the ``fluidsynth``
program (with the FluidR3_GM soundfont); :func:`check_renderer` says what to
install when either is missing. Each stem is rendered on its own, with reverb
and chorus off, so that the stems add up to the mix.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf

from .compose import SAMPLE_RATE, Arrangement, Part, arrangement_n_samples, beats_to_seconds
from .mix import fade_out, fit_length

__all__ = [
    "FLUIDSYNTH",
    "FLUIDSYNTH_GAIN",
    "RENDER_TIMEOUT_S",
    "SOUNDFONT",
    "check_renderer",
    "part_to_midi",
    "render_arrangement",
    "render_part",
]

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
FLUIDSYNTH = "fluidsynth"
# A stem is rendered in well under a second; the timeout only stops a renderer
# that would otherwise write forever (e.g. a MIDI file without a proper end).
RENDER_TIMEOUT_S = 60
# FluidSynth's own output gain; irrelevant to the result (we normalise later)
# as long as the float render stays far from any internal limit.
FLUIDSYNTH_GAIN = 0.5


def part_to_midi(part: Part, bpm: float) -> pretty_midi.PrettyMIDI:
    """A one-instrument MIDI file for one part, ready to render.

    Parameters
    ----------
    part : Part
        Notes in beats.
    bpm : float
        Tempo; note times are converted to seconds with it.

    Returns
    -------
    pretty_midi.PrettyMIDI
        One instrument holding the part's notes.
    """
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    instrument = pretty_midi.Instrument(program=part.program, is_drum=part.is_drum)
    for note in part.notes:
        instrument.notes.append(
            pretty_midi.Note(
                velocity=note.velocity,
                pitch=note.pitch,
                start=beats_to_seconds(note.start, bpm),
                end=beats_to_seconds(note.start + note.length, bpm),
            )
        )
    midi.instruments.append(instrument)
    return midi


def check_renderer(fluidsynth: str = FLUIDSYNTH, soundfont: Path = SOUNDFONT) -> None:
    """Stop with a clear message if FluidSynth or the soundfont is missing.

    Parameters
    ----------
    fluidsynth : str
        Name or path of the fluidsynth program.
    soundfont : pathlib.Path
        Path of FluidR3_GM.sf2.

    Raises
    ------
    SystemExit
        If either is missing.
    """
    missing = []
    if shutil.which(fluidsynth) is None:
        missing.append(f"the '{fluidsynth}' program")
    if not Path(soundfont).is_file():
        missing.append(f"the soundfont {soundfont}")
    if missing:
        raise SystemExit(
            "make_audio.py needs "
            + " and ".join(missing)
            + " to render the clips.\nInstall them with:"
            " sudo apt-get install fluidsynth fluid-soundfont-gm\n"
            "(The rendered clips are already in audio/; only regenerating them needs these.)"
        )


def render_part(part: Part, bpm: float, n_samples: int, work_dir: Path, name: str) -> np.ndarray:
    """Render one part with FluidSynth to mono float audio of an exact length.

    Parameters
    ----------
    part : Part
        Notes and program.
    bpm : float
        Tempo.
    n_samples : int
        Length of the result: the render is trimmed (or padded) to it.
    work_dir : pathlib.Path
        Scratch folder for the MIDI and WAV files.
    name : str
        Base name of the scratch files.

    Returns
    -------
    np.ndarray [shape=(n_samples,), float64]
        The part, channels averaged.
    """
    midi_path = work_dir / f"{name}.mid"
    wav_path = work_dir / f"{name}.wav"
    part_to_midi(part, bpm).write(str(midi_path))
    command = [
        FLUIDSYNTH, "-ni", "-q",
        "-g", str(FLUIDSYNTH_GAIN), "-r", str(SAMPLE_RATE),
        "-R", "0", "-C", "0",
        "-o", "synth.reverb.active=0", "-o", "synth.chorus.active=0",
        "-T", "wav", "-O", "float", "-F", str(wav_path),
        str(SOUNDFONT), str(midi_path),
    ]  # fmt: skip
    subprocess.run(command, check=True, timeout=RENDER_TIMEOUT_S, capture_output=True)
    audio, rate = sf.read(wav_path, dtype="float64", always_2d=True)
    if rate != SAMPLE_RATE:
        raise RuntimeError(f"fluidsynth wrote {rate} Hz, expected {SAMPLE_RATE}")
    return fit_length(audio.mean(axis=1), n_samples)


def render_arrangement(
    arrangement: Arrangement, work_dir: Path, n_fade: int = 0
) -> dict[str, np.ndarray]:
    """Render every part of an arrangement to mono float stems of equal length.

    Parameters
    ----------
    arrangement : Arrangement
        The piece.
    work_dir : pathlib.Path
        Scratch folder.
    n_fade : int
        Length of the fade-out applied to the end of every stem.

    Returns
    -------
    dict of str to np.ndarray
        Stem name to float signal.
    """
    n_samples = arrangement_n_samples(arrangement)
    return {
        name: part.level
        * fade_out(
            render_part(part, arrangement.bpm, n_samples, work_dir, f"{arrangement.name}_{name}"),
            n_fade,
        )
        for name, part in arrangement.parts.items()
    }
