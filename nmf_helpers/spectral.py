"""Short-time Fourier transforms, magnitude spectrograms and Griffin-Lim.

One convention is used everywhere in the package, and it is librosa's
default, so that ``librosa.display`` axes and librosa's functions agree with
ours: a periodic Hann window of ``win`` samples, hop ``hop``, frames centred
on ``t = n * hop`` with zero padding of ``win // 2`` at both ends, hence
``N = 1 + len(x) // hop`` frames and ``M = win // 2 + 1`` frequency bins.
The inverse is weighted overlap-add divided by the window's summed square,
so ``istft(stft(x), length=len(x))`` gives back ``x`` to float32 precision.

Internally spectra are kept frame-major, shape (N, M), so that each FFT reads
and writes contiguous memory; the public functions return (M, N) like the
literature and librosa.

The other rooms of the package call the ``*_unchecked`` cores: the same
computation as the public function of that name, for arguments their own
public function has already checked.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft
from tqdm.auto import tqdm

from . import _kernels
from ._numerics import (
    FLOAT32_MAX,
    SMALLEST_NORMAL,
    passes_float32_range,
    rescaling_exponent,
)
from ._threads import library_threads_for, worker_count
from ._validation import (
    ParameterError,
    check_audio_for_frames,
    check_frame_sizes,
    check_int,
    check_iterations,
    check_matrix,
    check_not_silent,
    check_real,
    check_seed,
    check_time_range,
)

__all__ = [
    "griffin_lim",
    "istft",
    "shift_templates",
    "spectral_convergence",
    "spectrogram",
    "stft",
    "time_range_frames",
]

#: The package's STFT: a 2048-sample window (93 ms at 22050 Hz: bass notes
#: are resolved) moved by a quarter window.
DEFAULT_WIN = 2048
DEFAULT_HOP = 512


@functools.lru_cache(maxsize=8)
def _window(win: int) -> np.ndarray:
    # The periodic Hann window (scipy.signal.get_window("hann", win), librosa's
    # default), equal to it in float32; scipy.signal is slow to import, and a
    # command that only needs a window should not wait for it.
    window = np.hanning(win + 1)[:-1].astype(np.float32)
    window.flags.writeable = False
    return window


@functools.lru_cache(maxsize=8)
def _inverse_envelope(win: int, hop: int, n_frames: int) -> np.ndarray:
    """1 / (sum of squared shifted windows), 0 where the sum is negligible."""
    squared = _window(win).astype(np.float64) ** 2
    envelope = _overlap_add(np.broadcast_to(squared, (n_frames, win)), hop)
    inverse = np.where(envelope > SMALLEST_NORMAL, 1.0 / np.maximum(envelope, SMALLEST_NORMAL), 0.0)
    inverse = inverse.astype(np.float32)
    inverse.flags.writeable = False
    return inverse


def _overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """Sum frames of shape (N, win) placed every ``hop`` samples.

    Frames are cut into ``ceil(win / hop)`` blocks of ``hop`` samples; block j
    of frame n lands on output block n + j, so the whole sum is a handful of
    vectorised adds instead of a Python loop over frames.
    """
    n_frames, win = frames.shape
    n_blocks = -(-win // hop)
    padded_win = n_blocks * hop
    if padded_win != win:
        frames = np.pad(frames, ((0, 0), (0, padded_win - win)))
    blocks = frames.reshape(n_frames, n_blocks, hop)
    output = np.zeros((n_frames + n_blocks - 1, hop), dtype=frames.dtype)
    for j in range(n_blocks):
        output[j : j + n_frames] += blocks[:, j, :]
    return output.reshape(-1)[: (n_frames - 1) * hop + win]


def _frames_spectrum(x: np.ndarray, win: int, hop: int, workers: int = 1) -> np.ndarray:
    """STFT in frame-major layout: complex64 of shape (N, win // 2 + 1)."""
    padded = np.pad(x, win // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop]
    return scipy.fft.rfft(frames * _window(win), axis=-1, workers=workers)


def _frames_signal(
    spectrum: np.ndarray, win: int, hop: int, length: int, workers: int = 1
) -> np.ndarray:
    """Inverse of :func:`_frames_spectrum` for a frame-major spectrum."""
    frames = scipy.fft.irfft(spectrum, n=win, axis=-1, workers=workers)
    frames *= _window(win)
    signal = _overlap_add(frames, hop)
    signal *= _inverse_envelope(win, hop, spectrum.shape[0])
    signal = signal[win // 2 :][:length]
    if signal.size < length:
        signal = np.pad(signal, (0, length - signal.size))
    return signal


def stft(x, *, win: int = DEFAULT_WIN, hop: int = DEFAULT_HOP) -> np.ndarray:
    """Complex short-time Fourier transform.

    Parameters
    ----------
    x : np.ndarray [shape=(n_samples,), real]
        Mono waveform; at least ``win`` samples.
    win : int
        Window (and FFT) length in samples.
    hop : int
        Samples between frames.

    Returns
    -------
    X : np.ndarray [shape=(win // 2 + 1, 1 + n_samples // hop), complex64]

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> x = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    >>> nh.stft(x).shape
    (1025, 44)
    """
    x, win, hop = check_audio_for_frames("stft", x, win, hop)
    X = stft_unchecked(x, win, hop)
    _refuse_overflow("stft", x, X, win)
    return X


def _refuse_overflow(function: str, x: np.ndarray, X: np.ndarray, win: int) -> None:
    """Raise if the STFT ``X`` of ``x`` passed float32's range (Inf or NaN in it).

    A bin sums up to ``win / 2`` windowed samples, so only an ``x`` whose
    peak times that passes float32's range can overflow; X is looked at only
    then, and audio costs one pass over x.
    """
    # Not np.abs(x).max(), which would hold a copy of x; a NaN in x is refused before here.
    peak = max(float(x.max()), -float(x.min()))
    if peak * (win / 2) <= FLOAT32_MAX or np.isfinite(np.abs(X).max()):
        return
    raise ParameterError(
        f"{function}: x peaks at {peak:.3g}, and its STFT would pass float32's range"
        f" ({FLOAT32_MAX:.3g}); scale it down first, e.g. x / np.abs(x).max()"
    )


def frame_count(n_samples: int, win: int, hop: int) -> int:
    """N, the frames of the STFT of ``n_samples`` (``1 + n_samples // hop`` for an even ``win``).

    The signal is padded with ``win // 2`` zeros at both ends, so an odd
    window loses one sample of padding; trusts its arguments.
    """
    return (n_samples + 2 * (win // 2) - win) // hop + 1


def stft_unchecked(x: np.ndarray, win: int, hop: int) -> np.ndarray:
    """:func:`stft` of a checked float32 waveform of at least ``win`` samples."""
    return np.ascontiguousarray(_frames_spectrum(x, win, hop).T)


def istft(
    X, *, win: int = DEFAULT_WIN, hop: int = DEFAULT_HOP, length: int | None = None
) -> np.ndarray:
    """Inverse of :func:`stft` (weighted overlap-add).

    Parameters
    ----------
    X : np.ndarray [shape=(win // 2 + 1, N), complex]
    win, hop : int
        As given to :func:`stft`.
    length : int, optional
        Samples to return; default ``(N - 1) * hop``. Pass ``len(x)`` to get
        back exactly the signal ``X`` was computed from.

    Returns
    -------
    x : np.ndarray [shape=(length,), float32]
    """
    win, hop = check_frame_sizes("istft", win, hop)
    X = check_matrix(
        "istft", "X", X, shape=(win // 2 + 1, None), nonnegative=False, allow_complex=True
    )
    if length is None:
        length = (X.shape[1] - 1) * hop
    length = check_int("istft", "length", length, minimum=1)
    return istft_unchecked(X, win, hop, length)


def istft_unchecked(X: np.ndarray, win: int, hop: int, length: int) -> np.ndarray:
    """:func:`istft` of a checked spectrum (M, N), with ``length`` given."""
    spectrum = np.ascontiguousarray(X.T, dtype=np.complex64)
    return _frames_signal(spectrum, win, hop, length).astype(np.float32, copy=False)


def spectrogram(x, *, win: int = DEFAULT_WIN, hop: int = DEFAULT_HOP) -> np.ndarray:
    """Magnitude spectrogram ``V = |stft(x)|``, the matrix NMF factorises.

    Parameters
    ----------
    x : np.ndarray [shape=(n_samples,), real]
        Mono waveform of at least ``win`` samples, not silent.
    win, hop : int
        Window length and hop in samples.

    Returns
    -------
    V : np.ndarray [shape=(win // 2 + 1, 1 + n_samples // hop), float32, non-negative]

    Raises
    ------
    ParameterError
        If ``x`` is empty, shorter than one window, not finite, or silent, or
        so loud that ``V`` would pass float32's range (about 3.4e38 / (win / 2)
        and louder; audio is within 1).
    """
    x, win, hop = check_audio_for_frames("spectrogram", x, win, hop)
    check_not_silent("spectrogram", "x", x)
    V = spectrogram_unchecked(x, win, hop)
    _refuse_overflow("spectrogram", x, V, win)
    return V


def spectrogram_unchecked(x: np.ndarray, win: int, hop: int) -> np.ndarray:
    """:func:`spectrogram` of a checked, non-silent waveform of at least ``win`` samples."""
    return np.ascontiguousarray(np.abs(_frames_spectrum(x, win, hop)).T)


def spectral_convergence(V, y, *, win: int = DEFAULT_WIN, hop: int = DEFAULT_HOP) -> float:
    """``||V - |STFT(y)| ||_F / ||V||_F``: how well ``y`` realises magnitude ``V``.

    Parameters
    ----------
    V : np.ndarray [shape=(win // 2 + 1, N), non-negative]
    y : np.ndarray [shape=(n_samples,)]
        A waveform; its STFT is cut or zero-padded to N frames.

    Returns
    -------
    float
        0 is a perfect match; 1 is as far as silence.
    """
    y, win, hop = check_audio_for_frames("spectral_convergence", y, win, hop, name="y")
    V = check_matrix("spectral_convergence", "V", V, shape=(win // 2 + 1, None))
    magnitude = np.abs(_frames_spectrum(y, win, hop)).T
    n_frames = V.shape[1]
    if magnitude.shape[1] < n_frames:
        magnitude = np.pad(magnitude, ((0, 0), (0, n_frames - magnitude.shape[1])))
    magnitude = magnitude[:, :n_frames]
    norm_V = np.linalg.norm(V.astype(np.float64))
    if norm_V == 0:
        raise ParameterError("spectral_convergence: V is all zeros")
    return float(np.linalg.norm(V.astype(np.float64) - magnitude) / norm_V)


def griffin_lim(
    V,
    *,
    n_iter: int = 100,
    win: int = DEFAULT_WIN,
    hop: int = DEFAULT_HOP,
    momentum: float = 0.99,
    seed: int | np.random.Generator = 0,
    length: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """A waveform whose STFT magnitude approximates ``V`` (fast Griffin-Lim).

    Alternates between the set of spectrograms with magnitude ``V`` and the
    set of consistent spectrograms (STFTs of some signal), with the momentum
    term of Perraudin et al.: ``X <- P_V(C(X) - m / (1 + m) C(X_prev))``.
    ``momentum=0`` is the classic Griffin-Lim algorithm.

    Parameters
    ----------
    V : np.ndarray [shape=(win // 2 + 1, N), non-negative, at most 3.4e38]
        Target magnitude, e.g. ``W @ H`` from NMF. Values beyond float32's
        range are refused (ParameterError: scale V down). A V whose peak lies
        outside 1e-3 to 1e12 is scaled internally: the phases are retrieved
        for ``V / 2**e`` (peak in [0.5, 1)), where the FFTs cannot overflow,
        and the waveform is multiplied by ``2**e``; powers of two change no
        digit, so this is the waveform of V itself. Only a waveform that
        would itself pass float32's range is refused.
    n_iter : int in [1, 1_000_000]
        Projections to run.
    win, hop : int
        The STFT convention ``V`` was computed with.
    momentum : float in [0, 1.5]
        0.99 (the default) converges much faster than 0; above 1 may diverge.
    seed : int or np.random.Generator
        Seed for the random initial phases (fixed by default). An int seed
        draws them as ``librosa.griffinlim(random_state=seed)`` does, so both
        return the same signal up to float32 rounding.
    length : int, optional
        Samples to return, default ``(N - 1) * hop``.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    y : np.ndarray [shape=(length,), float32]

    References
    ----------
    D. Griffin and J. Lim, "Signal estimation from modified short-time
    Fourier transform", IEEE Trans. ASSP 32(2), 1984.

    N. Perraudin, P. Balazs and P. L. Sondergaard, "A fast Griffin-Lim
    algorithm", IEEE WASPAA, 2013.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> x = np.sin(2 * np.pi * 440 * np.arange(22050) / 22050).astype(np.float32)
    >>> y = nh.griffin_lim(nh.spectrogram(x), n_iter=30)
    >>> nh.spectral_convergence(nh.spectrogram(x), y) < 0.1
    True
    """
    win, hop = check_frame_sizes("griffin_lim", win, hop)
    V = check_matrix("griffin_lim", "V", V, shape=(win // 2 + 1, None))
    n_iter = check_iterations("griffin_lim", n_iter)
    momentum = check_real("griffin_lim", "momentum", momentum, minimum=0.0, maximum=1.5)
    n_frames = V.shape[1]
    if length is None:
        if n_frames < 2:
            # The default length, (N - 1) * hop, would be no samples at all.
            raise ParameterError(
                "griffin_lim: V has only 1 frame, too few to make a waveform: give a"
                f" spectrogram of at least 2 frames (x of at least win = {win} samples),"
                " or pass length"
            )
        length = (n_frames - 1) * hop
    length = check_int("griffin_lim", "length", length, minimum=1)
    # An int seed draws the phases exactly as librosa.griffinlim(random_state=seed)
    # does, so the two can be compared on identical starting points.
    seed = check_seed("griffin_lim", seed)
    if isinstance(seed, np.random.Generator):
        uniform = seed.random(size=V.shape)
    else:
        uniform = np.random.RandomState(seed).random(size=V.shape)

    magnitude = np.ascontiguousarray(V.T, dtype=np.float32)
    # Far from audio's magnitudes, run on V / 2**e (the FFTs sum thousands of
    # values, which would pass float32's range): every step is linear or
    # scale-free, so the waveform is just 2**e times smaller.
    exponent = rescaling_exponent(float(magnitude.max()))
    if exponent:
        magnitude = np.ldexp(magnitude, -exponent)
    estimate = (magnitude * np.exp(2j * np.pi * uniform.T)).astype(np.complex64)
    previous = np.zeros_like(estimate)
    acceleration = momentum / (1.0 + momentum)
    signal_length = (n_frames - 1) * hop
    workers = worker_count(magnitude.size)
    with library_threads_for(magnitude.size):
        for _ in tqdm(range(n_iter), desc="griffin_lim", disable=not progress, leave=False):
            signal = _frames_signal(estimate, win, hop, signal_length, workers)
            rebuilt = _frames_spectrum(signal, win, hop, workers)
            _kernels.phase_projection(magnitude, rebuilt, previous, acceleration, estimate)
            previous = rebuilt
        y = _frames_signal(estimate, win, hop, length, workers)
    y = y.astype(np.float32, copy=False)
    if exponent:
        if passes_float32_range(y, exponent):
            raise ParameterError(
                "griffin_lim: the waveform for this V would pass float32's range (3.4e38);"
                " scale V down"
            )
        y = np.ldexp(y, exponent)
    return y


def shift_templates(W, semitones: float) -> np.ndarray:
    """Move spectral templates up or down in pitch by interpolation along frequency.

    A shift by ``semitones`` multiplies every frequency by
    ``r = 2 ** (semitones / 12)``, a translation on a log-frequency axis: bin
    ``m`` of the result takes the value of the template at fractional bin
    ``m / r`` (linear interpolation, zero above the top bin). No audio is
    re-rendered.

    Parameters
    ----------
    W : np.ndarray [shape=(M, K), non-negative]
        Templates, one per column, on a linear frequency axis from 0 Hz.
    semitones : float
        Shift, positive upwards, between -12 and 12.

    Returns
    -------
    np.ndarray [shape=(M, K), float32]

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> W = np.zeros((1025, 1)); W[100, 0] = 1.0  # one partial at bin 100
    >>> int(nh.shift_templates(W, 12).argmax())  # an octave up: bin 200
    200
    """
    W = check_matrix("shift_templates", "W", W)
    semitones = check_real("shift_templates", "semitones", semitones, minimum=-12, maximum=12)
    return shift_templates_unchecked(W, semitones)


def shift_templates_unchecked(W: np.ndarray, semitones: float) -> np.ndarray:
    """:func:`shift_templates` of checked templates by a checked shift."""
    M = W.shape[0]
    source = np.arange(M) / 2.0 ** (semitones / 12.0)
    below = np.minimum(np.floor(source).astype(np.intp), M)
    weight = (source - np.floor(source))[:, None]
    padded = np.vstack([W, np.zeros((1, W.shape[1]), dtype=W.dtype)])  # row M: above the top
    shifted = (1.0 - weight) * padded[below] + weight * padded[np.minimum(below + 1, M)]
    return shifted.astype(np.float32)


def time_range_frames(
    time_range, *, n_samples: int, sr: int = 22050, win: int = DEFAULT_WIN, hop: int = DEFAULT_HOP
) -> slice:
    """The STFT frames whose whole window lies inside ``time_range`` (seconds).

    Frames are centred (``center=True``): frame n covers samples
    ``n * hop - win/2`` to ``n * hop + win/2``. A frame that reaches past
    ``end`` would hear what comes next (in a song's intro, the voice), so
    it is left out. Used by :func:`nmf_helpers.filter_vocals` and in
    notebook 5.

    Parameters
    ----------
    time_range : (float, float)
        ``(start, end)`` in seconds, ``0 <= start < end <= duration``.
    n_samples : int
        Length of the signal, to check ``end``.
    sr, win, hop : int
        Sample rate and the STFT's window and hop.

    Returns
    -------
    slice
        ``slice(first, stop)`` over the frame axis of ``spectrogram(x)``.

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> nh.time_range_frames((0.0, 4.0), n_samples=403200)
    slice(0, 171, None)
    """
    function = "time_range_frames"
    n_samples = check_int(function, "n_samples", n_samples, minimum=1)
    sr = check_int(function, "sr", sr, minimum=1)
    win, hop = check_frame_sizes(function, win, hop)
    time_range = check_time_range(function, "time_range", time_range, n_samples / sr)
    return time_range_frames_unchecked(
        time_range, sr, win, hop, function=function, name="time_range"
    )


def time_range_frames_unchecked(
    time_range: tuple[float, float],
    sr: int,
    win: int,
    hop: int,
    *,
    function: str,
    name: str | None = None,
) -> slice:
    """:func:`time_range_frames` of a checked range; ``function`` names the caller's door.

    A range shorter than one frame can only be found out here, so this core
    still raises, in the words of the public function that called it, naming
    its argument ``name`` (``"instrumental"`` for :func:`~nmf_helpers.filter_vocals`).
    """
    start, end = time_range
    # Frames reaching before sample 0 see only padding, so a range from 0
    # may start at frame 0.
    first = int(np.ceil((start * sr + win // 2) / hop)) if start > 0 else 0
    stop = int(np.floor((end * sr - win // 2) / hop)) + 1
    if stop - first < 1:
        argument = f"{name} " if name else ""
        raise ParameterError(
            f"{function}: {argument}{start:g}:{end:g} s is shorter than one frame"
            f" ({win / sr:.3f} s)"
        )
    return slice(first, stop)
