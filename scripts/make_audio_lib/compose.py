"""The project's music as notes: arrangements, their timing and the four compositions.

Pure code, no I/O: every function here returns notes (or numbers) and nothing
is rendered or written, so the tests run it without a synthesiser. Notes are
timed in beats; :mod:`.render` turns them into sound and :mod:`.mix` into clips.

The tempos are chosen so that a beat is a whole number of samples at
:data:`SAMPLE_RATE` (see :func:`beats_to_samples`), which lets a loop be placed
by sample index without drifting.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "BEATS_PER_BAR",
    "CLOSED_HAT",
    "CRASH",
    "GROOVE_BPM",
    "GROOVE_VOICE_ENTRY_BEAT",
    "HIGH_TOM",
    "KICK",
    "LOW_TOM",
    "MID_TOM",
    "OPEN_HAT",
    "PROGRAM_ALTO_SAX",
    "PROGRAM_ELECTRIC_PIANO",
    "PROGRAM_FINGER_BASS",
    "PROGRAM_VOICE_OOHS",
    "SAMPLE_BPM",
    "SAMPLE_RATE",
    "SAMPLING_TRACK_LOOPS",
    "SAMPLING_TRACK_PICKUP_BEATS",
    "SEED",
    "SNARE",
    "Arrangement",
    "NoteEvent",
    "Part",
    "arrangement_n_samples",
    "bass_bar",
    "beats_to_samples",
    "beats_to_seconds",
    "boom_bap_drums",
    "chord_hits",
    "compose_groove",
    "compose_sample",
    "compose_sampling_track_parts",
    "compose_unrelated_track",
    "drum_bar",
    "eighths_except",
    "melody",
    "sixteenths_except",
    "vary_velocities",
]

SAMPLE_RATE = 22050
SEED = 2024

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
        The sample itself is audio, not notes: see :func:`.mix.sample_offsets`.
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
