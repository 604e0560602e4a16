"""Audio assembly in plain numpy: lengths, fades, loops, gains, 16-bit rounding, pans.

Everything here works on arrays that are already rendered, so the tests run it
without FluidSynth. The one rule the functions serve: a clip's stems share one
gain and are rounded to int16 first, and the mix is then *defined* as their
sum, so the mix equals the sum of its stems exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .compose import SAMPLE_RATE, beats_to_samples

__all__ = [
    "TARGET_PEAK_DBFS",
    "fade_out",
    "fit_length",
    "int16_to_float",
    "loop_audio",
    "mix_of_stems",
    "pan_to_stereo",
    "peak_normalising_gain",
    "quantize_to_int16",
    "sample_offsets",
    "scale_and_quantize",
]

TARGET_PEAK_DBFS = -1.0


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
