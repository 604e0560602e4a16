"""Compose, render and write the project's own music clips with ground-truth stems.

Run ``python audio/make_audio.py`` (optionally ``--out DIR``) to rebuild every
file in this folder. Rendering needs the ``fluidsynth`` program and the
FluidR3_GM soundfont (``apt-get install fluidsynth fluid-soundfont-gm``); all
the other steps are plain numpy and pretty_midi, so the tests can exercise the
composition, looping and normalisation without a synthesiser.

How a clip is made:

1. A composition function returns an :class:`Arrangement`: one note list per
   stem, timed in beats.
2. Each stem is rendered on its own by FluidSynth (reverb and chorus off, so
   the stems add up to the mix) to float audio, folded to mono and trimmed to
   the arrangement's exact length.
3. One gain is chosen per clip (from the peak of the float mix, with headroom),
   every stem is scaled by it and quantised to int16, and the mix is defined as
   the sum of the quantised stems: the mix equals the sum of its stems exactly.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf
from scipy.signal import resample_poly

SAMPLE_RATE = 22050
STEREO_SAMPLE_RATE = 44100
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
FLUIDSYNTH = "fluidsynth"
# A stem is rendered in well under a second; the timeout only stops a renderer
# that would otherwise write forever (e.g. a MIDI file without a proper end).
RENDER_TIMEOUT_S = 60
# FluidSynth's own output gain; irrelevant to the result (we normalise later)
# as long as the float render stays far from any internal limit.
FLUIDSYNTH_GAIN = 0.5
TARGET_PEAK_DBFS = -1.0
SEED = 2024
DEFAULT_OUT = Path(__file__).resolve().parent

# General MIDI programs, 0-based as pretty_midi numbers them.
PROGRAM_ELECTRIC_PIANO = 4  # Electric Piano 1
PROGRAM_FINGER_BASS = 33  # Electric Bass (finger)
PROGRAM_VOICE_OOHS = 53  # Voice Oohs: a sung "ooh"
PROGRAM_ALTO_SAX = 65  # Alto Sax

# General MIDI percussion keys (channel 10).
KICK, SNARE, CLOSED_HAT, OPEN_HAT, CRASH = 36, 38, 42, 46, 49
LOW_TOM, MID_TOM, HIGH_TOM = 45, 47, 50

GROOVE_BPM = 105  # one bar = 50400 samples, one beat = 12600 samples at 22050 Hz
SAMPLE_BPM = 108  # one bar = 49000 samples, one beat = 12250 samples at 22050 Hz
BEATS_PER_BAR = 4

# The groove's voice enters with a pickup on beat 4 of bar 2: 7 beats at
# 105 BPM is exactly 4.0 s, so the first 4 s are instrumental.
GROOVE_VOICE_ENTRY_BEAT = 7.0
# The sampling track opens with a two-beat drum fill, then the sample loops twice.
SAMPLING_TRACK_PICKUP_BEATS = 2
SAMPLING_TRACK_LOOPS = 2

# Trimming a render to its bar length cuts release tails: a short fade-out
# hides the cut at the end of a clip, and a shorter one the seam of the loop.
END_FADE_SAMPLES = round(0.25 * SAMPLE_RATE)
LOOP_FADE_SAMPLES = round(0.03 * SAMPLE_RATE)

# Constant-balance pans (-1 left, +1 right) for the stereo copy of the groove.
GROOVE_STEREO_PANS = {"drums": 0.0, "bass": 0.0, "keys": -0.4, "vocals": 0.3}


@dataclass(frozen=True)
class NoteEvent:
    """One note, timed in beats from the start of its arrangement."""

    start: float
    length: float
    pitch: int
    velocity: int


@dataclass
class Part:
    """The notes of one stem and the General MIDI sound that plays them."""

    program: int
    notes: list[NoteEvent]
    is_drum: bool = False
    # Fader of the mixing desk: the render is multiplied by it before mixing.
    level: float = 1.0


@dataclass
class Arrangement:
    """A short piece: tempo, exact length in beats and one :class:`Part` per stem."""

    name: str
    bpm: float
    n_beats: int
    key: str
    parts: dict[str, Part] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


def beats_to_seconds(beats: float, bpm: float) -> float:
    """Convert a position in beats to seconds.

    Parameters
    ----------
    beats : float
        Position or length in beats (quarter notes).
    bpm : float
        Tempo in beats per minute.

    Returns
    -------
    float
        The same span in seconds.
    """
    return beats * 60.0 / bpm


def beats_to_samples(beats: float, bpm: float, sr: int = SAMPLE_RATE) -> int:
    """Convert beats to a whole number of samples, refusing fractional results.

    Loops are placed by sample index, so a tempo whose beats fall between
    samples would make a "bar-aligned" loop drift; we refuse such tempos.

    Parameters
    ----------
    beats : float
        Span in beats.
    bpm : float
        Tempo in beats per minute.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    int
        The span in samples.

    Raises
    ------
    ValueError
        If the span is not a whole number of samples.
    """
    exact = beats * 60.0 * sr / bpm
    whole = round(exact)
    if abs(exact - whole) > 1e-6:
        raise ValueError(f"{beats} beats at {bpm} BPM is {exact} samples, not a whole number")
    return whole


def arrangement_n_samples(arrangement: Arrangement, sr: int = SAMPLE_RATE) -> int:
    """Length of an arrangement in samples.

    Parameters
    ----------
    arrangement : Arrangement
        The piece.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    int
        ``n_beats`` at the arrangement's tempo, in samples.
    """
    return beats_to_samples(arrangement.n_beats, arrangement.bpm, sr)


# ---------------------------------------------------------------------------
# Composition helpers
# ---------------------------------------------------------------------------


def vary_velocities(
    notes: Iterable[NoteEvent], rng: np.random.Generator, spread: int = 6
) -> list[NoteEvent]:
    """Add a small random offset to each velocity, as a player would.

    Parameters
    ----------
    notes : iterable of NoteEvent
        Notes with their intended (accented) velocities.
    rng : numpy.random.Generator
        Seeded generator, so the result is reproducible.
    spread : int
        Largest offset up or down.

    Returns
    -------
    list of NoteEvent
        The same notes with velocities kept within 1..127.
    """
    varied = []
    for note in notes:
        offset = int(rng.integers(-spread, spread + 1))
        velocity = int(np.clip(note.velocity + offset, 1, 127))
        varied.append(NoteEvent(note.start, note.length, note.pitch, velocity))
    return varied


def chord_hits(
    bar_start: float, voicing: Sequence[int], hits: Sequence[tuple[float, float, int]]
) -> list[NoteEvent]:
    """Play one chord voicing at several rhythmic positions of a bar.

    Parameters
    ----------
    bar_start : float
        Beat at which the bar starts.
    voicing : sequence of int
        MIDI pitches of the chord.
    hits : sequence of (offset, length, velocity)
        Where in the bar (beats), for how long (beats) and how hard.

    Returns
    -------
    list of NoteEvent
        One note per pitch per hit.
    """
    return [
        NoteEvent(bar_start + offset, length, pitch, velocity)
        for offset, length, velocity in hits
        for pitch in voicing
    ]


def melody(
    line: Sequence[tuple[float, float, int]], velocity: int = 90, legato: float = 0.92
) -> list[NoteEvent]:
    """Turn (start, length, pitch) triples into notes, shortened slightly.

    Parameters
    ----------
    line : sequence of (start, length, pitch)
        The tune, in beats and MIDI pitches.
    velocity : int
        Base velocity.
    legato : float
        Fraction of each written length that sounds; below 1 so repeated and
        stepwise notes are re-articulated rather than merged.

    Returns
    -------
    list of NoteEvent
    """
    return [NoteEvent(start, length * legato, pitch, velocity) for start, length, pitch in line]


def drum_bar(
    bar_start: float,
    kicks: Sequence[float],
    snares: Sequence[float],
    hats: Sequence[float],
    open_hats: Sequence[float] = (),
    crash: bool = False,
) -> list[NoteEvent]:
    """One bar of a drum kit, with accents on the beat.

    Parameters
    ----------
    bar_start : float
        Beat at which the bar starts.
    kicks, snares, hats, open_hats : sequence of float
        Offsets in beats within the bar for each kit piece.
    crash : bool
        Whether a crash cymbal marks the downbeat.

    Returns
    -------
    list of NoteEvent
        Drum hits (pitch = GM percussion key), each a sixteenth long.
    """
    hit = 0.25
    notes = [NoteEvent(bar_start + t, hit, KICK, 104 if t == 0 else 92) for t in kicks]
    notes += [NoteEvent(bar_start + t, hit, SNARE, 102) for t in snares]
    # Hats louder on the beat, softer off it: that is what makes them swing.
    notes += [
        NoteEvent(
            bar_start + t, hit, CLOSED_HAT, 82 if t % 1 == 0 else (64 if t % 0.5 == 0 else 48)
        )
        for t in hats
    ]
    notes += [NoteEvent(bar_start + t, hit, OPEN_HAT, 74) for t in open_hats]
    if crash:
        notes.append(NoteEvent(bar_start, 1.0, CRASH, 96))
    return notes


def eighths_except(skip: Sequence[float] = ()) -> list[float]:
    """Eighth-note offsets in a 4/4 bar, leaving out some.

    Parameters
    ----------
    skip : sequence of float
        Offsets (beats) to leave out, e.g. where an open hat plays.

    Returns
    -------
    list of float
    """
    return [t / 2 for t in range(8) if t / 2 not in skip]


def sixteenths_except(skip: Sequence[float] = ()) -> list[float]:
    """Sixteenth-note offsets in a 4/4 bar, leaving out some.

    Parameters
    ----------
    skip : sequence of float
        Offsets (beats) to leave out.

    Returns
    -------
    list of float
    """
    return [t / 4 for t in range(16) if t / 4 not in skip]


def bass_bar(
    bar_start: float, root: int, next_root: int, pattern: Sequence[tuple[float, float, int | None]]
) -> list[NoteEvent]:
    """One bar of bass from a pattern of intervals above the chord root.

    Parameters
    ----------
    bar_start : float
        Beat at which the bar starts.
    root : int
        MIDI pitch of the chord root (in the bass register).
    next_root : int
        Root of the next bar's chord; an interval of ``None`` in the pattern
        is replaced by a note a semitone below it, leading into it.
    pattern : sequence of (offset, length, interval)
        Offsets and lengths in beats; intervals in semitones above ``root``.

    Returns
    -------
    list of NoteEvent
    """
    notes = []
    for offset, length, interval in pattern:
        pitch = next_root - 1 if interval is None else root + interval
        velocity = 100 if offset == 0 else 84
        notes.append(NoteEvent(bar_start + offset, length, pitch, velocity))
    return notes


# ---------------------------------------------------------------------------
# The compositions
# ---------------------------------------------------------------------------


def compose_groove(seed: int = SEED) -> Arrangement:
    """A song-like groove in A minor at 105 BPM: 8 bars, voice entering at 4.0 s.

    Bars 1-2 are drums, bass and electric piano; the voice (Voice Oohs) enters
    with a two-note pickup on beat 4 of bar 2 (exactly 4.0 s) and sings a
    three-phrase melody that resolves on the tonic in bar 8.

    Parameters
    ----------
    seed : int
        Seed for the small velocity variations.

    Returns
    -------
    Arrangement
        Parts ``drums``, ``bass``, ``keys``, ``vocals``; 32 beats (18.29 s).
    """
    rng = np.random.default_rng(seed)
    # (name, bass root, electric-piano voicing) per bar.
    chords = [
        ("Am7", 33, (57, 60, 64, 67)),
        ("Fmaj7", 29, (53, 57, 60, 64)),
        ("C", 36, (55, 60, 64, 67)),
        ("G", 31, (55, 59, 62, 67)),
        ("Am7", 33, (57, 60, 64, 67)),
        ("Fmaj7", 29, (53, 57, 60, 64)),
        ("G", 31, (55, 59, 62, 67)),
        ("Am", 33, (57, 60, 64, 69)),
    ]
    n_bars = len(chords)
    # The bass doubles the kick (beats 1, 2-and, 3-and) so the two lock together.
    kicks = (0.0, 1.5, 2.5)
    bass_pattern = [(0.0, 1.0, 0), (1.5, 0.5, 0), (2.5, 0.5, 12), (3.0, 0.5, 7), (3.5, 0.5, None)]
    keys_hits = [(0.0, 1.0, 80), (1.5, 0.5, 66), (2.5, 1.25, 74)]

    drums, bass, keys = [], [], []
    for bar, (_, root, voicing) in enumerate(chords):
        start = bar * BEATS_PER_BAR
        if bar == n_bars - 1:
            # Final bar: one last hit, and the chord rings out.
            drums += [NoteEvent(start, 0.25, KICK, 104), NoteEvent(start, 2.0, CRASH, 96)]
            bass.append(NoteEvent(start, 3.5, root, 100))
            keys += chord_hits(start, voicing, [(0.0, 3.6, 80)])
            continue
        next_root = chords[bar + 1][1]
        bass += bass_bar(start, root, next_root, bass_pattern)
        keys += chord_hits(start, voicing, keys_hits)
        if bar == n_bars - 2:
            # A snare fill into the last bar.
            drums += drum_bar(start, kicks, (1.0,), eighths_except((3.0, 3.5)))
            drums += [NoteEvent(start + 3.0 + 0.25 * i, 0.25, SNARE, 70 + 10 * i) for i in range(4)]
            continue
        open_hat = (3.5,) if bar % 2 == 1 else ()
        ghost = [NoteEvent(start + 2.75, 0.25, SNARE, 42)]
        drums += drum_bar(
            start, kicks, (1.0, 3.0), eighths_except(open_hat), open_hat, crash=bar in (0, 2, 4)
        )
        drums += ghost

    # (start beat, length in beats, MIDI pitch): pickup, then three two-bar phrases.
    tune = [
        (7.0, 0.5, 64), (7.5, 0.5, 67),
        (8.0, 1.5, 72), (9.5, 0.5, 71), (10.0, 0.5, 72), (10.5, 0.5, 74), (11.0, 1.0, 76),
        (12.0, 1.5, 74), (13.5, 0.5, 71), (14.0, 1.5, 67), (15.5, 0.5, 67),
        (16.0, 1.0, 69), (17.0, 0.5, 72), (17.5, 0.5, 71), (18.0, 1.0, 69), (19.0, 1.0, 64),
        (20.0, 1.5, 69), (21.5, 0.5, 67), (22.0, 1.0, 65), (23.0, 0.5, 64), (23.5, 0.5, 67),
        (24.0, 1.5, 74), (25.5, 0.5, 72), (26.0, 1.0, 71), (27.0, 0.5, 67), (27.5, 0.5, 71),
        (28.0, 3.5, 69),
    ]  # fmt: skip
    vocals = melody(tune, velocity=96)

    return Arrangement(
        name="groove",
        bpm=GROOVE_BPM,
        n_beats=n_bars * BEATS_PER_BAR,
        key="A minor",
        parts={
            "drums": Part(0, vary_velocities(drums, rng), is_drum=True, level=1.4),
            "bass": Part(PROGRAM_FINGER_BASS, vary_velocities(bass, rng)),
            "keys": Part(PROGRAM_ELECTRIC_PIANO, vary_velocities(keys, rng), level=0.75),
            "vocals": Part(PROGRAM_VOICE_OOHS, vary_velocities(vocals, rng, spread=4), level=1.2),
        },
    )


def compose_sample(seed: int = SEED) -> Arrangement:
    """A four-bar riff in D minor at 108 BPM: finger bass and electric piano, no drums.

    The chords are Dm9 | Bbmaj7 | Gm7 | A7; the electric piano answers two
    chord stabs with a three-note hook in each bar, and the bass bounces
    between root, octave and fifth, leading chromatically into the next root.
    Every note ends before the last beat is over, so the riff loops cleanly.

    Parameters
    ----------
    seed : int
        Seed for the small velocity variations.

    Returns
    -------
    Arrangement
        Parts ``bass`` and ``keys``; 16 beats (8.89 s, 196000 samples).
    """
    rng = np.random.default_rng(seed + 1)
    # (bass root, rootless electric-piano voicing, three hook pitches) per bar.
    bars = [
        (38, (53, 57, 60, 64), (76, 74, 69)),  # Dm9
        (34, (53, 57, 62, 65), (77, 74, 69)),  # Bbmaj7
        (31, (53, 58, 62, 65), (74, 70, 67)),  # Gm7
        (33, (55, 61, 64, 67), (73, 76, 79)),  # A7: the hook rises, asking to loop
    ]
    bass_pattern = [
        (0.0, 0.75, 0), (0.75, 0.25, 12), (1.5, 0.5, 7), (2.5, 0.5, 0),
        (3.0, 0.25, 12), (3.25, 0.25, 7), (3.5, 0.25, None),
    ]  # fmt: skip
    bass, keys = [], []
    for bar, (root, voicing, hook) in enumerate(bars):
        start = bar * BEATS_PER_BAR
        # The last bar leads back into the first: the loop is the piece.
        next_root = bars[(bar + 1) % len(bars)][0]
        bass += bass_bar(start, root, next_root, bass_pattern)
        keys += chord_hits(start, voicing, [(0.0, 0.5, 90), (0.75, 0.5, 76), (3.0, 0.4, 80)])
        keys += [
            NoteEvent(start + 1.5 + 0.5 * i, 0.45 if i < 2 else 0.6, pitch, 88)
            for i, pitch in enumerate(hook)
        ]
    return Arrangement(
        name="sample",
        bpm=SAMPLE_BPM,
        n_beats=len(bars) * BEATS_PER_BAR,
        key="D minor",
        parts={
            "bass": Part(PROGRAM_FINGER_BASS, vary_velocities(bass, rng)),
            "keys": Part(PROGRAM_ELECTRIC_PIANO, vary_velocities(keys, rng)),
        },
    )


def boom_bap_drums(
    first_bar_start: float, n_bars: int, crash_bars: Sequence[int]
) -> list[NoteEvent]:
    """A laid-back hip-hop beat with sixteenth hats, used by the 108 BPM tracks.

    Parameters
    ----------
    first_bar_start : float
        Beat at which the first bar starts.
    n_bars : int
        Number of bars.
    crash_bars : sequence of int
        Bars (0-based) whose downbeat gets a crash cymbal.

    Returns
    -------
    list of NoteEvent
    """
    notes = []
    for bar in range(n_bars):
        start = first_bar_start + bar * BEATS_PER_BAR
        open_hat = (3.5,) if bar % 2 == 1 else ()
        kicks = (0.0, 1.75, 2.5) if bar % 2 == 0 else (0.0, 0.75, 2.5)
        skipped = (*open_hat, 3.75) if open_hat else ()
        notes += drum_bar(
            start, kicks, (1.0, 3.0), sixteenths_except(skipped), open_hat, bar in crash_bars
        )
    return notes


def compose_sampling_track_parts(seed: int = SEED) -> Arrangement:
    """New drums and alto-sax lead to play over two loops of the sample.

    The timeline starts with a two-beat tom fill; the sample's first loop
    starts after it, on the downbeat of bar 1 of the beat.

    Parameters
    ----------
    seed : int
        Seed for the small velocity variations.

    Returns
    -------
    Arrangement
        Parts ``drums`` and ``lead``; 2 + 32 beats (18.89 s, 416500 samples).
        The sample itself is audio, not notes: see :func:`sample_offsets`.
    """
    rng = np.random.default_rng(seed + 2)
    pickup = SAMPLING_TRACK_PICKUP_BEATS
    loop_beats = compose_sample().n_beats
    n_bars = SAMPLING_TRACK_LOOPS * loop_beats // BEATS_PER_BAR
    fill = [
        NoteEvent(0.0, 0.25, HIGH_TOM, 80), NoteEvent(0.5, 0.25, HIGH_TOM, 84),
        NoteEvent(1.0, 0.25, MID_TOM, 88), NoteEvent(1.25, 0.25, MID_TOM, 92),
        NoteEvent(1.5, 0.25, LOW_TOM, 96), NoteEvent(1.75, 0.25, LOW_TOM, 100),
    ]  # fmt: skip
    drums = fill + boom_bap_drums(pickup, n_bars, crash_bars=(0, 4))
    # Over Dm9 | Bbmaj7 | Gm7 | A7, twice; beats counted from the first loop's start.
    tune = [
        (2.0, 0.5, 69), (2.5, 0.5, 72), (3.0, 1.0, 74),
        (4.0, 1.5, 74), (5.5, 0.5, 72), (6.0, 1.0, 69), (7.0, 0.5, 65), (7.5, 0.5, 67),
        (8.0, 1.5, 70), (9.5, 0.5, 69), (10.0, 1.0, 67), (11.0, 1.0, 62),
        (12.0, 1.0, 64), (13.0, 0.5, 65), (13.5, 0.5, 67), (14.0, 1.5, 69), (15.5, 0.5, 73),
        (16.0, 1.5, 74), (17.5, 0.5, 76), (18.0, 0.5, 77), (18.5, 0.5, 76), (19.0, 1.0, 74),
        (20.0, 1.0, 72), (21.0, 1.0, 69), (22.0, 1.5, 65), (23.5, 0.5, 69),
        (24.0, 1.0, 70), (25.0, 0.5, 69), (25.5, 0.5, 67), (26.0, 1.0, 65), (27.0, 1.0, 67),
        (28.0, 1.0, 69), (29.0, 1.0, 73), (30.0, 1.75, 74),
    ]  # fmt: skip
    lead = melody([(pickup + start, length, pitch) for start, length, pitch in tune], 92)
    return Arrangement(
        name="sampling_track",
        bpm=SAMPLE_BPM,
        n_beats=pickup + n_bars * BEATS_PER_BAR,
        key="D minor",
        parts={
            "drums": Part(0, vary_velocities(drums, rng), is_drum=True, level=1.4),
            "lead": Part(PROGRAM_ALTO_SAX, vary_velocities(lead, rng, spread=5), level=1.3),
        },
    )


def compose_unrelated_track(seed: int = SEED) -> Arrangement:
    """Same style, tempo and instruments as the sampling track, without the sample.

    E minor, Em7 | Cmaj7 | Am7 | B7 twice, with off-beat electric-piano chords,
    a root-octave-fifth bass, the same kind of beat and an alto-sax tune: the
    negative case for sample detection.

    Parameters
    ----------
    seed : int
        Seed for the small velocity variations.

    Returns
    -------
    Arrangement
        Parts ``drums``, ``bass``, ``keys``, ``lead``; 32 beats (17.78 s).
    """
    rng = np.random.default_rng(seed + 3)
    chords = [
        (28, (55, 59, 62, 64)),  # Em7
        (36, (55, 59, 60, 64)),  # Cmaj7
        (33, (55, 60, 64, 67)),  # Am7
        (35, (54, 57, 59, 63)),  # B7
    ] * 2
    bass_pattern = [
        (0.0, 1.0, 0), (1.0, 0.5, 12), (1.5, 0.5, 0), (2.0, 1.0, 7), (3.0, 0.5, 12), (3.5, 0.5, 7),
    ]  # fmt: skip
    offbeat_hits = [(0.5, 0.4, 72), (1.5, 0.4, 66), (2.5, 0.4, 70), (3.5, 0.4, 66)]
    bass, keys = [], []
    for bar, (root, voicing) in enumerate(chords):
        start = bar * BEATS_PER_BAR
        bass += bass_bar(start, root, root, bass_pattern)
        keys += chord_hits(start, voicing, offbeat_hits)
    drums = boom_bap_drums(0.0, len(chords), crash_bars=(0, 4))
    tune = [
        (4.0, 1.0, 71), (5.0, 1.0, 72), (6.0, 2.0, 71),
        (8.0, 0.5, 69), (8.5, 0.5, 67), (9.0, 1.0, 64), (10.0, 2.0, 67),
        (12.0, 1.0, 66), (13.0, 0.5, 67), (13.5, 0.5, 69), (14.0, 2.0, 71),
        (16.0, 1.0, 74), (17.0, 1.0, 71), (18.0, 2.0, 67),
        (20.0, 1.0, 64), (21.0, 0.5, 67), (21.5, 0.5, 71), (22.0, 2.0, 72),
        (24.0, 1.0, 72), (25.0, 1.0, 71), (26.0, 1.0, 69), (27.0, 1.0, 67),
        (28.0, 1.5, 66), (29.5, 0.5, 63), (30.0, 1.75, 66),
    ]  # fmt: skip
    lead = melody(tune, 92)
    return Arrangement(
        name="unrelated_track",
        bpm=SAMPLE_BPM,
        n_beats=len(chords) * BEATS_PER_BAR,
        key="E minor",
        parts={
            "drums": Part(0, vary_velocities(drums, rng), is_drum=True, level=1.4),
            "bass": Part(PROGRAM_FINGER_BASS, vary_velocities(bass, rng), level=0.8),
            "keys": Part(PROGRAM_ELECTRIC_PIANO, vary_velocities(keys, rng), level=0.8),
            "lead": Part(PROGRAM_ALTO_SAX, vary_velocities(lead, rng, spread=5)),
        },
    )


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


# ---------------------------------------------------------------------------
# Audio assembly: pure numpy
# ---------------------------------------------------------------------------


def fit_length(x: np.ndarray, n_samples: int) -> np.ndarray:
    """Trim or zero-pad a signal to exactly ``n_samples``.

    Parameters
    ----------
    x : np.ndarray [shape=(n,)]
        Signal.
    n_samples : int
        Wanted length.

    Returns
    -------
    np.ndarray [shape=(n_samples,)]
    """
    if len(x) >= n_samples:
        return x[:n_samples].copy()
    return np.concatenate([x, np.zeros(n_samples - len(x), dtype=x.dtype)])


def fade_out(x: np.ndarray, n_fade: int) -> np.ndarray:
    """Fade the last ``n_fade`` samples linearly to zero.

    Trimming a render to its bar length cuts release tails; a short fade
    keeps that cut (and the seam of a loop) from clicking.

    Parameters
    ----------
    x : np.ndarray [shape=(n,)]
        Signal.
    n_fade : int
        Fade length in samples (at most ``n``).

    Returns
    -------
    np.ndarray [shape=(n,)]
        A faded copy.
    """
    faded = np.asarray(x, dtype=np.float64).copy()
    if n_fade > 0:
        faded[-n_fade:] *= np.linspace(1.0, 0.0, n_fade)
    return faded


def loop_audio(segment: np.ndarray, offsets: Sequence[int], n_samples: int) -> np.ndarray:
    """Place verbatim copies of a segment at given offsets in silence.

    Parameters
    ----------
    segment : np.ndarray [shape=(m,)]
        The audio to repeat; copied sample for sample, dtype kept.
    offsets : sequence of int
        Start sample of each copy.
    n_samples : int
        Length of the result.

    Returns
    -------
    np.ndarray [shape=(n_samples,)]
        Zeros except for the copies.

    Raises
    ------
    ValueError
        If a copy would overlap another or run past the end: overlapping
        copies would add up, and the segment would no longer be verbatim.
    """
    out = np.zeros(n_samples, dtype=segment.dtype)
    taken = np.zeros(n_samples, dtype=bool)
    for offset in offsets:
        end = offset + len(segment)
        if offset < 0 or end > n_samples:
            raise ValueError(f"copy at {offset} runs outside 0..{n_samples}")
        if taken[offset:end].any():
            raise ValueError(f"copy at {offset} overlaps another copy")
        out[offset:end] = segment
        taken[offset:end] = True
    return out


def sample_offsets(
    pickup_beats: float, loop_beats: float, n_loops: int, bpm: float, sr: int = SAMPLE_RATE
) -> list[int]:
    """Start samples of back-to-back loops after a pickup.

    Parameters
    ----------
    pickup_beats : float
        Beats before the first loop.
    loop_beats : float
        Length of the loop in beats.
    n_loops : int
        Number of copies.
    bpm : float
        Tempo.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    list of int
        One offset per loop, each a whole number of samples.
    """
    return [beats_to_samples(pickup_beats + i * loop_beats, bpm, sr) for i in range(n_loops)]


def peak_normalising_gain(
    mixes: Iterable[np.ndarray], peak_dbfs: float = TARGET_PEAK_DBFS
) -> float:
    """One gain that brings the loudest of some float mixes to a target peak.

    Stems and their mix must share one gain, or the mix would stop being
    their sum; so the gain is chosen from the mix, which peaks highest.

    Parameters
    ----------
    mixes : iterable of np.ndarray
        Float signals (full scale 1.0) that will all be scaled by the gain.
    peak_dbfs : float
        Target peak of the loudest, in dB relative to full scale (negative
        leaves headroom for the rounding of the stems).

    Returns
    -------
    float
        The gain.

    Raises
    ------
    ValueError
        If every signal is silent.
    """
    peak = max(float(np.max(np.abs(mix))) for mix in mixes)
    if peak == 0.0:
        raise ValueError("cannot normalise silence")
    return 10.0 ** (peak_dbfs / 20.0) / peak


def quantize_to_int16(x: np.ndarray) -> np.ndarray:
    """Round a float signal (full scale 1.0) to 16-bit integers.

    Parameters
    ----------
    x : np.ndarray
        Float signal, already scaled.

    Returns
    -------
    np.ndarray of int16
        ``round(x * 32767)``.

    Raises
    ------
    ValueError
        If any sample would clip.
    """
    scaled = np.round(np.asarray(x, dtype=np.float64) * 32767.0)
    if np.max(np.abs(scaled), initial=0.0) > 32767:
        raise ValueError("signal clips: lower the gain")
    return scaled.astype(np.int16)


def mix_of_stems(stems: Iterable[np.ndarray]) -> np.ndarray:
    """The mix defined as the exact sum of quantised stems.

    Parameters
    ----------
    stems : iterable of np.ndarray of int16
        Stems of equal length.

    Returns
    -------
    np.ndarray of int16
        Their sample-wise sum.

    Raises
    ------
    ValueError
        If the stems differ in length or their sum leaves the int16 range.
    """
    stems = [np.asarray(stem) for stem in stems]
    if len({len(stem) for stem in stems}) != 1:
        raise ValueError("stems must have equal lengths")
    total = np.sum([stem.astype(np.int32) for stem in stems], axis=0)
    if np.max(np.abs(total)) > 32767:
        raise ValueError("the mix clips: lower the gain")
    return total.astype(np.int16)


def pan_to_stereo(stems: dict[str, np.ndarray], pans: dict[str, float]) -> np.ndarray:
    """Mix mono stems to stereo with a balance pan per stem.

    A centred stem goes to both channels at full level; a stem panned by
    ``p`` keeps full level on its side and ``1 - |p|`` on the other.

    Parameters
    ----------
    stems : dict of str to np.ndarray [shape=(n,)]
        Mono float stems.
    pans : dict of str to float
        Pan per stem name, from -1 (left) to +1 (right).

    Returns
    -------
    np.ndarray [shape=(n, 2)]
        Left and right channels.
    """
    n_samples = len(next(iter(stems.values())))
    stereo = np.zeros((n_samples, 2))
    for name, stem in stems.items():
        pan = pans[name]
        stereo[:, 0] += stem * min(1.0, 1.0 - pan)
        stereo[:, 1] += stem * min(1.0, 1.0 + pan)
    return stereo


def int16_to_float(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`quantize_to_int16` (without the rounding).

    Parameters
    ----------
    x : np.ndarray of int16

    Returns
    -------
    np.ndarray of float64
    """
    return x.astype(np.float64) / 32767.0


def _ogg_crc32(data: bytes) -> int:
    """CRC-32 as Ogg computes it (polynomial 0x04C11DB7, MSB first, no reflection)."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
    return crc


def set_ogg_serial(data: bytes, serial: int = 1) -> bytes:
    """Give every page of a single-stream Ogg file a fixed serial number.

    libvorbis picks a random stream serial number, so the same audio would
    give a different file on each run; fixing it makes regeneration
    byte-for-byte reproducible. Each page's checksum is recomputed.

    Parameters
    ----------
    data : bytes
        The Ogg file.
    serial : int
        Serial number to write (0 .. 2**32 - 1).

    Returns
    -------
    bytes
        The same file with the new serial number.

    Raises
    ------
    ValueError
        If the data is not a sequence of Ogg pages.
    """
    pages = bytearray(data)
    position = 0
    while position < len(pages):
        if pages[position : position + 4] != b"OggS":
            raise ValueError(f"no Ogg page at byte {position}")
        n_segments = pages[position + 26]
        segment_table = pages[position + 27 : position + 27 + n_segments]
        page_end = position + 27 + n_segments + sum(segment_table)
        pages[position + 14 : position + 18] = serial.to_bytes(4, "little")
        pages[position + 22 : position + 26] = bytes(4)
        crc = _ogg_crc32(bytes(pages[position:page_end]))
        pages[position + 22 : position + 26] = crc.to_bytes(4, "little")
        position = page_end
    return bytes(pages)


# ---------------------------------------------------------------------------
# Rendering and writing: need fluidsynth
# ---------------------------------------------------------------------------


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


def scale_and_quantize(stems: dict[str, np.ndarray], gain: float) -> dict[str, np.ndarray]:
    """Apply one shared gain to float stems and quantise each to int16.

    Parameters
    ----------
    stems : dict of str to np.ndarray
        Float stems.
    gain : float
        The clip's shared gain.

    Returns
    -------
    dict of str to np.ndarray of int16
    """
    return {name: quantize_to_int16(gain * stem) for name, stem in stems.items()}


def write_flac(path: Path, x: np.ndarray) -> None:
    """Write mono int16 samples as 16-bit FLAC at the project rate.

    Parameters
    ----------
    path : pathlib.Path
        Destination file.
    x : np.ndarray of int16
        Samples, written unchanged.
    """
    sf.write(path, x, SAMPLE_RATE, format="FLAC", subtype="PCM_16")


def clip_entry(file: str, n_samples: int, stems: Sequence[str], sr: int = SAMPLE_RATE) -> dict:
    """The clips.json record of one clip.

    Parameters
    ----------
    file : str
        File name of the mix, relative to audio/.
    n_samples : int
        Length in samples.
    stems : sequence of str
        File names of its stems.
    sr : int
        Sample rate of the file.

    Returns
    -------
    dict
    """
    return {
        "file": file,
        "duration_s": round(n_samples / sr, 6),
        "n_samples": n_samples,
        "sample_rate": sr,
        "channels": 1,
        "stems": list(stems),
    }


def write_clip(out_dir: Path, name: str, stems: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
    """Write a clip's int16 stems and their sum as FLAC files.

    Parameters
    ----------
    out_dir : pathlib.Path
        Destination folder.
    name : str
        Clip name; stems are written as ``{name}_{stem}.flac``.
    stems : dict of str to np.ndarray of int16
        The quantised stems.

    Returns
    -------
    mix : np.ndarray of int16
        The mix that was written.
    entry : dict
        Its clips.json record.
    """
    mix = mix_of_stems(stems.values())
    stem_files = []
    for stem_name, stem in stems.items():
        stem_file = f"{name}_{stem_name}.flac"
        write_flac(out_dir / stem_file, stem)
        stem_files.append(stem_file)
    write_flac(out_dir / f"{name}.flac", mix)
    return mix, clip_entry(f"{name}.flac", len(mix), stem_files)


def arrangement_info(arrangement: Arrangement) -> dict:
    """Tempo, key and instruments of an arrangement, for clips.json.

    Parameters
    ----------
    arrangement : Arrangement
        The piece.

    Returns
    -------
    dict
        ``tempo_bpm``, ``key`` and the GM program of each stem.
    """
    return {
        "tempo_bpm": arrangement.bpm,
        "key": arrangement.key,
        "gm_programs": {
            name: ("drum kit (channel 10)" if part.is_drum else part.program)
            for name, part in arrangement.parts.items()
        },
    }


def build_all(out_dir: Path, work_dir: Path) -> dict:
    """Compose, render and write every clip; return the clips.json content.

    Parameters
    ----------
    out_dir : pathlib.Path
        Where the audio files and clips.json go.
    work_dir : pathlib.Path
        Scratch folder for MIDI and WAV renders.

    Returns
    -------
    dict
        The content written to clips.json.
    """
    fade = END_FADE_SAMPLES
    clips: dict[str, dict] = {}

    # 1. The groove, and its stereo 44.1 kHz OGG copy.
    groove = compose_groove()
    groove_float = render_arrangement(groove, work_dir, n_fade=fade)
    groove_gain = peak_normalising_gain([sum(groove_float.values())])
    groove_stems = scale_and_quantize(groove_float, groove_gain)
    _, clips["groove"] = write_clip(out_dir, "groove", groove_stems)
    intro_end_samples = beats_to_samples(GROOVE_VOICE_ENTRY_BEAT, GROOVE_BPM)
    clips["groove"].update(
        arrangement_info(groove),
        instrumental_intro_end_s=intro_end_samples / SAMPLE_RATE,
        instrumental_intro_end_samples=intro_end_samples,
    )

    stereo = pan_to_stereo(
        {name: int16_to_float(stem) for name, stem in groove_stems.items()}, GROOVE_STEREO_PANS
    )
    stereo = resample_poly(stereo, STEREO_SAMPLE_RATE // SAMPLE_RATE, 1, axis=0)
    stereo *= min(1.0, 10.0 ** (TARGET_PEAK_DBFS / 20.0) / np.max(np.abs(stereo)))
    ogg_path = out_dir / "groove_stereo44k.ogg"
    sf.write(ogg_path, stereo, STEREO_SAMPLE_RATE, format="OGG", subtype="VORBIS")
    ogg_path.write_bytes(set_ogg_serial(ogg_path.read_bytes()))
    clips["groove_stereo44k"] = {
        **clip_entry("groove_stereo44k.ogg", len(stereo), [], sr=STEREO_SAMPLE_RATE),
        "channels": 2,
        "copy_of": "groove",
        "pans": GROOVE_STEREO_PANS,
    }

    # 2 and 3. The sample, and the track that loops its audio. Both share one
    # gain, so the sample sits in the sampling track bit for bit.
    sample = compose_sample()
    sampling_parts = compose_sampling_track_parts()
    loop_fade = LOOP_FADE_SAMPLES
    sample_float = render_arrangement(sample, work_dir, n_fade=loop_fade)
    parts_float = render_arrangement(sampling_parts, work_dir, n_fade=fade)
    n_track = arrangement_n_samples(sampling_parts)
    offsets = sample_offsets(
        SAMPLING_TRACK_PICKUP_BEATS, sample.n_beats, SAMPLING_TRACK_LOOPS, SAMPLE_BPM
    )
    sample_mix_float = sum(sample_float.values())
    track_mix_float = loop_audio(sample_mix_float, offsets, n_track) + sum(parts_float.values())
    shared_gain = peak_normalising_gain([sample_mix_float, track_mix_float])

    sample_mix, clips["sample"] = write_clip(
        out_dir, "sample", scale_and_quantize(sample_float, shared_gain)
    )
    clips["sample"].update(arrangement_info(sample), bars=sample.n_beats // BEATS_PER_BAR)

    track_stems = {"sample": loop_audio(sample_mix, offsets, n_track)}
    track_stems |= scale_and_quantize(parts_float, shared_gain)
    _, clips["sampling_track"] = write_clip(out_dir, "sampling_track", track_stems)
    clips["sampling_track"].update(
        arrangement_info(sampling_parts),
        sample_file="sample.flac",
        sample_offsets_samples=offsets,
        sample_offsets_s=[offset / SAMPLE_RATE for offset in offsets],
        sample_gain=1.0,
    )

    # 4. The negative case.
    unrelated = compose_unrelated_track()
    unrelated_float = render_arrangement(unrelated, work_dir, n_fade=fade)
    unrelated_gain = peak_normalising_gain([sum(unrelated_float.values())])
    _, clips["unrelated_track"] = write_clip(
        out_dir, "unrelated_track", scale_and_quantize(unrelated_float, unrelated_gain)
    )
    clips["unrelated_track"].update(arrangement_info(unrelated), contains_sample=False)

    return {
        "description": "The project's own clips; see README.md. Offsets count from 0.",
        "licence": "CC BY 4.0 (arrangements); rendered with FluidR3_GM (MIT)",
        "sample_rate": SAMPLE_RATE,
        "clips": clips,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: rebuild every clip and clips.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: audio/)"
    )
    args = parser.parse_args(argv)
    check_renderer()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        clips = build_all(args.out, Path(scratch))
    (args.out / "clips.json").write_text(json.dumps(clips, indent=2) + "\n")
    for name, entry in clips["clips"].items():
        print(f"{name:18s} {entry['duration_s']:7.3f} s  {entry['file']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
