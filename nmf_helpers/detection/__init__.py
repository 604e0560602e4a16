"""Sample detection: is a known sample used in a track, and where? One room, by concern.

* :mod:`~nmf_helpers.detection.settings` — the defaults and tuned constants,
  and the checks every caller shares (:func:`check_tempo_range`,
  :func:`check_min_part`, :func:`check_part`)
* :mod:`~nmf_helpers.detection.learning` — :func:`learn_sample`:
  :class:`SampleTemplates`, in pitch-shifted copies
* :mod:`~nmf_helpers.detection.alignment` — where a part of one activation
  sequence plays in another, at which tempo ratio (cores)
* :mod:`~nmf_helpers.detection.search` — the occurrence search on a fit's
  activations (cores)
* :mod:`~nmf_helpers.detection.copies` — exact copies of the sample: its
  whitened waveform cross-correlated with the track's (cores)
* :mod:`~nmf_helpers.detection.door` — :func:`detect_sample`
  (:class:`SampleDetection`, :class:`Occurrence`), and the cores a scan
  calls on a spectrogram made once per track
* :mod:`~nmf_helpers.detection.scan` — a catalogue scan: its settings, one
  (sample, track) pair, the catalogue's tracks, and the pairs run here or on
  a Dask cluster (the engine behind the ``scan`` command)

The method, after Gururani & Lerch (2017), is told in :mod:`~nmf_helpers.detection.door`:
the track is fitted with the sample's templates held fixed, and the decision
comes from *when* they are active, aligned with the sample's own activations,
not from how loud they are; a part dropped in at its own tempo and pitch is
also found by its waveform (:mod:`~nmf_helpers.detection.copies`).
"""

# Besides the doors (__all__): the cores and settings that the commands, the benchmarks and
# the tests call, under one name whichever module of the room holds them.
from .door import (  # noqa: F401
    Occurrence,
    SampleDetection,
    coarse_score_unchecked,
    detect_in_spectrogram_unchecked,
    detect_sample,
    track_spectrogram_unchecked,
)
from .learning import SampleTemplates, learn_sample
from .settings import (  # noqa: F401
    DEFAULT_N_COMPONENTS,
    DEFAULT_N_FREE,
    DEFAULT_SAMPLE_ITERATIONS,
    DEFAULT_SHIFTS,
    DEFAULT_TEMPO_RANGE,
    DEFAULT_TRACK_ITERATIONS,
    DETECTION_THRESHOLD,
    MIN_PART_RANGE,
    MIN_PART_SECONDS,
    TEMPO_LIMITS,
    check_min_part,
    check_part,
    check_tempo_range,
)

__all__ = [
    "DEFAULT_SHIFTS",
    "DEFAULT_TEMPO_RANGE",
    "DETECTION_THRESHOLD",
    "MIN_PART_SECONDS",
    "TEMPO_LIMITS",
    "Occurrence",
    "SampleDetection",
    "SampleTemplates",
    "detect_sample",
    "learn_sample",
]
