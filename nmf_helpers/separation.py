"""Hearing NMF components: the column view of W H, and soft masks.

``W H = sum_k W[:, k] H[k, :]``: the product is a sum of K rank-one
spectrograms, one per component. Keeping W and zeroing every row of H but
row k leaves exactly the k-th term, the part of the mixture that component k
explains (:func:`component`, :func:`components`). Those are magnitudes only;
the homework turns them into sound with Griffin-Lim.

:func:`soft_masks` and :func:`separate` instead share the mixture's own
complex STFT among groups of components in proportion to what each group
explains (a Wiener-like soft mask), which keeps the original phase and makes
the group estimates add up to the mixture exactly.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping

import numpy as np

from ._numerics import passes_float32_range, scaled_into_range
from ._validation import ParameterError, check_audio_for_frames, check_factors, check_real
from .spectral import DEFAULT_HOP, DEFAULT_WIN, frame_count, istft_unchecked, stft_unchecked

__all__ = ["component", "components", "separate", "soft_masks"]


def _check_indices(function: str, ks, K: int, *, name: str = "ks") -> list[int]:
    """Component indices as ints, each in 0..K-1: no floats, no bools, no counting from the end.

    numpy's integers count (``np.int64(2)``, and 0-d arrays such as
    ``np.array(2)``), as int() accepted them.
    """
    ks = _scalar(ks)
    if isinstance(ks, numbers.Integral) and not isinstance(ks, bool):
        ks = [ks]
    elif isinstance(ks, str | bytes | Mapping) or not isinstance(ks, Iterable):
        raise ParameterError(f"{function}: {name} must be integers, got {ks!r}")
    indices = [_scalar(k) for k in ks]
    for k in indices:
        # int(1.9) would quietly be 1, and True would be component 1.
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise ParameterError(f"{function}: {name} must be integers, got {k!r} in {_shown(ks)}")
    if not indices:
        raise ParameterError(f"{function}: {name} is empty; give at least one component")
    bad = [int(k) for k in indices if not 0 <= k < K]
    if bad:
        raise ParameterError(
            f"{function}: component index {bad[0]} out of range for K = {K}"
            f" (indices run from 0 to {K - 1})"
        )
    return [int(k) for k in indices]


def _scalar(value):
    """A 0-d array as the numpy scalar it holds (iterating over it raises TypeError); else as is."""
    return value[()] if isinstance(value, np.ndarray) and value.ndim == 0 else value


def _shown(value) -> str:
    """``value`` for a message, cut short: an index list may be long."""
    text = repr(list(value)) if not isinstance(value, list) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def components(W, H, ks) -> np.ndarray:
    """Spectrogram of a group of components: ``W H`` with only rows ``ks`` of H kept.

    Parameters
    ----------
    W : np.ndarray [shape=(M, K), non-negative]
    H : np.ndarray [shape=(K, N), non-negative]
    ks : int or sequence of int
        Component indices, each in ``0 .. K - 1``.

    Returns
    -------
    np.ndarray [shape=(M, N)]
        ``sum over k in ks of outer(W[:, k], H[k, :])``; equal to ``W @ H_k``
        where ``H_k`` is H with every other row set to zero. In the dtype of
        the factors; a product that passes its range (3.4e38 for float32
        factors) is refused with a ParameterError, never returned as Inf.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> W, H = np.ones((4, 3)), np.arange(6.0).reshape(3, 2)
    >>> np.allclose(sum(nh.component(W, H, k) for k in range(3)), W @ H)
    True
    """
    W, H = check_factors("components", W, H)
    indices = sorted(set(_check_indices("components", ks, W.shape[1])))
    return _product("components", W[:, indices], H[indices, :])


def component(W, H, k: int) -> np.ndarray:
    """Spectrogram ``W[:, k] H[k, :]`` of one component (see :func:`components`).

    Parameters
    ----------
    W : np.ndarray [shape=(M, K)]
    H : np.ndarray [shape=(K, N)]
    k : int
        Component index, in ``0 .. K - 1``.

    Returns
    -------
    np.ndarray [shape=(M, N)]
        Refused (ParameterError) if it passes the range of the factors' dtype.
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise ParameterError(f"component: k must be an integer, got {k!r}")
    W, H = check_factors("component", W, H)
    k = _check_indices("component", [k], W.shape[1], name="k")[0]
    return _product("component", W[:, k : k + 1], H[k : k + 1, :])


def _product(function: str, W: np.ndarray, H: np.ndarray) -> np.ndarray:
    """``W @ H``, or a ParameterError if it passes the range of its dtype (float32: 3.4e38).

    The spectrogram asked for cannot be scaled back into range, so it is
    refused; that needs checking only when the bound ``max W * max H * K``
    passes the range (never for float64 factors, which are within float32's).
    """
    with np.errstate(over="ignore"):
        product = W @ H
    if product.dtype.kind == "f":
        largest = float(np.finfo(product.dtype).max)
        if float(W.max()) * float(H.max()) * W.shape[1] > largest and not np.isfinite(
            product.max()
        ):
            raise ParameterError(
                f"{function}: W H passes the range of {product.dtype} ({largest:.3g});"
                " scale W or H down (or pass them as float64)"
            )
    return product


def _check_groups(function: str, groups, K: int) -> list[list[int]]:
    """Groups as lists of indices in 0..K-1; no component in two groups."""
    example = "a list of index lists, e.g. [[0, 2], [1]]"
    if isinstance(groups, Mapping):
        # Iterating a dict gives its names, and "drums" would be read as indices.
        raise ParameterError(
            f"{function}: groups must be {example}, got a {type(groups).__name__} keyed by"
            f" {_shown(groups)}; pass list(groups.values()), whose order is the keys'"
        )
    try:
        groups = [
            group if isinstance(group, numbers.Integral | str | bytes) else list(group)
            for group in groups
        ]
    except TypeError:
        raise ParameterError(f"{function}: groups must be {example}, got {groups!r}") from None
    for group in groups:
        if not isinstance(group, list):
            raise ParameterError(
                f"{function}: groups must be {example}; each group a list, got {group!r}"
            )
    if not groups:
        raise ParameterError(
            f"{function}: groups must be a non-empty list of index lists, got {groups!r}"
        )
    # An empty group is allowed and gets silence (e.g. no percussive component found).
    checked = [
        sorted(set(_check_indices(function, group, K, name="groups"))) if group else []
        for group in groups
    ]
    seen: set[int] = set()
    for group in checked:
        shared = seen.intersection(group)
        if shared:
            raise ParameterError(
                f"{function}: component {min(shared)} is in two groups; groups must not overlap"
            )
        seen.update(group)
    return checked


def soft_masks(W, H, groups, *, power: float = 1.0) -> np.ndarray:
    """Soft masks ``(W_g H_g)^p / sum_g' (W_g' H_g')^p``, one per group.

    Components in no group form one implicit "rest" group, which takes part
    in the denominator, so with ``power=1`` the mask of group g is exactly
    ``W_g H_g / W H``. Where every group is zero the mixture is shared
    equally, so the masks of all groups (and the rest) always sum to 1.

    The masks do not change when W or H is multiplied by a number, so
    factors whose peak lies outside 1e-3 to 1e12 are scaled internally, by a
    power of two that brings the peak into [0.5, 1), before the products:
    ``W_g H_g`` cannot pass float32's range even when W H would.

    Parameters
    ----------
    W : np.ndarray [shape=(M, K), non-negative, at most 3.4e38]
    H : np.ndarray [shape=(K, N), non-negative, at most 3.4e38]
        Values beyond float32's range are refused (ParameterError).
    groups : sequence of sequences of int
        Disjoint component indices, e.g. ``[[0, 2], [1]]``; an empty group
        gets a zero mask.
    power : float > 0
        Exponent p; larger values make the masks closer to binary.

    Returns
    -------
    masks : np.ndarray [shape=(len(groups), M, N), float32], values in [0, 1]

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> W, H = np.ones((3, 2)), np.array([[1.0, 3.0], [1.0, 1.0]])
    >>> nh.soft_masks(W, H, [[0], [1]])[:, 0, :]
    array([[0.5 , 0.75],
           [0.5 , 0.25]], dtype=float32)
    """
    W, H = check_factors("soft_masks", W, H)
    groups = _check_groups("soft_masks", groups, W.shape[1])
    power = check_real("soft_masks", "power", power, minimum=1e-3, maximum=100.0)
    return _soft_masks(W, H, groups, power)


def _soft_masks(W: np.ndarray, H: np.ndarray, groups: list[list[int]], power: float):
    """:func:`soft_masks` for checked factors and groups (disjoint lists of indices).

    The masks do not change when W H is multiplied by a number, so factors
    far from audio's magnitudes (a peak outside 1e-3 to 1e12) are first
    brought to a peak in [0.5, 1) by a power of two, which changes no digit:
    the group magnitudes ``W_g H_g`` then cannot pass float32's range.
    """
    (W, _), (H, _) = scaled_into_range(W), scaled_into_range(H)
    K = W.shape[1]
    rest = sorted(set(range(K)).difference(*groups))
    every_group = groups + ([rest] if rest else [])
    magnitudes = np.stack([W[:, group] @ H[group, :] for group in every_group])
    present = np.array([len(group) > 0 for group in every_group])
    return mask_shares(magnitudes, power=power, present=present)[: len(groups)]


def mask_shares(magnitudes, *, power: float = 1.0, present=None) -> np.ndarray:
    """``magnitudes[g]^p / sum_g' magnitudes[g']^p`` per bin, safe for any power.

    Not public: the masks of :func:`soft_masks` and of
    :func:`nmf_helpers.ideal_ratio_estimates` come from here, and it trusts
    its arguments (a finite, non-negative stack and a power in range).

    Each bin is divided by its largest magnitude before the power is taken,
    so the power can neither overflow nor underflow the loudest share; where
    every magnitude is zero the bin is shared equally among the ``present``
    groups (all by default), so the shares always sum to 1.

    Parameters
    ----------
    magnitudes : np.ndarray [shape=(G, M, N), non-negative]
    power : float
    present : np.ndarray [shape=(G,), bool], optional
        Groups that may receive a share of an all-zero bin.

    Returns
    -------
    np.ndarray [shape=(G, M, N), float32]
    """
    parts = np.asarray(magnitudes, dtype=np.float32)
    peak = parts.max(axis=0)
    nothing = peak <= 0
    parts = parts / np.where(nothing, np.float32(1.0), peak)
    if power != 1.0:
        parts **= np.float32(power)
    total = parts.sum(axis=0)
    shares = parts / np.where(nothing, np.float32(1.0), total)
    present = np.ones(parts.shape[0], bool) if present is None else np.asarray(present, bool)
    shares[:, nothing] = (present / max(present.sum(), 1))[:, None].astype(np.float32)
    return shares


def separate(
    x, W, H, groups, *, power: float = 1.0, win: int = DEFAULT_WIN, hop: int = DEFAULT_HOP
):
    """Waveform of each group: ``istft(mask_g * stft(x))`` with the mixture's phase.

    The masks come from :func:`soft_masks`, safe for factors of any size in
    float32's range. A mixture whose peak lies outside 1e-3 to 1e12 is
    scaled internally (by a power of two, which changes no digit) so that its
    STFT cannot pass float32's range, and the parts scaled back; only parts
    that would themselves pass it are refused.

    Parameters
    ----------
    x : np.ndarray [shape=(n_samples,)]
        The mixture that ``W H`` was fitted to (``spectrogram(x, win, hop)``).
    W : np.ndarray [shape=(M, K), non-negative, at most 3.4e38]
    H : np.ndarray [shape=(K, N), non-negative, at most 3.4e38]
    groups : sequence of sequences of int
        Disjoint component indices (see :func:`soft_masks`).
    power : float
        Mask exponent p (1 by default).
    win, hop : int
        The STFT used for the spectrogram.

    Returns
    -------
    estimates : np.ndarray [shape=(len(groups), n_samples), float32]
        When the groups cover every component they add up to ``x`` (to
        float32 precision).

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> x = np.random.default_rng(0).standard_normal(8192).astype(np.float32)
    >>> W, H, _ = nh.nmf_kl(nh.spectrogram(x), 2, n_iter=10)
    >>> parts = nh.separate(x, W, H, [[0], [1]])
    >>> bool(np.allclose(parts.sum(axis=0), x, atol=1e-5))
    True
    """
    x, win, hop = check_audio_for_frames("separate", x, win, hop)
    W, H = check_factors("separate", W, H)
    shape = (win // 2 + 1, frame_count(x.size, win, hop))
    if (W.shape[0], H.shape[1]) != shape:
        raise ParameterError(
            f"separate: W H has shape {(W.shape[0], H.shape[1])} but the STFT of x has"
            f" shape {shape}; fit W and H to spectrogram(x, win={win}, hop={hop})"
        )
    groups = _check_groups("separate", groups, W.shape[1])
    power = check_real("separate", "power", power, minimum=1e-3, maximum=100.0)
    return separate_unchecked(x, W, H, groups, power=power, win=win, hop=hop)


def separate_unchecked(
    x: np.ndarray,
    W: np.ndarray,
    H: np.ndarray,
    groups: list[list[int]],
    *,
    power: float,
    win: int,
    hop: int,
    function: str = "separate",
) -> np.ndarray:
    """:func:`separate` for checked arguments: W H fits ``x``'s STFT, groups disjoint lists.

    A part that would pass float32's range (x within a hair of it) can only
    be found out here: the error names ``function``, the caller's door.
    """
    # A mixture far louder than audio is split as x / 2**e (its STFT sums
    # thousands of samples, which could pass float32's range), and each part
    # scaled back: every step is linear, so this changes no digit.
    x, exponent = scaled_into_range(x)
    X = stft_unchecked(x, win, hop)
    masks = _soft_masks(W, H, groups, power)
    parts = np.stack([istft_unchecked(mask * X, win, hop, x.size) for mask in masks])
    if not exponent:
        return parts
    if passes_float32_range(parts, exponent):
        raise ParameterError(
            f"{function}: a part of x would pass float32's range (3.4e38); scale x down"
        )
    return np.ldexp(parts, exponent)
