"""Drums and harmonic of a song too long for memory: learn W once, stream the rest.

:func:`nmf_helpers.split_drums` holds the whole song at once: the waveform,
its spectrogram V (M x N), the complex STFT and the masks, so its memory grows
with the song's length until a long recording (a DJ set of hours) does not fit
(:func:`memory_estimate`; ``benchmarks/bench_long_song.py`` prints the figures).
:func:`split_drums_file` reads the file, fits and writes the two parts chunk by
chunk, in memory that does not grow with the song:

1. **Learn W on a subsample.** A few minutes (``learn_seconds``) are read as
   short excerpts spread evenly over the song; ``V_sub ~ W H_sub`` is fitted
   with the song's loss, and the components are grouped once, from W and
   ``H_sub`` (:func:`nmf_helpers.component_features`).
2. **Fit H chunk by chunk with W fixed.** The audio is decoded as a stream
   (blocks of the file, downmixed, resampled to 22050 Hz by a streaming soxr
   resampler) and cut at frame boundaries into chunks of ``chunk_seconds``.
   With every column of W fixed, the multiplicative update of H acts on each
   frame on its own, so ``V_chunk ~ W H_chunk`` needs nothing from the other
   chunks (the homework's fixed-W idea: ``factorise(V_chunk, K, W_fixed=W)``).
3. **Mask and write each chunk.** The soft masks of the groups share the
   mixture's STFT, and the parts are written block by block to the output
   files as the chunks are done, behind a tqdm progress bar.

Seamless chunks
---------------
A sample ``t`` of the inverse STFT depends on the frames whose window covers
it, ``|t - n hop| < win / 2``, and each of those on the samples under its own
window: everything within ``win`` samples of ``t``. Each chunk therefore takes
``win`` samples of context on both sides (cut at multiples of ``hop``, so its
frames are frames of the whole song) and keeps only the samples whose frames
it holds completely. The parts written are then those of one
``separate_unchecked(x, W, H, groups)`` on the whole song with H the chunks'
activations side by side, to float32 rounding (tests/test_long_songs.py).

Songs no longer than one chunk take :func:`nmf_helpers.split_drums` itself
(the whole song in memory) and get its 16-bit files bit for bit.

Clipping
--------
The soft masks' parts add up to the mixture, but one part alone can peak
above 1 where the others cancel it, and a stream cannot know that before its
end. Long songs are therefore written as 32-bit float WAV (``.wav``), which
holds any peak unclipped; the peak of each part is in the summary, and one
warning line names a part that peaks above 1. A ``.flac`` destination is
24-bit integer: samples beyond 1 are clipped there, and the same warning says
how many.

References
----------
D. D. Lee and H. S. Seung, "Algorithms for non-negative matrix
factorization", NIPS 13, 2001 (the updates; with W fixed, H's columns are
independent).

D. Fitzgerald, "Harmonic/percussive separation using median filtering",
DAFx 2010 (the grouping, see :mod:`nmf_helpers.grouping`).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile
import soxr
from tqdm.auto import tqdm

from ._validation import (
    ParameterError,
    check_choice,
    check_components,
    check_iterations,
    check_not_silent,
    check_real,
    check_seed,
    is_silent,
)
from .audio import (
    BLOCK_FRAMES,
    DamagedAudio,  # raised here too, and imported from here by the command line
    audio_blocks_unchecked,
    check_streamable,
    load_audio_unchecked,
    save_audio,
)
from .grouping import (
    DEFAULT_K,
    DEFAULT_KERNEL,
    DEFAULT_LOSS,
    DEFAULT_THRESHOLD,
    ComponentFeatures,
    component_features_unchecked,
    split_drums_unchecked,
)
from .nmf import LOSSES, factorise
from .separation import separate_unchecked
from .spectral import DEFAULT_HOP, DEFAULT_WIN, frame_count, spectrogram_unchecked

__all__ = ["FileSplit", "MemoryEstimate", "memory_estimate", "split_drums_file"]

#: Sample rate of the analysis and of the files written (as ``load_audio``).
SAMPLE_RATE = 22050
#: Defaults of :func:`split_drums_file`: chunks of 5 minutes; W learned on 3
#: minutes of the song, read as excerpts of :data:`EXCERPT_SECONDS`.
DEFAULT_CHUNK_SECONDS = 300.0
DEFAULT_LEARN_SECONDS = 180.0
EXCERPT_SECONDS = 10.0
CHUNK_SECONDS_RANGE = (1.0, 3600.0)
LEARN_SECONDS_RANGE = (5.0, 3600.0)

#: The two parts and the files they go to.
PARTS = ("drums", "harmonic")
_WRITE_SUBTYPES = {".wav": ("WAV", "FLOAT"), ".flac": ("FLAC", "PCM_24")}


def _decodable_seconds(path: Path, info) -> float:
    """How far into ``path`` the decoder gets, found by seeking (cheap on any length).

    A truncated FLAC fails to seek (``psf_fseek``) or loses sync past its
    end; a seek and a short read are tried at halving intervals, so the tries
    grow with the logarithm of the length, not with the length.
    """
    good, bad = 0, info.frames
    while bad - good > info.samplerate:  # to within a second
        middle = (good + bad) // 2
        try:
            # A fresh decoder each time: one that failed to seek stays lost.
            with soundfile.SoundFile(os.fsencode(path)) as file:
                file.seek(middle)
                ok = file.read(1024, dtype="float32").shape[0] > 0
        except (soundfile.LibsndfileError, RuntimeError):
            ok = False
        good, bad = (middle, bad) if ok else (good, middle)
    return good / info.samplerate


@dataclass(frozen=True)
class FileSplit:
    """What :func:`split_drums_file` did.

    Attributes
    ----------
    outputs : dict[str, pathlib.Path]
        ``{"drums": path, "harmonic": path}``, the files written.
    streamed : bool
        False when the song fits in one chunk (then :func:`split_drums` ran).
    sample_rate : int
        Of the files written (22050).
    duration_s : float
        Of the song, from the samples decoded.
    percussive, harmonic_components : list of int
        The groups of components (disjoint, together ``range(K)``).
    features : ComponentFeatures
        Of W and the subsample's H (of the whole song when not streamed).
    W : np.ndarray [shape=(M, K), float32]
        The templates (learned on the subsample when streamed).
    losses : np.ndarray [shape=(n_iter,)]
        Per iteration of the W fit (the whole song's NMF when not streamed).
    chunk_losses : np.ndarray [shape=(n_chunks,)]
        Final loss of each chunk's H fit (empty when not streamed).
    peaks : dict[str, float]
        Largest absolute sample of each part before writing.
    seconds : dict[str, float]
        Wall time of ``learn`` (read the subsample, fit W, group), ``stream``
        (decode, fit H, mask, write) and ``total``.
    H : np.ndarray [shape=(K, N), float32] or None
        The activations of the whole song, if ``keep_activations`` was set.
    """

    outputs: dict[str, Path]
    streamed: bool
    sample_rate: int
    duration_s: float
    percussive: list[int]
    harmonic_components: list[int]
    features: ComponentFeatures
    W: np.ndarray
    losses: np.ndarray
    chunk_losses: np.ndarray
    peaks: dict[str, float]
    seconds: dict[str, float] = field(default_factory=dict)
    H: np.ndarray | None = None


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak memory of :func:`split_drums` and :func:`split_drums_file` on one song.

    Attributes
    ----------
    duration_s : float
    in_memory_gb : float
        Whole song at once (:func:`split_drums` on the decoded waveform).
    streamed_gb : float
        :func:`split_drums_file`: flat in the duration beyond one chunk.
    streams : bool
        Whether :func:`split_drums_file` streams this song (longer than a chunk).
    """

    duration_s: float
    in_memory_gb: float
    streamed_gb: float
    streams: bool

    def __str__(self) -> str:
        used = self.streamed_gb if self.streams else self.in_memory_gb
        how = "in chunks" if self.streams else "in one piece"
        return (
            f"{self.duration_s / 60:.1f} min: about {used:.1f} GB peak {how}"
            f" (whole song at once: {self.in_memory_gb:.1f} GB)"
        )


# A linear model of peak memory (whole process): a base for Python and the
# libraries, plus a cost per second of song held at once. Streamed, a chunk
# costs what the same length of song costs in memory; what grows with the song
# beyond it (its decoder, the activations kept per chunk) is bounded by
# _STREAMED_EXTRA_GB. The coefficients are fitted to the peaks that
# benchmarks/bench_long_song.py measures and prints beside this estimate; refit
# them from its output when the pipeline's memory changes.
_BASE_GB = 0.35
_IN_MEMORY_GB_PER_S = 2.5e-3
_STREAMED_EXTRA_GB = 0.3


def memory_estimate(
    duration_s: float,
    *,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    learn_seconds: float = DEFAULT_LEARN_SECONDS,
) -> MemoryEstimate:
    """Peak memory to expect for a song of ``duration_s`` seconds, in and out of memory.

    A rough model fitted to measurements (``benchmarks/bench_long_song.py``)
    on this project's machine, for the CLI to print before a long run: a
    base for Python and the libraries plus, in memory, a cost per second of
    song; streamed, the same cost for the larger of a chunk and the subsample
    W is learned on, plus a bounded amount that grows with the song, and
    never more than in memory.

    Parameters
    ----------
    duration_s : float > 0
        Length of the song in seconds.
    chunk_seconds, learn_seconds : float
        As given to :func:`split_drums_file`, in the same ranges
        (:data:`CHUNK_SECONDS_RANGE`, :data:`LEARN_SECONDS_RANGE`).

    Returns
    -------
    MemoryEstimate

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> estimate = nh.memory_estimate(3 * 3600)
    >>> estimate.streams, estimate.streamed_gb < 2 < estimate.in_memory_gb
    (True, True)
    """
    function = "memory_estimate"
    duration_s = check_real(function, "duration_s", duration_s, minimum=1e-3, maximum=1e7)
    chunk_seconds = check_real(
        function, "chunk_seconds", chunk_seconds, **_range(CHUNK_SECONDS_RANGE)
    )
    learn_seconds = check_real(
        function, "learn_seconds", learn_seconds, **_range(LEARN_SECONDS_RANGE)
    )
    in_memory = _in_memory_gb(duration_s)
    working = min(duration_s, max(chunk_seconds, learn_seconds))
    # One model for both figures, so that chunks never claim more than the whole
    # song: a song just over one chunk costs about the same either way.
    streamed = min(in_memory, _in_memory_gb(working) + _STREAMED_EXTRA_GB)
    streams = duration_s > chunk_seconds
    return MemoryEstimate(duration_s, in_memory, streamed if streams else in_memory, streams)


def _in_memory_gb(seconds: float) -> float:
    """Peak memory of :func:`split_drums` on ``seconds`` of song (the fitted model)."""
    return _BASE_GB + _IN_MEMORY_GB_PER_S * seconds


@dataclass(frozen=True)
class Streaming:
    """How :func:`split_drums_file` reads a song, as one value a caller keeps.

    Like a recipe's ``DEFAULT_K``, a default the command line reads (outside
    ``__all__``): a caller that must decide before the run (which files it
    promises, what it tells the user) asks the same object that then runs it,
    so the decision and the run cannot disagree.

    Attributes
    ----------
    chunk_seconds : float in [1, 3600]
        Audio per chunk; a song no longer than this is split in one piece.
    learn_seconds : float in [5, 3600]
        Audio W is learned on, as excerpts spread over a streamed song.

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> streaming = nh.long_songs.Streaming()
    >>> streaming.streams(3 * 3600), streaming.streams(60)
    (True, False)
    """

    chunk_seconds: float = DEFAULT_CHUNK_SECONDS
    learn_seconds: float = DEFAULT_LEARN_SECONDS

    def __post_init__(self) -> None:
        # Checked when made, in split_drums_file's ranges: every method then
        # answers for a reading split_drums_file would accept.
        for name, bounds in [
            ("chunk_seconds", CHUNK_SECONDS_RANGE),
            ("learn_seconds", LEARN_SECONDS_RANGE),
        ]:
            value = check_real("Streaming", name, getattr(self, name), **_range(bounds))
            object.__setattr__(self, name, value)

    def streams(self, duration_s: float) -> bool:
        """Whether a song of ``duration_s`` seconds is streamed (longer than one chunk)."""
        return duration_s > self.chunk_seconds

    def samples(self, duration_s: float) -> tuple[int, int]:
        """Samples at :data:`SAMPLE_RATE` of the song, and of the excerpts W is learned on.

        The excerpts' count is 0 for a song split in one piece (no separate W fit).
        """
        learned = min(self.learn_seconds, duration_s) if self.streams(duration_s) else 0.0
        return round(duration_s * SAMPLE_RATE), round(learned * SAMPLE_RATE)

    def memory(self, duration_s: float) -> MemoryEstimate:
        """:func:`memory_estimate` of a song of ``duration_s`` seconds read this way."""
        return memory_estimate(
            duration_s, chunk_seconds=self.chunk_seconds, learn_seconds=self.learn_seconds
        )

    def split(self, path, outputs: Mapping[str, str | os.PathLike], **options) -> FileSplit:
        """:func:`split_drums_file` read this way; ``options`` are its other keywords."""
        return split_drums_file(
            path,
            outputs,
            chunk_seconds=self.chunk_seconds,
            learn_seconds=self.learn_seconds,
            **options,
        )


def _check_outputs(function: str, outputs, source: Path) -> dict[str, Path]:
    """``{"drums": path, "harmonic": path}``: .wav or .flac, distinct, not the input."""
    if not isinstance(outputs, Mapping) or set(outputs) != set(PARTS):
        got = sorted(outputs) if isinstance(outputs, Mapping) else type(outputs).__name__
        raise ParameterError(
            f"{function}: outputs must be a dict with keys 'drums' and 'harmonic', got {got}"
        )
    paths = {}
    for part in PARTS:
        value = outputs[part]
        if not isinstance(value, str | os.PathLike):
            raise ParameterError(f"{function}: outputs[{part!r}] must be a path, got {value!r}")
        path = Path(os.fspath(value)).expanduser()
        if path.suffix.lower() not in _WRITE_SUBTYPES:
            raise ParameterError(
                f"{function}: outputs[{part!r}] must end in .wav or .flac, got {str(path)!r}"
            )
        if path.resolve() == source.resolve():
            raise ParameterError(
                f"{function}: outputs[{part!r}] is the input file {str(path)!r};"
                " write the parts elsewhere"
            )
        if path.is_dir():
            raise ParameterError(f"{function}: outputs[{part!r}] is a directory: {str(path)!r}")
        paths[part] = path
    if paths["drums"].resolve() == paths["harmonic"].resolve():
        raise ParameterError(f"{function}: outputs name one file twice: {str(paths['drums'])!r}")
    return paths


def split_drums_file(
    path,
    outputs: Mapping[str, str | os.PathLike],
    *,
    K: int = DEFAULT_K,
    n_iter: int = 100,
    loss: str = DEFAULT_LOSS,
    power: float = 1.0,
    threshold: float = DEFAULT_THRESHOLD,
    seed: int = 0,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    learn_seconds: float = DEFAULT_LEARN_SECONDS,
    progress: bool = False,
    keep_activations: bool = False,
) -> FileSplit:
    """Drums and harmonic of an audio file of any length, in bounded memory.

    A song no longer than ``chunk_seconds`` is loaded whole and split by
    :func:`nmf_helpers.split_drums` (16-bit files, as ``save_audio`` writes
    them). A longer one is streamed (see the module notes): W is learned on
    ``learn_seconds`` of excerpts spread over the song, then
    ``V_chunk ~ W H_chunk`` is fitted with W fixed, chunk by chunk,
    minimising the same loss (KL: ``sum V log(V / WH) - V + WH``), and each
    chunk's parts ``istft(mask_g * stft(x))`` are written as soon as they are
    known, to 32-bit float WAV (or 24-bit FLAC).

    Parameters
    ----------
    path : str or os.PathLike
        The song: any file soundfile reads; stereo is averaged, any rate is
        resampled to 22050 Hz.
    outputs : dict
        ``{"drums": path, "harmonic": path}``, each ending in ``.wav`` or
        ``.flac``; only these two files are written (parent folders made).
    K, n_iter, loss, power, threshold, seed
        As for :func:`nmf_helpers.split_drums`; ``n_iter`` is used for the W
        fit and again for each chunk's H.
    chunk_seconds : float in [1, 3600]
        Audio per chunk; peak memory grows with it, not with the song.
    learn_seconds : float in [5, 3600]
        Audio W is learned on (the whole song if it is shorter).
    progress : bool
        Show progress bars (the W fit, then the chunks).
    keep_activations : bool
        Return the whole song's H (K x N float32: it grows with the song, 4 K bytes
        a frame).

    Returns
    -------
    FileSplit

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ParameterError
        For a bad argument, an unreadable or silent file, or an output path
        that is the input; or, while streaming, for NaN or Inf samples. The
        files are then incomplete: give temporary names and rename them once
        this returns (the command line's atomic output folder does).
    DamagedAudio
        A ParameterError: the file ends before its header says, or cannot be
        decoded past a point (a truncated FLAC); it says how far it could be read.

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> print(nh.memory_estimate(3 * 3600))  # doctest: +SKIP
    >>> result = nh.split_drums_file(
    ...     "set.flac", {"drums": "drums.wav", "harmonic": "harmonic.wav"}, progress=True
    ... )  # doctest: +SKIP
    >>> result.peaks  # doctest: +SKIP
    """
    started = time.perf_counter()
    function = "split_drums_file"
    path, info = check_streamable(function, path)
    paths = _check_outputs(function, outputs, path)
    duration = info.frames / info.samplerate
    chunk_seconds = check_real(
        function, "chunk_seconds", chunk_seconds, **_range(CHUNK_SECONDS_RANGE)
    )
    learn_seconds = check_real(
        function, "learn_seconds", learn_seconds, **_range(LEARN_SECONDS_RANGE)
    )
    learn_samples = round(min(learn_seconds, duration) * SAMPLE_RATE)
    K = check_components(
        function, K, (DEFAULT_WIN // 2 + 1, frame_count(learn_samples, DEFAULT_WIN, DEFAULT_HOP))
    )
    n_iter = check_iterations(function, n_iter)
    loss = check_choice(function, "loss", loss, LOSSES)
    power = check_real(function, "power", power, minimum=1e-3, maximum=100.0)
    threshold = check_real(function, "threshold", threshold, minimum=1e-3, maximum=1.0)
    seed = check_seed(function, seed)
    options = {"K": K, "n_iter": n_iter, "loss": loss, "power": power, "threshold": threshold}

    if duration <= chunk_seconds:
        return _in_one_piece(function, path, paths, options, seed, progress, started)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    learned = _learn(function, path, info, learn_seconds, options, rng, progress)
    learn_time = time.perf_counter() - started
    streamed = _stream(
        function, path, info, paths, learned, options, rng, chunk_seconds, progress,
        keep_activations,
    )  # fmt: skip
    _report_peaks(function, paths, streamed["peaks"], streamed["clipped"])
    total = time.perf_counter() - started
    return FileSplit(
        outputs=paths,
        streamed=True,
        sample_rate=SAMPLE_RATE,
        duration_s=streamed["n_samples"] / SAMPLE_RATE,
        percussive=learned["groups"][0],
        harmonic_components=learned["groups"][1],
        features=learned["features"],
        W=learned["W"],
        losses=learned["losses"],
        chunk_losses=np.array(streamed["chunk_losses"]),
        peaks=streamed["peaks"],
        seconds={"learn": learn_time, "stream": total - learn_time, "total": total},
        H=np.concatenate(streamed["H"], axis=1) if keep_activations else None,
    )


def _range(bounds: tuple[float, float]) -> dict:
    return {"minimum": bounds[0], "maximum": bounds[1]}


def _in_one_piece(function, path, paths, options, seed, progress, started) -> FileSplit:
    """A song of one chunk or less: the in-memory :func:`split_drums`, 16-bit files."""
    x, sr = load_audio_unchecked(path, SAMPLE_RATE, stacklevel=4)  # at split_drums_file's caller
    check_not_silent(function, repr(str(path)), x)
    load_time = time.perf_counter() - started
    n_frames = frame_count(x.size, DEFAULT_WIN, DEFAULT_HOP)
    if x.size < DEFAULT_WIN or options["K"] > min(DEFAULT_WIN // 2 + 1, n_frames):
        raise ParameterError(
            f"{function}: {str(path)!r} is too short for K = {options['K']} components"
            f" ({x.size / sr:.2f} s, {n_frames} frames); give a longer song or a smaller K"
        )
    result = split_drums_unchecked(x, seed=seed, progress=progress, name=function, **options)
    estimates = {"drums": result.drums, "harmonic": result.harmonic}
    for part, estimate in estimates.items():
        save_audio(paths[part], estimate, sr)
    total = time.perf_counter() - started
    return FileSplit(
        outputs=paths,
        streamed=False,
        sample_rate=sr,
        duration_s=x.size / sr,
        percussive=result.percussive,
        harmonic_components=result.harmonic_components,
        features=result.features,
        W=result.W,
        losses=result.losses,
        chunk_losses=np.empty(0),
        peaks={part: float(np.max(np.abs(y))) for part, y in estimates.items()},
        seconds={"learn": load_time, "stream": total - load_time, "total": total},
        H=result.H,
    )


def _excerpts(function: str, path: Path, info, learn_seconds: float) -> list[np.ndarray]:
    """Mono 22050 Hz excerpts of the song, evenly spread, ``learn_seconds`` in all."""
    duration = info.frames / info.samplerate
    count = max(1, math.ceil(learn_seconds / EXCERPT_SECONDS))
    length = min(learn_seconds / count, duration)
    frames = round(length * info.samplerate)
    pieces = []
    # bytes: libsndfile gets a name that is not UTF-8 as it is on disk
    with soundfile.SoundFile(os.fsencode(path)) as file:
        for i in range(count):
            middle = (i + 0.5) * duration / count
            start = min(
                max(round((middle - length / 2) * info.samplerate), 0), info.frames - frames
            )
            try:
                file.seek(start)
                data = file.read(frames, dtype="float32", always_2d=True)
            except (soundfile.LibsndfileError, RuntimeError):
                data = None
            if data is None or data.shape[0] < frames:  # the header promised more
                raise DamagedAudio(function, path, _decodable_seconds(path, info), duration)
            mono = data.mean(axis=1, dtype=np.float32)
            if info.samplerate != SAMPLE_RATE:
                mono = soxr.resample(mono, info.samplerate, SAMPLE_RATE, quality="HQ")
            pieces.append(np.ascontiguousarray(mono, dtype=np.float32))
    return pieces


def _learn(function, path, info, learn_seconds, options, rng, progress) -> dict:
    """W and the groups, from ``V_sub ~ W H_sub`` on excerpts of the song."""
    pieces = _excerpts(function, path, info, learn_seconds)
    if not all(np.all(np.isfinite(piece)) for piece in pieces):
        raise ParameterError(f"{function}: {str(path)!r} contains NaN or Inf samples")
    if all(is_silent(piece) for piece in pieces):
        raise ParameterError(
            f"{function}: {str(path)!r} is silent where W is learned (all samples of"
            " every excerpt spread over the song are zero)"
        )
    # Each excerpt has its own STFT: no frame straddles two excerpts.
    V = np.concatenate(
        [spectrogram_unchecked(piece, DEFAULT_WIN, DEFAULT_HOP) for piece in pieces], axis=1
    )
    W, H, losses = factorise(
        V, options["K"], loss=options["loss"], n_iter=options["n_iter"], seed=rng,
        progress=progress, name=f"{function}: W",
    )  # fmt: skip
    features = component_features_unchecked(W, H, options["threshold"], DEFAULT_KERNEL)
    decision = features.is_percussive
    groups = [
        [int(k) for k in np.flatnonzero(decision)],
        [int(k) for k in np.flatnonzero(~decision)],
    ]
    return {"W": W, "losses": losses, "features": features, "groups": groups}


def _report_peaks(function: str, paths, peaks: dict, clipped: dict) -> None:
    """One warning line naming each part that peaks above 1 (and what the file holds)."""
    loud = {part: peak for part, peak in peaks.items() if peak > 1.0}
    if not loud:
        return
    notes = []
    for part, peak in loud.items():
        if clipped[part]:
            held = f"{clipped[part]} samples clipped in the 24-bit file"
        else:
            held = "kept unclipped in the float WAV"
        notes.append(f"{paths[part].name} peaks at {peak:.3f} ({held})")
    warnings.warn(
        f"{function}: {'; '.join(notes)}; scale it before converting to 16-bit",
        stacklevel=3,
    )


class _Writers:
    """The output files, open for writing block by block; peaks and clipped counts."""

    def __init__(self, paths: dict[str, Path]):
        self.paths = paths
        self.files = {}
        self.peaks = dict.fromkeys(paths, 0.0)
        self.clipped = dict.fromkeys(paths, 0)

    def __enter__(self):
        for part, path in self.paths.items():
            file_format, subtype = _WRITE_SUBTYPES[path.suffix.lower()]
            path.parent.mkdir(parents=True, exist_ok=True)
            self.files[part] = soundfile.SoundFile(
                os.fsencode(path),
                "w",
                samplerate=SAMPLE_RATE,
                channels=1,
                format=file_format,
                subtype=subtype,
            )
        return self

    def write(self, parts: np.ndarray) -> None:
        for part, samples in zip(self.paths, parts, strict=True):
            if samples.size == 0:
                continue
            self.peaks[part] = max(self.peaks[part], float(np.max(np.abs(samples))))
            if self.files[part].subtype != "FLOAT":
                self.clipped[part] += int(np.count_nonzero(np.abs(samples) > 1.0))
                samples = np.clip(samples, -1.0, 1.0)
            self.files[part].write(samples)

    def __exit__(self, *exc_info):
        for file in self.files.values():
            file.close()


def _stream(
    function, path, info, paths, learned, options, rng, chunk_seconds, progress, keep_activations
):
    """Decode, fit H with W fixed, mask and write, one chunk of frames at a time.

    Buffers: ``samples`` holds the waveform from sample ``start`` (a multiple
    of hop) and ``H`` its activations from frame ``start // hop``. A chunk
    fits frames ``[f0, f1)``, which need the samples up to
    ``(f1 - 1) hop + win / 2``; it then writes the samples ``[done, t_out)``,
    ``t_out = f1 hop - win / 2``: those that no later frame covers.
    """
    win, hop = DEFAULT_WIN, DEFAULT_HOP
    W, groups, power = learned["W"], learned["groups"], options["power"]
    chunk_frames = max(round(chunk_seconds * SAMPLE_RATE / hop), 2 * win // hop)
    context = -(-win // 2 // hop)  # frames before f0 whose samples a chunk's V needs
    n_estimate = math.ceil(info.frames * SAMPLE_RATE / info.samplerate)
    duration = info.frames / info.samplerate
    blocks = audio_blocks_unchecked(path, info, SAMPLE_RATE, BLOCK_FRAMES, "split_drums_file")
    samples, start, pending = np.zeros(0, np.float32), 0, []
    H_parts, kept_H, H_start = [], np.zeros((W.shape[1], 0), np.float32), 0
    f0 = done = 0
    eof, chunk_losses = False, []
    bar = tqdm(
        total=-(-frame_count(n_estimate, win, hop) // chunk_frames),
        desc="split_drums_file: chunks", disable=not progress, unit="chunk",
    )  # fmt: skip
    with _Writers(paths) as writers, bar:
        while True:
            # Read until the chunk's last frame has its whole window (or the file ends).
            needed = (f0 + chunk_frames - 1) * hop + win // 2
            have = start + samples.size + sum(block.size for block in pending)
            while have < needed and not eof:
                # A decoder failure ("flac decoder lost sync") raises DamagedAudio in there.
                try:
                    pending.append(next(blocks))
                    have += pending[-1].size
                except StopIteration:
                    eof = True
            if eof and have < n_estimate - SAMPLE_RATE:  # a clean end, before the header's
                raise DamagedAudio(function, path, have / SAMPLE_RATE, duration)
            if pending:
                samples, pending = np.concatenate([samples, *pending]), []
            n_frames = frame_count(have, win, hop) if eof else None
            f1 = min(f0 + chunk_frames, n_frames) if eof else f0 + chunk_frames
            if f1 > f0:
                s = max(0, f0 - context) * hop
                e = min(have, (f1 - 1) * hop + win // 2)
                V = spectrogram_unchecked(samples[s - start : e - start], win, hop)
                V = V[:, f0 - s // hop : f1 - s // hop]
                _, H, losses = factorise(
                    V, W.shape[1], loss=options["loss"], n_iter=options["n_iter"], seed=rng,
                    W_fixed=W, name=f"{function}: H",
                )  # fmt: skip
                chunk_losses.append(float(losses[-1]))
                H_parts.append(H)
                kept_H = np.concatenate([kept_H, H], axis=1)
                bar.update()
            last = eof and f1 == n_frames
            t_out = have if last else f1 * hop - win // 2
            if t_out > done:
                # win samples of context on each side, cut at a frame boundary.
                s = max(0, (done - win) // hop * hop)
                segment = samples[s - start :]
                n_segment = frame_count(segment.size, win, hop)
                H_segment = kept_H[:, s // hop - H_start :][:, :n_segment]
                if H_segment.shape[1] < n_segment:  # frames past f1 only touch samples >= t_out
                    H_segment = np.pad(H_segment, ((0, 0), (0, n_segment - H_segment.shape[1])))
                parts = separate_unchecked(
                    segment, W, H_segment, groups, power=power, win=win, hop=hop
                )
                writers.write(parts[:, done - s : t_out - s])
                done = t_out
            if last:
                break
            f0 = f1
            # Keep what the next V (from frame f0 - context) and the next parts need.
            keep = max(0, min((f0 - context) * hop, (done - win) // hop * hop))
            samples, start = samples[keep - start :].copy(), keep
            kept_H, H_start = kept_H[:, keep // hop - H_start :].copy(), keep // hop
            if not keep_activations:
                H_parts.clear()
    return {
        "n_samples": done,
        "chunk_losses": chunk_losses,
        "peaks": writers.peaks,
        "clipped": writers.clipped,
        "H": H_parts,
    }
