"""The door of sample detection: is a known sample used in a track, and where?

The method follows Gururani & Lerch (2017). The sample's templates
(:mod:`nmf_helpers.detection.learning`), in pitch-shifted copies, are one
fixed dictionary; the track is fitted with partially fixed KL NMF,
``nmf_kl(V_track, K=R * S + n_free, W_fixed=...)`` (R templates in S
copies), where the ``n_free`` free components take the drums, vocals and
everything else new. The fit sees the spectrogram as the detector needs it,
in bands a third of a semitone wide and frames summed in pairs
(:mod:`nmf_helpers.detection.bands`), and gives it back at the STFT's
resolution.

The decision comes from *when* the fixed templates are active, not from how
loud they are (:mod:`nmf_helpers.detection.search`): scaling V scales H and
nothing else in KL NMF, and the search compares activations by a cosine
similarity, so the score is gain invariant by construction. The *score* is
the best window, or a loop's three plays together where they say more
(each buried or filtered under the threshold, the same part at a steady
period three times over); each occurrence is an :class:`Occurrence`. A chop
looped four times gives four, one per play, and a play of a loop that new
parts cover is looked for again where the loop's other plays put it.

A part of the sample dropped in at its own tempo and pitch (chopped,
looped, filtered, buried under new parts) is also found by its own
waveform (:mod:`nmf_helpers.detection.copies`): an ambient pad 12 dB under
new parts barely moves the activations, but its waveform still correlates
with the sample's. A copy adds to the score on the same scale and reports
the plays the activations miss; where it says another part plays than an
occurrence of the activations does (a riff that repeats within itself,
traced as going on over a loop's plays), the copy is kept and the
occurrence cut around it.

The share of each frame's magnitude explained by the fixed part is returned
as well, but it does not decide: same-instrument music is partly explained by
the sample's templates too, so the shares of positives and negatives
overlap (``benchmarks/bench_detection.py`` prints both).

References
----------
S. Gururani and A. Lerch, "Automatic sample detection in polyphonic music",
ISMIR 2017.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

import numpy as np

from .._numerics import EPS
from .._validation import (
    ParameterError,
    check_frame_sizes,
    check_int,
    check_iterations,
    check_matrix,
    check_real,
    check_seed,
    shorter_than_window,
)
from ..nmf import factorise
from ..spectral import DEFAULT_HOP, DEFAULT_WIN, spectrogram_unchecked
from . import bands, copies
from . import settings as common
from .learning import SampleTemplates, learn_from_waveform, load_waveform
from .search import coarse_match_unchecked, search_unchecked, silent_run, silent_steps

__all__ = ["Occurrence", "SampleDetection", "detect_sample"]


@dataclass(frozen=True)
class Occurrence:
    """One place where (a part of) the sample plays in the track.

    Attributes
    ----------
    track_start_s, track_end_s : float
        Where it plays in the track, in seconds.
    sample_start_s, sample_end_s : float
        Which part of the sample plays, in seconds of the sample.
    tempo_ratio : float
        Tempo in the track over the sample's tempo: 1.05 means the part is
        played 5 % faster (it lasts ``1 / 1.05`` as long in the track).
    pitch_shift : float
        Semitones the sample is moved up (negative: down), estimated from
        which pitch-shifted templates the fit used; a record sped up by 1.06
        is about +1.
    score : float
        The best window score of this occurrence (the scale of
        :attr:`SampleDetection.score`). An occurrence found on its own
        reaches the threshold; a play of a loop may score below it: one
        found again where the loop's other plays put it (covered by new
        parts), or each play of a loop found by its plays together. An
        exact copy the activations missed, or placed elsewhere, has tempo
        ratio 1 and pitch shift 0, and its score is its ``z`` on the same
        scale.
    """

    track_start_s: float
    track_end_s: float
    sample_start_s: float
    sample_end_s: float
    tempo_ratio: float
    pitch_shift: float
    score: float


@dataclass(frozen=True, eq=False)
class SampleDetection:
    """The outcome of :func:`detect_sample`: decision, evidence and fitted parts.

    Attributes
    ----------
    score : float
        The best score of a window of ``min_part_s`` seconds of the track
        against any part of the sample, at any tempo ratio and pitch shift
        searched: a cosine similarity of detrended activations, in [-1, 1].
        Where the best window's part of the sample plays three times at a
        steady period, through a pitch copy less than a semitone from the
        sample's pitch, each play at least half the default threshold, the three
        plays' mean score over :data:`~nmf_helpers.detection.settings.LOOP_EVIDENCE_SHARE`
        counts instead if it is higher (at most 1): three plays at that
        share of a score are as much evidence as one window at it. So does
        an exact copy of the sample's waveform, ``z`` deviations above what
        unrelated music reaches, as ``DETECTION_THRESHOLD * z / COPY_Z`` (at
        most 1; :mod:`~nmf_helpers.detection.copies`).
        ``similarity.max()`` is the best window alone.
    detected : bool
        ``score >= threshold``.
    threshold : float
    ranges : tuple of (float, float)
        ``(track_start_s, track_end_s)`` of every occurrence, in time order;
        empty when nothing reaches the threshold.
    shift : float
        Pitch shift (semitones) of the best occurrence, rounded to the
        nearest template copy (``0.0`` when nothing is detected).
    tempo_ratio : float
        Tempo ratio of the best occurrence (``1.0`` when nothing is detected).
    copy_score : float
        The strongest exact copy of the sample's waveform, on the score's
        scale (:mod:`~nmf_helpers.detection.copies`); minus infinity when
        none was found or none searched for (templates without ``white``).
    occurrences : tuple of Occurrence
        Every occurrence in time order: where in the track, which part of
        the sample, tempo ratio, pitch shift and score.
    similarity : np.ndarray [shape=(n_starts,)]
        Best window score for a window starting at ``similarity_times``.
    similarity_times : np.ndarray [shape=(n_starts,)]
        Start times in seconds of the windows.
    fixed_share : np.ndarray [shape=(N,)]
        Share of each frame's modelled magnitude explained by the fixed part.
    activations : np.ndarray [shape=(R, N)]
        Fixed-part activations, summed over the pitch-shifted copies.
    W : np.ndarray [shape=(M, K)]
    H : np.ndarray [shape=(K, N)]
        The full fit at the STFT's resolution (M bins, N frames); the first
        ``n_fixed`` components are the sample's, so ``separate(x, W, H,
        [range(n_fixed)])`` gives the sample as audio. The fit itself is
        made in bands over frame pairs (:mod:`~nmf_helpers.detection.bands`):
        the fixed columns are the sample's templates, a free column's band
        is shared evenly by the band's bins, and a pair's activation by its
        two frames.
    n_fixed : int
    sr, hop : int
    fixed_part, free_part : np.ndarray [shape=(M, N)]
        Spectrograms of the fixed (sample) part and of the free part
        (computed from ``W`` and ``H`` when first asked for).
    """

    score: float
    detected: bool
    threshold: float
    ranges: tuple[tuple[float, float], ...]
    shift: float
    tempo_ratio: float
    copy_score: float
    # The details, the evidence and the fit: left out of the repr, which stays one readable line.
    occurrences: tuple[Occurrence, ...] = field(repr=False)
    similarity: np.ndarray = field(repr=False)
    similarity_times: np.ndarray = field(repr=False)
    fixed_share: np.ndarray = field(repr=False)
    activations: np.ndarray = field(repr=False)
    W: np.ndarray = field(repr=False)
    H: np.ndarray = field(repr=False)
    n_fixed: int = field(repr=False)
    sr: int = field(repr=False)
    hop: int = field(repr=False)

    @property
    def times(self) -> np.ndarray:
        """Frame times in seconds, shape (N,)."""
        return np.arange(self.H.shape[1]) * self.hop / self.sr

    # Made when asked for: a scan or a benchmark reads the decision, and two
    # full-size products would cost a good share of the whole detection.
    @functools.cached_property
    def fixed_part(self) -> np.ndarray:
        """The fixed (sample) part of the fit, ``W[:, :n_fixed] @ H[:n_fixed]``, shape (M, N)."""
        return self.W[:, : self.n_fixed] @ self.H[: self.n_fixed]

    @functools.cached_property
    def free_part(self) -> np.ndarray:
        """The free part of the fit, ``W[:, n_fixed:] @ H[n_fixed:]``, shape (M, N)."""
        return self.W[:, self.n_fixed :] @ self.H[self.n_fixed :]


def detect_sample(
    sample,
    track,
    *,
    sr: int = common.SAMPLE_RATE,
    n_free: int = common.DEFAULT_N_FREE,
    n_iter: int = common.DEFAULT_TRACK_ITERATIONS,
    threshold: float = common.DETECTION_THRESHOLD,
    seed: int = 0,
    progress: bool = False,
    tempo_range: tuple[float, float] = common.DEFAULT_TEMPO_RANGE,
    min_part_s: float = common.MIN_PART_SECONDS,
) -> SampleDetection:
    """Decide whether ``sample`` is used in ``track``, and where.

    The track is fitted with the sample's fixed templates (in pitch-shifted
    copies) plus ``n_free`` free components. The fixed activations are then
    aligned with the sample's own (:mod:`nmf_helpers.detection.search`): every
    window of ``min_part_s`` seconds of the track is compared with every
    window of the sample played at every tempo ratio in ``tempo_range``, for
    every pitch copy. The score is the best match, or a loop's plays together
    (:attr:`SampleDetection.score`); each stretch of the track whose windows
    stay above the threshold along one alignment is one
    :class:`Occurrence` (where in the track, which part of the sample, tempo
    ratio, pitch shift), and so is each play of a loop found by its plays
    together or looked for again where the loop's other plays put it. Only
    *when* the templates are active counts, never how loud, so the score
    does not change with the track's gain.

    What it finds, and how well, is measured by
    ``benchmarks/bench_detection.py``: any part of the sample of at least
    ``min_part_s``, once or looped; time-stretched or sped up like a record
    within ``tempo_range``; pitch-shifted within the template copies'
    shifts; filtered; buried under other parts; and combinations. The
    default threshold, :data:`DETECTION_THRESHOLD`, comes from the same
    benchmark, whose negatives are music in the sample's style and
    instruments given the same treatments.

    Parameters
    ----------
    sample : str, os.PathLike, np.ndarray [shape=(n,)] or SampleTemplates
        The sample as a file, a waveform at ``sr``, or learned templates
        (:func:`learn_sample`, to reuse them across tracks).
    track : str, os.PathLike or np.ndarray [shape=(n_samples,)]
        The track to search, a file or a waveform at ``sr``.
    sr : int
        Sample rate; must equal the templates' when ``sample`` is one.
    n_free : int >= 0
        Free components for everything that is not the sample.
    n_iter : int in [1, 1_000_000]
        KL NMF iterations on the track.
    threshold : float
        Decision threshold on the score, in [-1, 1].
    seed : int
        Seed of the NMF initialisation (and of :func:`learn_sample`).
    progress : bool
        Show a progress bar for the track's fit.
    tempo_range : (float, float)
        Lowest and highest tempo ratio (track / sample) searched, each in
        [0.8, 1.25] (:data:`TEMPO_LIMITS`); ``(1, 1)`` searches the
        sample's own tempo only.
    min_part_s : float
        Shortest part of the sample searched for, in seconds, at least 1 s
        and at most the sample's length; about one bar of the sample is the
        natural choice (:data:`MIN_PART_SECONDS` is one bar of four beats at 96 BPM).

    Returns
    -------
    SampleDetection

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> result = nh.detect_sample(
    ...     nh.clip_path("sample"), nh.clip_path("sampling_track"), n_iter=30
    ... )
    >>> result.detected, [(round(a), round(b)) for a, b in result.ranges]
    (True, [(1, 10), (10, 19)])
    >>> first = result.occurrences[0]
    >>> round(first.sample_start_s, 1), round(first.tempo_ratio, 1), round(first.pitch_shift)
    (0.0, 1.0, 0)

    Learn the sample once to check many tracks:

    >>> templates = nh.learn_sample(nh.clip_path("sample"))
    >>> nh.detect_sample(templates, nh.clip_path("unrelated_track"), n_iter=30).detected
    False
    """
    function = "detect_sample"
    sr = check_int(function, "sr", sr, minimum=1000)
    n_free = check_int(function, "n_free", n_free, minimum=0)
    n_iter = check_iterations(function, n_iter)
    seed = check_seed(function, seed)
    threshold = check_real(function, "threshold", threshold, minimum=-1.0, maximum=1.0)
    tempo_range = common.check_tempo_range(function, tempo_range)
    min_part_s = common.check_min_part(function, min_part_s)
    if isinstance(sample, SampleTemplates):
        if sample.sr != sr:
            raise ParameterError(
                f"{function}: sr = {sr} differs from the sample templates' sr = {sample.sr}"
            )
        templates = _check_templates(function, sample)
    else:
        x_sample = load_waveform(function, "sample", sample, sr)
        common.check_part(function, x_sample.size / sr, min_part_s)
        templates = learn_from_waveform(
            x_sample,
            sr,
            common.DEFAULT_N_COMPONENTS,
            common.DEFAULT_SHIFTS,
            common.DEFAULT_SAMPLE_ITERATIONS,
            DEFAULT_WIN,
            DEFAULT_HOP,
            seed,
            function=function,
        )
    common.check_part(function, templates.duration_s, min_part_s)
    x = load_waveform(function, "track", track, sr)
    V = track_spectrogram_unchecked(x, templates.win, templates.hop, sr=sr, function=function)
    return detect_in_spectrogram_unchecked(
        templates,
        V,
        x.size / sr,
        # Templates without their waveform search the activations only: no whitening.
        white=copies.WhiteTrack(copies.whiten_unchecked(x))
        if templates.white is not None
        else None,
        n_free=n_free,
        n_iter=n_iter,
        threshold=threshold,
        seed=seed,
        progress=progress,
        tempo_range=tempo_range,
        min_part_s=min_part_s,
    )


# How close an occurrence must be to a copy to agree with it: within this
# many seconds of the sample where the copy starts (the search aligns on
# steps and traces its path a step at a time; a copy is exact to a sample),
# and at the copy's tempo and pitch as closely as the search estimates them:
# a ratio is a traced slope, a pitch the weighted mean of neighbouring copies
# (a semitone apart at most), which a sample at its own pitch can pull half
# a semitone off.
_COPY_AGREEMENT_SECONDS = 0.5
_COPY_AGREEMENT_RATIO = 0.03
_COPY_AGREEMENT_SEMITONES = 0.5


def _agrees(occurrence: Occurrence, copy) -> bool:
    """Whether ``occurrence`` plays the sample where ``copy`` says it plays, as it plays there.

    ``copy`` is ``(track_start_s, track_end_s, sample_start_s, ...)``: the
    sample at its own tempo and pitch. Where the two first overlap in the
    track, the occurrence's alignment must put the copy's part of the sample.
    """
    o, (track_start, _, sample_start, *_) = occurrence, copy
    if (
        abs(o.tempo_ratio - 1.0) > _COPY_AGREEMENT_RATIO
        or abs(o.pitch_shift) > _COPY_AGREEMENT_SEMITONES
    ):
        return False
    first = max(track_start, o.track_start_s)
    predicted = o.sample_start_s + (first - o.track_start_s) * o.tempo_ratio
    return abs(predicted - (sample_start + first - track_start)) <= _COPY_AGREEMENT_SECONDS


def _outside(occurrence: Occurrence, start: float, end: float) -> list[Occurrence]:
    """The parts of ``occurrence`` before ``start`` and after ``end`` in the track."""
    o, parts = occurrence, []
    if start > o.track_start_s:
        cut = min(start, o.track_end_s)
        parts.append(
            dataclasses.replace(
                o,
                track_end_s=cut,
                sample_end_s=o.sample_start_s + (cut - o.track_start_s) * o.tempo_ratio,
            )
        )
    if end < o.track_end_s:
        cut = max(end, o.track_start_s)
        parts.append(
            dataclasses.replace(
                o,
                track_start_s=cut,
                sample_start_s=o.sample_start_s + (cut - o.track_start_s) * o.tempo_ratio,
            )
        )
    return parts


def _joined(occurrence: Occurrence, copy) -> Occurrence:
    """``occurrence`` reaching as far as a ``copy`` that agrees with it, either way.

    The search's last window stops up to half a second short of a play's
    end, where the copy holds to it. Where the occurrence reaches further,
    it stays: a copy's ends are where the sample's waveform stops standing
    out of the track, which the quiet tail of a fade under new parts does
    before the sample ends.
    """
    track_start, track_end, sample_start, sample_end, _ = copy
    o = occurrence
    if track_start < o.track_start_s:
        o = dataclasses.replace(o, track_start_s=track_start, sample_start_s=sample_start)
    if track_end > o.track_end_s:
        o = dataclasses.replace(o, track_end_s=track_end, sample_end_s=sample_end)
    return o


def _copies_decide(found_copies, occurrences, min_part_s: float) -> list[Occurrence]:
    """The search's occurrences made to agree with the exact copies.

    A copy says exactly which part of the sample plays where. An occurrence
    that agrees with a copy over it (:func:`_agrees`) reaches as far as the
    copy (:func:`_joined`). One that does not keeps only
    what is outside the copy, and a part left shorter than ``min_part_s``
    (the shortest part searched for) is dropped; the copy is then reported by
    :func:`_copies_missed`. That is how the activations of a sample that
    repeats within itself, followed across a loop's plays as if it went on
    (three plays of one bar traced as the whole sample), give way to the
    plays.

    ``found_copies`` are :func:`~nmf_helpers.detection.copies.sample_copies`'
    copies, ends within the track and the sample.
    """
    kept = list(occurrences)
    for copy in found_copies:
        track_start, track_end = copy[:2]
        decided = []
        for o in kept:
            if not (o.track_start_s < track_end and track_start < o.track_end_s):
                decided.append(o)
            elif _agrees(o, copy):
                decided.append(_joined(o, copy))
            else:
                decided += [
                    part for part in _outside(o, track_start, track_end)
                    if part.track_end_s - part.track_start_s >= min_part_s
                ]  # fmt: skip
        kept = decided
    return kept


def _copies_missed(found_copies, occurrences) -> list[Occurrence]:
    """The exact copies that no occurrence of the search already reports (half of it or more).

    A copy is the sample at its own tempo and pitch; ``found_copies`` are as
    for :func:`_copies_decide`.
    """
    missed = []
    for track_start, track_end, sample_start, sample_end, score in found_copies:
        covered = max(
            (min(track_end, o.track_end_s) - max(track_start, o.track_start_s)
             for o in occurrences + missed),
            default=0.0,
        )  # fmt: skip
        if covered < 0.5 * (track_end - track_start):
            missed.append(
                Occurrence(track_start, track_end, sample_start, sample_end, 1.0, 0.0, score)
            )
    return missed


def _check_templates(function: str, templates: SampleTemplates) -> SampleTemplates:
    """Templates made by :func:`learn_sample`, or edited copies that still fit together."""
    win, hop = check_frame_sizes(function, templates.win, templates.hop)
    n_templates = templates.n_components
    W = check_matrix(function, "sample.W", templates.W, shape=(win // 2 + 1, None))
    check_matrix(function, "sample.H", templates.H)
    if W.shape[1] != n_templates * len(templates.shifts):
        raise ParameterError(
            f"{function}: sample.W has {W.shape[1]} columns, but {n_templates} templates in"
            f" {len(templates.shifts)} pitch shifts make {n_templates * len(templates.shifts)}"
        )
    white = templates.white
    if white is not None and not (
        isinstance(white, np.ndarray) and white.ndim == 1 and white.size
        and np.isfinite(white).all()
    ):  # fmt: skip
        raise ParameterError(
            f"{function}: sample.white must be a 1-D array of finite numbers (the whitened"
            " waveform learn_sample makes), or None to search the activations only"
        )
    return templates


def track_spectrogram_unchecked(
    x: np.ndarray,
    win: int,
    hop: int,
    *,
    sr: int = common.SAMPLE_RATE,
    function: str = "detect_sample",
) -> np.ndarray:
    """The spectrogram :func:`detect_sample` fits, of a checked, non-silent waveform.

    The STFT magnitude in bands over frame pairs
    (:func:`nmf_helpers.detection.bands.compact`). Made once per track, it
    serves every sample checked against the track
    (:func:`detect_in_spectrogram_unchecked`, :func:`coarse_score_unchecked`).

    Parameters
    ----------
    x : np.ndarray [shape=(n_samples,), float32]
        The track, as :func:`~nmf_helpers.load_audio` gives it.
    win, hop : int
        The templates' STFT sizes (``SampleTemplates.win``, ``.hop``).
    sr : int
        The sample rate (``SampleTemplates.sr``), which places the bands.
    function : str
        The public caller, named in the error.

    Returns
    -------
    V : np.ndarray [shape=(B, ceil(N / 2)), float32]
        B bands (:func:`~nmf_helpers.detection.bands.band_starts`) over the
        pairs of the STFT's N = 1 + n_samples // hop frames.

    Raises
    ------
    ParameterError
        If the track is shorter than one window.
    """
    if x.size < win:
        raise shorter_than_window(function, "track", x.size, win, sr)
    V = spectrogram_unchecked(x, win, hop)
    return bands.compact(V, bands.band_starts(V.shape[0], sr, win))


def _band_starts(templates: SampleTemplates) -> np.ndarray:
    return bands.band_starts(templates.W.shape[0], templates.sr, templates.win)


def _fit(templates, V, n_free, n_iter, seed, progress):
    """The track's partially fixed KL fit, in bands: the sample's templates first, then the free.

    ``V`` is :func:`track_spectrogram_unchecked`'s; returns ``(W, H)`` in its
    bands and frame pairs.
    """
    if n_free > min(V.shape):
        # Checked here, not at the door: only the track's spectrogram says how many fit.
        n_bands, n_steps = V.shape
        if n_free > n_bands:
            raise ParameterError(
                f"detect_sample: n_free = {n_free} is out of range: at most {n_bands} free"
                f" components (the frequency bands of win = {templates.win})"
            )
        # Too few frames: the track is too short, which the caller may not know is the cause.
        step, sr = bands.FRAMES_PER_STEP * templates.hop, templates.sr
        shortest = (n_free - 1) * step
        raise ParameterError(
            f"detect_sample: the track is too short: {(n_steps - 1) * step / sr:.2f} s"
            f" ({n_steps} frames of {step} samples) leave room for {n_steps} free components,"
            f" and n_free = {n_free} needs a track of at least {shortest / sr:.2f} s"
            f" ({shortest} samples); give a longer track or a smaller n_free"
        )
    W_fixed = bands.to_bands(templates.W, _band_starts(templates))
    W, H, _ = factorise(
        V,
        W_fixed.shape[1] + n_free,
        loss="kl",
        n_iter=n_iter,
        seed=seed,
        W_fixed=W_fixed,
        progress=progress,
        name="detect_sample",
    )
    return W, H


def _track_silence(templates: SampleTemplates, V: np.ndarray) -> np.ndarray:
    """The steps of the track's fit where it is silent for a while (:func:`silent_steps`)."""
    return silent_steps(V, silent_run(templates))


def coarse_score_unchecked(
    templates: SampleTemplates,
    V: np.ndarray,
    *,
    n_free: int = common.DEFAULT_N_FREE,
    n_iter: int = common.SCREEN_ITERATIONS,
    seed: int = 0,
    n_ratios: int = common.SCREEN_RATIOS,
    tempo_range: tuple[float, float] = common.DEFAULT_TEMPO_RANGE,
    min_part_s: float = common.MIN_PART_SECONDS,
    white: copies.WhiteTrack | None = None,
) -> float:
    """A rough :attr:`SampleDetection.score`: what a catalogue scan's first pass needs.

    The same fit and alignment as :func:`detect_in_spectrogram_unchecked`,
    with what only a decision near the threshold needs skipped: a short fit
    (``n_iter``), ``n_ratios`` tempo ratios evenly spread over
    ``tempo_range`` instead of a ratio every 0.02, no path following, no
    occurrences, no separated parts, and no argument checks. A ratio 0.025
    off the true one drifts about one step (a pair of STFT frames) over a 2.5 s window, so
    the score drops a little rather than vanishing; how far it drops is
    measured by ``benchmarks/bench_scan.py``, which sets the scan's margin.

    Parameters
    ----------
    templates : SampleTemplates
    V : np.ndarray [shape=(M, N), non-negative]
        The track's spectrogram (:func:`track_spectrogram_unchecked`).
    n_free, n_iter, seed
        As for :func:`detect_sample`.
    n_ratios : int >= 1
        Tempo ratios tried, from ``tempo_range[0]`` to ``tempo_range[1]``.
    tempo_range : (float, float)
    min_part_s : float
    white : WhiteTrack or None
        As for :func:`detect_in_spectrogram_unchecked`; exact copies are
        looked for with half its windows
        (:func:`~nmf_helpers.detection.copies.coarse_copy_score`).

    Returns
    -------
    float
        The best window score, or a loop's plays together or an exact copy
        where they say more (as :attr:`SampleDetection.score`), in [-1, 1].
    """
    _, H = _fit(templates, V, n_free, n_iter, seed, False)
    fixed_H = H[: templates.W.shape[1]]
    score = coarse_match_unchecked(
        templates, fixed_H, tempo_range, min_part_s, n_ratios, _track_silence(templates, V)
    )
    if white is not None and templates.white is not None:
        copy_score = copies.coarse_copy_score(white, templates.white, templates.sr, min_part_s)
        score = max(score, copy_score)
    return score


def detect_in_spectrogram_unchecked(
    templates: SampleTemplates,
    V: np.ndarray,
    duration_s: float,
    *,
    white: copies.WhiteTrack | None = None,
    n_free: int = common.DEFAULT_N_FREE,
    n_iter: int = common.DEFAULT_TRACK_ITERATIONS,
    threshold: float = common.DETECTION_THRESHOLD,
    seed: int = 0,
    progress: bool = False,
    tempo_range: tuple[float, float] = common.DEFAULT_TEMPO_RANGE,
    min_part_s: float = common.MIN_PART_SECONDS,
) -> SampleDetection:
    """:func:`detect_sample` of a track's spectrogram, made once for many samples.

    Nothing is checked: the arguments are what :func:`detect_sample` checks
    (``min_part_s`` at most the sample's length, ``tempo_range`` within
    :data:`TEMPO_LIMITS`). The result is bit for bit that of
    :func:`detect_sample` on the track's waveform.

    Parameters
    ----------
    templates : SampleTemplates
    V : np.ndarray [shape=(M, N), non-negative]
        The track's spectrogram (:func:`track_spectrogram_unchecked`).
    duration_s : float
        The track's length in seconds (``x.size / sr``); occurrences end
        there, and the fit is given back on its ``1 + x.size // hop`` frames.
    white : WhiteTrack or None
        The track's whitened waveform (:mod:`~nmf_helpers.detection.copies`),
        made once for every sample: exact copies of the sample are found in
        it. None searches the activations only (as do templates without
        their ``white``).
    n_free, n_iter, threshold, seed, progress, tempo_range, min_part_s
        As for :func:`detect_sample`.

    Returns
    -------
    SampleDetection
    """
    n_fixed = templates.W.shape[1]
    W_bands, H_steps = _fit(templates, V, n_free, n_iter, seed, progress)
    n_frames = 1 + round(duration_s * templates.sr) // templates.hop
    # Each frame's share is its pair's: spreading over bins and frames keeps sums.
    column_sums = W_bands.sum(axis=0)
    fixed = column_sums[:n_fixed] @ H_steps[:n_fixed]
    modelled = fixed + column_sums[n_fixed:] @ H_steps[n_fixed:]
    fixed_share = (fixed / np.maximum(modelled, EPS))[bands.step_of_frames(n_frames)]
    free_columns = bands.spread_bins(
        W_bands[:, n_fixed:], _band_starts(templates), templates.W.shape[0]
    )
    W = np.hstack((templates.W, free_columns))
    H = bands.spread_frames(H_steps, n_frames)

    match, found, frame_seconds, decision_score = search_unchecked(
        templates,
        H_steps[:n_fixed],
        tempo_range,
        min_part_s,
        threshold,
        _track_silence(templates, V),
    )
    occurrences = [
        Occurrence(
            track_start_s=float(track[0] * frame_seconds),
            track_end_s=float(min(track[1] * frame_seconds, duration_s)),
            sample_start_s=float(sample[0] * frame_seconds),
            sample_end_s=float(min(sample[1] * frame_seconds, templates.duration_s)),
            tempo_ratio=float(ratio),
            pitch_shift=float(shift),
            score=float(score),
        )
        for track, sample, ratio, shift, score in found
    ]
    copy_score = -np.inf
    if white is not None and templates.white is not None:
        copy_score, found_copies = copies.sample_copies(
            white, templates.white, templates.sr, min_part_s, threshold
        )
        decision_score = max(decision_score, copy_score)
        found_copies = [
            (start, min(end, duration_s), sample_start, min(sample_end, templates.duration_s), z)
            for start, end, sample_start, sample_end, z in found_copies
        ]
        occurrences = _copies_decide(found_copies, occurrences, min_part_s)
        occurrences += _copies_missed(found_copies, occurrences)
    occurrences = tuple(sorted(occurrences, key=lambda o: o.track_start_s))
    best = found[0] if found else None
    shifts = np.asarray(templates.shifts, dtype=float)
    n_templates = templates.n_components
    return SampleDetection(
        score=decision_score,
        detected=bool(decision_score >= threshold),
        threshold=threshold,
        ranges=tuple((o.track_start_s, o.track_end_s) for o in occurrences),
        shift=float(shifts[np.abs(shifts - best[3]).argmin()]) if best else 0.0,
        tempo_ratio=best[2] if best else 1.0,
        copy_score=copy_score,
        occurrences=occurrences,
        similarity=match.score,
        similarity_times=np.arange(match.score.size) * frame_seconds,
        fixed_share=fixed_share,
        activations=H[:n_fixed].reshape(len(templates.shifts), n_templates, -1).sum(axis=0),
        W=W,
        H=H,
        n_fixed=n_fixed,
        sr=templates.sr,
        hop=templates.hop,
    )
