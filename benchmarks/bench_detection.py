"""Sample detection measured on the project's clips and transformed copies.

Positives: ``sampling_track`` rebuilt from its stems with the sample stem
pitch-shifted by -2..+2 semitones (``librosa.effects.pitch_shift``) and
mixed at 0 dB and -10 dB under the new drums and lead, each at gains of -12
and +6 dB: 20 tracks. True ranges: the offsets in ``audio/clips.json``, each
copy lasting the sample's duration.

Negatives: ``unrelated_track`` (the sample's chord progression a whole tone
up, same instruments and tempo: pitch-shifted by -2 it is in the sample's
key), ``groove``, and ``sampling_track`` without its sample (its drums and
lead alone), each pitch-shifted by -2..+2 semitones at gains of -12 and
+6 dB: 30 tracks.

Printed: every score, ROC AUC, precision and recall at the threshold, the
false positives, the time error of the detected ranges, and the time per
minute of track (the sample's templates are learned once, as ``scan`` does).
Run: ``python benchmarks/bench_detection.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import time
import warnings

import librosa
import numpy as np

import nmf_helpers as nh

SR = 22050
SHIFTS = (-2, -1, 0, 1, 2)
GAINS_DB = (-12.0, 6.0)


def clip(name: str) -> np.ndarray:
    return nh.load_audio(nh.clip_path(name), sr=SR)[0]


def pitch_shift(x: np.ndarray, semitones: int) -> np.ndarray:
    return x if semitones == 0 else librosa.effects.pitch_shift(x, sr=SR, n_steps=semitones)


def true_ranges() -> list[tuple[float, float]]:
    """Where the sample plays in sampling_track, from clips.json."""
    return nh.sample_ranges("sampling_track")


def positives():
    """(name, waveform) of the sample under new parts, shifted, quieter, louder."""
    sample, drums, lead = (clip(f"sampling_track_{stem}") for stem in ("sample", "drums", "lead"))
    for semitones in SHIFTS:
        shifted = pitch_shift(sample, semitones)
        for level_db in (0.0, -10.0):
            mix = shifted * 10 ** (level_db / 20) + drums + lead
            for gain_db in GAINS_DB:
                name = f"sample {semitones:+d} st at {level_db:+.0f} dB, gain {gain_db:+.0f} dB"
                yield name, mix * np.float32(10 ** (gain_db / 20))


def negatives():
    """(name, waveform) of music without the sample, shifted and at both gains."""
    bases = {
        "unrelated_track": clip("unrelated_track"),
        "groove": clip("groove"),
        "sampling_track without sample": clip("sampling_track_drums") + clip("sampling_track_lead"),
    }
    for base, x in bases.items():
        for semitones in SHIFTS:
            shifted = pitch_shift(x, semitones)
            for gain_db in GAINS_DB:
                name = f"{base} {semitones:+d} st, gain {gain_db:+.0f} dB"
                yield name, shifted * np.float32(10 ** (gain_db / 20))


def roc_auc(positive_scores, negative_scores) -> float:
    """Probability that a positive outscores a negative (ties count half)."""
    p = np.asarray(positive_scores)[:, None]
    n = np.asarray(negative_scores)[None, :]
    return float(np.mean((p > n) + 0.5 * (p == n)))


def range_errors(found, truth) -> tuple[list[float], int, int]:
    """Per true range, max(|start error|, |end error|) to the closest found range.

    Returns the errors of the matched ranges, the number of true ranges
    missed (no found range starts within half a sample of it) and the number
    of extra found ranges.
    """
    errors, used = [], set()
    for start, end in truth:
        if not found:
            break
        j = int(np.argmin([abs(s - start) for s, _ in found]))
        if j in used or abs(found[j][0] - start) > (end - start) / 2:
            continue
        used.add(j)
        errors.append(max(abs(found[j][0] - start), abs(found[j][1] - end)))
    return errors, len(truth) - len(errors), len(found) - len(used)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=100, help="NMF iterations per track")
    parser.add_argument("--threshold", type=float, default=nh.DETECTION_THRESHOLD)
    args = parser.parse_args()

    started = time.perf_counter()
    templates = nh.learn_sample(nh.clip_path("sample"))
    print(f"learned the sample's templates in {time.perf_counter() - started:.2f} s")
    truth = true_ranges()
    scores = {True: [], False: []}
    errors, missed, extra, fit_seconds, track_minutes = [], 0, 0, 0.0, 0.0
    false_positives, false_negatives = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = [(True, *case) for case in positives()] + [(False, *c) for c in negatives()]
    print(f"{'track':<50} {'score':>6}  decision  shift  ranges (s)")
    for is_positive, name, x in cases:
        start = time.perf_counter()
        result = nh.detect_sample(templates, x, n_iter=args.iters, threshold=args.threshold)
        fit_seconds += time.perf_counter() - start
        track_minutes += x.size / SR / 60
        scores[is_positive].append(result.score)
        ranges = " ".join(f"{a:.2f}-{b:.2f}" for a, b in result.ranges)
        print(
            f"{name:<50} {result.score:6.3f}  {'yes' if result.detected else 'no':<8}"
            f"  {result.shift:+.0f}    {ranges}"
        )
        if is_positive and result.detected:
            found_errors, n_missed, n_extra = range_errors(list(result.ranges), truth)
            errors += found_errors
            missed, extra = missed + n_missed, extra + n_extra
        elif is_positive:
            false_negatives.append(name)
        elif result.detected:
            false_positives.append(name)

    true_positives = len(scores[True]) - len(false_negatives)
    detected = true_positives + len(false_positives)
    print()
    print(f"{len(scores[True])} positives, {len(scores[False])} negatives, {args.iters} iterations")
    print(f"ROC AUC: {roc_auc(scores[True], scores[False]):.3f}")
    print(
        f"lowest positive score {min(scores[True]):.3f},"
        f" highest negative score {max(scores[False]):.3f}"
    )
    print(
        f"at threshold {args.threshold}: precision {true_positives / max(detected, 1):.3f},"
        f" recall {true_positives / len(scores[True]):.3f};"
        f" false positives: {false_positives or 'none'}; missed: {false_negatives or 'none'}"
    )
    if errors:
        print(
            f"range time error (max of start and end error) over {len(errors)} copies found:"
            f" mean {np.mean(errors):.3f} s, max {np.max(errors):.3f} s;"
            f" copies missed in detected tracks: {missed}, extra ranges: {extra}"
        )
    print(
        f"time: {fit_seconds / track_minutes:.2f} s per track-minute"
        f" ({fit_seconds:.1f} s for {track_minutes:.1f} min of tracks)"
    )


if __name__ == "__main__":
    main()
