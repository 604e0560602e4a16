"""Measuring a separation against reference stems: SDR, SIR and SAR.

:func:`evaluate` wraps ``mir_eval.separation.bss_eval_sources`` (Vincent,
Gribonval and Févotte, 2006): each estimate is split into the part that is
its own reference (up to a 512-tap filter), interference from the other
references, and artifacts. In dB, higher is better:

* SDR, signal to distortion: the overall quality;
* SIR, signal to interference: how little of the other sources leaks in;
* SAR, signal to artifacts: how little noise or "musical noise" was added.

Two reference points make a number mean something:

* the **floor**, the mixture itself used as every estimate (what doing
  nothing scores);
* the **ceiling**, :func:`ideal_ratio_estimates`, the soft masks one would
  compute knowing the stems (``|S_i| / sum_j |S_j|``, the ideal ratio mask),
  applied to the mixture's STFT exactly as NMF masks are.

:func:`nmf_helpers.load_stems` gives the stems of the project's own clips.

References
----------
E. Vincent, R. Gribonval and C. Févotte, "Performance measurement in blind
audio source separation", IEEE TASLP 14(4), 2006.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ._numerics import passes_float32_range, rescaling_exponent
from ._validation import (
    ParameterError,
    check_frame_sizes,
    check_int,
    check_real,
    check_signal,
    shorter_than_window,
)
from .separation import mask_shares
from .spectral import DEFAULT_HOP, DEFAULT_WIN, istft_unchecked, stft_unchecked

__all__ = ["SeparationScores", "evaluate", "ideal_ratio_estimates"]


@dataclass(frozen=True)
class SeparationScores:
    """A table of scores, one row per source: ``{"source", "sdr", "sir", "sar"}``.

    ``str(scores)`` and :meth:`to_markdown` give a Markdown table;
    ``scores["vocals"]`` is the row of one source.
    """

    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def __getitem__(self, source: str) -> dict:
        for row in self.rows:
            if row["source"] == source:
                return row
        raise KeyError(f"no source named {source!r}; have {[r['source'] for r in self.rows]}")

    def to_markdown(self, *, label: str | None = None) -> str:
        """The rows as a Markdown table (dB with two decimals).

        ``label`` (e.g. the method's name) adds a first column, "method",
        holding it on every row, so tables of several methods can be compared.
        """
        head = "| " + ("method | " if label else "") + "source | SDR | SIR | SAR |"
        rule = "|" + (" --- |" if label else "") + " --- | ---: | ---: | ---: |"
        lines = [head, rule]
        for row in self.rows:
            cells = [f"{row[key]:.2f}" for key in ("sdr", "sir", "sar")]
            lines.append(
                "| " + (f"{label} | " if label else "") + " | ".join([row["source"], *cells]) + " |"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()


def _stack_pair(
    estimates: Mapping, references: Mapping
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Names and (S, n) arrays of estimates and references, matched by name."""
    if not isinstance(estimates, Mapping) or not isinstance(references, Mapping):
        raise ParameterError("evaluate: estimates and references must be {name: waveform} mappings")
    names = list(references)
    if not names or set(estimates) != set(names):
        raise ParameterError(
            f"evaluate: estimates have sources {sorted(estimates)} but references have"
            f" {sorted(names)}; give one estimate per reference, with the same names"
        )
    refs = [check_signal("evaluate", f"references[{name!r}]", references[name]) for name in names]
    ests = [check_signal("evaluate", f"estimates[{name!r}]", estimates[name]) for name in names]
    lengths = {signal.size for signal in refs + ests}
    if len(lengths) != 1:
        raise ParameterError(f"evaluate: all waveforms must have one length, got {sorted(lengths)}")
    return names, np.stack(refs), np.stack(ests)


def _segment_samples(segment, n_samples: int, sr: int) -> slice:
    if segment is None:
        return slice(0, n_samples)
    start, end = (check_real("evaluate", "segment", t, minimum=0.0, maximum=1e6) for t in segment)
    first, last = round(start * sr), min(round(end * sr), n_samples)
    if last - first < sr // 10:
        raise ParameterError(
            f"evaluate: segment {segment!r} holds less than 0.1 s of the {n_samples / sr:.2f} s"
        )
    return slice(first, last)


def evaluate(estimates, references, *, sr: int = 22050, segment=None) -> SeparationScores:
    """SDR, SIR and SAR of each estimate against its reference (bss_eval).

    Parameters
    ----------
    estimates : Mapping[str, np.ndarray [shape=(n_samples,)]]
        One estimated waveform per source name; none silent in the evaluated
        segment (bss_eval cannot score silence).
    references : Mapping[str, np.ndarray [shape=(n_samples,)]]
        The true waveforms, same names (the order of this mapping is the
        order of the rows). Every reference must be non-silent in the
        evaluated segment. Interference is measured against the other
        references, so give all the sources that make up the mixture.
    sr : int
        Sample rate, used only to turn ``segment`` into samples.
    segment : (float, float), optional
        Evaluate only ``start`` to ``end`` seconds (bss_eval takes about
        0.1 s per second of audio per source).

    Returns
    -------
    SeparationScores
        One row per source in dB, and the seconds bss_eval took.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.standard_normal((2, 8000))
    >>> scores = nh.evaluate({"a": a + 0.1 * b, "b": b}, {"a": a, "b": b})
    >>> round(scores["a"]["sir"])
    20
    """
    sr = check_int("evaluate", "sr", sr, minimum=1)
    names, refs, ests = _stack_pair(estimates, references)
    span = _segment_samples(segment, refs.shape[1], sr)
    refs, ests = refs[:, span].astype(np.float64), ests[:, span].astype(np.float64)
    silent = [name for name, ref in zip(names, refs, strict=True) if not np.any(ref)]
    if silent:
        raise ParameterError(
            f"evaluate: reference {silent[0]!r} is silent in the evaluated segment;"
            " bss_eval needs every reference to hold some signal"
        )
    silent = [name for name, est in zip(names, ests, strict=True) if not np.any(est)]
    if silent:
        raise ParameterError(
            f"evaluate: estimate {silent[0]!r} is silent (all zeros) in the evaluated segment;"
            " bss_eval cannot score silence: the separation has failed on that source"
        )
    import mir_eval  # imported here: it is slow to import and only needed to score

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # mir_eval 0.8 deprecates, still exact
        sdr, sir, sar, _ = mir_eval.separation.bss_eval_sources(
            refs, ests, compute_permutation=False
        )
    rows = [
        {"source": name, "sdr": float(d), "sir": float(i), "sar": float(a)}
        for name, d, i, a in zip(names, sdr, sir, sar, strict=True)
    ]
    return SeparationScores(rows=rows, seconds=time.perf_counter() - started)


def ideal_ratio_estimates(
    references, *, power: float = 1.0, win: int = DEFAULT_WIN, hop: int = DEFAULT_HOP
) -> dict[str, np.ndarray]:
    """The ceiling: soft masks computed from the true stems, applied to their sum.

    ``mask_i = |S_i|^p / sum_j |S_j|^p`` with ``S_i = stft(reference_i)``;
    estimate ``i`` is ``istft(mask_i * stft(mixture))``, the mixture being
    the sum of the references. No NMF mask can do better than this by much,
    since it uses the true magnitudes NMF has to guess.

    Parameters
    ----------
    references : Mapping[str, np.ndarray [shape=(n_samples,)]]
        Samples beyond float32's range, or whose sum passes it, are refused
        (ParameterError: scale them down). References whose peak lies
        outside 1e-3 to 1e12 are scaled internally by a power of two (which
        changes no digit) before the STFTs, and the estimates scaled back.
    power : float > 0
    win, hop : int

    Returns
    -------
    dict[str, np.ndarray [shape=(n_samples,), float32]]
        One estimate per reference; they add up to the mixture.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> a, b = np.random.default_rng(0).standard_normal((2, 8192))
    >>> est = nh.ideal_ratio_estimates({"a": a, "b": b})
    >>> bool(np.allclose(est["a"] + est["b"], a + b, atol=1e-4))
    True
    """
    if not isinstance(references, Mapping) or not references:
        raise ParameterError("ideal_ratio_estimates: references must be a non-empty mapping")
    power = check_real("ideal_ratio_estimates", "power", power, minimum=1e-3, maximum=100.0)
    win, hop = check_frame_sizes("ideal_ratio_estimates", win, hop)
    signals = {
        n: check_signal("ideal_ratio_estimates", f"references[{n!r}]", s)
        for n, s in references.items()
    }
    lengths = sorted({s.size for s in signals.values()})
    if len(lengths) != 1:
        raise ParameterError(
            f"ideal_ratio_estimates: all references must have one length, got {lengths}"
        )
    if lengths[0] < win:
        raise shorter_than_window("ideal_ratio_estimates", "every reference", lengths[0], win)
    with np.errstate(over="ignore"):  # an overflowing sum is refused just below
        mixture = np.sum(list(signals.values()), axis=0)
    if not np.all(np.isfinite(mixture)):
        raise ParameterError(
            "ideal_ratio_estimates: the references' sum overflows float32; scale them down"
        )
    # Far from audio's levels, work on everything / 2**e, where the STFTs
    # cannot pass float32's range: the masks do not change, the estimates are
    # 2**e times smaller, and a power of two changes no digit.
    exponent = rescaling_exponent(
        max(max(float(s.max()), -float(s.min())) for s in [mixture, *signals.values()])
    )
    if exponent:
        mixture = np.ldexp(mixture, -exponent)
        signals = {name: np.ldexp(s, -exponent) for name, s in signals.items()}
    X = stft_unchecked(mixture, win, hop)
    magnitudes = np.stack([np.abs(stft_unchecked(s, win, hop)) for s in signals.values()])
    masks = mask_shares(magnitudes, power=power)
    estimates = {
        name: istft_unchecked(mask * X, win, hop, mixture.size)
        for name, mask in zip(signals, masks, strict=True)
    }
    if exponent:
        if any(passes_float32_range(e, exponent) for e in estimates.values()):
            raise ParameterError(
                "ideal_ratio_estimates: an estimate would pass float32's range (3.4e38);"
                " scale the references down"
            )
        estimates = {name: np.ldexp(e, exponent) for name, e in estimates.items()}
    return estimates
