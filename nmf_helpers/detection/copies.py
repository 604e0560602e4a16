"""Exact copies of the sample: its own waveform, found in the track's.

The occurrence search (:mod:`~nmf_helpers.detection.search`) follows the
sample's rhythm in the track's activations, which hears a chop through a
time-stretch, a speed-up and new parts over it. What it cannot hear is a
sample with hardly any rhythm buried under new parts: an ambient pad 12 dB
under a new mix moves the activations no more than music in its style does.
But a producer who drops the sample in unchanged in tempo and pitch
(chopped, looped, filtered, turned down) leaves the sample's own waveform
in the track, and a waveform is found by cross-correlation however quiet
it is, because nothing else in the track correlates with it.

Both waveforms are first brought to a quarter of the sample rate (the
pitch and rhythm of most music lie below its 2.76 kHz) and whitened: every
frequency of the whole signal is given the same magnitude and keeps its
phase, the phase transform of the generalized cross-correlation (GCC-PHAT,
Knapp and Carter 1976). Whitened, a waveform is like white noise to any
other, so the cosine similarity of a window of ``w`` samples with any
window of unrelated music is about normal with standard deviation
``1 / sqrt(w)``: ``z = cosine * sqrt(w)`` says how many of those a match
stands out, on any track, at no cost of estimating it. A filter changes
the magnitudes, which whitening discards, and a room adds a delayed tail
to a direct sound that still correlates.

Windows of the sample (:func:`copy_peaks`, ``min_part_s`` long, half a
window apart) are correlated with the whole track through the FFT; each
window's peaks give a lag, the track time minus the sample time, and along
each lag the copy lasts where short stretches of both still correlate
(:func:`copies`): a loop of a chop gives one lag per play.

Reference
---------
C. Knapp and G. Carter, "The generalized correlation method for estimation
of time delay", IEEE Trans. ASSP 24(4), 1976.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import librosa
import numpy as np
import scipy.fft

from .._numerics import EPS
from .settings import COPY_Z, DETECTION_THRESHOLD

__all__: list[str] = []  # cores only: the door (door.py) checks every argument

#: The waveforms are compared at the sample rate over this.
RATE_DIVISOR = 4

# Whitening is done frame by frame (samples at the reduced rate, 0.37 s):
# whitening a whole track at once is a filter as long as the track, which
# smears each play over the rest of it (a track's repeats make the smear
# look like more plays), while a frame keeps it within a frame.
_WHITEN_FRAME = 2048

# Along a lag, the copy holds where a stretch of this many seconds of both
# waveforms correlates at _HOLD_Z or more: short enough to place an end
# within a quarter of a second, long enough that a copy 12 dB under the
# new parts stands out of the noise in most of its stretches.
_HOLD_SECONDS = 0.5
_HOLD_Z = 3.0
# A copy's stretches spread at most this share of their mean z (_steady): a copy at
# one gain spreads by the noise of a stretch, shared notes by their own on and off
# (the benchmark and the closing note of issue 25 give both sides' figures).
_STEADY = 0.65
# A copy goes on through stretches that do not hold, when shorter than this
# (a quiet moment of the sample, a loud one of the new parts).
_GAP_SECONDS = 1.0
# A loop's next play is looked for one copy's length on (within this share
# of it, what a copy's ends may be off by) and kept at this z: lower than a
# copy's level, because it is asked of one place, not of every place in the track.
_PERIOD_SLACK = 0.1
_AGAIN_Z = 7.0
# A scan's first pass keeps copies from this z: half of COPY_Z, whose copy score
# lies under the cut of the scan's default margin, so no copy it leaves out could
# have kept a pair.
_COARSE_Z = COPY_Z / 2
# Blocks of the track's FFTs are about this many windows long (WhiteTrack.spectra).
_BLOCK_WINDOWS = 4
# Lags this close (in samples at the reduced rate) are one copy: the same
# play seen through overlapping windows of the sample.
_LAG_TOLERANCE = 2


@dataclass(frozen=True, eq=False)
class WhiteTrack:
    """A track's whitened waveform, and its spectra for each window length, made once.

    What every sample checked against the track shares (:func:`copy_peaks`):
    the spectra of the track's overlapping blocks and its windows' norms.

    Attributes
    ----------
    signal : np.ndarray [shape=(N,), float32]
        :func:`whiten_unchecked` of the track.
    """

    signal: np.ndarray = field(repr=False)
    _spectra: dict = field(default_factory=dict, repr=False)

    def spectra(self, window: int) -> tuple[int, int, np.ndarray, np.ndarray]:
        """``(block, step, spectra, scale)`` for windows of ``window`` samples.

        The track is cut into blocks of ``block`` samples, ``step`` apart
        (overlap-save: each block gives the lags of its first ``step``
        samples, and ``block - step`` is a window less one); ``spectra`` are
        their FFTs (n_blocks, block // 2 + 1), ``scale`` is
        ``sqrt(window) / norm`` of every window of the track. Blocks of a few
        windows keep each FFT small: a whole hour in one FFT costs several
        times more per sample than in blocks that stay in the cache.
        """
        if window not in self._spectra:
            block = scipy.fft.next_fast_len(_BLOCK_WINDOWS * window, real=True)
            step = block - window + 1
            n_lags = self.signal.size - window + 1
            n_blocks = -(-n_lags // step)
            padded = np.zeros((n_blocks - 1) * step + block, dtype=np.float32)
            padded[: self.signal.size] = self.signal
            blocks = np.lib.stride_tricks.as_strided(
                padded, (n_blocks, block), (step * padded.itemsize, padded.itemsize)
            )
            energies = np.maximum(_window_energies(self.signal, window), EPS)
            scale = (np.sqrt(window) / np.sqrt(energies)).astype(np.float32)
            self._spectra[window] = (block, step, scipy.fft.rfft(blocks, axis=1), scale)
        return self._spectra[window]


class Copy(NamedTuple):
    """One copy: where it plays, which part of the sample, and how strongly.

    Times are in samples at the reduced rate (``sr / RATE_DIVISOR``).
    """

    track_start: int
    track_end: int
    sample_start: int
    sample_end: int
    z: float


def whiten_unchecked(x: np.ndarray) -> np.ndarray:
    """``x`` at a quarter of its rate, every frequency at the same magnitude.

    Parameters
    ----------
    x : np.ndarray [shape=(n,), float]
        A waveform of at least ``RATE_DIVISOR`` samples.

    Returns
    -------
    np.ndarray [shape=(ceil(n / RATE_DIVISOR),), float32]
        Zero mean, unit energy per sample, spectrum flat in magnitude.
    """
    from scipy.signal import resample_poly  # slow to import: on first use

    low = resample_poly(np.asarray(x, dtype=np.float32), 1, RATE_DIVISOR)
    size = low.size
    if size < _WHITEN_FRAME:  # a clip shorter than a frame: silence after it fills the frame
        low = np.concatenate((low, np.zeros(_WHITEN_FRAME - size, dtype=low.dtype)))
    frames = librosa.stft(low, n_fft=_WHITEN_FRAME, hop_length=_WHITEN_FRAME // 4)
    magnitude = np.abs(frames)
    # A frequency the signal lacks (digital silence, a brick-wall filter) stays
    # near zero instead of being blown up to the level of the rest.
    frames /= np.maximum(magnitude, 1e-6 * max(float(magnitude.max()), EPS))
    frames[0] = 0.0
    white = librosa.istft(frames, hop_length=_WHITEN_FRAME // 4, length=low.size)[:size]
    white = white.astype(np.float32)
    white *= np.float32(np.sqrt(white.size / max(float(np.dot(white, white)), EPS)))
    return white


def copy_score(z: float) -> float:
    """A copy's ``z`` on the scale of :attr:`~nmf_helpers.SampleDetection.score`.

    ``COPY_Z`` counts as a window at ``DETECTION_THRESHOLD``; at most 1.
    """
    return min(1.0, DETECTION_THRESHOLD * float(z) / COPY_Z)


def copy_level(threshold: float) -> float:
    """The ``z`` whose :func:`copy_score` is ``threshold``."""
    return threshold * COPY_Z / DETECTION_THRESHOLD


def _window_energies(signal: np.ndarray, window: int) -> np.ndarray:
    energy = np.concatenate(([0.0], np.cumsum(np.square(signal, dtype=np.float64))))
    return np.maximum(energy[window:] - energy[:-window], 0.0)


def copy_peaks(
    track: WhiteTrack, sample: np.ndarray, window: int, hop: int, level: float
) -> tuple[float, list[tuple[int, int, float]]]:
    """Every window of the sample against every window of the track, by FFT.

    Parameters
    ----------
    track : WhiteTrack
    sample : np.ndarray [shape=(L,)]
        The sample's whitened waveform (:func:`whiten_unchecked`).
    window : int
        Window length in samples, at most ``L``.
    hop : int >= 1
        Samples between the sample's windows (the last window ends at the
        sample's end).
    level : float
        Lowest ``z`` a peak is kept at.

    Returns
    -------
    best : float
        The highest ``z`` of any window pair; minus infinity when the track
        is shorter than a window.
    peaks : list of (lag, sample_start, z)
        Each window's peaks at ``level`` or above, at least half a window
        apart (a loop's plays lie a whole part apart, and a part is at
        least a window long): the lag is the track's window start minus
        the sample's.
    """
    from scipy.signal import find_peaks  # slow to import: on first use

    n_lags = track.signal.size - window + 1
    if n_lags < 1:
        return -np.inf, []
    block, step, spectra, scale = track.spectra(window)
    starts = list(range(0, sample.size - window + 1, hop))
    if starts[-1] != sample.size - window:
        starts.append(sample.size - window)
    best, peaks = -np.inf, []
    for start in starts:
        part = sample[start : start + window]
        norm = float(np.sqrt(np.dot(part, part)))
        if norm <= EPS:
            continue
        product = spectra * np.conj(scipy.fft.rfft(part, block))
        z = scipy.fft.irfft(product, block, axis=1)[:, :step].reshape(-1)[:n_lags]
        z *= scale
        z /= norm
        best = max(best, float(z.max()))
        if z.max() >= level:
            found, _ = find_peaks(z, height=level, distance=max(window // 2, 1))
            peaks.extend((int(lag) - start, start, float(z[lag])) for lag in found)
    return best, peaks


def _holds(
    track: np.ndarray, sample: np.ndarray, lag: int, hold: int, anchor: tuple[int, int]
) -> tuple[int, np.ndarray, float]:
    """Along ``lag``: how much each stretch of ``hold`` samples of both waveforms correlates.

    A stretch holds at ``_HOLD_Z``, or at half the median ``z`` of the
    stretches inside ``anchor`` (the window that found the copy, in sample
    indices) where that is higher: a stretch half inside a loud copy then
    holds, and one that only grazes it does not, so the copy's ends fall
    where half a stretch is inside it.

    Returns the first sample index ``u0`` the lag reaches, the ``z`` of
    each stretch starting at ``u0 + i``, and the level a stretch holds at.
    """
    first, stop = max(0, -lag), min(sample.size, track.size - lag)
    if stop - first < hold:
        return first, np.zeros(0), _HOLD_Z
    ours = sample[first:stop].astype(np.float64)
    theirs = track[first + lag : stop + lag].astype(np.float64)
    sums = np.concatenate(([0.0], np.cumsum(ours * theirs)))
    together = sums[hold:] - sums[:-hold]
    norms = np.sqrt(_window_energies(ours, hold) * _window_energies(theirs, hold))
    z = together / np.maximum(norms, EPS) * np.sqrt(hold)
    inside = z[max(anchor[0] - first, 0) : max(anchor[1] - hold - first + 1, 1)]
    level = max(_HOLD_Z, 0.5 * float(np.median(inside))) if inside.size else _HOLD_Z
    return first, z, level


def _steady(z: np.ndarray) -> bool:
    """Whether the ``z`` of a copy's stretches (one after another) are those of one copy.

    Both waveforms are whitened frame by frame, so a copy at one gain
    gives every stretch about the same ``z``: their spread is under
    ``_STEADY`` of their mean. Two pieces that share notes but not a part
    (one synthesizer's notes in the same rhythm) give a few stretches far
    above it and the rest near zero.
    """
    mean = float(np.mean(z)) if z.size else 0.0
    return mean > 0 and float(np.std(z)) <= _STEADY * mean


def _extent(holds: np.ndarray, anchor: int, hold: int, gap: int) -> tuple[int, int] | None:
    """The run of held stretches through ``anchor``, bridging gaps under ``gap``.

    Stretches are placed at their centres, except the first and last, which
    reach the ends; returns (start, stop) in the indices ``holds`` is over
    (stop past the last stretch's end at most), or None when no stretch
    near the anchor holds.
    """
    held = np.flatnonzero(holds)
    if held.size == 0:
        return None
    near = held[np.argmin(np.abs(held - anchor))]
    if abs(int(near) - anchor) > gap:
        return None
    breaks = np.flatnonzero(np.diff(held) > gap)
    run = np.searchsorted(breaks, np.searchsorted(held, near))
    first = held[breaks[run - 1] + 1] if run > 0 else held[0]
    last = held[breaks[run]] if run < breaks.size else held[-1]
    # A stretch at either end of what the lag reaches holds as far as that end: the
    # sample (or the track) starts or ends inside it.
    start = 0 if first == 0 else int(first) + hold // 2
    stop = holds.size - 1 + hold if last == holds.size - 1 else int(last) + hold - hold // 2
    return start, stop


def find_copies(
    track: WhiteTrack, sample: np.ndarray, window: int, hop: int, level: float, rate: float
) -> tuple[float, list[Copy]]:
    """Every copy of the sample in the track at ``level`` or above, strongest first.

    Parameters
    ----------
    track : WhiteTrack
    sample : np.ndarray [shape=(L,)]
        The sample's whitened waveform (:func:`whiten_unchecked`), ``L >= window``.
    window, hop : int
        As for :func:`copy_peaks`.
    level : float
        Lowest ``z`` a copy is reported at.
    rate : float
        Their sample rate, which sets the stretches a copy's ends are judged on.

    Returns
    -------
    best : float
        The highest ``z`` of a copy (minus infinity when there is none).
    copies : list of Copy
        One per lag (peaks within ``_LAG_TOLERANCE`` are one), each lasting
        where its stretches hold (:func:`_holds`), at least a ``window``
        long (less one stretch, the precision of its ends): a shorter
        match is a sound that two recordings share (a drum hit or a note
        from one sample library), not a part of the sample. A copy lying mostly
        inside a stronger one's track range (a riff that repeats within
        the sample matches itself one repeat on) is left out. A loop's
        plays under ``level`` are then looked for next to its copies
        (:func:`_plays_again`), and each copy ends where the next starts.
        A copy holds steadily along its extent (:func:`_steady`): shared
        notes are no copy.
    """
    found = _lone_copies(track, sample, window, hop, level, rate)
    best = max((copy.z for copy in found), default=-np.inf)
    return best, _held_to_next(_plays_again(track.signal, sample, found))


def _lone_copies(
    track: WhiteTrack, sample: np.ndarray, window: int, hop: int, level: float, rate: float
) -> list[Copy]:
    """:func:`find_copies` before a loop's weaker plays are looked for: each copy on its own."""
    _, peaks = copy_peaks(track, sample, window, hop, level)
    hold, gap = max(1, round(_HOLD_SECONDS * rate)), round(_GAP_SECONDS * rate)
    strongest = {}
    for lag, start, z in sorted(peaks):
        same = [known for known in strongest if abs(known - lag) <= _LAG_TOLERANCE]
        key = same[0] if same else lag
        if key not in strongest or z > strongest[key][2]:
            strongest[key] = (lag, start, z)
    found: list[Copy] = []
    for lag, start, z in sorted(strongest.values(), key=lambda peak: -peak[2]):
        first, z_stretches, level = _holds(track.signal, sample, lag, hold, (start, start + window))
        extent = _extent(z_stretches >= level, start + window // 2 - hold // 2 - first, hold, gap)
        # A match shorter than the shortest part searched for is a sound two recordings
        # share (a drum hit or a note from one sample library), not a part of the sample.
        # Its ends are judged a stretch wide, so a part just a window long may measure a
        # little shorter.
        if extent is None or extent[1] - extent[0] < window - hold:
            continue
        if not _steady(z_stretches[extent[0] : max(extent[1] - hold + 1, extent[0] + 1) : hold]):
            continue
        copy = Copy(first + extent[0] + lag, first + extent[1] + lag,
                    first + extent[0], first + extent[1], z)  # fmt: skip
        inside = max(
            (min(copy.track_end, other.track_end) - max(copy.track_start, other.track_start)
             for other in found),
            default=0,
        )  # fmt: skip
        if inside <= 0.5 * (copy.track_end - copy.track_start):
            found.append(copy)
    return found


def _held_to_next(found: list[Copy]) -> list[Copy]:
    """Each copy ends where the next one in the track starts, strongest first.

    A copy's start is where its part starts to correlate, but its end may
    run on into the next play of a loop, where a sustained sound
    correlates with its own continuation now and then.
    """
    starts = sorted(copy.track_start for copy in found)
    held = []
    for copy in found:
        later = [start for start in starts if copy.track_start < start < copy.track_end]
        if later:
            cut = later[0] - copy.track_end
            copy = copy._replace(track_end=copy.track_end + cut, sample_end=copy.sample_end + cut)
        held.append(copy)
    return sorted(held, key=lambda copy: -copy.z)


def _lag_scores(track: np.ndarray, part: np.ndarray, first: int, stop: int) -> np.ndarray:
    """``z`` of ``part`` against the track at every lag ``first <= t < stop`` (track starts)."""
    from scipy.signal import correlate  # slow to import: on first use

    segment = track[first : stop - 1 + part.size].astype(np.float64)
    together = correlate(segment, part.astype(np.float64), mode="valid")
    norms = np.sqrt(_window_energies(segment, part.size) * float(np.dot(part, part)))
    return together / np.maximum(norms, EPS) * np.sqrt(part.size)


def _plays_again(track: np.ndarray, sample: np.ndarray, found: list[Copy]) -> list[Copy]:
    """The copies, with the plays of a loop that each stand under the level found again.

    Next to each copy, one copy's length on either side (within
    ``_PERIOD_SLACK`` of it), the same part of the sample is looked for,
    unless a copy of it plays there already: where it correlates at
    ``_AGAIN_Z`` or more, that is the loop's next play, and is looked
    beyond in turn. At one expected place ``_AGAIN_Z`` is far out of
    unrelated music's reach, where the level of :func:`find_copies` must
    hold over every place in the track.
    """
    queue, found = list(found), list(found)
    while queue:
        copy = queue.pop(0)
        part = sample[copy.sample_start : copy.sample_end]
        length = part.size
        slack = round(_PERIOD_SLACK * length)
        for direction in (-1, 1):
            centre = copy.track_start + direction * length
            first, stop = max(0, centre - slack), min(track.size - length + 1, centre + slack + 1)
            if stop <= first:
                continue
            z = _lag_scores(track, part, first, stop)
            best = int(np.argmax(z))
            start = first + best
            taken = any(
                min(start + length, other.track_end) - max(start, other.track_start) > 0.5 * length
                for other in found
            )
            if z[best] >= _AGAIN_Z and not taken:
                again = Copy(start, start + length, copy.sample_start, copy.sample_end,
                             float(z[best]))  # fmt: skip
                found.append(again)
                queue.append(again)
    return found


def _window(sample: np.ndarray, sr: int, min_part_s: float) -> int:
    """The window of :func:`copy_peaks`: the shortest part searched for, at the reduced rate."""
    return max(1, min(round(min_part_s * sr / RATE_DIVISOR), sample.size))


def sample_copies(
    track: WhiteTrack, sample: np.ndarray, sr: int, min_part_s: float, threshold: float
) -> tuple[float, list[tuple[float, float, float, float, float]]]:
    """The full check's copies, in seconds and on the scale of the score.

    Parameters
    ----------
    track : WhiteTrack
    sample : np.ndarray [shape=(L,)]
        ``SampleTemplates.white``.
    sr : int
        The sample rate both were whitened from.
    min_part_s : float
        The shortest part searched for: the windows' length (half a window apart).
    threshold : float
        Copies are reported from the ``z`` whose :func:`copy_score` this is.

    Returns
    -------
    score : float
        :func:`copy_score` of the strongest copy (minus infinity when there is none).
    copies : list of (track_start_s, track_end_s, sample_start_s, sample_end_s, score)
        Strongest first (:func:`find_copies`).
    """
    rate = sr / RATE_DIVISOR
    window = _window(sample, sr, min_part_s)
    best, found = find_copies(
        track, sample, window, max(window // 2, 1), copy_level(threshold), rate
    )
    score = copy_score(best) if np.isfinite(best) else -np.inf
    return score, [
        (c.track_start / rate, c.track_end / rate, c.sample_start / rate, c.sample_end / rate,
         copy_score(c.z))
        for c in found
    ]  # fmt: skip


def coarse_copy_score(track: WhiteTrack, sample: np.ndarray, sr: int, min_part_s: float) -> float:
    """A scan's first pass of :func:`sample_copies`: the strongest copy, windows a window apart.

    Half the windows of the full check: a part that straddles two of them
    loses up to half its ``z`` here, which the scan's margin
    (``detection.scan.SCREEN_MARGIN``) leaves room for. Copies are kept
    from ``_COARSE_Z``, and only as long as the full check's (a sound two
    recordings share is no copy here either), but a loop's weaker plays
    are not looked for.
    """
    rate = sr / RATE_DIVISOR
    window = _window(sample, sr, min_part_s)
    found = _lone_copies(track, sample, window, window, _COARSE_Z, rate)
    return max((copy_score(copy.z) for copy in found), default=-np.inf)
