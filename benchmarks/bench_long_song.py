"""Peak memory and time of ``nh.split_drums_file`` on long songs (issue 11, item 8).

Builds long 44.1 kHz stereo 16-bit WAV songs in a temporary folder from the
project's mixes (``groove``, ``sampling_track``, ``unrelated_track``,
``sample``), one clip after another, each with its own small gain and pitch
change (a resampling by up to 3 %) and a slightly different gain per channel.
The song is written block by block and never held in memory.

Each split runs in a fresh Python subprocess, which reports its own peak
resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) and its wall
time; the table prints them per song length with seconds per audio minute.
Memory should be flat in the duration (it depends on ``chunk_seconds``) and
the target is a 3-hour song within 2 GB (exit status 1 if missed).
``--in-memory`` also times today's path (``load_audio`` + ``split_drums``)
on the shortest song, for the estimate of ``nh.memory_estimate``.

Run: ``python benchmarks/bench_long_song.py [--minutes 30 60 180] [--in-memory]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import soxr

import nmf_helpers as nh

SOURCE_RATE = 22050
SONG_RATE = 44100
MIXES = ("groove", "sampling_track", "unrelated_track", "sample")
TARGET_GB = 2.0

CHILD = """
import json, resource, sys, time, warnings
import nmf_helpers as nh
song, out, mode = sys.argv[1:4]
started = time.perf_counter()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    if mode == "streamed":
        result = nh.split_drums_file(
            song, {"drums": f"{out}/drums.wav", "harmonic": f"{out}/harmonic.wav"}
        )
        extra = {"chunks": int(result.chunk_losses.size), "peaks": result.peaks,
                 "groups": [len(result.percussive), len(result.harmonic_components)]}
    else:
        x, sr = nh.load_audio(song)
        result = nh.split_drums(x)
        nh.save_audio(f"{out}/drums.wav", result.drums, sr)
        nh.save_audio(f"{out}/harmonic.wav", result.harmonic, sr)
        extra = {}
seconds = time.perf_counter() - started
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_gb": peak_kb / 2**20,
                  "warnings": [str(w.message) for w in caught], **extra}))
"""


def build_song(path: Path, minutes: float, *, seed: int = 0) -> float:
    """Write a ``minutes``-long 44.1 kHz stereo WAV of varied clips; return its seconds."""
    rng = np.random.default_rng(seed)
    mixes = [nh.load_audio(nh.clip_path(name))[0] for name in MIXES]
    wanted = round(minutes * 60 * SONG_RATE)
    written = 0
    with soundfile.SoundFile(
        path, "w", samplerate=SONG_RATE, channels=2, format="WAV", subtype="PCM_16"
    ) as song:
        while written < wanted:
            clip = mixes[rng.integers(len(mixes))]
            pitch = rng.uniform(0.97, 1.03)  # played back at 44.1 kHz: pitch and tempo move
            piece = soxr.resample(clip, SOURCE_RATE * pitch, SONG_RATE, quality="HQ")
            gains = rng.uniform(0.6, 0.95) * np.array([1.0, rng.uniform(0.85, 1.0)])
            stereo = np.clip(piece[: wanted - written, None] * gains, -1.0, 1.0)
            song.write(stereo.astype(np.float32))
            written += stereo.shape[0]
    return written / SONG_RATE


def run_child(song: Path, out: Path, mode: str) -> dict:
    out.mkdir(exist_ok=True)
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, str(song), str(out), mode],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{mode} split of {song.name} failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[30.0, 180.0])
    parser.add_argument("--in-memory", action="store_true", help="also today's in-memory path")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_long_song_") as folder:
        folder = Path(folder)
        for minutes in args.minutes:
            song = folder / f"song_{minutes:g}min.wav"
            started = time.perf_counter()
            seconds = build_song(song, minutes)
            print(f"built {song.name}: {seconds / 60:.1f} min, {song.stat().st_size / 2**30:.2f} GB"
                  f" on disk, in {time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
            modes = ["streamed"] + (["in-memory"] if args.in_memory and not rows else [])
            for mode in modes:
                result = run_child(song, folder / f"out_{minutes:g}_{mode}", mode)
                estimate = nh.memory_estimate(seconds)
                rows.append((minutes, mode, result, estimate))
                print(f"  {mode}: {json.dumps(result)}", flush=True)
            song.unlink()
    print()
    print(
        f"{'minutes':>8} {'mode':>10} {'peak GB':>8} {'estimate':>8} {'s':>7} {'s/audio min':>11}"
    )
    for minutes, mode, result, estimate in rows:
        guess = estimate.streamed_gb if mode == "streamed" else estimate.in_memory_gb
        print(
            f"{minutes:8g} {mode:>10} {result['peak_gb']:8.2f} {guess:8.2f}"
            f" {result['seconds']:7.0f} {result['seconds'] / minutes:11.2f}"
        )
    streamed = [(m, r["peak_gb"]) for m, mode, r, _ in rows if mode == "streamed"]
    longest, peak = max(streamed)
    verdict = "met" if peak <= TARGET_GB else "MISSED"
    print(f"target: {longest:g} min within {TARGET_GB:g} GB peak: {peak:.2f} GB, {verdict}")
    if peak > TARGET_GB:  # a missed target fails the run, so the benchmark can gate a release
        sys.exit(1)


if __name__ == "__main__":
    main()
