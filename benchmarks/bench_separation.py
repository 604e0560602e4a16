"""Separation quality against the stems, side by side, on every clip that has stems.

For each clip of ``audio/clips.json`` with stems, one table (SDR / SIR / SAR
in dB from ``nmf_helpers.evaluate``, i.e. mir_eval's bss_eval_sources, and
seconds):

* **drums / harmonic** (clips with a drum stem): ``nh.split_drums`` (KL NMF,
  components grouped by their features, soft masks) against librosa's HPSS
  (``librosa.effects.hpss``, its defaults) on the same clip. The harmonic
  reference is the sum of the other stems.
* **vocal filtering** (clips with a voice stem, ``vocals`` or ``lead``):
  ``nh.filter_vocals`` against the floor (the mixture used as both
  estimates) and the ceiling (ideal ratio masks from the stems). The
  karaoke reference is the sum of the other stems. The instrumental passage
  is the groove's intro from clips.json; the other clips have no such fact,
  so their passage runs from 0 to the first audible sample of the voice stem
  (rounded down to 0.1 s), standing in for the range a user would give.

Then the targets: drums SDR at least 1 dB above HPSS; vocals and karaoke
SDR each at least 6 dB above the floor; the exit status is 1 if any
target fails. ``--seeds N`` repeats this
package's methods with seeds 0..N-1 and reports their mean and worst.

Run: ``python benchmarks/bench_separation.py [--seeds N]``.
"""

from __future__ import annotations

import argparse
import sys
import time

import librosa
import numpy as np

import nmf_helpers as nh

SR = 22050
VOICE_STEMS = ("vocals", "lead")
#: A voice stem is "audible" from its first sample above this (-60 dBFS).
AUDIBLE = 1e-3


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def clips_with_stems() -> list[str]:
    return [name for name in nh.clip_names() if nh.clip_facts(name)["stems"]]


def instrumental_range(clip: str, voice: np.ndarray) -> tuple[float, float]:
    facts = nh.clip_facts(clip)
    if "instrumental_intro_end_s" in facts:
        return 0.0, float(facts["instrumental_intro_end_s"])
    first = int(np.flatnonzero(np.abs(voice) > AUDIBLE)[0])
    return 0.0, np.floor(first / SR * 10) / 10


def rows_of(clip, task, method, scores, seconds) -> list[dict]:
    return [
        {"clip": clip, "task": task, "method": method, **row, "seconds": seconds}
        | {"eval_seconds": scores.seconds}
        for row in scores.rows
    ]


def mean_scores(runs: list[nh.SeparationScores]) -> nh.SeparationScores:
    """Mean of each score over runs; the worst SDR is kept as ``sdr_min``."""
    rows = []
    for index, row in enumerate(runs[0].rows):
        values = {key: [run.rows[index][key] for run in runs] for key in ("sdr", "sir", "sar")}
        mean = {key: float(np.mean(v)) for key, v in values.items()}
        rows.append({"source": row["source"], **mean, "sdr_min": float(min(values["sdr"]))})
    return nh.SeparationScores(rows=rows, seconds=float(np.mean([run.seconds for run in runs])))


def drum_rows(clip, x, stems, seeds) -> list[dict]:
    drums = stems["drums"]
    refs = {"drums": drums, "harmonic": np.sum([s for n, s in stems.items() if n != "drums"], 0)}
    runs, seconds = [], []
    for seed in range(seeds):
        split, took = timed(nh.split_drums, x, seed=seed)
        runs.append(nh.evaluate({"drums": split.drums, "harmonic": split.harmonic}, refs))
        seconds.append(took)
    (harmonic, percussive), hpss_seconds = timed(librosa.effects.hpss, x)
    hpss = nh.evaluate({"drums": percussive, "harmonic": harmonic}, refs)
    return rows_of(clip, "drums/harmonic", "nmf_helpers", mean_scores(runs), np.mean(seconds)) + (
        rows_of(clip, "drums/harmonic", "librosa HPSS", hpss, hpss_seconds)
    )


def vocal_rows(clip, x, stems, voice_name, seeds) -> list[dict]:
    voice = stems[voice_name]
    accompaniment = np.sum([s for n, s in stems.items() if n != voice_name], axis=0)
    refs = {"vocals": voice, "karaoke": accompaniment}
    passage = instrumental_range(clip, voice)
    runs, seconds = [], []
    for seed in range(seeds):
        song, took = timed(nh.filter_vocals, x, instrumental=passage, seed=seed)
        runs.append(nh.evaluate({"vocals": song.vocals, "karaoke": song.karaoke}, refs))
        seconds.append(took)
    floor = nh.evaluate({"vocals": x, "karaoke": x}, refs)
    ceiling, ceiling_seconds = timed(nh.ideal_ratio_estimates, refs)
    task = f"vocals (instrumental {passage[0]:g}-{passage[1]:g} s)"
    return (
        rows_of(clip, task, "floor: mixture", floor, 0.0)
        + rows_of(clip, task, "nmf_helpers", mean_scores(runs), np.mean(seconds))
        + rows_of(
            clip, task, "ceiling: ideal ratio mask", nh.evaluate(ceiling, refs), ceiling_seconds
        )
    )


def print_table(rows: list[dict], seeds: int) -> None:
    worst = seeds > 1
    print("| clip | task | method | source | SDR | SIR | SAR |" + (" worst SDR |" if worst else "")
          + " fit s | bss_eval s |")  # fmt: skip
    print("| --- | --- | --- | --- | ---: | ---: | ---: |" + (" ---: |" if worst else "")
          + " ---: | ---: |")  # fmt: skip
    for row in rows:
        cells = [row["clip"], row["task"], row["method"], row["source"]]
        cells += [f"{row[key]:.2f}" for key in ("sdr", "sir", "sar")]
        if worst:
            cells.append(f"{row['sdr_min']:.2f}" if "sdr_min" in row else "")
        cells += [f"{row['seconds']:.2f}", f"{row['eval_seconds']:.2f}"]
        print("| " + " | ".join(cells) + " |")


def sdr(rows, clip, method, source, key="sdr") -> float:
    for row in rows:
        if (row["clip"], row["method"], row["source"]) == (clip, method, source):
            return row.get(key, row["sdr"])
    raise KeyError((clip, method, source))


def print_targets(rows: list[dict]) -> int:
    """Print each target with PASS or FAIL; return how many failed."""
    print("\nTargets (SDR differences in dB; 'worst' uses the worst seed):")
    failed = 0
    for clip in dict.fromkeys(row["clip"] for row in rows):
        methods = {row["method"] for row in rows if row["clip"] == clip}
        if "librosa HPSS" in methods:
            gain = sdr(rows, clip, "nmf_helpers", "drums", "sdr_min") - sdr(
                rows, clip, "librosa HPSS", "drums"
            )
            print(f"  {clip}: drums SDR - HPSS = {gain:+.2f} dB  {'PASS' if gain >= 1 else 'FAIL'}")
            failed += gain < 1
        if "floor: mixture" in methods:
            for source in ("vocals", "karaoke"):
                gain = sdr(rows, clip, "nmf_helpers", source, "sdr_min") - sdr(
                    rows, clip, "floor: mixture", source
                )
                verdict = "PASS" if gain >= 6 else "FAIL"
                print(f"  {clip}: {source} SDR - floor = {gain:+.2f} dB  {verdict}")
                failed += gain < 6
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1, help="seeds per method (default 1)")
    args = parser.parse_args()
    started = time.perf_counter()
    rows: list[dict] = []
    for clip in clips_with_stems():
        x, _ = nh.load_audio(nh.clip_path(clip), sr=SR)
        stems = nh.load_stems(clip, sr=SR)
        voice = next((name for name in VOICE_STEMS if name in stems), None)
        if "drums" not in stems and voice is None:
            print(f"{clip}: stems {sorted(stems)}: no drum or voice stem, nothing to compare")
            continue
        if "drums" in stems:
            rows += drum_rows(clip, x, stems, args.seeds)
        if voice is not None:
            rows += vocal_rows(clip, x, stems, voice, args.seeds)
    print()
    print_table(rows, args.seeds)
    failed = print_targets(rows)
    print(f"\ntotal {time.perf_counter() - started:.1f} s (bss_eval included)")
    if failed:  # a missed target fails the run, so the benchmark can gate a release
        print(f"{failed} target(s) missed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
