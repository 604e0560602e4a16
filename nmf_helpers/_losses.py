"""The objectives the package minimises, by name: the one list of them.

:data:`LOSSES` names them; :data:`LOSS_DEFINITIONS` says, for each name, how
a table calls it and what it adds up, bin by bin. The NMF engine
(:mod:`nmf_helpers.nmf`) maps each name to the class that minimises it, and
the measures (:func:`nmf_helpers.elementwise_loss`,
:func:`nmf_helpers.divergence_by_bin`, :func:`nmf_helpers.loudness_band_table`)
read the terms here, so a fit's reported loss and the sum of its terms are the
same objective. This module sits below both, since the measures may not import
the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy.special import xlogy

from ._numerics import EPS

__all__ = ["LOSSES", "LOSS_DEFINITIONS", "Loss", "loss_terms"]


class Loss(NamedTuple):
    """One objective, as the measures and the tables see it."""

    #: How a table's title names it: "KL divergence".
    title: str
    #: ``terms(V, WH)`` for float64 arrays of one shape: the per-bin terms whose
    #: sum is the loss.
    terms: Callable[[np.ndarray, np.ndarray], np.ndarray]


def _kl_terms(V: np.ndarray, WH: np.ndarray) -> np.ndarray:
    """``V log(V / WH) - V + WH`` with ``0 log 0 = 0`` and ``WH`` floored at EPS, as in the NMF."""
    WH = np.maximum(WH, EPS)
    return xlogy(V, V) - xlogy(V, WH) - V + WH


def _squared_error_terms(V: np.ndarray, WH: np.ndarray) -> np.ndarray:
    """``(V - WH)^2``."""
    return (V - WH) ** 2


#: Each objective by its name, in the order :data:`LOSSES` lists them: the
#: generalised Kullback-Leibler divergence ``D(V || W H)`` and the squared
#: Euclidean distance ``||V - W H||_F^2``.
LOSS_DEFINITIONS: dict[str, Loss] = {
    "kl": Loss("KL divergence", _kl_terms),
    "euclidean": Loss("squared error", _squared_error_terms),
}

#: The names of the objectives :func:`nmf_helpers.nmf` minimises.
LOSSES: tuple[str, ...] = tuple(LOSS_DEFINITIONS)


def loss_terms(loss: str, V: np.ndarray, WH: np.ndarray) -> np.ndarray:
    """The terms of the loss named ``loss``, one per bin, in float64; they add up to the loss.

    For checked arguments: ``loss`` one of :data:`LOSSES`, ``V`` and ``WH``
    non-negative arrays of one shape.
    """
    return LOSS_DEFINITIONS[loss].terms(V.astype(np.float64), WH.astype(np.float64))
