"""Vocal filtering: karaoke and a cappella from an instrumental passage.

The homework's idea: learn the accompaniment's templates ``W_acc`` on a
passage where nobody sings (a song's intro), then fit the whole song with
those columns fixed plus a few free columns. The fixed columns can only
explain the accompaniment, so what they cannot explain, the voice, ends in
the free columns; soft masks with the mixture's phase turn the two groups
into a karaoke track and an a cappella track that add up to the song.

Measured on the project's three clips with a voice stem (SDR against the
stems, ``benchmarks/bench_separation.py``), the plain recipe has two
weaknesses, and two cheap changes fix most of them:

1. The intro rarely plays every note of the song: later chords use pitches
   the fixed templates never saw, so the free columns take them and the
   "vocals" hold keys and bass. **Transposed copies of the accompaniment's
   templates** (:func:`nmf_helpers.shift_templates` by each ``s`` in
   ``-semitones..semitones``) let the same instruments play nearby notes.
2. A handful of free columns cannot hold a melody of many pitches, so the
   fixed columns explain the notes the free ones miss, and the karaoke keeps
   some voice. After the first fit, the learned voice templates are
   transposed too (``-voice_semitones..voice_semitones``) and H alone is
   refitted with every column fixed: both models now cover the same pitch
   range, and only timbre decides which explains what.

The defaults (K = 16 templates on the passage, 3 free voice templates,
transpositions of -3..3 and -4..4 semitones, 100 iterations, Euclidean loss,
mask power 1) were chosen over three seeds on those clips. The Euclidean
loss, which weighs the loud time-frequency bins most, was better than KL on
average: about equal on the groove and far better on ``sampling_track``,
whose short intro is mostly a drum fill (there KL left the karaoke and the
vocals only about 4.5 dB above the mixture, Euclidean 6 to 9.5 dB). A few
free templates are enough once they are transposed; more of them start to
take accompaniment again.

Every fit calls the package's one NMF engine (``W_fixed`` for fixed columns).

Columns of the final ``W``: first the accompaniment, transposition-major
(``W[:, i * K + k]`` is template k shifted by the i-th semitone), then the
voice the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validation import ParameterError, check_int, check_matrix, check_real, check_signal
from .grouping import _nmf_for
from .separation import separate
from .spectral import _check_frame_sizes, _shift_columns, spectrogram

__all__ = [
    "VocalSeparation",
    "filter_vocals",
    "fit_vocal_model",
    "time_range_frames",
]


def _transposed(W: np.ndarray, count: int) -> np.ndarray:
    """W and its copies shifted by -count..count semitones, shift-major, (M, K * (2 count + 1))."""
    return np.hstack([W if s == 0 else _shift_columns(W, s) for s in range(-count, count + 1)])


def _check_time_range(function: str, name: str, time_range, duration: float):
    """``(start, end)`` in seconds inside ``[0, duration]``, else ParameterError."""
    try:
        start, end = (float(t) for t in time_range)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{function}: {name} must be (start, end) in seconds, got {time_range!r}"
        ) from None
    if not (np.isfinite(start) and np.isfinite(end)) or start < 0:
        raise ParameterError(f"{function}: {name} must be finite and start >= 0, got {start}:{end}")
    if end <= start:
        raise ParameterError(
            f"{function}: {name} {start:g}:{end:g} is empty; END must be greater than START"
        )
    if end > duration + 1e-6:
        raise ParameterError(
            f"{function}: {name} {start:g}:{end:g} ends after the song,"
            f" which lasts {duration:.3f} s"
        )
    return start, end


def time_range_frames(
    time_range, *, n_samples: int, sr: int = 22050, win: int = 2048, hop: int = 512
) -> slice:
    """The STFT frames whose whole window lies inside ``time_range`` (seconds).

    Frames are centred (``center=True``): frame n covers samples
    ``n * hop - win/2`` to ``n * hop + win/2``. A frame that reaches past
    ``end`` would hear what comes next (the voice), so it is left out.

    Parameters
    ----------
    time_range : (float, float)
        ``(start, end)`` in seconds, ``0 <= start < end <= duration``.
    n_samples : int
        Length of the song, to check ``end``.
    sr, win, hop : int

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
    n_samples = check_int("time_range_frames", "n_samples", n_samples, minimum=1)
    sr = check_int("time_range_frames", "sr", sr, minimum=1)
    win, hop = _check_frame_sizes("time_range_frames", win, hop)
    start, end = _check_time_range("time_range_frames", "time_range", time_range, n_samples / sr)
    # Frame n covers samples n*hop - win//2 .. n*hop + win//2: its whole window
    # must lie inside the range (frames reaching before sample 0 see only padding).
    first = int(np.ceil((start * sr + win // 2) / hop)) if start > 0 else 0
    stop = int(np.floor((end * sr - win // 2) / hop)) + 1
    if stop - first < 1:
        raise ParameterError(
            f"time_range_frames: {start:g}:{end:g} s is shorter than one frame ({win / sr:.3f} s)"
        )
    return slice(first, stop)


def _check_sizes(K, K_voice, n_iter) -> tuple[int, int, int]:
    return (
        check_int("fit_vocal_model", "K", K, minimum=1),
        check_int("fit_vocal_model", "K_voice", K_voice, minimum=1),
        check_int("fit_vocal_model", "n_iter", n_iter, minimum=2),
    )


def _check_semitones(name: str, value) -> int:
    value = check_int("fit_vocal_model", name, value, minimum=0)
    if value > 12:
        raise ParameterError(f"fit_vocal_model: {name} must be <= 12 (an octave), got {value}")
    return value


def fit_vocal_model(
    V,
    frames: slice,
    *,
    K: int = 16,
    K_voice: int = 3,
    semitones: int = 3,
    voice_semitones: int = 4,
    n_iter: int = 100,
    loss: str = "euclidean",
    seed: int = 0,
    progress: bool = False,
):
    """Accompaniment and voice templates and their activations (see the module notes).

    Three calls of the NMF engine: ``2 * n_iter`` iterations on the
    instrumental frames (short, so cheap) to learn K templates; ``n_iter``
    on the song with their transpositions fixed plus ``K_voice`` free
    columns; then, if ``voice_semitones > 0``, ``n_iter // 2`` iterations
    refitting H with the voice templates' transpositions fixed as well.

    Parameters
    ----------
    V : np.ndarray [shape=(M, N), non-negative]
        Magnitude spectrogram of the song.
    frames : slice
        Frames of V where only the accompaniment plays
        (:func:`time_range_frames`).
    K : int >= 1
        Templates learned on the instrumental passage.
    K_voice : int >= 1
        Free templates for the voice.
    semitones, voice_semitones : int >= 0
        Transpositions ``-s..s`` of the accompaniment and of the voice
        templates (0: none, the plain homework method).
    n_iter : int >= 2
    loss : {"kl", "euclidean"}
    seed : int
    progress : bool

    Returns
    -------
    W : np.ndarray [shape=(M, F + G), float32]
        F accompaniment columns, then G voice columns.
    H : np.ndarray [shape=(F + G, N), float32]
    F : int
        Number of accompaniment columns.
    losses : dict[str, np.ndarray]
        Per stage: ``"instrumental"``, ``"song"`` and (if refitted) ``"refit"``.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> V = np.random.default_rng(0).random((64, 50))
    >>> W, H, F, losses = nh.fit_vocal_model(V, slice(0, 20), K=4, K_voice=2, n_iter=4)
    >>> W.shape, F, sorted(losses)
    ((64, 46), 28, ['instrumental', 'refit', 'song'])
    """
    factorise = _nmf_for("fit_vocal_model", loss)
    V = check_matrix("fit_vocal_model", "V", V)
    K, K_voice, n_iter = _check_sizes(K, K_voice, n_iter)
    semitones, voice_semitones = (
        _check_semitones(name, value)
        for name, value in [("semitones", semitones), ("voice_semitones", voice_semitones)]
    )
    if not isinstance(frames, slice):
        raise ParameterError(f"fit_vocal_model: frames must be a slice, got {frames!r}")
    intro = V[:, frames]
    if intro.shape[1] < K:
        raise ParameterError(
            f"fit_vocal_model: the instrumental passage has {intro.shape[1]} frames,"
            f" fewer than K = {K}; give a longer passage or a smaller K"
        )
    common = {"seed": seed, "progress": progress}
    W_intro, _, intro_losses = factorise(intro, K, n_iter=2 * n_iter, **common)
    W_acc = _transposed(W_intro, semitones)
    F = W_acc.shape[1]
    W, H, song_losses = factorise(V, F + K_voice, n_iter=n_iter, W_fixed=W_acc, **common)
    losses = {"instrumental": intro_losses, "song": song_losses}
    if voice_semitones:
        # H starts afresh rather than from the song fit's H: that H already
        # gives the notes the voice templates missed to the accompaniment,
        # and warm-starting from it cost the karaoke 2 to 3.6 dB SDR on each
        # of the three clips with a voice stem (measured over 3 seeds).
        W_all = np.hstack([W_acc, _transposed(W[:, F:], voice_semitones)])
        W, H, losses["refit"] = factorise(
            V, W_all.shape[1], n_iter=max(n_iter // 2, 1), W_fixed=W_all, **common
        )
    return W, H, F, losses


@dataclass(frozen=True)
class VocalSeparation:
    """Result of :func:`filter_vocals`.

    Attributes
    ----------
    karaoke, vocals : np.ndarray [shape=(n_samples,), float32]
        Accompaniment and voice; they add up to the song.
    W : np.ndarray [shape=(M, F + G)]
    H : np.ndarray [shape=(F + G, N)]
    accompaniment, voice : list of int
        Column indices of each group in W.
    templates : list of list of int
        Columns of each learned template with all its transpositions
        (K accompaniment templates, then K_voice voice templates).
    frames : slice
        The instrumental frames used.
    losses : dict[str, np.ndarray]
    """

    karaoke: np.ndarray
    vocals: np.ndarray
    W: np.ndarray
    H: np.ndarray
    accompaniment: list[int]
    voice: list[int]
    templates: list[list[int]] = field(repr=False)
    frames: slice
    losses: dict = field(repr=False)


def _template_columns(n_columns: int, n_templates: int, offset: int) -> list[list[int]]:
    """Shift-major columns grouped by template: template k is k, k + n, k + 2n, ..."""
    return [list(range(offset + k, offset + n_columns, n_templates)) for k in range(n_templates)]


def filter_vocals(
    x,
    *,
    instrumental,
    sr: int = 22050,
    K: int = 16,
    K_voice: int = 3,
    semitones: int = 3,
    voice_semitones: int = 4,
    n_iter: int = 100,
    loss: str = "euclidean",
    power: float = 1.0,
    seed: int = 0,
    progress: bool = False,
) -> VocalSeparation:
    """Karaoke and a cappella tracks of a song with an instrumental passage.

    Parameters
    ----------
    x : np.ndarray [shape=(n_samples,)]
        The song, mono (win 2048, hop 512 are used).
    instrumental : (float, float)
        Start and end, in seconds, of a passage without voice, e.g. the
        intro. The accompaniment heard there should be typical of the song.
    sr : int
        Sample rate of ``x``.
    K, K_voice, semitones, voice_semitones, n_iter, loss, seed, progress
        See :func:`fit_vocal_model`. The defaults were chosen from the
        measurements in ``benchmarks/bench_separation.py``.
    power : float
        Mask exponent p (see :func:`nmf_helpers.soft_masks`).

    Returns
    -------
    VocalSeparation

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> x, sr = nh.load_audio(nh.clip_path("groove"))  # doctest: +SKIP
    >>> song = nh.filter_vocals(x, instrumental=(0.0, 4.0))  # doctest: +SKIP
    >>> nh.save_audio("karaoke.wav", song.karaoke, sr)  # doctest: +SKIP
    """
    x = check_signal("filter_vocals", "x", x)
    power = check_real("filter_vocals", "power", power, minimum=1e-3, maximum=100.0)
    frames = time_range_frames(instrumental, n_samples=x.size, sr=sr)
    W, H, F, losses = fit_vocal_model(
        spectrogram(x),
        frames,
        K=K,
        K_voice=K_voice,
        semitones=semitones,
        voice_semitones=voice_semitones,
        n_iter=n_iter,
        loss=loss,
        seed=seed,
        progress=progress,
    )
    accompaniment, voice = list(range(F)), list(range(F, W.shape[1]))
    karaoke, vocals = separate(x, W, H, [accompaniment, voice], power=power)
    templates = _template_columns(F, K, 0) + _template_columns(W.shape[1] - F, K_voice, F)
    return VocalSeparation(karaoke, vocals, W, H, accompaniment, voice, templates, frames, losses)
