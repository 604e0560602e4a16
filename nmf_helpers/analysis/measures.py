"""Measures of what a factorisation or a separation found.

Small functions that turn ``V``, ``W``, ``H`` or separated waveforms into a few
numbers; :mod:`nmf_helpers.analysis.tables` puts them in the tables the
notebooks print.

* of a spectrogram: :func:`decibels`, :func:`bin_frequencies`, :func:`share_above`;
* of the templates ``W`` and activations ``H``: :func:`spectral_flatness`,
  :func:`spectral_centroid`, :func:`activation_ratio`;
* of a fit ``W H`` against ``V``: :func:`divergence_by_bin`,
  :func:`log_spectral_correlation`, :func:`elementwise_loss`;
* of a separation against the true stems: :func:`stem_shares`,
  :func:`waveform_correlations`, :func:`best_assignment`; of one waveform
  against another: :func:`relative_level`.

SDR, SIR and SAR against stems are :func:`nmf_helpers.evaluate` (bss_eval).

Each function of ``__all__`` checks its arguments once, in its own name. The
cores the tables (or :mod:`nmf_helpers.grouping`) call as well are public
outside ``__all__`` and trust their arguments: :func:`decibels_unchecked`,
:func:`share_above_unchecked`, :func:`band_total`,
:func:`spectral_flatness_unchecked`, :func:`spectral_centroid_unchecked`,
:func:`log_spectral_correlation_unchecked`,
:func:`waveform_correlations_unchecked`, :func:`best_assignment_unchecked`.
The terms of each loss are :func:`nmf_helpers._losses.loss_terms`.
"""

from __future__ import annotations

import numpy as np

from .._losses import LOSSES, loss_terms
from .._numerics import EPS, LOG_FLOOR, TINY
from .._validation import (
    ParameterError,
    check_bins,
    check_choice,
    check_int,
    check_mapping,
    check_matrix,
    check_real,
    check_scores,
    check_time_range,
    check_waveforms,
)

__all__ = [
    "activation_ratio",
    "best_assignment",
    "bin_frequencies",
    "decibels",
    "divergence_by_bin",
    "elementwise_loss",
    "log_spectral_correlation",
    "relative_level",
    "share_above",
    "spectral_centroid",
    "spectral_flatness",
    "stem_shares",
    "waveform_correlations",
]


# ---------------------------------------------------------------- of a spectrogram


def _check_level(function: str, reference, floor_db) -> tuple[float, float]:
    """The 0 dB level (> 0) and the floor in dB (<= 0)."""
    reference = check_real(function, "reference", reference, minimum=0.0, maximum=np.inf)
    if reference <= 0:
        raise ParameterError(f"{function}: reference must be > 0, got {reference}")
    floor_db = check_real(function, "floor_db", floor_db, minimum=-400.0, maximum=0.0)
    return reference, floor_db


def decibels(A, *, reference, floor_db: float = -80.0) -> np.ndarray:
    """Magnitudes in dB relative to ``reference``, floored at ``floor_db``.

    ``20 log10(max(A, a_floor) / reference)`` with ``a_floor = reference *
    10^(floor_db / 20)``, so ``reference`` is 0 dB and nothing goes below
    ``floor_db`` (silence would otherwise be minus infinity). This is the
    scale the spectrogram plots use.

    Used in notebook 0, and in notebook 3 through :func:`~nmf_helpers.spectrogram_table`.

    Parameters
    ----------
    A : np.ndarray [shape=(M, N), non-negative]
        Magnitudes, e.g. ``V`` or ``W @ H``.
    reference : float > 0
        The magnitude drawn as 0 dB, e.g. ``V.max()``.
    floor_db : float <= 0
        The lowest level returned.

    Returns
    -------
    np.ndarray [shape=(M, N)]
        Values in ``[floor_db, 20 log10(A.max() / reference)]``.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> nh.decibels(np.array([[1.0, 0.1, 0.0]]), reference=1.0)
    array([[  0., -20., -80.]])
    """
    A = check_matrix("decibels", "A", A)
    reference, floor_db = _check_level("decibels", reference, floor_db)
    return decibels_unchecked(A, reference, floor_db)


def decibels_unchecked(A: np.ndarray, reference: float, floor_db: float) -> np.ndarray:
    """:func:`decibels` of checked arguments (``reference > 0``, ``floor_db <= 0``)."""
    floor = reference * 10.0 ** (floor_db / 20.0)
    return 20.0 * np.log10(np.maximum(A, floor) / reference)


def bin_frequencies(M: int, *, sr: int) -> np.ndarray:
    """The centre frequency in Hz of each of the ``M`` rows of a spectrogram.

    Row ``m`` of a one-sided spectrum of an FFT of size ``2 (M - 1)`` lies at
    ``m * sr / (2 (M - 1))``: from 0 Hz to the Nyquist frequency ``sr / 2``.

    Used in notebooks 2, 3 and 6, through :func:`spectral_centroid`, :func:`share_above`
    and the tables.

    Parameters
    ----------
    M : int >= 2
        Number of frequency bins (``V.shape[0]``; 1025 for a window of 2048).
    sr : int > 0
        Sample rate in Hz.

    Returns
    -------
    np.ndarray [shape=(M,), float64]

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> nh.bin_frequencies(5, sr=8000)
    array([   0., 1000., 2000., 3000., 4000.])
    """
    M = check_int("bin_frequencies", "M", M, minimum=2)
    sr = check_int("bin_frequencies", "sr", sr, minimum=1)
    return _bin_frequencies(M, sr)


def _bin_frequencies(M: int, sr: int) -> np.ndarray:
    return np.arange(M) * sr / (2 * (M - 1))


def share_above(A, *, sr: int, hz: float) -> float:
    """The fraction of ``A``'s total that lies in the bins at or above ``hz``.

    Used in notebook 6, through :func:`~nmf_helpers.divergence_table`.

    Parameters
    ----------
    A : np.ndarray [shape=(M,) or (M, N), non-negative]
        A spectrogram, or one value per frequency bin (e.g. from
        :func:`divergence_by_bin`).
    sr : int > 0
        Sample rate in Hz.
    hz : float in [0, sr / 2]

    Returns
    -------
    float in [0, 1]
        0 when ``A`` is all zeros.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> nh.share_above(np.array([1.0, 1.0, 2.0]), sr=8000, hz=2000)  # bins at 0, 2000, 4000 Hz
    0.75
    """
    A = check_bins("share_above", A)
    sr = check_int("share_above", "sr", sr, minimum=1)
    hz = check_real("share_above", "hz", hz, minimum=0.0, maximum=sr / 2)
    return share_above_unchecked(A, sr, hz)


def band_total(A: np.ndarray, sr: int, hz: float) -> float:
    """Sum of the rows of a checked ``A`` (M >= 2 bins) at or above ``hz``, in float64."""
    return float(A[_bin_frequencies(A.shape[0], sr) >= hz].sum(dtype=np.float64))


def share_above_unchecked(A: np.ndarray, sr: int, hz: float) -> float:
    """:func:`share_above` of a checked 2-D ``A`` (M >= 2 bins) and ``hz`` in [0, sr / 2]."""
    return band_total(A, sr, hz) / max(float(A.sum(dtype=np.float64)), EPS)


# ---------------------------------------------------------------- of W and H


def spectral_flatness(W) -> np.ndarray:
    """Spectral flatness of each column of ``W``: geometric over arithmetic mean.

    ``exp(mean_m log w_m) / mean_m w_m`` for each template ``w = W[:, k]``:
    1 for a perfectly flat (white-noise) spectrum, near 0 for a few sharp
    harmonic peaks. Each column is floored at 1e-10 of its own peak (-200 dB)
    first, so one empty bin cannot make the geometric mean 0; this is the
    flatness :func:`nmf_helpers.component_features` reports.

    Used in notebook 2.

    Parameters
    ----------
    W : np.ndarray [shape=(M, K), non-negative]
        Templates, one per column.

    Returns
    -------
    np.ndarray [shape=(K,)]
        Values in (0, 1].

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> W = np.array([[1.0, 1.0], [1.0, 4.0]])  # flat; geometric 2, arithmetic 2.5
    >>> nh.spectral_flatness(W)
    array([1. , 0.8])
    """
    W = check_matrix("spectral_flatness", "W", W)
    return spectral_flatness_unchecked(W)


def spectral_flatness_unchecked(W: np.ndarray) -> np.ndarray:
    """:func:`spectral_flatness` of checked templates (also :mod:`nmf_helpers.grouping`'s)."""
    floor = LOG_FLOOR * np.maximum(W.max(axis=0), TINY)
    W = W + floor
    return np.exp(np.log(W).mean(axis=0)) / W.mean(axis=0)


def spectral_centroid(W, *, sr: int) -> np.ndarray:
    """Spectral centroid of each column of ``W``: its centre of mass in Hz.

    ``sum_m f_m W[m, k] / sum_m W[m, k]``, with ``f_m`` from
    :func:`bin_frequencies`. Cymbals and snare push it up, bass pulls it down.
    An all-zero column has centroid 0.

    Used in notebook 2.

    Parameters
    ----------
    W : np.ndarray [shape=(M, K), non-negative], M >= 2
        Templates, one per column.
    sr : int > 0
        Sample rate in Hz of the audio ``W`` was learned from.

    Returns
    -------
    np.ndarray [shape=(K,), float64]
        In Hz, between 0 and ``sr / 2``.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # bins at 0, 2000, 4000 Hz
    >>> nh.spectral_centroid(W, sr=8000)
    array([2000., 3000.])
    """
    W = check_bins("spectral_centroid", W, "W")
    sr = check_int("spectral_centroid", "sr", sr, minimum=1)
    return spectral_centroid_unchecked(W, sr)


def spectral_centroid_unchecked(W: np.ndarray, sr: int) -> np.ndarray:
    """:func:`spectral_centroid` of checked templates (M >= 2 bins)."""
    frequencies = _bin_frequencies(W.shape[0], sr)
    return frequencies @ W / np.maximum(W.sum(axis=0), EPS)


def activation_ratio(H, *, split: int) -> np.ndarray:
    """Mean activation after frame ``split`` over mean activation before it.

    For each row of ``H``: ``mean(H[k, split:]) / mean(H[k, :split])``. Above 1
    the component is more active after ``split``, e.g. when ``split`` is the
    frame where a voice enters and the component carries the voice.

    Used in notebook 2.

    Parameters
    ----------
    H : np.ndarray [shape=(K, N), non-negative]
        Activations, one row per component.
    split : int in [1, N - 1]
        The first frame of the "after" part (seconds * sr / hop).

    Returns
    -------
    np.ndarray [shape=(K,), float64]

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> nh.activation_ratio(np.array([[1.0, 1.0, 3.0], [2.0, 2.0, 1.0]]), split=2)
    array([3. , 0.5])
    """
    H = check_matrix("activation_ratio", "H", H)
    split = check_int("activation_ratio", "split", split, minimum=1)
    if split >= H.shape[1]:
        raise ParameterError(
            f"activation_ratio: split must be < the {H.shape[1]} frames of H, got {split}"
        )
    before = H[:, :split].mean(axis=1, dtype=np.float64)
    after = H[:, split:].mean(axis=1, dtype=np.float64)
    return after / np.maximum(before, EPS)


# ---------------------------------------------------------------- of a fit W H


def divergence_by_bin(V, WH) -> np.ndarray:
    """The KL divergence ``D(V || WH)`` summed over time, one value per frequency bin.

    ``sum_n V log(V / WH) - V + WH`` for each row ``m`` (with ``0 log 0 = 0``),
    in float64; the values add up to the loss :func:`nmf_helpers.nmf_kl`
    minimises. ``WH`` is floored at :data:`nmf_helpers.EPS`, as in the NMF.

    Used in notebook 6, through :func:`~nmf_helpers.divergence_table`.

    Parameters
    ----------
    V : np.ndarray [shape=(M, N), non-negative]
        The spectrogram.
    WH : np.ndarray [shape=(M, N), non-negative]
        Its approximation ``W @ H``.

    Returns
    -------
    np.ndarray [shape=(M,), float64], non-negative

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> V, WH = np.array([[1.0, 0.0], [2.0, 2.0]]), np.array([[1.0, 1.0], [1.0, 2.0]])
    >>> nh.divergence_by_bin(V, WH).round(4)  # row 1: 2 log 2 - 2 + 1
    array([1.    , 0.3863])
    """
    V = check_matrix("divergence_by_bin", "V", V)
    WH = check_matrix("divergence_by_bin", "WH", WH, shape=V.shape)
    return loss_terms("kl", V, WH).sum(axis=1)


def elementwise_loss(V, WH, *, loss: str) -> np.ndarray:
    """The loss of each bin of a fit: what :func:`nmf_helpers.nmf` adds up.

    ``"euclidean"``: ``(V - WH)^2``; ``"kl"``: ``V log(V / WH) - V + WH``
    (with ``0 log 0 = 0`` and ``WH`` floored at :data:`nmf_helpers.EPS`, as
    in the NMF). In float64; the sum of all values is the loss the NMF of
    that name reports.

    A fit that is off by a factor ``r`` in a bin of level ``v`` (``WH = r v``)
    costs ``v^2 (r - 1)^2`` there in squared error, quadratic in the level,
    and ``v (r - 1 - log r)`` in KL divergence, linear in the level: a quiet
    bin costs less than a loud one under both, only less so under KL.

    Used in notebook 0, through :func:`~nmf_helpers.loudness_band_table`.

    Parameters
    ----------
    V : np.ndarray [shape=(M, N), non-negative]
    WH : np.ndarray [shape=(M, N), non-negative]
    loss : {"kl", "euclidean"}
        One of :data:`nmf_helpers.LOSSES`.

    Returns
    -------
    np.ndarray [shape=(M, N), float64], non-negative

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> V = np.array([[1.0, 100.0]])  # two levels, each fitted twice too loud
    >>> nh.elementwise_loss(V, 2 * V, loss="euclidean")
    array([[1.e+00, 1.e+04]])
    >>> nh.elementwise_loss(V, 2 * V, loss="kl").round(4)  # v (2 - 1 - log 2)
    array([[ 0.3069, 30.6853]])
    """
    V = check_matrix("elementwise_loss", "V", V)
    WH = check_matrix("elementwise_loss", "WH", WH, shape=V.shape)
    loss = check_choice("elementwise_loss", "loss", loss, LOSSES)
    return loss_terms(loss, V, WH)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two arrays of one size, in float64; nan if one is constant."""
    a = a.ravel().astype(np.float64)
    b = b.ravel().astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    norm = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / norm) if norm > 0 else float("nan")


def log_spectral_correlation(A, B, *, reference, floor_db: float = -80.0) -> float:
    """Correlation of two spectrograms on the dB scale the plots use.

    Both go through :func:`decibels` with the same ``reference`` and
    ``floor_db``, and the result is the Pearson correlation of all their
    bins: 1 when the two pictures match up to a brightness offset and scale,
    about 0 when they have nothing in common. On the dB scale quiet bins count
    as much as loud ones, as in the pictures. ``nan`` if either picture is
    constant (e.g. everything below the floor).

    Used in notebook 3, through :func:`~nmf_helpers.spectrogram_table`.

    Parameters
    ----------
    A, B : np.ndarray [shape=(M, N), non-negative]
    reference : float > 0
        The 0 dB magnitude, e.g. the track's ``V.max()``.
    floor_db : float <= 0

    Returns
    -------
    float in [-1, 1]

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> A = np.array([[1.0, 0.1], [0.01, 0.001]])
    >>> nh.log_spectral_correlation(A, 2 * A, reference=1.0)
    1.0
    """
    A = check_matrix("log_spectral_correlation", "A", A)
    B = check_matrix("log_spectral_correlation", "B", B, shape=A.shape)
    reference, floor_db = _check_level("log_spectral_correlation", reference, floor_db)
    return log_spectral_correlation_unchecked(A, B, reference, floor_db)


def log_spectral_correlation_unchecked(A, B, reference: float, floor_db: float) -> float:
    """:func:`log_spectral_correlation` of checked arguments."""
    return _correlation(
        decibels_unchecked(A, reference, floor_db), decibels_unchecked(B, reference, floor_db)
    )


# ---------------------------------------------------------------- of a separation


def stem_shares(masks, stems) -> dict[str, np.ndarray]:
    """What each soft mask lets through, split by where it comes from.

    Mask ``k`` applied to the magnitude spectrogram of each stem lets
    ``sum(masks[k] * V_stem)`` through; ``shares[stem][k]`` is that stem's
    fraction of the total over all the given stems. It answers "what do you
    hear in component k": e.g. 74 % drums, 14 % vocals, 11 % other.

    Used in notebook 2.

    Parameters
    ----------
    masks : np.ndarray [shape=(K, M, N), non-negative]
        Soft masks, e.g. ``nh.soft_masks(W, H, [[k] for k in range(K)])``.
    stems : Mapping[str, np.ndarray [shape=(M, N), non-negative]]
        The stems' magnitude spectrograms, made with the same STFT as the masks.

    Returns
    -------
    dict[str, np.ndarray [shape=(K,), float64]]
        One entry per stem, in order; for each k the shares add up to 1.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> masks = np.array([[[1.0, 0.5]], [[0.0, 0.5]]])  # K = 2 masks of shape (1, 2)
    >>> shares = nh.stem_shares(masks, {"a": np.array([[3.0, 0.0]]), "b": np.array([[0.0, 2.0]])})
    >>> shares["a"], shares["b"]
    (array([0.75, 0.  ]), array([0.25, 1.  ]))
    """
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ParameterError(f"stem_shares: masks must be 3-D (K, M, N), got shape {masks.shape}")
    check_matrix("stem_shares", "masks", masks.reshape(masks.shape[0], -1))
    stems = check_mapping("stem_shares", "stems", stems)
    stems = {
        name: check_matrix("stem_shares", f"stems[{name!r}]", V, shape=masks.shape[1:])
        for name, V in stems.items()
    }
    claimed = np.array([(masks * V).sum(axis=(1, 2), dtype=np.float64) for V in stems.values()])
    shares = claimed / np.maximum(claimed.sum(axis=0), EPS)
    return dict(zip(stems, shares, strict=True))


def relative_level(x, reference, *, sr: int | None = None, time_range=None) -> float:
    """How loud ``x`` is against ``reference``, in dB, over the same samples.

    ``10 log10(sum x^2 / sum reference^2)``: 0 dB when as loud, -20 dB when
    ten times smaller in amplitude. With ``sr`` and ``time_range``, only the
    samples from ``start`` to ``end`` seconds count, e.g. the instrumental
    passage, where an a cappella track should be nearly silent. A silent
    ``x`` gives -inf.

    Used in notebook 5.

    Parameters
    ----------
    x, reference : np.ndarray [shape=(n_samples,)]
        Waveforms of one length; ``reference`` not silent where measured.
    sr : int > 0, optional
        Sample rate; needed with ``time_range``.
    time_range : (float, float), optional
        ``(start, end)`` in seconds, within the waveforms.

    Returns
    -------
    float
        In dB.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> x = np.ones(8000)
    >>> round(nh.relative_level(0.1 * x, x), 6)
    -20.0
    >>> y = np.concatenate([np.zeros(4000), np.ones(4000)])
    >>> nh.relative_level(y, x, sr=8000, time_range=(0.0, 0.5))
    -inf
    """
    function = "relative_level"
    checked = check_waveforms(function, "waveforms", {"x": x, "reference": reference})
    x, reference = checked["x"], checked["reference"]
    if time_range is not None:
        if sr is None:
            raise ParameterError(f"{function}: time_range needs sr, the sample rate")
        sr = check_int(function, "sr", sr, minimum=1)
        start, end = check_time_range(function, "time_range", time_range, x.size / sr)
        first, last = round(start * sr), round(end * sr)
        x, reference = x[first:last], reference[first:last]
    energy = float(np.sum(np.square(reference, dtype=np.float64)))
    if energy == 0:
        raise ParameterError(f"{function}: reference is silent where measured; no level to compare")
    with np.errstate(divide="ignore"):  # a silent x is -inf dB, as it should be
        return float(10.0 * np.log10(np.sum(np.square(x, dtype=np.float64)) / energy))


def waveform_correlations(estimates, references) -> dict[str, np.ndarray]:
    """Pearson correlation of each estimated waveform with each reference.

    Used in notebook 6, through :func:`~nmf_helpers.correlation_table`.

    Parameters
    ----------
    estimates : np.ndarray [shape=(K, n_samples)]
        One waveform per row, e.g. the output of ``nh.separate``.
    references : Mapping[str, np.ndarray [shape=(n_samples,)]]
        The true waveforms (stems or sums of stems).

    Returns
    -------
    dict[str, np.ndarray [shape=(K,), float64]]
        ``correlations[name][k]``: estimate k against reference ``name``, in
        [-1, 1] (nan where a waveform is silent).

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> a, b = np.random.default_rng(0).standard_normal((2, 1000))
    >>> correlations = nh.waveform_correlations(np.stack([a, -a]), {"a": a, "b": b})
    >>> correlations["a"]
    array([ 1., -1.])
    """
    estimates = check_matrix("waveform_correlations", "estimates", estimates, nonnegative=False)
    references = check_waveforms(
        "waveform_correlations", "references", references, n=estimates.shape[1]
    )
    return waveform_correlations_unchecked(estimates, references)


def waveform_correlations_unchecked(estimates, references: dict) -> dict[str, np.ndarray]:
    """:func:`waveform_correlations` of checked waveforms of one length."""
    return {
        name: np.array([_correlation(estimate, x) for estimate in estimates])
        for name, x in references.items()
    }


def best_assignment(scores) -> dict[str, int]:
    """The one-to-one matching of names to components with the largest total score.

    Each name gets a different component, and the sum of
    ``scores[name][component]`` over the names is as large as possible (the
    assignment problem, solved exactly by
    ``scipy.optimize.linear_sum_assignment``). With the shares of
    :func:`stem_shares` as scores this labels the components "drums",
    "vocals", ...

    Used in notebook 2.

    Parameters
    ----------
    scores : Mapping[str, np.ndarray [shape=(K,)]]
        One score per component for each name; at most K names.

    Returns
    -------
    dict[str, int]
        The component chosen for each name, in the order of ``scores``.

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> nh.best_assignment({"drums": [0.9, 0.8], "vocals": [0.7, 0.1]})
    {'drums': 1, 'vocals': 0}
    """
    names, matrix = check_scores("best_assignment", "scores", scores)
    if matrix.shape[0] > matrix.shape[1]:
        raise ParameterError(
            f"best_assignment: {matrix.shape[0]} names but only {matrix.shape[1]} components"
        )
    return best_assignment_unchecked(names, matrix)


def best_assignment_unchecked(names: list[str], matrix: np.ndarray) -> dict[str, int]:
    """:func:`best_assignment` of checked scores: an (S, K) matrix, a name per row.

    With more names than components (S > K), K of the names get one each.
    """
    from scipy.optimize import linear_sum_assignment  # slow to import: on first use

    rows, columns = linear_sum_assignment(matrix, maximize=True)
    return {names[row]: int(column) for row, column in zip(rows, columns, strict=True)}
