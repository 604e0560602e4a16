"""Catalogue scans (``scan``): throughput on Dask, the first pass, and a paper estimate.

1. **Throughput**: the same pairs (samples x tracks of 20 s, full fits) checked
   here (no Dask), then on a LocalCluster of 1 and of 2 workers (the workers
   are started and have imported the package before the clock starts): pairs
   per minute, scaling efficiency (rate with 2 / twice the rate with 1), and
   whether the three give the same rows bit for bit.
2. **First pass**: the cases of ``benchmarks/bench_detection.py`` (its quick
   set; ``--full`` for all: every treatment of its riffs, the project's and
   the field recordings', positives and negatives) and a catalogue-like set
   (the project's other clips and stems, none with the sample), each scored
   by the first pass (a short fit and a coarse alignment, score only) and by
   the full check, both from the track's spectrogram made once. Printed: the
   positives the first pass keeps, the smallest margin that keeps them all, the largest drop of a
   positive's score from the full check to the first pass (what the margin
   must cover), the share of pairs it rules out, what the first pass costs
   next to a full check, and the cost per pair with and without it.
3. **Paper estimate**: wall time for 50 samples x 20,000 three-minute tracks
   on 10 and 100 workers, from the measured per-pair costs (one thread each).

Targets (exit status 1 if one is missed): no positive lost by the first
pass; the first pass at least halves the cost of the catalogue-like pairs;
scaling efficiency >= 0.7 with 2 workers (needs the machine's two cores free:
on a busy machine the rates say more about the neighbours than the scan);
the same rows from all three runs.

Run: ``python benchmarks/bench_scan.py`` (about 5 minutes on 2 free cores;
``--quick`` skips the first-pass part, ``--full`` takes every detection case).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import nmf_helpers as nh
from nmf_helpers.detection import (
    coarse_score_unchecked,
    detect_in_spectrogram_unchecked,
    track_spectrogram_unchecked,
)
from nmf_helpers.detection.scan import (
    SCREEN_ITERATIONS,
    SCREEN_MARGIN,
    SCREEN_RATIOS,
    SR,
    ScanSettings,
    dask_client,
    run_pairs,
)

HERE = Path(__file__).parent
# The paper catalogue of issue 14.
PAPER_SAMPLES, PAPER_TRACKS, PAPER_MINUTES = 50, 20_000, 3.0
# Clips and stems without the sample: what most of a real catalogue looks like to it.
CATALOGUE_CLIPS = [
    "groove",
    "groove_bass",
    "groove_drums",
    "groove_keys",
    "groove_vocals",
    "unrelated_track",
    "unrelated_track_bass",
    "unrelated_track_drums",
    "unrelated_track_keys",
    "unrelated_track_lead",
    "sampling_track_drums",
    "sampling_track_lead",
]
TARGET_EFFICIENCY = 0.7
TARGET_COST_SHARE = 0.5


def detection_cases(full: bool):
    """The riffs and (kind, riff searched, name, waveform) of bench_detection.py, read-only."""
    spec = importlib.util.spec_from_file_location("bench_detection", HERE / "bench_detection.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    materials = [bench.project_material(not full), bench.field_material(not full)]
    cases = [
        ("positive" if case.positive else "negative", case.sample, case.treatment, case.x)
        for material in materials
        for case in bench.cases(material, quick=not full)
    ]
    riffs = {name: x for material in materials for name, x in material.riffs.items()}
    return riffs, cases


def write_tracks(folder: Path, n_tracks: int, seconds: float) -> list[str]:
    """``n_tracks`` excerpts of the project's songs, ``seconds`` long."""
    songs = [nh.load_audio(nh.clip_path(n))[0] for n in ("sampling_track", "groove")]
    songs.append(nh.load_audio(nh.clip_path("unrelated_track"))[0])
    paths = []
    for k in range(n_tracks):
        x = songs[k % len(songs)]
        start = (k // len(songs)) * SR
        excerpt = np.resize(x[start:], int(seconds * SR))  # wraps round if the song is short
        paths.append(str(nh.save_audio(folder / f"track_{k:02d}.wav", excerpt, SR)))
    return paths


def throughput(folder: Path, n_tracks: int, seconds: float, n_iter: int) -> dict:
    """Seconds for the same full-fit pairs here, and on LocalClusters of 1 and 2 workers."""
    samples = [nh.clip_path("sample"), nh.clip_path("sample_keys")]
    templates = [nh.learn_sample(sample) for sample in samples]
    tracks = write_tracks(folder, n_tracks, seconds)
    todo = {j: list(range(len(samples))) for j in range(len(tracks))}
    settings = ScanSettings(n_iter=n_iter, screen_iter=0)
    runs = {}
    for name, workers in [("here", None), ("1 worker", 1), ("2 workers", 2)]:
        rows = {}

        def emit(i, j, fields, rows=rows):
            rows[i, j] = fields

        if workers is None:
            start = time.perf_counter()
            run_pairs(templates, tracks, todo, settings, emit)
            seconds_taken = time.perf_counter() - start
        else:
            with dask_client(None, workers) as client:
                client.run(
                    importlib.import_module, "nmf_helpers.detection.scan"
                )  # started, imported
                start = time.perf_counter()
                run_pairs(templates, tracks, todo, settings, emit, client=client)
                seconds_taken = time.perf_counter() - start
        runs[name] = (seconds_taken, rows)
        pairs = len(rows)
        print(
            f"{name:>10}: {pairs} pairs in {seconds_taken:6.1f} s,"
            f" {60 * pairs / seconds_taken:6.1f} pairs per minute"
        )
    return runs


def first_pass(n_iter: int, threshold: float, margin: float, full: bool) -> list[dict]:
    """Per case: its kind, name, first-pass and full scores, seconds of each, track minutes.

    Both start from the track's spectrogram, made once as a scan makes it;
    the first pass is the scan's (:func:`coarse_score_unchecked`), the full
    check is :func:`detect_sample`'s, bit for bit.
    """
    riffs, cases = detection_cases(full)
    templates = {name: nh.learn_sample(x) for name, x in riffs.items()}
    cases += [
        ("catalogue", "sample", name, nh.load_audio(nh.clip_path(name))[0])
        for name in CATALOGUE_CLIPS
    ]
    results = []
    print(f"{'case':<56} {'first':>6} {'full':>6}  kept")
    for kind, riff, treatment, x in cases:
        V = track_spectrogram_unchecked(x, templates[riff].win, templates[riff].hop)
        start = time.perf_counter()
        first = coarse_score_unchecked(
            templates[riff], V, n_iter=SCREEN_ITERATIONS, n_ratios=SCREEN_RATIOS
        )
        middle = time.perf_counter()
        full_fit = detect_in_spectrogram_unchecked(
            templates[riff], V, x.size / SR, n_iter=n_iter, threshold=threshold
        )
        end = time.perf_counter()
        kept = first >= threshold - margin
        name = f"{riff}: {treatment}"
        results.append(
            {
                "kind": kind,
                "name": name,
                "first": first,
                "full": full_fit.score,
                "detected": full_fit.detected,
                "kept": kept,
                "first_s": middle - start,
                "full_s": end - middle,
                "minutes": x.size / SR / 60,
            }
        )
        verdict = "yes" if kept else "no"
        print(f"{kind[:3]} {name:<52} {first:6.3f} {full_fit.score:6.3f}  {verdict}")
    return results


def throughput_part(args, misses: list[str]) -> float:
    """The throughput runs, printed; returns the full fit's seconds per track-minute."""
    print("== throughput (full fits, no first pass) ==")
    with tempfile.TemporaryDirectory(prefix="bench_scan_") as folder:
        runs = throughput(Path(folder), args.tracks, args.seconds, args.iters)
    rate = {name: len(rows) / seconds for name, (seconds, rows) in runs.items()}
    efficiency = rate["2 workers"] / (2 * rate["1 worker"])
    same = runs["here"][1] == runs["1 worker"][1] == runs["2 workers"][1]
    print(f"scaling efficiency with 2 workers: {efficiency:.2f} (target >= {TARGET_EFFICIENCY})")
    print(f"rows here, on 1 worker and on 2 workers are the same: {same}")
    for key, row in runs["here"][1].items():
        for name in ("1 worker", "2 workers"):
            if runs[name][1][key] != row:  # say what differs (a file edited meanwhile?)
                print(f"  pair {key} here: {row}\n  pair {key} on {name}: {runs[name][1][key]}")
    if efficiency < TARGET_EFFICIENCY:
        misses.append(f"scaling efficiency {efficiency:.2f} < {TARGET_EFFICIENCY}")
    if not same:
        misses.append("rows differ between here, 1 worker and 2 workers")
    full_per_minute = runs["1 worker"][0] / len(runs["1 worker"][1]) / (args.seconds / 60)
    x = nh.load_audio(nh.clip_path("groove"))[0]
    start = time.perf_counter()
    for _ in range(5):
        nh.spectrogram(x)
    stft_per_minute = (time.perf_counter() - start) / 5 / (x.size / SR / 60)
    print(
        f"the spectrogram, made once per track for all its samples:"
        f" {stft_per_minute:.3f} s per track-minute, {stft_per_minute / full_per_minute:.1%}"
        " of a full check"
    )
    return full_per_minute


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=100, help="iterations of the full fit")
    parser.add_argument("--tracks", type=int, default=6, help="tracks of the throughput runs")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of those tracks")
    parser.add_argument("--quick", action="store_true", help="skip the first-pass part")
    parser.add_argument(
        "--full", action="store_true", help="every case of bench_detection.py, not its quick set"
    )
    parser.add_argument(
        "--no-throughput", action="store_true", help="skip the throughput part (1 and 2 workers)"
    )
    args = parser.parse_args()
    threshold, margin = nh.DETECTION_THRESHOLD, SCREEN_MARGIN
    misses = []

    full_per_minute = None
    if not args.no_throughput:
        full_per_minute = throughput_part(args, misses)
    first_per_minute, keep_share = None, 1.0

    if not args.quick:
        print(
            f"\n== first pass ({SCREEN_ITERATIONS} iterations, {SCREEN_RATIOS} tempo ratios,"
            f" margin {margin}) =="
        )
        results = first_pass(args.iters, threshold, margin, args.full)
        positives = [r for r in results if r["kind"] == "positive" and r["detected"]]
        lost = [r["name"] for r in positives if not r["kept"]]
        needed = max((threshold - r["first"] for r in positives), default=0.0)
        print(
            f"positives found by the full fit: {len(positives)};"
            f" kept by the first pass: {len(positives) - len(lost)}"
            f" (smallest margin keeping them all: {needed:.3f}; used: {margin})"
        )
        # What the margin must cover for a positive right at the threshold.
        drop = max((r["full"] - r["first"] for r in positives), default=0.0)
        print(f"largest drop from a positive's full score to its first-pass score: {drop:.3f}")
        if lost:
            misses.append(f"the first pass loses {len(lost)} positives: {lost}")
        for kind in ("negative", "catalogue"):
            group = [r for r in results if r["kind"] == kind]
            removed = sum(not r["kept"] for r in group)
            print(f"{kind}s ruled out by the first pass: {removed} of {len(group)}")
        catalogue = [r for r in results if r["kind"] == "catalogue"]
        minutes = sum(r["minutes"] for r in catalogue)
        first_per_minute = sum(r["first_s"] for r in catalogue) / minutes
        full_per_minute = sum(r["full_s"] for r in catalogue) / minutes
        keep_share = np.mean([r["kept"] for r in catalogue])
        share = (first_per_minute + keep_share * full_per_minute) / full_per_minute
        every = sum(r["first_s"] for r in results) / sum(r["full_s"] for r in results)
        print(f"the first pass alone costs {every:.2f} of a full check (all cases)")
        print(
            f"cost per track-minute and pair: first pass {first_per_minute:.2f} s,"
            f" full fit {full_per_minute:.2f} s; with the first pass a catalogue-like pair"
            f" costs {share:.2f} of a full fit (target <= {TARGET_COST_SHARE})"
        )
        if share > TARGET_COST_SHARE:
            misses.append(f"the first pass leaves {share:.2f} of the cost")

    if full_per_minute is None:
        return finish(misses)
    print("\n== paper estimate: 50 samples x 20,000 three-minute tracks ==")
    pairs = PAPER_SAMPLES * PAPER_TRACKS
    per_pair_full = PAPER_MINUTES * full_per_minute
    costs = [("full fit only", per_pair_full)]
    if first_per_minute is not None:
        per_pair = PAPER_MINUTES * (first_per_minute + keep_share * full_per_minute)
        costs.append(("with first pass", per_pair))
    for workers in (10, 100):
        for label, cost in costs:
            hours = pairs * cost / workers / 3600
            print(f"{workers:>4} workers, {label:<16}: {hours:8.1f} h ({hours / 24:.1f} days)")
    print("(one thread per worker, perfect scaling; divide by the efficiency above for real)")

    return finish(misses)


def finish(misses: list[str]) -> int:
    """Exit status 1 when a target was missed, and say which."""
    if misses:
        print("\nMISSED: " + "; ".join(misses))
        return 1
    print("\nall targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
