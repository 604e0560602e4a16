"""Measuring what a factorisation or a separation found, and the tables the notebooks print.

Two modules, one concern each:

* :mod:`nmf_helpers.analysis.measures` turns ``V``, ``W``, ``H`` or separated
  waveforms into a few numbers (:func:`decibels`, :func:`spectral_flatness`,
  :func:`divergence_by_bin`, :func:`stem_shares`, ...);
* :mod:`nmf_helpers.analysis.tables` builds from them the :class:`Table` a
  notebook cell prints (:func:`component_table`, :func:`loss_table`, ...).

Both are re-exported here, so ``nmf_helpers.analysis.decibels`` and
``nmf_helpers.analysis.Table`` name the same objects as ``nmf_helpers.decibels``
and ``nmf_helpers.Table``.
"""

from __future__ import annotations

from .measures import (
    activation_ratio,
    best_assignment,
    bin_frequencies,
    decibels,
    divergence_by_bin,
    elementwise_loss,
    log_spectral_correlation,
    relative_level,
    share_above,
    spectral_centroid,
    spectral_flatness,
    spectral_flatness_unchecked,  # noqa: F401  (the core nmf_helpers.grouping calls)
    stem_shares,
    waveform_correlations,
)
from .tables import (
    Table,
    component_table,
    correlation_table,
    divergence_table,
    loss_table,
    loudness_band_table,
    range_table,
    score_table,
    spectrogram_table,
)

# measures.__all__ and tables.__all__ together
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
