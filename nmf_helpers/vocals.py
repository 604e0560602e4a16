"""Vocal filtering: karaoke and a cappella from an instrumental passage.

The homework's idea: learn the accompaniment's templates ``W_acc`` on a
passage where nobody sings (a song's intro), then fit the whole song with
those columns fixed plus a few free columns. The fixed columns can only
explain the accompaniment, so what they cannot explain, the voice, ends in
the free columns; soft masks with the mixture's phase turn the two groups
into a karaoke track and an a cappella track that add up to the song.

The plain recipe has two weaknesses, and two cheap changes address them
(``benchmarks/bench_separation.py`` measures both against the stems):

1. The intro rarely plays every note of the song: later chords use pitches
   the fixed templates never saw, so the free columns take them and the
   "vocals" hold keys and bass. **Transposed copies of the accompaniment's
   templates** (:func:`nmf_helpers.shift_templates` by each ``s`` in
   ``-semitones..semitones``) let the same instruments play nearby notes.
2. A handful of free columns cannot hold a melody of many pitches, so the
   fixed columns explain the notes the free ones miss, and the karaoke keeps
   some voice. After the first fit, the learned voice templates are
   transposed too (``-voice_semitones..voice_semitones``) and H alone is
   refitted with every column fixed: both models then cover the same pitch
   range, and only timbre decides which explains what.

The defaults (K = 16 templates on the passage, 3 free voice templates,
transpositions of -3..3 and -4..4 semitones, 100 iterations, Euclidean loss,
mask power 1) are those ``benchmarks/bench_separation.py`` compares with
their alternatives on the project's clips with a voice stem, over several
seeds. The Euclidean loss weighs the loud time-frequency bins most, so the
fit spends its effort where the voice and the accompaniment are loud. A few
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

from ._validation import (
    ParameterError,
    check_audio_for_frames,
    check_choice,
    check_int,
    check_iterations,
    check_matrix,
    check_not_silent,
    check_real,
    check_seed,
    check_time_range,
)
from .nmf import LOSSES, factorise
from .separation import separate_unchecked
from .spectral import (
    DEFAULT_HOP,
    DEFAULT_WIN,
    shift_templates_unchecked,
    spectrogram_unchecked,
    time_range_frames_unchecked,
)

__all__ = ["VocalSeparation", "filter_vocals", "fit_vocal_model"]

# The defaults of fit_vocal_model and filter_vocals (and of the command line's
# separate --vocals-from), in one place.
DEFAULT_K = 16
DEFAULT_K_VOICE = 3
DEFAULT_SEMITONES = 3
DEFAULT_VOICE_SEMITONES = 4
DEFAULT_LOSS = "euclidean"


def _transposed(W: np.ndarray, count: int) -> np.ndarray:
    """W and its copies shifted by -count..count semitones, shift-major, (M, K * (2 count + 1))."""
    return np.hstack(
        [W if s == 0 else shift_templates_unchecked(W, s) for s in range(-count, count + 1)]
    )


def _check_model(function: str, K, K_voice, semitones, voice_semitones, n_iter, loss, seed):
    """The model's options, checked in the words of ``function``, as a dict for :func:`_fit`."""
    options = {
        "K": check_int(function, "K", K, minimum=1),
        "K_voice": check_int(function, "K_voice", K_voice, minimum=1),
        "n_iter": check_iterations(function, n_iter, minimum=2),
        "loss": check_choice(function, "loss", loss, LOSSES),
        "seed": check_seed(function, seed),
    }
    for name, value in [("semitones", semitones), ("voice_semitones", voice_semitones)]:
        options[name] = check_int(function, name, value, minimum=0)
        if options[name] > 12:
            raise ParameterError(f"{function}: {name} must be <= 12 (an octave), got {value}")
    return options


def _check_passage(function: str, V: np.ndarray, frames: slice, options: dict) -> None:
    """The passage must hold at least K frames and some sound; the song K_voice learned parts."""
    passage = V[:, frames]
    if passage.shape[1] < options["K"]:
        raise ParameterError(
            f"{function}: the instrumental passage has {passage.shape[1]} frames,"
            f" fewer than K = {options['K']}; give a longer passage or a smaller K"
        )
    if options["K"] > passage.shape[0]:
        raise ParameterError(
            f"{function}: K = {options['K']} is out of range: at most {passage.shape[0]},"
            f" the frequency bins of V"
        )
    if not passage.any():
        raise ParameterError(
            f"{function}: the instrumental passage is silent; choose one where the"
            " accompaniment plays"
        )
    if options["K_voice"] > min(V.shape):
        raise ParameterError(
            f"{function}: K_voice = {options['K_voice']} is out of range: at most"
            f" min(M, N) = {min(V.shape)} for a spectrogram of shape {V.shape}"
        )


def fit_vocal_model(
    V,
    frames: slice,
    *,
    K: int = DEFAULT_K,
    K_voice: int = DEFAULT_K_VOICE,
    semitones: int = DEFAULT_SEMITONES,
    voice_semitones: int = DEFAULT_VOICE_SEMITONES,
    n_iter: int = 100,
    loss: str = DEFAULT_LOSS,
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
        (:func:`nmf_helpers.time_range_frames`).
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
    W : np.ndarray [shape=(M, n_accompaniment + n_voice), float32]
        The accompaniment's columns, then the voice's.
    H : np.ndarray [shape=(n_accompaniment + n_voice, N), float32]
    n_accompaniment : int
        Number of accompaniment columns: ``K * (2 * semitones + 1)``.
    losses : dict[str, np.ndarray]
        Per stage: ``"instrumental"``, ``"song"`` and (if refitted) ``"refit"``.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> V = np.random.default_rng(0).random((64, 50))
    >>> W, H, n_accompaniment, losses = nh.fit_vocal_model(
    ...     V, slice(0, 20), K=4, K_voice=2, n_iter=4
    ... )
    >>> W.shape, n_accompaniment, sorted(losses)
    ((64, 46), 28, ['instrumental', 'refit', 'song'])
    """
    function = "fit_vocal_model"
    V = check_matrix(function, "V", V)
    if not V.any():
        raise ParameterError(f"{function}: V is all zeros (silence?): there is nothing to fit")
    options = _check_model(function, K, K_voice, semitones, voice_semitones, n_iter, loss, seed)
    if not isinstance(frames, slice):
        raise ParameterError(f"{function}: frames must be a slice, got {frames!r}")
    _check_passage(function, V, frames, options)
    return _fit(V, frames, **options, progress=progress, name=function)


def _fit(V, frames, *, K, K_voice, semitones, voice_semitones, n_iter, loss, seed, progress, name):
    """:func:`fit_vocal_model` for checked arguments (``name``: the public caller)."""
    common = {"loss": loss, "seed": seed, "progress": progress, "name": name}
    W_intro, _, intro_losses = factorise(
        np.ascontiguousarray(V[:, frames]), K, n_iter=2 * n_iter, **common
    )
    W_acc = _transposed(W_intro, semitones)
    n_accompaniment = W_acc.shape[1]
    W, H, song_losses = factorise(
        V, n_accompaniment + K_voice, n_iter=n_iter, W_fixed=W_acc, **common
    )
    losses = {"instrumental": intro_losses, "song": song_losses}
    if voice_semitones:
        # H starts afresh rather than from the song fit's H: that H already
        # gives the notes the voice templates missed to the accompaniment, and
        # a warm start from it would keep them there (voice in the karaoke).
        W_all = np.hstack([W_acc, _transposed(W[:, n_accompaniment:], voice_semitones)])
        W, H, losses["refit"] = factorise(
            V, W_all.shape[1], n_iter=max(n_iter // 2, 1), W_fixed=W_all, **common
        )
    return W, H, n_accompaniment, losses


@dataclass(frozen=True)
class VocalSeparation:
    """Result of :func:`filter_vocals`.

    Attributes
    ----------
    karaoke, vocals : np.ndarray [shape=(n_samples,), float32]
        Accompaniment and voice; they add up to the song.
    W : np.ndarray [shape=(M, n_accompaniment + n_voice)]
    H : np.ndarray [shape=(n_accompaniment + n_voice, N)]
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
    K: int = DEFAULT_K,
    K_voice: int = DEFAULT_K_VOICE,
    semitones: int = DEFAULT_SEMITONES,
    voice_semitones: int = DEFAULT_VOICE_SEMITONES,
    n_iter: int = 100,
    loss: str = DEFAULT_LOSS,
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
    function = "filter_vocals"
    x, win, hop = check_audio_for_frames(function, x, DEFAULT_WIN, DEFAULT_HOP)
    check_not_silent(function, "x", x)
    sr = check_int(function, "sr", sr, minimum=1)
    instrumental = check_time_range(function, "instrumental", instrumental, x.size / sr)
    power = check_real(function, "power", power, minimum=1e-3, maximum=100.0)
    options = _check_model(function, K, K_voice, semitones, voice_semitones, n_iter, loss, seed)
    frames = time_range_frames_unchecked(
        instrumental, sr, win, hop, function=function, name="instrumental"
    )
    V = spectrogram_unchecked(x, win, hop)
    _check_passage(function, V, frames, options)
    W, H, n_accompaniment, losses = _fit(V, frames, **options, progress=progress, name=function)
    accompaniment = list(range(n_accompaniment))
    voice = list(range(n_accompaniment, W.shape[1]))
    karaoke, vocals = separate_unchecked(
        x, W, H, [accompaniment, voice], power=power, win=win, hop=hop
    )
    templates = _template_columns(n_accompaniment, K, 0) + _template_columns(
        W.shape[1] - n_accompaniment, K_voice, n_accompaniment
    )
    return VocalSeparation(karaoke, vocals, W, H, accompaniment, voice, templates, frames, losses)
