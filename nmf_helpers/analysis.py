"""Measuring what a factorisation or a separation found.

Small functions that turn ``V``, ``W``, ``H`` or separated waveforms into a few
numbers, and the tables the notebooks print, built from those numbers here so
that a notebook cell only prints them:

* of a spectrogram: :func:`decibels`, :func:`bin_frequencies`, :func:`share_above`;
* of the templates ``W`` and activations ``H``: :func:`spectral_flatness`,
  :func:`spectral_centroid`, :func:`activation_ratio`;
* of a fit ``W H`` against ``V``: :func:`divergence_by_bin`,
  :func:`log_spectral_correlation`, :func:`elementwise_loss`;
* of a separation against the true stems: :func:`stem_shares`,
  :func:`waveform_correlations`, :func:`best_assignment`; of one waveform
  against another: :func:`relative_level`;
* tables: :class:`Table`, :func:`component_table`, :func:`spectrogram_table`,
  :func:`divergence_table`, :func:`correlation_table`, :func:`loss_table`,
  :func:`loudness_band_table`, :func:`range_table`, :func:`score_table`.

SDR, SIR and SAR against stems are :func:`nmf_helpers.evaluate` (bss_eval).

Every public function checks its arguments once; the private ``_name`` cores
trust them and are what the other functions here call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy.special import xlogy

from ._numerics import EPS, LOG_FLOOR, TINY
from ._validation import (
    ParameterError,
    check_choice,
    check_int,
    check_matrix,
    check_real,
    check_signal,
    check_time_range,
)

__all__ = [
    "Table",
    "activation_ratio",
    "best_assignment",
    "bin_frequencies",
    "component_table",
    "correlation_table",
    "decibels",
    "divergence_by_bin",
    "divergence_table",
    "elementwise_loss",
    "log_spectral_correlation",
    "loss_table",
    "loudness_band_table",
    "range_table",
    "relative_level",
    "score_table",
    "share_above",
    "spectral_centroid",
    "spectral_flatness",
    "spectrogram_table",
    "stem_shares",
    "waveform_correlations",
]

_MEASURES = ("sdr", "sir", "sar")  # what nmf_helpers.evaluate measures, per source
# The objectives of nmf_helpers.nmf (its LOSSES; a leaf cannot import it), as named there.
_LOSSES = ("euclidean", "kl")
_LOSS_NAMES = {"euclidean": "squared error", "kl": "KL divergence"}


# ---------------------------------------------------------------- checks


def _check_level(function: str, reference, floor_db) -> tuple[float, float]:
    """The 0 dB level (> 0) and the floor in dB (<= 0)."""
    reference = check_real(function, "reference", reference, minimum=0.0, maximum=np.inf)
    if reference <= 0:
        raise ParameterError(f"{function}: reference must be > 0, got {reference}")
    floor_db = check_real(function, "floor_db", floor_db, minimum=-400.0, maximum=0.0)
    return reference, floor_db


def _check_bins(function: str, A, name: str = "A") -> np.ndarray:
    """A per-bin vector (M,) or a spectrogram (M, N), returned 2-D, with M >= 2."""
    array = np.asarray(A)
    array = array[:, None] if array.ndim == 1 else array
    array = check_matrix(function, name, array)
    if array.shape[0] < 2:
        raise ParameterError(f"{function}: {name} needs at least 2 frequency bins, got 1")
    return array


def _check_mapping(function: str, name: str, value) -> Mapping:
    if not isinstance(value, Mapping) or not value:
        raise ParameterError(f"{function}: {name} must be a non-empty {{name: array}} mapping")
    return value


def _check_scores(function: str, name: str, scores, K: int | None = None):
    """Names and an (S, K) float64 matrix from a mapping {name: per-component values}."""
    scores = _check_mapping(function, name, scores)
    rows = [np.asarray(values) for values in scores.values()]
    if any(row.ndim != 1 for row in rows):
        raise ParameterError(f"{function}: every value of {name} must be 1-D, one per component")
    if len({row.size for row in rows}) != 1:
        raise ParameterError(f"{function}: the values of {name} must all have one length")
    matrix = check_matrix(function, name, np.stack(rows), shape=(None, K), nonnegative=False)
    return list(scores), matrix.astype(np.float64)


def _check_waveforms(function: str, name: str, waveforms, n: int | None = None) -> dict:
    """{name: float32 waveform}, all of one length (``n`` if given)."""
    waveforms = _check_mapping(function, name, waveforms)
    checked = {key: check_signal(function, f"{name}[{key!r}]", x) for key, x in waveforms.items()}
    lengths = {x.size for x in checked.values()} | ({n} if n is not None else set())
    if len(lengths) != 1:
        raise ParameterError(
            f"{function}: all waveforms must have one length, got {sorted(lengths)}"
        )
    return checked


# ---------------------------------------------------------------- of a spectrogram


def decibels(A, *, reference, floor_db: float = -80.0) -> np.ndarray:
    """Magnitudes in dB relative to ``reference``, floored at ``floor_db``.

    ``20 log10(max(A, a_floor) / reference)`` with ``a_floor = reference *
    10^(floor_db / 20)``, so ``reference`` is 0 dB and nothing goes below
    ``floor_db`` (silence would otherwise be minus infinity). This is the
    scale the spectrogram plots use.

    Used in notebook 0, and in notebook 3 through :func:`spectrogram_table`.

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
    return _decibels(A, reference, floor_db)


def _decibels(A: np.ndarray, reference: float, floor_db: float) -> np.ndarray:
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

    Used in notebook 6, through :func:`divergence_table`.

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
    A = _check_bins("share_above", A)
    sr = check_int("share_above", "sr", sr, minimum=1)
    hz = check_real("share_above", "hz", hz, minimum=0.0, maximum=sr / 2)
    return _share_above(A, sr, hz)


def _band_total(A: np.ndarray, sr: int, hz: float) -> float:
    """Sum of the rows of A at or above ``hz``, in float64."""
    return float(A[_bin_frequencies(A.shape[0], sr) >= hz].sum(dtype=np.float64))


def _share_above(A: np.ndarray, sr: int, hz: float) -> float:
    return _band_total(A, sr, hz) / max(float(A.sum(dtype=np.float64)), EPS)


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
    W = _check_bins("spectral_centroid", W, "W")
    sr = check_int("spectral_centroid", "sr", sr, minimum=1)
    return _spectral_centroid(W, sr)


def _spectral_centroid(W: np.ndarray, sr: int) -> np.ndarray:
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
    return _activation_ratio(H, split)


def _activation_ratio(H: np.ndarray, split: int) -> np.ndarray:
    before = H[:, :split].mean(axis=1, dtype=np.float64)
    after = H[:, split:].mean(axis=1, dtype=np.float64)
    return after / np.maximum(before, EPS)


# ---------------------------------------------------------------- of a fit W H


def divergence_by_bin(V, WH) -> np.ndarray:
    """The KL divergence ``D(V || WH)`` summed over time, one value per frequency bin.

    ``sum_n V log(V / WH) - V + WH`` for each row ``m`` (with ``0 log 0 = 0``),
    in float64; the values add up to the loss :func:`nmf_helpers.nmf_kl`
    minimises. ``WH`` is floored at :data:`nmf_helpers.EPS`, as in the NMF.

    Used in notebook 6, through :func:`divergence_table`.

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
    return _divergence_by_bin(V, WH)


def _divergence_by_bin(V: np.ndarray, WH: np.ndarray) -> np.ndarray:
    V = V.astype(np.float64)
    WH = np.maximum(WH.astype(np.float64), EPS)
    return (xlogy(V, V) - xlogy(V, WH) - V + WH).sum(axis=1)


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

    Used in notebook 0, through :func:`loudness_band_table`.

    Parameters
    ----------
    V : np.ndarray [shape=(M, N), non-negative]
    WH : np.ndarray [shape=(M, N), non-negative]
    loss : {"euclidean", "kl"}

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
    loss = check_choice("elementwise_loss", "loss", loss, _LOSSES)
    return _elementwise_loss(V, WH, loss)


def _elementwise_loss(V: np.ndarray, WH: np.ndarray, loss: str) -> np.ndarray:
    V = V.astype(np.float64)
    WH = WH.astype(np.float64)
    if loss == "euclidean":
        return (V - WH) ** 2
    WH = np.maximum(WH, EPS)
    return xlogy(V, V) - xlogy(V, WH) - V + WH


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

    Used in notebook 3, through :func:`spectrogram_table`.

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
    return _log_spectral_correlation(A, B, reference, floor_db)


def _log_spectral_correlation(A, B, reference: float, floor_db: float) -> float:
    return _correlation(_decibels(A, reference, floor_db), _decibels(B, reference, floor_db))


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
    stems = _check_mapping("stem_shares", "stems", stems)
    stems = {
        name: check_matrix("stem_shares", f"stems[{name!r}]", V, shape=masks.shape[1:])
        for name, V in stems.items()
    }
    return _stem_shares(masks, stems)


def _stem_shares(masks: np.ndarray, stems: dict) -> dict[str, np.ndarray]:
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
    checked = _check_waveforms(function, "waveforms", {"x": x, "reference": reference})
    x, reference = checked["x"], checked["reference"]
    if time_range is not None:
        if sr is None:
            raise ParameterError(f"{function}: time_range needs sr, the sample rate")
        sr = check_int(function, "sr", sr, minimum=1)
        start, end = check_time_range(function, "time_range", time_range, x.size / sr)
        first, last = round(start * sr), round(end * sr)
        x, reference = x[first:last], reference[first:last]
    return _relative_level(function, x, reference)


def _relative_level(function: str, x: np.ndarray, reference: np.ndarray) -> float:
    energy = float(np.sum(np.square(reference, dtype=np.float64)))
    if energy == 0:
        raise ParameterError(f"{function}: reference is silent where measured; no level to compare")
    with np.errstate(divide="ignore"):  # a silent x is -inf dB, as it should be
        return float(10.0 * np.log10(np.sum(np.square(x, dtype=np.float64)) / energy))


def waveform_correlations(estimates, references) -> dict[str, np.ndarray]:
    """Pearson correlation of each estimated waveform with each reference.

    Used in notebook 6, through :func:`correlation_table`.

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
    references = _check_waveforms(
        "waveform_correlations", "references", references, n=estimates.shape[1]
    )
    return _waveform_correlations(estimates, references)


def _waveform_correlations(estimates, references: dict) -> dict[str, np.ndarray]:
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
    names, matrix = _check_scores("best_assignment", "scores", scores)
    if matrix.shape[0] > matrix.shape[1]:
        raise ParameterError(
            f"best_assignment: {matrix.shape[0]} names but only {matrix.shape[1]} components"
        )
    return _best_assignment(names, matrix)


def _best_assignment(names: list[str], matrix: np.ndarray) -> dict[str, int]:
    from scipy.optimize import linear_sum_assignment  # 0.7 s to import: on first use

    rows, columns = linear_sum_assignment(matrix, maximize=True)
    return {names[row]: int(column) for row, column in zip(rows, columns, strict=True)}


# ---------------------------------------------------------------- tables


@dataclass(frozen=True)
class Table:
    """Named rows of numbers under named columns, ready to print.

    ``str(table)`` lines the columns up as plain text (text to the left,
    numbers to the right), :meth:`to_markdown` gives a Markdown table,
    ``table[name]`` is one row as ``{column: value}`` (the row's name is its
    first value) and :meth:`column` the values under one heading. A value of
    ``None`` (nothing to show) prints as ``-``.

    Used in notebooks 1, 2, 3 and 5, built by :func:`component_table`,
    :func:`spectrogram_table`, :func:`divergence_table`,
    :func:`correlation_table`, :func:`loss_table`, :func:`range_table` and
    :func:`score_table`.

    Attributes
    ----------
    columns : tuple[str, ...]
        Column headings; the first column holds the rows' names.
    rows : tuple[tuple, ...]
        One value per column in each row.
    formats : tuple[str, ...]
        A format spec per column (``".2f"``, ``".0%"``, ``""`` for text).
    title : str
        Printed above the table when not empty.

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> table = nh.Table(("fit", "corr."), (("fixed", 0.812), ("free", 0.5)), ("", ".2f"))
    >>> print(table)
    fit    corr.
    fixed   0.81
    free    0.50
    >>> table["free"]["corr."]
    0.5
    >>> table.column("corr.")
    [0.812, 0.5]
    """

    columns: tuple[str, ...]
    rows: tuple[tuple, ...]
    formats: tuple[str, ...]
    title: str = ""

    def __post_init__(self):
        widths = {len(self.columns), len(self.formats), *(len(row) for row in self.rows)}
        if len(widths) != 1:
            raise ParameterError(
                "Table: columns, formats and every row must have one length,"
                f" got {len(self.columns)} columns, {len(self.formats)} formats"
                f" and rows of {sorted({len(row) for row in self.rows})}"
            )

    def __getitem__(self, name) -> dict:
        for row in self.rows:
            if row[0] == name:
                return dict(zip(self.columns, row, strict=True))
        raise KeyError(f"no row named {name!r}; have {[row[0] for row in self.rows]}")

    def column(self, heading: str) -> list:
        """The values under ``heading``, one per row, in the rows' order."""
        if heading not in self.columns:
            raise KeyError(f"no column named {heading!r}; have {list(self.columns)}")
        index = self.columns.index(heading)
        return [row[index] for row in self.rows]

    def _cells(self) -> list[list[str]]:
        return [
            [
                "-" if value is None else format(value, spec)
                for value, spec in zip(row, self.formats, strict=True)
            ]
            for row in self.rows
        ]

    def __str__(self) -> str:
        lines = [list(self.columns), *self._cells()]
        widths = [max(len(text) for text in column) for column in zip(*lines, strict=True)]
        text = [
            "  ".join(
                cell.ljust(width) if i == 0 or not spec else cell.rjust(width)
                for i, (cell, width, spec) in enumerate(
                    zip(line, widths, self.formats, strict=True)
                )
            ).rstrip()
            for line in lines
        ]
        return "\n".join(([self.title] if self.title else []) + text)

    def to_markdown(self) -> str:
        """The table in Markdown (the title, if any, as a bold line above it)."""
        lines = [f"**{self.title}**", ""] if self.title else []
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("| --- |" + " ---: |" * (len(self.columns) - 1))
        lines.extend("| " + " | ".join(cells) + " |" for cells in self._cells())
        return "\n".join(lines)


def _table(columns: dict, title: str = "") -> Table:
    """A :class:`Table` from ``{heading: (values, format)}``, one value per row."""
    values = [list(column) for column, _ in columns.values()]
    formats = tuple(spec for _, spec in columns.values())
    return Table(tuple(columns), tuple(zip(*values, strict=True)), formats, title)


def component_table(W, *, sr: int, shares=None, correlations=None, voice_on=None) -> Table:
    """One row per component: its template's features and what it contains.

    Columns: the component, its label (the stem :func:`best_assignment` gives
    it by ``shares``; "-" if none), the :func:`spectral_flatness` and
    :func:`spectral_centroid` of ``W[:, k]``, then those given of: "voice on"
    (e.g. an :func:`activation_ratio`), the share of each stem
    (:func:`stem_shares`), the correlation with each stem
    (:func:`waveform_correlations`), and whether the best assignment by
    correlation gives the component the same label.

    Used in notebook 2.

    Parameters
    ----------
    W : np.ndarray [shape=(M, K), non-negative]
    sr : int > 0
    shares, correlations : Mapping[str, np.ndarray [shape=(K,)]], optional
        Per stem, one value per component; the same stems in both.
    voice_on : np.ndarray [shape=(K,)], optional

    Returns
    -------
    Table

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> W = np.array([[1.0, 1.0], [0.0, 1.0]])
    >>> print(nh.component_table(W, sr=8000, shares={"a": [0.9, 0.2], "b": [0.1, 0.8]}))
    component  label  flatness  centroid (Hz)  % a  % b
    0          a         0.000              0  90%  10%
    1          b         1.000           2000  20%  80%
    """
    W = _check_bins("component_table", W, "W")
    sr = check_int("component_table", "sr", sr, minimum=1)
    K = W.shape[1]
    share = _check_scores("component_table", "shares", shares, K) if shares is not None else None
    correlation = None
    if correlations is not None:
        correlation = _check_scores("component_table", "correlations", correlations, K)
        if share is not None and correlation[0] != share[0]:
            raise ParameterError(
                "component_table: shares and correlations must name the same stems"
            )
    if voice_on is not None:
        voice_on = _check_scores("component_table", "voice_on", {"": voice_on}, K)[1][0]
    return _component_table(W, sr, share, correlation, voice_on)


def _component_table(W, sr, share, correlation, voice_on) -> Table:
    """:func:`component_table` for checked arguments; ``share`` and ``correlation``
    are ``(names, matrix)`` pairs or None."""
    K = W.shape[1]
    columns = {"component": (range(K), "d")}
    if share is not None:
        label = {k: name for name, k in _best_assignment(*share).items()}
        columns["label"] = ([label.get(k, "-") for k in range(K)], "")
    columns["flatness"] = (spectral_flatness_unchecked(W), ".3f")
    columns["centroid (Hz)"] = (_spectral_centroid(W, sr), ".0f")
    if voice_on is not None:
        columns["voice on"] = (voice_on, ".2f")
    if share is not None:
        for name, values in zip(*share, strict=True):
            columns[f"% {name}"] = (values, ".0%")
    if correlation is not None:
        for name, values in zip(*correlation, strict=True):
            columns[f"corr. {name}"] = (values, ".2f")
    if share is not None and correlation is not None:
        by_correlation = _best_assignment(*correlation)
        same = [k in label and by_correlation[label[k]] == k for k in range(K)]
        columns["same by corr."] = (same, "")
    return _table(columns)


def spectrogram_table(
    fits, references, *, track, sr: int, above_hz: float = 2000.0, floor_db: float = -80.0
) -> Table:
    """Each fit against each reference spectrogram, and how much of the highs it keeps.

    One row per fit: its :func:`log_spectral_correlation` with each reference
    (0 dB being the loudest bin of ``track``), and its magnitude in the bins
    at or above ``above_hz`` as a fraction of the track's there.

    Used in notebook 3.

    Parameters
    ----------
    fits, references : Mapping[str, np.ndarray [shape=(M, N), non-negative]]
        E.g. ``{"W fixed": W @ H, ...}`` and ``{"sample stem": V_stem, ...}``.
    track : np.ndarray [shape=(M, N), non-negative]
        The spectrogram the fits approximate.
    sr : int > 0
    above_hz : float in [0, sr / 2]
    floor_db : float <= 0

    Returns
    -------
    Table
        Columns ``"fit"``, ``"corr. <reference>"`` for each reference, and
        ``"magnitude >= <above_hz> Hz"`` (1 means as much as the track).

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> V = np.array([[4.0, 1.0], [1.0, 2.0]])
    >>> table = nh.spectrogram_table({"half": V / 2}, {"V": V}, track=V, sr=8000, above_hz=4000)
    >>> print(table)
    fit   corr. V  magnitude >= 4000 Hz
    half     1.00                   50%
    """
    track = _check_bins("spectrogram_table", track, "track")
    matrices = {}
    for name, value in (("fits", fits), ("references", references)):
        matrices[name] = {
            key: check_matrix("spectrogram_table", f"{name}[{key!r}]", A, shape=track.shape)
            for key, A in _check_mapping("spectrogram_table", name, value).items()
        }
    sr = check_int("spectrogram_table", "sr", sr, minimum=1)
    above_hz = check_real("spectrogram_table", "above_hz", above_hz, minimum=0.0, maximum=sr / 2)
    if not track.any():
        raise ParameterError("spectrogram_table: track is all zeros; it sets the 0 dB level")
    floor_db = check_real("spectrogram_table", "floor_db", floor_db, minimum=-400.0, maximum=0.0)
    reference = float(track.max())
    columns = {"fit": (list(matrices["fits"]), "")}
    for key, B in matrices["references"].items():
        correlation = [
            _log_spectral_correlation(A, B, reference, floor_db) for A in matrices["fits"].values()
        ]
        columns[f"corr. {key}"] = (correlation, ".2f")
    highs = _band_total(track, sr, above_hz)
    kept = [_band_total(A, sr, above_hz) / max(highs, EPS) for A in matrices["fits"].values()]
    columns[f"magnitude >= {above_hz:g} Hz"] = (kept, ".0%")
    return _table(columns)


def divergence_table(fits, *, sr: int, above_hz: float = 4000.0) -> Table:
    """Where the KL divergence of each fit comes from: the share above a frequency.

    One row per fit ``(V, WH)``: the share of ``D(V || WH)`` from the bins at
    or above ``above_hz`` (:func:`divergence_by_bin`, :func:`share_above`),
    next to the share of the magnitude of ``V`` that lies there. A loss share
    larger than the magnitude share means the fit fails most up there.

    Used in notebook 6.

    Parameters
    ----------
    fits : Mapping[str, tuple[np.ndarray, np.ndarray]]
        ``{name: (V, W @ H)}``, each pair of one shape (M, N).
    sr : int > 0
    above_hz : float in [0, sr / 2]

    Returns
    -------
    Table
        Columns ``"fit"``, ``"share of the loss"`` and ``"share of the
        magnitude"``, titled with the frequency.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> V, WH = np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([[1.0, 1.0], [2.0, 1.0]])
    >>> print(nh.divergence_table({"toy": (V, WH)}, sr=8000))
    above 4000 Hz:
    fit  share of the loss  share of the magnitude
    toy               100%                     50%
    """
    pairs = {}
    for name, pair in _check_mapping("divergence_table", "fits", fits).items():
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ParameterError(f"divergence_table: fits[{name!r}] must be a pair (V, WH)")
        V = _check_bins("divergence_table", pair[0], f"fits[{name!r}][0] (V)")
        WH = check_matrix("divergence_table", f"fits[{name!r}][1] (WH)", pair[1], shape=V.shape)
        pairs[name] = (V, WH)
    sr = check_int("divergence_table", "sr", sr, minimum=1)
    above_hz = check_real("divergence_table", "above_hz", above_hz, minimum=0.0, maximum=sr / 2)
    loss = [
        _share_above(_divergence_by_bin(V, WH)[:, None], sr, above_hz) for V, WH in pairs.values()
    ]
    magnitude = [_share_above(V, sr, above_hz) for V, _ in pairs.values()]
    columns = {
        "fit": (list(pairs), ""),
        "share of the loss": (loss, ".0%"),
        "share of the magnitude": (magnitude, ".0%"),
    }
    return _table(columns, title=f"above {above_hz:g} Hz:")


def correlation_table(estimates, references) -> Table:
    """Pearson correlation of each estimated waveform (a row) with each reference.

    Used in notebook 6.

    Parameters
    ----------
    estimates, references : Mapping[str, np.ndarray [shape=(n_samples,)]]
        All of one length.

    Returns
    -------
    Table
        Columns ``"estimate"`` and ``"corr. <reference>"`` for each reference.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> a, b = np.random.default_rng(0).standard_normal((2, 1000))
    >>> print(nh.correlation_table({"a + b": a + b}, {"a": a, "b": b}))
    estimate  corr. a  corr. b
    a + b        0.71     0.74
    """
    estimates = _check_waveforms("correlation_table", "estimates", estimates)
    n = next(iter(estimates.values())).size
    references = _check_waveforms("correlation_table", "references", references, n=n)
    correlations = _waveform_correlations(np.stack(list(estimates.values())), references)
    columns = {"estimate": (list(estimates), "")}
    columns |= {f"corr. {name}": (values, ".2f") for name, values in correlations.items()}
    return _table(columns)


def loss_table(losses, *, total=None, last: int = 10) -> Table:
    """First and final loss of each fit, how much it still fell, and how the fits compare.

    One row per loss curve (e.g. one :func:`nmf_helpers.nmf_kl` run per K): the
    first and the final loss; with ``total``, the final loss divided by it
    (with ``total = V.sum()`` the loss per unit of ``V``, which compares across
    songs); the drop in the last ``last`` iterations,
    ``1 - loss[-1] / loss[-1 - last]`` (above 0: still falling); and the final
    loss of the row above divided by this row's final loss (above 1: this fit
    ends lower).

    Used in notebook 1.

    Parameters
    ----------
    losses : Mapping[str, np.ndarray [shape=(n_iter,), non-negative]]
        ``{name: loss per iteration}``, each with more than ``last`` values.
    total : float > 0, optional
        What the final losses are divided by, normally ``V.sum()``.
    last : int >= 1
        How many of the last iterations the drop is measured over.

    Returns
    -------
    Table
        Columns ``"fit"``, ``"first loss"``, ``"final loss"``, ``"final / sum(V)"``
        (with ``total``), ``"drop in last <last> it."`` and ``"previous final /
        final"`` (``None`` in the first row).

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> curves = {"K = 1": [8.0, 5.0, 4.0], "K = 2": [8.0, 4.0, 2.0]}
    >>> print(nh.loss_table(curves, total=10.0, last=1))
    fit    first loss  final loss  final / sum(V)  drop in last 1 it.  previous final / final
    K = 1           8           4          0.4000              20.00%                       -
    K = 2           8           2          0.2000              50.00%                    2.00
    """
    curves = _check_mapping("loss_table", "losses", losses)
    last = check_int("loss_table", "last", last, minimum=1)
    checked = {}
    for name, curve in curves.items():
        curve = np.asarray(curve)
        if curve.ndim != 1:
            raise ParameterError(
                f"loss_table: losses[{name!r}] must be 1-D, one loss per iteration,"
                f" got shape {curve.shape}"
            )
        curve = check_matrix("loss_table", f"losses[{name!r}]", curve[None, :])[0]
        if curve.size <= last:
            raise ParameterError(
                f"loss_table: losses[{name!r}] has {curve.size} values; the drop in the"
                f" last {last} iterations needs at least {last + 1}"
            )
        checked[name] = curve
    if total is not None:
        total = check_real("loss_table", "total", total, minimum=0.0, maximum=np.inf)
        if total <= 0:
            raise ParameterError(f"loss_table: total must be > 0, got {total}")
    return _loss_table(checked, total, last)


def _loss_table(curves: dict, total: float | None, last: int) -> Table:
    finals = [float(curve[-1]) for curve in curves.values()]
    columns = {
        "fit": (list(curves), ""),
        "first loss": ([float(curve[0]) for curve in curves.values()], ".4g"),
        "final loss": (finals, ".4g"),
    }
    if total is not None:
        columns["final / sum(V)"] = ([final / total for final in finals], ".4f")
    drops = [_late_drop(curve, last) for curve in curves.values()]
    columns[f"drop in last {last} it."] = (drops, ".2%")
    ratios = [a / b if b > 0 else float("inf") for a, b in pairwise(finals)]
    columns["previous final / final"] = ([None, *ratios], ".2f")
    return _table(columns)


def _late_drop(curve: np.ndarray, last: int) -> float:
    """``1 - curve[-1] / curve[-1 - last]``; 0 if the loss was already 0."""
    earlier = float(curve[-1 - last])
    return 1.0 - float(curve[-1]) / earlier if earlier > 0 else 0.0


def loudness_band_table(
    V,
    WH,
    *,
    loss: str = "euclidean",
    edges_db: Sequence[float] = (-30.0, -50.0),
    factor: float = 2.0,
    floor_db: float = -80.0,
) -> Table:
    """Where a fit's error lies, by how loud the bins of ``V`` are, and why.

    The bins of ``V`` are put in bands by their level in dB (0 dB = the
    loudest bin of ``V``; ``edges_db`` are the borders, loudest first). For
    each band, one row:

    * ``"bins"``: the band's share of all bins;
    * ``"median level (dB)"``: the median level ``v`` of its bins;
    * ``"mean |error| (dB)"``: the mean of ``|dB(V) - dB(WH)|`` over its bins,
      both floored at ``floor_db`` (the error as the spectrogram plots and
      our ears see it);
    * ``"share of the error"``: its share of the ``loss`` the NMF minimises
      (the sum of :func:`elementwise_loss` over its bins, over the sum over
      all bins);
    * ``"cost of WH = <factor> V"``: what one bin at the median level costs
      if the fit is off by ``factor`` there (``WH = factor * v``), computed
      with :func:`elementwise_loss`: ``v^2 (r - 1)^2`` for the squared error,
      ``v (r - 1 - log r)`` for KL;
    * ``"level ratio"`` and ``"cost ratio"``: the median level and that cost
      divided by the first (loudest) band's. For KL the two columns are equal (the cost of a
      factor is linear in the level), for the squared error the cost column
      is the square of the level column. (A loss under which a factor costs
      the same at every level, ``1/r - 1 + log r``, is the Itakura–Saito
      divergence ``D_IS(V || WH)``, which the package does not use.)

    An empty band shows ``-`` where it has no value.

    Used in notebook 0.

    Parameters
    ----------
    V : np.ndarray [shape=(M, N), non-negative], not all zeros
        The spectrogram; its largest value is 0 dB.
    WH : np.ndarray [shape=(M, N), non-negative]
        The fit ``W @ H``.
    loss : {"euclidean", "kl"}
        The loss whose shares and costs are shown.
    edges_db : sequence of float, strictly decreasing, each in (floor_db, 0)
        Band borders; a bin at ``edges_db[i]`` belongs to the quieter band.
    factor : float > 0, not 1
        The factor ``r`` of the cost columns.
    floor_db : float < 0
        The lowest level of the dB error column.

    Returns
    -------
    Table
        One row per band, named ``"> -30 dB"``, ``"-50 to -30 dB"``,
        ``"<= -50 dB"`` for the default edges, titled with the loss.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> V = np.array([[100.0, 1.0]])  # one loud bin, one 40 dB down
    >>> table = nh.loudness_band_table(V, 2 * V, loss="kl", edges_db=[-20])
    >>> [round(ratio, 9) for ratio in table.column("cost ratio")]  # 40 dB: 100 times less
    [1.0, 0.01]
    >>> print(nh.loudness_band_table(V, 2 * V, loss="euclidean", edges_db=[-20]))
    squared error of the fit, by loudness band (0 dB = the loudest bin of V):
    band        bins  median level (dB)  mean |error| (dB)  share of the error  cost of WH = 2 V  level ratio  cost ratio
    > -20 dB   50.0%                0.0                6.0              100.0%             1e+04            1           1
    <= -20 dB  50.0%              -40.0                6.0                0.0%                 1         0.01      0.0001
    """  # noqa: E501
    function = "loudness_band_table"
    V = check_matrix(function, "V", V)
    WH = check_matrix(function, "WH", WH, shape=V.shape)
    loss = check_choice(function, "loss", loss, _LOSSES)
    floor_db = check_real(function, "floor_db", floor_db, minimum=-400.0, maximum=0.0)
    if floor_db >= 0:
        raise ParameterError(f"{function}: floor_db must be < 0, got {floor_db}")
    try:
        edges = [
            check_real(function, f"edges_db[{i}]", edge, minimum=floor_db, maximum=0.0)
            for i, edge in enumerate(edges_db)
        ]
    except TypeError:
        raise ParameterError(
            f"{function}: edges_db must be a sequence of levels in dB, got {edges_db!r}"
        ) from None
    if not edges or any(b >= a for a, b in pairwise([0.0, *edges, floor_db])):
        raise ParameterError(
            f"{function}: edges_db must be strictly decreasing levels between {floor_db:g}"
            f" and 0 dB (exclusive), loudest first, got {list(edges_db)!r}"
        )
    factor = check_real(function, "factor", factor, minimum=0.0, maximum=np.inf)
    if factor <= 0 or factor == 1:
        raise ParameterError(
            f"{function}: factor must be > 0 and not 1 (a factor of 1 costs nothing), got {factor}"
        )
    if not V.any():
        raise ParameterError(f"{function}: V is all zeros; its loudest bin sets the 0 dB level")
    return _loudness_band_table(V, WH, loss, edges, factor, floor_db)


def _band_names(edges: list[float]) -> list[str]:
    names = [f"> {edges[0]:g} dB"]
    names += [f"{low:g} to {high:g} dB" for high, low in pairwise(edges)]
    return [*names, f"<= {edges[-1]:g} dB"]


def _loudness_band_table(V, WH, loss: str, edges: list, factor: float, floor_db: float) -> Table:
    reference = float(V.max())
    V_db = _decibels(V, reference, floor_db)
    error_db = np.abs(V_db - _decibels(WH, reference, floor_db))
    errors = _elementwise_loss(V, WH, loss)
    total = max(float(errors.sum()), TINY)
    # Each bin goes to the band whose upper border is the first one above it.
    band_of = np.digitize(V_db, np.array(edges[::-1]), right=True)  # 0 = quietest band
    band_of = len(edges) - band_of  # 0 = loudest band
    shares, levels, mean_errors, error_shares, costs = [], [], [], [], []
    for band in range(len(edges) + 1):
        inside = band_of == band
        shares.append(float(inside.mean()))
        if not inside.any():
            levels.append(None)
            mean_errors.append(None)
            error_shares.append(0.0)
            costs.append(None)
            continue
        level = float(np.median(V[inside]))
        levels.append(level)
        mean_errors.append(float(error_db[inside].mean(dtype=np.float64)))
        error_shares.append(float(errors[inside].sum()) / total)
        one_bin = np.array([[level]])
        costs.append(float(_elementwise_loss(one_bin, factor * one_bin, loss)[0, 0]))
    first = next(i for i, level in enumerate(levels) if level is not None)

    def relative(values):
        base = values[first]
        return [None if v is None or base <= 0 else v / base for v in values]

    level_db = [
        None if level is None else float(_decibels(np.array(level), reference, floor_db))
        for level in levels
    ]
    columns = {
        "band": (_band_names(edges), ""),
        "bins": (shares, ".1%"),
        "median level (dB)": (level_db, ".1f"),
        "mean |error| (dB)": (mean_errors, ".1f"),
        "share of the error": (error_shares, ".1%"),
        f"cost of WH = {factor:g} V": (costs, ".3g"),
        "level ratio": (relative(levels), ".3g"),
        "cost ratio": (relative(costs), ".3g"),
    }
    title = f"{_LOSS_NAMES[loss]} of the fit, by loudness band (0 dB = the loudest bin of V):"
    return _table(columns, title=title)


def range_table(found, true) -> Table:
    """Detected time ranges next to the true ones, and how far apart they are.

    Both lists are sorted by start and paired in that order: the first
    detected range with the first true one, and so on. The error of a pair is
    ``max(|start - true start|, |end - true end|)`` in seconds. If one list is
    longer, its extra ranges have no partner: those cells are ``None``, printed
    as ``-``.

    Used in notebook 6, with the ranges of :func:`nmf_helpers.detect_sample`.

    Parameters
    ----------
    found, true : sequence of (float, float)
        ``(start, end)`` in seconds with ``0 <= start < end``; either may be
        empty.

    Returns
    -------
    Table
        One row per pair, named 1, 2, ...; columns ``"range"``, ``"detected
        start (s)"``, ``"detected end (s)"``, ``"true start (s)"``, ``"true end
        (s)"`` and ``"error (s)"``.

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> print(nh.range_table([(10.1, 18.0), (1.0, 9.02)], [(1.0, 9.0)]))
    range  detected start (s)  detected end (s)  true start (s)  true end (s)  error (s)
    1                    1.00              9.02            1.00          9.00      0.020
    2                   10.10             18.00               -             -          -
    """
    found = _check_ranges("range_table", "found", found)
    true = _check_ranges("range_table", "true", true)
    return _range_table(found, true)


def _check_ranges(function: str, name: str, ranges) -> list[tuple[float, float]]:
    """``(start, end)`` pairs in seconds, sorted by start."""
    try:
        items = list(ranges)
    except TypeError:
        raise ParameterError(
            f"{function}: {name} must be a sequence of (start, end) pairs in seconds,"
            f" got {ranges!r}"
        ) from None
    pairs = [
        check_time_range(function, f"{name}[{i}]", item, np.inf) for i, item in enumerate(items)
    ]
    return sorted(pairs)


def _range_table(found: list, true: list) -> Table:
    n = max(len(found), len(true))
    found = found + [(None, None)] * (n - len(found))
    true = true + [(None, None)] * (n - len(true))
    errors = [
        None if a is None or c is None else max(abs(a - c), abs(b - d))
        for (a, b), (c, d) in zip(found, true, strict=True)
    ]
    columns = {
        "range": (range(1, n + 1), "d"),
        "detected start (s)": ([start for start, _ in found], ".2f"),
        "detected end (s)": ([end for _, end in found], ".2f"),
        "true start (s)": ([start for start, _ in true], ".2f"),
        "true end (s)": ([end for _, end in true], ".2f"),
        "error (s)": (errors, ".3f"),
    }
    return _table(columns)


def score_table(scores, *, measure: str = "sdr", floor: str | None = None) -> Table:
    """One separation measure of several methods: a row per method, a column per source.

    ``scores[method]`` holds what :func:`nmf_helpers.evaluate` measured for
    that method, as rows (``nh.evaluate(...).rows``: one ``{"source": name,
    "sdr": ..., "sir": ..., "sar": ...}`` per source, in dB). The table shows
    ``measure`` for each source. With ``floor``, the name of the method that
    does nothing (the mixture used as every estimate), one more column per
    source gives each method's gain over it in dB.

    Used in notebook 5.

    Parameters
    ----------
    scores : Mapping[str, Sequence[Mapping]]
        ``{method: rows}``, every method with the same sources; the values
        must be finite.
    measure : {"sdr", "sir", "sar"}
    floor : str, optional
        One of the methods of ``scores``.

    Returns
    -------
    Table
        Titled with the measure; columns ``"method"``, one per source (in the
        order of the first method's rows) and, with ``floor``,
        ``"<source> over floor"``.

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> scores = {
    ...     "mixture": [{"source": "voice", "sdr": -2.0, "sir": -2.0, "sar": 250.0}],
    ...     "nmf": [{"source": "voice", "sdr": 7.5, "sir": 10.0, "sar": 12.0}],
    ... }
    >>> print(nh.score_table(scores, floor="mixture"))
    SDR (dB):
    method   voice  voice over floor
    mixture  -2.00             +0.00
    nmf       7.50             +9.50
    """
    measure = check_choice("score_table", "measure", measure, _MEASURES)
    if not isinstance(scores, Mapping) or not scores:
        raise ParameterError("score_table: scores must be a non-empty {method: rows} mapping")
    values = {
        method: _check_score_rows("score_table", method, rows, measure)
        for method, rows in scores.items()
    }
    first = next(iter(values))
    for method, row in values.items():
        if set(row) != set(values[first]):
            raise ParameterError(
                f"score_table: scores[{method!r}] has the sources {sorted(row)},"
                f" but scores[{first!r}] has {sorted(values[first])}"
            )
    if floor is not None:
        floor = check_choice("score_table", "floor", floor, list(values))
    return _score_table(values, list(values[first]), measure, floor)


def _check_score_rows(function: str, method: str, rows, measure: str) -> dict[str, float]:
    """``{source: value of measure}`` from the rows of one method."""
    where = f"scores[{method!r}]"
    if isinstance(rows, str | Mapping) or not isinstance(rows, Sequence) or not rows:
        raise ParameterError(
            f"{function}: {where} must be a non-empty list of rows"
            f" {{'source': name, {measure!r}: dB, ...}} (nh.evaluate(...).rows),"
            f" got {rows!r}"
        )
    values = {}
    for row in rows:
        if not isinstance(row, Mapping) or "source" not in row or measure not in row:
            raise ParameterError(
                f"{function}: every row of {where} must map 'source' and {measure!r}, got {row!r}"
            )
        source = row["source"]
        if source in values:
            raise ParameterError(f"{function}: {where} has two rows for {source!r}")
        values[source] = check_real(
            function,
            f"the {measure} of {source!r} in {where}",
            row[measure],
            minimum=-np.inf,
            maximum=np.inf,
        )
    return values


def _score_table(values: dict, sources: list, measure: str, floor: str | None) -> Table:
    columns = {"method": (list(values), "")}
    for source in sources:
        columns[source] = ([row[source] for row in values.values()], ".2f")
    if floor is not None:
        for source in sources:
            gains = [row[source] - values[floor][source] for row in values.values()]
            columns[f"{source} over floor"] = (gains, "+.2f")
    return _table(columns, title=f"{measure.upper()} (dB):")
