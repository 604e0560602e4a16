"""nmf_helpers: music source separation with nonnegative matrix factorisation.

The modules, one per concern:

* :mod:`nmf_helpers.audio` — :func:`load_audio`, :func:`save_audio`, :func:`clip_path`
* :mod:`nmf_helpers.spectral` — :func:`stft`, :func:`istft`, :func:`spectrogram`,
  :func:`griffin_lim`, :func:`spectral_convergence`
* :mod:`nmf_helpers.nmf` — :func:`nmf_euclidean`, :func:`nmf_kl` (fixed and partially
  fixed W, per-iteration losses)
* :mod:`nmf_helpers.separation` — :func:`component`, :func:`components`,
  :func:`soft_masks`, :func:`separate`
* :mod:`nmf_helpers.plotting` — :func:`plot_spectrogram`, :func:`plot_spectrograms`,
  :func:`plot_losses`, :func:`plot_template`, :func:`plot_activation`,
  :func:`plot_component`, :func:`plot_fits`

Examples
--------
>>> import nmf_helpers as nh
>>> x, sr = nh.load_audio(nh.clip_path("groove"))  # doctest: +SKIP
>>> V = nh.spectrogram(x)  # doctest: +SKIP
>>> W, H, losses = nh.nmf_kl(V, K=3)  # doctest: +SKIP
>>> drums = nh.griffin_lim(nh.component(W, H, 0))  # doctest: +SKIP
"""

from ._validation import ParameterError
from .audio import AUDIO_DIR, clip_path, load_audio, save_audio
from .nmf import EPS, nmf_euclidean, nmf_kl
from .plotting import (
    plot_activation,
    plot_component,
    plot_fits,
    plot_losses,
    plot_spectrogram,
    plot_spectrograms,
    plot_template,
)
from .separation import component, components, separate, soft_masks
from .spectral import griffin_lim, istft, spectral_convergence, spectrogram, stft

__version__ = "0.1.0"

__all__ = [
    "AUDIO_DIR",
    "EPS",
    "ParameterError",
    "clip_path",
    "component",
    "components",
    "griffin_lim",
    "istft",
    "load_audio",
    "nmf_euclidean",
    "nmf_kl",
    "plot_activation",
    "plot_component",
    "plot_fits",
    "plot_losses",
    "plot_spectrogram",
    "plot_spectrograms",
    "plot_template",
    "save_audio",
    "separate",
    "soft_masks",
    "spectral_convergence",
    "spectrogram",
    "stft",
]
