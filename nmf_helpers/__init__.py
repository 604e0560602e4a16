"""nmf_helpers: music source separation with nonnegative matrix factorisation.

The modules, one per concern:

* :mod:`nmf_helpers.audio` — :func:`load_audio`, :func:`save_audio`, :func:`clip_path`
* :mod:`nmf_helpers.spectral` — :func:`stft`, :func:`istft`, :func:`spectrogram`,
  :func:`griffin_lim`, :func:`spectral_convergence`
* :mod:`nmf_helpers.nmf` — :func:`nmf_euclidean`, :func:`nmf_kl` (fixed and partially
  fixed W, per-iteration losses)
* :mod:`nmf_helpers.separation` — :func:`component`, :func:`components`,
  :func:`soft_masks`, :func:`separate`
* :mod:`nmf_helpers.grouping` — :func:`component_features`,
  :func:`percussive_harmonic_groups`, :func:`split_drums`
* :mod:`nmf_helpers.vocals` — :func:`filter_vocals`, :func:`fit_vocal_model`,
  :func:`time_range_frames`
* :mod:`nmf_helpers.evaluation` — :func:`evaluate`, :func:`ideal_ratio_estimates`,
  :func:`load_stems`, :func:`clip_facts`
* :mod:`nmf_helpers.plotting` — :func:`plot_spectrogram`, :func:`plot_spectrograms`,
  :func:`plot_losses`, :func:`plot_template`, :func:`plot_activation`,
  :func:`plot_component`, :func:`plot_fits`, :func:`plot_grouping`

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
from .detection import (
    DEFAULT_SHIFTS,
    DETECTION_THRESHOLD,
    SampleDetection,
    SampleTemplates,
    detect_sample,
    learn_sample,
)
from .evaluation import (
    SeparationScores,
    clip_facts,
    evaluate,
    ideal_ratio_estimates,
    load_stems,
)
from .grouping import (
    ComponentFeatures,
    DrumSplit,
    component_features,
    percussive_harmonic_groups,
    split_drums,
)
from .nmf import EPS, nmf_euclidean, nmf_kl
from .plotting import (
    plot_activation,
    plot_component,
    plot_detection,
    plot_fits,
    plot_grouping,
    plot_losses,
    plot_spectrogram,
    plot_spectrograms,
    plot_template,
)
from .separation import component, components, separate, soft_masks
from .spectral import (
    griffin_lim,
    istft,
    shift_templates,
    spectral_convergence,
    spectrogram,
    stft,
)
from .vocals import (
    VocalSeparation,
    filter_vocals,
    fit_vocal_model,
    time_range_frames,
)

__version__ = "0.1.0"

__all__ = [
    "AUDIO_DIR",
    "DEFAULT_SHIFTS",
    "DETECTION_THRESHOLD",
    "EPS",
    "ComponentFeatures",
    "DrumSplit",
    "ParameterError",
    "SampleDetection",
    "SampleTemplates",
    "SeparationScores",
    "VocalSeparation",
    "clip_facts",
    "clip_path",
    "component",
    "component_features",
    "components",
    "detect_sample",
    "evaluate",
    "filter_vocals",
    "fit_vocal_model",
    "griffin_lim",
    "ideal_ratio_estimates",
    "istft",
    "learn_sample",
    "load_audio",
    "load_stems",
    "nmf_euclidean",
    "nmf_kl",
    "percussive_harmonic_groups",
    "plot_activation",
    "plot_component",
    "plot_detection",
    "plot_fits",
    "plot_grouping",
    "plot_losses",
    "plot_spectrogram",
    "plot_spectrograms",
    "plot_template",
    "save_audio",
    "separate",
    "shift_templates",
    "soft_masks",
    "spectral_convergence",
    "spectrogram",
    "split_drums",
    "stft",
    "time_range_frames",
]
