"""Speed of the core loops, measured side by side in one run.

On a 3-minute music spectrogram (win 2048, hop 512: M = 1025, N ~ 7750), at
K = 3 and K = 30 with 100 iterations, times:

* ``nmf_kl`` and ``nmf_euclidean`` (loss tracked at every iteration);
* scikit-learn's NMF, solver='mu', same initial W and H, tol=0. With tol=0
  scikit-learn computes its loss once, before the loop, and never inside it
  (its every-10th-iteration check runs only when tol > 0), while ours
  reports the loss at every iteration: the comparison favours scikit-learn;
* the GEMM floor: only the float32 matrix products one iteration needs;
* ``griffin_lim`` against ``librosa.griffinlim`` at equal iterations, with
  the spectral convergence each reaches, on one minute of the music (under
  ``PARALLEL_MIN_ENTRIES``: one thread);
* ``griffin_lim`` on the whole 3 minutes (over ``PARALLEL_MIN_ENTRIES``: the
  threaded FFTs of long songs) against the same call held to one thread:
  the two signals must agree and the threads must not be slower.

Each figure is the best of ``--repeats`` runs (the machine is shared; the
minimum is the least disturbed), and each target of the core issue is printed
with PASS or MISS; the exit status is 1 if any target is missed, so the
benchmark can gate a release. Run: ``python benchmarks/bench_core.py``.

``--split`` times only the KL step with W partly fixed, its fixed columns'
product kept through the step or formed twice (``_kl_sweep._splits_product``),
at several numbers of fixed and free columns, on the 3-minute spectrogram and
on the detector's banded view of it (``detection.bands.compact``), and prints
which way the rule chooses; the chosen way should not be the slower.

``--compare-with REV`` also times ``nmf_kl`` and ``nmf_euclidean`` as they
were at git revision REV (e.g. ``HEAD``, to see what uncommitted changes do),
loaded into this process under another package name, alternating with the
current code on every repeat so that both meet the same load; it reports
whether the two give bit-identical W, H and losses.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from pathlib import Path

import librosa
import numpy as np
from sklearn.decomposition import NMF

import nmf_helpers as nh

SPECTRAL = importlib.import_module("nmf_helpers.spectral")
KL_SWEEP = importlib.import_module("nmf_helpers._kl_sweep")
BANDS = importlib.import_module("nmf_helpers.detection.bands")

SR = 22050
DURATION = 180.0
REPOSITORY = Path(__file__).resolve().parent.parent


def music_spectrogram() -> np.ndarray:
    """3 minutes of the project's own clips, one after the other, repeated."""
    names = ["groove", "sampling_track", "unrelated_track", "sample"]
    pieces = [nh.load_audio(nh.clip_path(name), sr=SR)[0] for name in names]
    song = np.concatenate(pieces)
    song = np.tile(song, int(np.ceil(DURATION * SR / song.size)))[: int(DURATION * SR)]
    return nh.spectrogram(song)


def best_time(repeats: int, function, *args, **kwargs) -> float:
    """Least wall time of ``repeats`` calls of ``function(*args, **kwargs)``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return min(times)


def best_times_alternating(repeats: int, calls: dict) -> tuple[dict, dict]:
    """Least wall time of each of ``calls`` (name: function of no arguments), taken in turns.

    Each repeat runs every call once, so a disturbance on the shared machine
    hits them alike. Returns the times and each call's last result.
    """
    times = {name: [] for name in calls}
    results = {}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            results[name] = call()
            times[name].append(time.perf_counter() - start)
    return {name: min(each) for name, each in times.items()}, results


def package_at(revision: str, directory: Path):
    """``nmf_helpers`` as committed at git ``revision``, imported under another name."""
    archive = subprocess.run(
        ["git", "archive", revision, "nmf_helpers"],
        cwd=REPOSITORY,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")
    name = "nmf_helpers_at_" + re.sub(r"\W", "_", revision)
    (directory / "nmf_helpers").rename(directory / name)
    sys.path.insert(0, str(directory))
    return importlib.import_module(name)


def gemm_floor(V, W, H, loss: str, n_iter: int) -> None:
    """The float32 matrix products of ``n_iter`` iterations, and nothing else."""
    WH = np.empty_like(V)
    for _ in range(n_iter):
        if loss == "kl":
            np.matmul(W, H, out=WH)
            WH @ H.T
            np.matmul(W, H, out=WH)
            W.T @ WH
        else:
            V @ H.T
            W.T @ V


def sklearn_nmf(V, W0, H0, beta_loss: str, n_iter: int) -> None:
    model = NMF(
        W0.shape[1], init="custom", solver="mu", beta_loss=beta_loss, tol=0, max_iter=n_iter
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter reached, as intended
        model.fit_transform(V, W=W0.copy(), H=H0.copy())


def compare_nmf(repeats: int, V, K: int, n_iter: int, before, W0, H0) -> None:
    """Time this NMF and that of ``before`` in turns, and check that they agree bit for bit."""
    for loss in ("kl", "euclidean"):
        function = f"nmf_{loss}"
        calls = {
            version: functools.partial(
                getattr(package, function), V, K, n_iter=n_iter, W_init=W0, H_init=H0
            )
            for version, package in (("now", nh), ("before", before))
        }
        times, results = best_times_alternating(repeats, calls)
        identical = all(
            np.array_equal(a, b) for a, b in zip(results["now"], results["before"], strict=True)
        )
        print(
            f"{loss:<10} {K:>3} {times['now']:>8.3f} {times['before']:>9.3f}"
            f" {times['now'] / times['before']:>11.3f} {'yes' if identical else 'NO':>10}"
        )


def griffin_lim_one_thread(V, **options) -> np.ndarray:
    """:func:`nh.griffin_lim` held to one FFT worker, whatever the size of V."""
    threaded = SPECTRAL.worker_count
    SPECTRAL.worker_count = lambda n_entries: 1
    try:
        return nh.griffin_lim(V, **options)
    finally:
        SPECTRAL.worker_count = threaded


def run(args, before) -> list[tuple[str, bool]]:
    """Time everything, print the tables, and return each target with whether it was met."""
    V = music_spectrogram()
    print(f"V: shape {V.shape}, {V.dtype}; {args.iters} iterations; best of {args.repeats}")
    rng = np.random.default_rng(0)
    # Warm the JIT caches so compile time is not measured.
    nh.nmf_kl(V[:, :100], 2, n_iter=2)
    nh.griffin_lim(V[:, :50], n_iter=2)
    if before is not None:
        before.nmf_kl(V[:, :100], 2, n_iter=2)
        print(f"\nthis tree against {before.__name__} ({before.__file__})")
        print(
            f"{'loss':<10} {'K':>3} {'now s':>8} {'before s':>9}"
            f" {'now/before':>11} {'identical':>10}"
        )

    rows = []
    for K in (3, 30):
        W0 = (1.0 - rng.random((V.shape[0], K))).astype(np.float32)
        H0 = (1.0 - rng.random((K, V.shape[1]))).astype(np.float32)
        scale = np.sqrt(V.mean() / (W0.sum(0) @ H0.sum(1) / V.size)).astype(np.float32)
        W0 *= scale
        H0 *= scale
        if before is not None:
            compare_nmf(args.repeats, V, K, args.iters, before, W0, H0)
        for loss, ours, beta in (
            ("kl", nh.nmf_kl, "kullback-leibler"),
            ("euclidean", nh.nmf_euclidean, "frobenius"),
        ):
            t_ours = best_time(args.repeats, ours, V, K, n_iter=args.iters, W_init=W0, H_init=H0)
            t_sklearn = best_time(args.repeats, sklearn_nmf, V, W0, H0, beta, args.iters)
            t_floor = best_time(args.repeats, gemm_floor, V, W0, H0, loss, args.iters)
            rows.append((loss, K, t_ours, t_sklearn, t_floor))

    print()
    print(
        f"{'loss':<10} {'K':>3} {'ours s':>8} {'sklearn s':>10} {'GEMM floor s':>13}"
        f" {'sklearn/ours':>13} {'ours/floor':>11}"
    )
    for loss, K, t_ours, t_sklearn, t_floor in rows:
        print(
            f"{loss:<10} {K:>3} {t_ours:>8.3f} {t_sklearn:>10.3f} {t_floor:>13.3f}"
            f" {t_sklearn / t_ours:>12.2f}x {t_ours / t_floor:>10.2f}x"
        )

    times = {
        (loss, K): (t_ours, t_sklearn, t_floor) for loss, K, t_ours, t_sklearn, t_floor in rows
    }
    targets = [
        (
            f"nmf_kl >= 1.5x faster than scikit-learn at K = {K}",
            times["kl", K][1] / times["kl", K][0] >= 1.5,
        )
        for K in (3, 30)
    ]
    targets.append(
        (
            "nmf_kl within 1.4x of the GEMM floor at K = 30",
            times["kl", 30][0] / times["kl", 30][2] <= 1.4,
        )
    )
    targets += [
        (
            f"nmf_euclidean at least as fast as scikit-learn at K = {K}",
            times["euclidean", K][0] <= times["euclidean", K][1],
        )
        for K in (3, 30)
    ]

    # Griffin-Lim on an NMF-like target: the magnitude of the music itself.
    n_gl = args.iters
    gl_V = V[:, : V.shape[1] // 3]  # one minute keeps the run short
    librosa_options = {
        "n_iter": n_gl, "hop_length": 512, "n_fft": 2048, "momentum": 0.99,
        "random_state": 0, "init": "random",
    }  # fmt: skip
    t_ours = best_time(args.repeats, nh.griffin_lim, gl_V, n_iter=n_gl, seed=0)
    t_librosa = best_time(args.repeats, librosa.griffinlim, gl_V, **librosa_options)
    y_ours = nh.griffin_lim(gl_V, n_iter=n_gl, seed=0)
    y_librosa = librosa.griffinlim(gl_V, **librosa_options)
    sc_ours = nh.spectral_convergence(gl_V, y_ours)
    sc_librosa = nh.spectral_convergence(gl_V, y_librosa)
    print()
    print(f"griffin_lim, {gl_V.shape[1]} frames, {n_gl} iterations, momentum 0.99")
    print(f"  ours    {t_ours:7.3f} s   spectral convergence {sc_ours:.4f}")
    print(f"  librosa {t_librosa:7.3f} s   spectral convergence {sc_librosa:.4f}")
    print(f"  librosa/ours time {t_librosa / t_ours:.2f}x")
    targets.append(
        (
            "griffin_lim >= 2x faster than librosa, spectral convergence no worse",
            t_librosa / t_ours >= 2.0 and sc_ours <= sc_librosa * (1 + 1e-3),
        )
    )

    # The whole 3 minutes: over PARALLEL_MIN_ENTRIES, the FFTs run on every core.
    n_long = max(2, args.iters // 4)  # the same path each iteration; a few show it
    workers = SPECTRAL.worker_count(V.size)
    t_threads = best_time(args.repeats, nh.griffin_lim, V, n_iter=n_long)
    t_one = best_time(args.repeats, griffin_lim_one_thread, V, n_iter=n_long)
    y_threads = nh.griffin_lim(V, n_iter=n_long)
    y_one = griffin_lim_one_thread(V, n_iter=n_long)
    difference = float(np.max(np.abs(y_threads - y_one)) / np.max(np.abs(y_one)))
    print()
    print(f"griffin_lim, {V.shape[1]} frames ({V.size:,} entries), {n_long} iterations")
    print(f"  {workers} FFT workers {t_threads:7.3f} s")
    print(f"  one worker    {t_one:7.3f} s   largest difference {difference:.2e} of the peak")
    targets.append(
        (
            f"griffin_lim on {V.size:,} entries takes the threaded path ({workers} workers),"
            " gives the one-thread signal (1e-5 of the peak) and is no slower than it",
            (workers > 1 or len(os.sched_getaffinity(0)) == 1)
            and difference <= 1e-5
            and t_threads <= t_one * 1.1,  # 10 %: the noise of a shared machine
        )
    )
    print()
    for target, met in targets:
        print(f"  {'PASS' if met else 'MISS'}  {target}")
    return targets


def split_product(repeats: int, n_iter: int) -> list[tuple[str, bool]]:
    """The KL step with W partly fixed, the fixed product kept or not, side by side."""
    V_full = music_spectrogram()
    V_bands = BANDS.compact(V_full, BANDS.band_starts(V_full.shape[0], SR, 2048))
    rule = KL_SWEEP._splits_product
    rng = np.random.default_rng(0)
    targets = []
    print(f"== KL step, W partly fixed: fixed product kept or formed twice ({n_iter} iterations)")
    print(f"{'V':>12} {'K':>4} {'fixed':>5}  {'kept':>7} {'twice':>7}  kept/twice  rule")
    cases = [(V_bands, 160, 140), (V_full, 160, 140), (V_full, 60, 40), (V_full, 40, 30)]
    cases += [(V_full, 34, 24), (V_full, 12, 8)]
    for V, K, n_fixed in cases:
        W_fixed = rng.random((V.shape[0], n_fixed)).astype(np.float32)
        W_fixed /= W_fixed.sum(axis=0)

        def fit(keeps: bool, V=V, K=K, W_fixed=W_fixed):
            KL_SWEEP._splits_product = lambda K, first_free: keeps and first_free < K
            try:
                return nh.nmf_kl(V, K, n_iter=n_iter, W_fixed=W_fixed)
            finally:
                KL_SWEEP._splits_product = rule

        times, _ = best_times_alternating(
            repeats, {"kept": lambda: fit(True), "twice": lambda: fit(False)}
        )
        chosen = "kept" if rule(K, n_fixed) else "twice"
        ratio = times["kept"] / times["twice"]
        print(
            f"{V.shape[0]:>5}x{V.shape[1]:<6} {K:>4} {n_fixed:>5}  {times['kept']:6.2f}s"
            f" {times['twice']:6.2f}s  {ratio:10.2f}  {chosen}"
        )
        other = "twice" if chosen == "kept" else "kept"
        targets.append(
            (
                f"K = {K}, {n_fixed} fixed, {V.shape[0]} rows: {chosen}",
                times[chosen] <= 1.05 * times[other],
            )
        )
    for target, met in targets:
        print(f"{'PASS' if met else 'MISS'}  the rule's way no slower (within 5 %): {target}")
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument(
        "--compare-with",
        metavar="REV",
        help="also time the NMF functions of git revision REV (e.g. HEAD), side by side",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="time only the KL step with W partly fixed, its fixed product kept or not",
    )
    args = parser.parse_args()
    if args.split:
        targets = split_product(args.repeats, min(args.iters, 20))
        sys.exit(1 if not all(met for _, met in targets) else 0)
    with tempfile.TemporaryDirectory() as directory:
        before = package_at(args.compare_with, Path(directory)) if args.compare_with else None
        targets = run(args, before)
    missed = [target for target, met in targets if not met]
    if missed:
        print(f"\n{len(missed)} of {len(targets)} targets missed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
