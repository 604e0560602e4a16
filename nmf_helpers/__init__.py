"""nmf_helpers: music source separation with nonnegative matrix factorisation.

The modules, one per concern:

* :mod:`nmf_helpers.audio` — :func:`load_audio`, :func:`save_audio`, and the project's
  clips: :func:`clip_path`, :func:`clip_names`, :func:`clip_facts`,
  :func:`load_stems`, :func:`sample_ranges`
* :mod:`nmf_helpers.spectral` — :func:`stft`, :func:`istft`, :func:`spectrogram`,
  :func:`griffin_lim`, :func:`spectral_convergence`, :func:`shift_templates`,
  :func:`time_range_frames`
* :mod:`nmf_helpers.nmf` — :func:`nmf_euclidean`, :func:`nmf_kl`, :func:`nmf` with
  ``loss`` one of :data:`LOSSES` (fixed and partially fixed W, per-iteration losses)
* :mod:`nmf_helpers.separation` — :func:`component`, :func:`components`,
  :func:`soft_masks`, :func:`separate`
* :mod:`nmf_helpers.grouping` — :func:`component_features`,
  :func:`percussive_harmonic_groups`, :func:`split_drums`
* :mod:`nmf_helpers.long_songs` — :func:`split_drums_file` (a file of any length, in
  bounded memory), :func:`memory_estimate`, :func:`audio_blocks`
* :mod:`nmf_helpers.vocals` — :func:`filter_vocals`, :func:`fit_vocal_model`
* :mod:`nmf_helpers.detection` — :func:`learn_sample`, :func:`detect_sample`
  (:class:`Occurrence`: where in the track, which part of the sample, tempo ratio,
  pitch shift), and a catalogue scan (:mod:`nmf_helpers.detection.scan`); one
  package, by concern: settings, learning, alignment, search, door, scan; the figure:
  :func:`plot_alignment` (:mod:`nmf_helpers.plotting`)
* :mod:`nmf_helpers.evaluation` — :func:`evaluate`, :func:`ideal_ratio_estimates`
* :mod:`nmf_helpers.analysis` — measuring what a factorisation or a separation found:
  :func:`decibels`, :func:`spectral_flatness`, :func:`spectral_centroid`,
  :func:`divergence_by_bin`, :func:`stem_shares`, ..., and the notebooks' tables
  (:class:`Table`, :func:`component_table`, ...)
* :mod:`nmf_helpers.plotting` — :func:`plot_spectrogram`, :func:`plot_spectrograms`,
  :func:`plot_losses`, :func:`plot_template`, :func:`plot_activation`,
  :func:`plot_component`, :func:`plot_fits`, :func:`plot_grouping`, :func:`plot_detection`,
  and audio players on one shared scale: :func:`audio_player`, :func:`players`,
  :func:`audio_scale`

How the modules depend on each other, and where new code goes: ARCHITECTURE.md.

Examples
--------
>>> import nmf_helpers as nh
>>> x, sr = nh.load_audio(nh.clip_path("groove"))  # doctest: +SKIP
>>> V = nh.spectrogram(x)  # doctest: +SKIP
>>> W, H, losses = nh.nmf_kl(V, K=3)  # doctest: +SKIP
>>> drums = nh.griffin_lim(nh.component(W, H, 0))  # doctest: +SKIP
"""

from . import _startup  # noqa: F401  (first: one-line interrupts while starting)
from ._validation import ParameterError
from .analysis import (
    Table,
    activation_ratio,
    best_assignment,
    bin_frequencies,
    component_table,
    correlation_table,
    decibels,
    divergence_by_bin,
    divergence_table,
    elementwise_loss,
    log_spectral_correlation,
    loss_table,
    loudness_band_table,
    range_table,
    relative_level,
    score_table,
    share_above,
    spectral_centroid,
    spectral_flatness,
    spectrogram_table,
    stem_shares,
    waveform_correlations,
)
from .audio import (
    AUDIO_DIR,
    audio_blocks,
    clip_facts,
    clip_names,
    clip_path,
    load_audio,
    load_stems,
    sample_ranges,
    save_audio,
)
from .detection import (
    DEFAULT_SHIFTS,
    DEFAULT_TEMPO_RANGE,
    DETECTION_THRESHOLD,
    MIN_PART_SECONDS,
    TEMPO_LIMITS,
    Occurrence,
    SampleDetection,
    SampleTemplates,
    detect_sample,
    learn_sample,
)
from .evaluation import SeparationScores, evaluate, ideal_ratio_estimates
from .grouping import (
    ComponentFeatures,
    DrumSplit,
    component_features,
    percussive_harmonic_groups,
    split_drums,
)
from .homework import friendly_stubs, not_written_message
from .long_songs import FileSplit, MemoryEstimate, memory_estimate, split_drums_file
from .nmf import EPS, LOSSES, nmf, nmf_euclidean, nmf_kl
from .plotting import (
    audio_player,
    audio_scale,
    players,
    plot_activation,
    plot_alignment,
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
    time_range_frames,
)
from .vocals import VocalSeparation, filter_vocals, fit_vocal_model

__version__ = "0.1.0"

__all__ = [
    "AUDIO_DIR",
    "DEFAULT_SHIFTS",
    "DEFAULT_TEMPO_RANGE",
    "DETECTION_THRESHOLD",
    "EPS",
    "LOSSES",
    "MIN_PART_SECONDS",
    "TEMPO_LIMITS",
    "ComponentFeatures",
    "DrumSplit",
    "FileSplit",
    "MemoryEstimate",
    "Occurrence",
    "ParameterError",
    "SampleDetection",
    "SampleTemplates",
    "SeparationScores",
    "Table",
    "VocalSeparation",
    "activation_ratio",
    "audio_blocks",
    "audio_player",
    "audio_scale",
    "best_assignment",
    "bin_frequencies",
    "clip_facts",
    "clip_names",
    "clip_path",
    "component",
    "component_features",
    "component_table",
    "components",
    "correlation_table",
    "decibels",
    "detect_sample",
    "divergence_by_bin",
    "divergence_table",
    "elementwise_loss",
    "evaluate",
    "filter_vocals",
    "fit_vocal_model",
    "friendly_stubs",
    "griffin_lim",
    "ideal_ratio_estimates",
    "istft",
    "learn_sample",
    "load_audio",
    "load_stems",
    "log_spectral_correlation",
    "loss_table",
    "loudness_band_table",
    "memory_estimate",
    "nmf",
    "nmf_euclidean",
    "nmf_kl",
    "not_written_message",
    "percussive_harmonic_groups",
    "players",
    "plot_activation",
    "plot_alignment",
    "plot_component",
    "plot_detection",
    "plot_fits",
    "plot_grouping",
    "plot_losses",
    "plot_spectrogram",
    "plot_spectrograms",
    "plot_template",
    "range_table",
    "relative_level",
    "sample_ranges",
    "save_audio",
    "score_table",
    "separate",
    "share_above",
    "shift_templates",
    "soft_masks",
    "spectral_centroid",
    "spectral_convergence",
    "spectral_flatness",
    "spectrogram",
    "spectrogram_table",
    "split_drums",
    "split_drums_file",
    "stem_shares",
    "stft",
    "time_range_frames",
    "waveform_correlations",
]
