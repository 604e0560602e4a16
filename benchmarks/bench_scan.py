"""Catalogue scans (``scan``): throughput on Dask, the first pass, and a paper estimate.

1. **Throughput**: the same pairs (samples x tracks of 20 s, full fits) checked
   here (no Dask), on a LocalCluster of 1 and of 2 workers, and on a real
   ``dask scheduler`` with two ``dask worker`` processes (``--nthreads 1``) on
   127.0.0.1, started here and stopped at the end. Every worker has imported
   the package and checked one pair (its kernels compiled) before the clock
   starts. Printed per run: pairs per minute, and pairs per CPU-second (CPU
   of all the run's processes: this one, the scheduler, nannies and workers;
   and of its workers only); the scaling efficiency (rate with 2 local
   workers / twice the rate with 1); whether all runs give the same rows bit
   for bit; and, on the ``dask worker`` processes, the bytes moved: each
   worker's ``transfer_outgoing_log`` (distributed's record of every value
   it served to another worker or to the client, with the bytes written to
   the connection), split by what the values were (a track's rows, the
   samples' templates, anything else such as a spectrogram), plus the
   templates' pickled size for their way in. Also a three-minute track's
   decoding and spectrogram (:func:`read_track`), in CPU seconds.
2. **First pass**: the cases of ``benchmarks/bench_detection.py`` (its quick
   set, project and field; ``--full`` for all: every treatment of its riffs,
   the project's, the field recordings' and the unseen material's,
   positives and negatives) and a catalogue-like set (the project's other clips and
   stems, none with the sample), each scored
   by the first pass (a short fit and a coarse alignment, score only) and by
   the full check, both from the track's spectrogram made once, in CPU
   seconds. Printed: the positives the first pass keeps, the smallest margin
   that keeps them all, the largest drop of a positive's score from the full
   check to the first pass (what the margin must cover), the share of pairs
   it rules out, what the first pass costs next to a full check, and the
   cost per pair with and without it; per material, how far the cut lies
   below the lowest first-pass score of a positive the full check finds
   (target >= 0.05), and the CPU seconds per track-minute of the first pass
   (target <= 0.1; the cheapest of ``FIRST_PASS_RUNS`` runs of each case) and
   of the full check (target <= 1.0). ``--compare-with
   REV`` runs git revision REV's detector on the same cases in turns and
   prints both costs, their ratios and the decisions that differ, those now
   right and those now wrong (a target: none).
3. **Paper estimate**: hours for 50 samples x 20,000 three-minute tracks on
   10 and 100 workers, from the costs measured in the same run (a first pass
   for every pair, a full check for the share of catalogue-like pairs the
   first pass keeps, one decoding and spectrogram per track;
   ``--cores-per-worker``, default 1), then with the CPU a pair cost the
   ``dask worker`` processes next to here; and the bytes a pair moves on
   100 workers. The assumptions are printed with it.

Targets (exit status 1 if one is missed): no positive lost by the first
pass; the first pass at least halves the cost of the catalogue-like pairs;
scaling efficiency >= 0.7 with 2 workers (needs the machine's two cores free:
on a busy machine the rates say more about the neighbours than the scan);
the same rows from all runs; the paper catalogue within 6 hours on 100
workers, at the cluster's measured cost per pair.

Run: ``python benchmarks/bench_scan.py`` (about 5 minutes on 2 free cores;
``--quick`` skips the first-pass part, ``--full`` takes every detection case).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

import nmf_helpers as nh
from nmf_helpers.detection.scan import (
    SCREEN_ITERATIONS,
    SCREEN_MARGIN,
    SCREEN_RATIOS,
    SR,
    ScanSettings,
    dask_client,
    read_track,
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
#: CPU seconds per track-minute and pair (issue 25), and how far below the lowest first-pass
#: score of a positive the full check finds the first pass's cut must lie.
TARGET_FIRST_PER_MINUTE, TARGET_FULL_PER_MINUTE, TARGET_CUT_BELOW = 0.1, 1.0, 0.05
#: Runs of the first pass per case, its cost the cheapest: on a shared machine the
#: neighbours only ever add CPU time (cache misses, spinning threads), and the first pass,
#: a few dozen milliseconds a case, is cheap enough to run again (timeit's advice). The
#: full check, ten times dearer, runs once.
FIRST_PASS_RUNS = 3
#: The paper catalogue's workers, and the hours it may take on them.
PAPER_WORKERS, TARGET_PAPER_HOURS = 100, 6.0
DASK = str(Path(sys.executable).with_name("dask"))
# The workers' arithmetic is the scan's: one BLAS and numba thread each; and glibc's
# own malloc thresholds, as the scan's local workers have them (README: on several
# machines), not the trim threshold Dask's nanny would set.
WORKER_ENVIRONMENT = {
    **{
        name: "1"
        for name in (
            "OMP_NUM_THREADS",
            "MKL_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "NUMBA_NUM_THREADS",
        )
    },
    "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON": '{"MALLOC_TRIM_THRESHOLD_": None}',
}


def detection_cases(full: bool):
    """The riffs and (kind, material, riff searched, name, waveform) of bench_detection.py."""
    spec = importlib.util.spec_from_file_location("bench_detection", HERE / "bench_detection.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    materials = [bench.project_material(not full), bench.field_material(not full)]
    if full:
        materials.append(bench.unseen_material(False))
    cases = [
        (
            "positive" if case.positive else "negative",
            material.name,
            case.sample,
            case.treatment,
            case.x,
        )
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


def cpu_seconds(pids) -> float:
    """CPU seconds (user and system) so far of the processes ``pids`` and all their children."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            process = psutil.Process(pid)
            for one in [process, *process.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = one.cpu_times()
                    total += times.user + times.system
    return total


@contextlib.contextmanager
def dask_processes(folder: Path, n_workers: int):
    """A ``dask scheduler`` and ``n_workers`` ``dask worker`` processes (one thread) on 127.0.0.1.

    Yields the scheduler's address and the processes' ids once every worker
    has joined; stops them all at the end.
    """
    info = folder / "scheduler.json"
    command = [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
    # Without a trim threshold this process may have been given (Dask's nanny writes its
    # workers' variables into the environment of whoever starts a LocalCluster).
    inherited = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    environment = {**inherited, **WORKER_ENVIRONMENT}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": environment}
    processes = [subprocess.Popen([*command, "--scheduler-file", str(info)], **quiet)]
    try:
        deadline = time.monotonic() + 60
        while not (info.exists() and info.read_text().strip().endswith("}")):
            if time.monotonic() > deadline or processes[0].poll() is not None:
                raise RuntimeError("the dask scheduler did not start")
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        worker = [DASK, "worker", address, "--nthreads", "1", "--no-dashboard"]
        processes += [subprocess.Popen(worker, **quiet) for _ in range(n_workers)]
        yield address, [process.pid for process in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait()


def transfers(dask_worker) -> list[dict]:
    """What a worker sent to its peers, workers and clients (run on each with ``client.run``)."""
    return [
        {"keys": [str(key) for key in entry["keys"]], "bytes": entry["compressed"]}
        for entry in dask_worker.transfer_outgoing_log
    ]


def bytes_moved(client, templates) -> dict[str, float]:
    """Bytes that crossed between the scan's processes, by what they were.

    From each worker's ``transfer_outgoing_log``, distributed's record of
    every ``get_data`` it served (to another worker fetching a task's input,
    or to the client fetching a result): its ``compressed`` field, the bytes
    written to the connection (not Dask's ``sizeof`` estimate, which misses
    what an object holds). Each transfer counts as what it carried, by the
    scan's key names: anything but templates and rows (a spectrogram, were
    one ever sent) makes it "other"; ``-sample-`` keys "templates";
    ``-track-`` keys (a track's rows) "rows". The templates' way in, client
    to scheduler to the worker that holds them first, is not in those logs:
    their pickled size is added, once.
    """
    moved = {"templates": 0.0, "rows": 0.0, "other": 0.0}
    for entries in client.run(transfers).values():
        for entry in entries:
            kinds = [
                "templates" if "-sample-" in key else "rows" if "-track-" in key else "other"
                for key in entry["keys"]
            ]
            kind = next(kind for kind in ("other", "templates", "rows") if kind in kinds)
            moved[kind] += entry["bytes"]
    moved["templates"] += sum(len(pickle.dumps(t)) for t in templates)
    return moved


def malloc_trim() -> str | None:
    """This process's MALLOC_TRIM_THRESHOLD_ (run on each worker with ``client.run``)."""
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def warm_up(path: str, templates, settings) -> None:
    """One check before the clock starts, where the runs check: its kernels are compiled."""
    from nmf_helpers.detection.scan import read_track, scan_pair

    scan_pair(templates, read_track(path, SR), settings)


def throughput(folder: Path, n_tracks: int, seconds: float, n_iter: int) -> dict:
    """The same full-fit pairs here, on LocalClusters of 1 and 2 workers, and on Dask processes.

    Per run: wall seconds; CPU seconds of every process of the run (this one,
    the local workers, or also the ``dask scheduler`` and ``dask worker``
    processes) and of its workers only (this process, when here); the rows;
    and on the Dask processes the bytes moved. Each worker has checked one
    pair, and so compiled its kernels, before the clock starts.
    """
    samples = [nh.clip_path("sample"), nh.clip_path("sample_keys")]
    templates = [nh.learn_sample(sample) for sample in samples]
    tracks = write_tracks(folder, n_tracks, seconds)
    todo = {j: list(range(len(samples))) for j in range(len(tracks))}
    settings = ScanSettings(n_iter=n_iter, screen_iter=0)
    warm = (tracks[0], templates[0], settings)
    runs = {}
    names = [("here", None), ("1 worker", 1), ("2 workers", 2), ("2 dask worker processes", 2)]
    for name, workers in names:
        rows = {}

        def emit(i, j, fields, rows=rows):
            rows[i, j] = fields

        with contextlib.ExitStack() as stack:
            client, every, moved = None, [os.getpid()], None
            if name.startswith("2 dask"):
                address, cluster = stack.enter_context(dask_processes(folder, workers))
                client = stack.enter_context(dask_client(address, 0))
                client.wait_for_workers(workers)
                every, on_workers = [*every, *cluster], cluster[1:]
                trims = set(client.run(malloc_trim).values())
                if trims != {None}:
                    print(f"  (the dask workers have MALLOC_TRIM_THRESHOLD_ = {trims})")
            elif workers is not None:
                client = stack.enter_context(dask_client(None, workers))
                on_workers = [child.pid for child in psutil.Process().children()]
            else:
                on_workers = every
            if client is None:
                warm_up(*warm)
            else:
                client.run(warm_up, *warm)
            cpu, start = (cpu_seconds(every), cpu_seconds(on_workers)), time.perf_counter()
            run_pairs(templates, tracks, todo, settings, emit, client=client)
            seconds_taken = time.perf_counter() - start
            cpu = (cpu_seconds(every) - cpu[0], cpu_seconds(on_workers) - cpu[1])
            if name.startswith("2 dask"):
                moved = bytes_moved(client, templates)
        runs[name] = {
            "seconds": seconds_taken,
            "cpu": cpu[0],
            "worker_cpu": cpu[1],
            "rows": rows,
            "moved": moved,
        }
        pairs = len(rows)
        print(
            f"{name:>24}: {pairs} pairs in {seconds_taken:5.1f} s,"
            f" {60 * pairs / seconds_taken:6.1f} pairs per minute;"
            f" pairs per CPU-second: {pairs / cpu[0]:6.3f} (all its processes),"
            f" {pairs / cpu[1]:6.3f} (its workers)"
        )
    return runs


def scores_of(detection, templates, x, n_iter: int, threshold: float) -> dict:
    """A case's first pass and full check by one version of the detector, and their CPU seconds.

    ``detection`` is ``nmf_helpers.detection`` of this tree or of another
    revision; both start from the track's spectrogram, made once as a scan
    makes it (not counted); the first pass is the scan's
    (``coarse_score_unchecked``), the full check ``detect_sample``'s, bit for bit.
    The first pass runs :data:`FIRST_PASS_RUNS` times and costs its cheapest
    run (its score must be the same each time).
    """
    V = detection.track_spectrogram_unchecked(x, templates.win, templates.hop)
    # The whitened waveform, where a revision that finds exact copies looks (made once too).
    copies = getattr(detection, "copies", None)
    white = {"white": copies.WhiteTrack(copies.whiten_unchecked(x))} if copies else {}
    first_s, firsts = [], set()
    for _ in range(FIRST_PASS_RUNS):
        start = time.process_time()
        firsts.add(
            detection.coarse_score_unchecked(
                templates, V, n_iter=SCREEN_ITERATIONS, n_ratios=SCREEN_RATIOS, **white
            )
        )
        first_s.append(time.process_time() - start)
    if len(firsts) > 1:
        raise RuntimeError(f"the first pass gave different scores on one track: {sorted(firsts)}")
    start = time.process_time()
    full_fit = detection.detect_in_spectrogram_unchecked(
        templates, V, x.size / SR, n_iter=n_iter, threshold=threshold, **white
    )
    end = time.process_time()
    return {
        "first": firsts.pop(),
        "full": full_fit.score,
        "detected": full_fit.detected,
        "first_s": min(first_s),
        "full_s": end - start,
    }


def first_pass(n_iter: int, threshold: float, margin: float, full: bool, before=None) -> list[dict]:
    """Per case: kind, material, name, first-pass and full scores, CPU seconds, track minutes.

    With ``before`` (the package at another revision), the same for its
    detector under ``"before"``, the two run in turns on each case.
    """
    riffs, cases = detection_cases(full)
    templates = {name: nh.learn_sample(x) for name, x in riffs.items()}
    old_templates = {name: before.learn_sample(x) for name, x in riffs.items()} if before else {}
    cases += [
        ("catalogue", "catalogue", "sample", name, nh.load_audio(nh.clip_path(name))[0])
        for name in CATALOGUE_CLIPS
    ]
    results = []
    print(
        f"{'case':<60} {'first':>6} {'full':>6}  kept" + ("  (before: first, full)" * bool(before))
    )
    for kind, material, riff, treatment, x in cases:
        result = scores_of(nh.detection, templates[riff], x, n_iter, threshold)
        if before:
            result["before"] = scores_of(
                before.detection, old_templates[riff], x, n_iter, threshold
            )
        kept = result["first"] >= threshold - margin
        name = f"{material[:5]} {riff}: {treatment}"
        results.append(
            result
            | {"kind": kind, "material": material, "name": name, "kept": kept,
               "minutes": x.size / SR / 60}
        )  # fmt: skip
        verdict = "yes" if kept else "no"
        line = f"{kind[:3]} {name:<56} {result['first']:6.3f} {result['full']:6.3f}  {verdict}"
        if before:
            line += f"    {result['before']['first']:6.3f} {result['before']['full']:6.3f}"
        print(line, flush=True)
    return results


def first_pass_margins(results, threshold: float, margin: float, misses: list[str]) -> None:
    """Per material: how far below the lowest positive's first-pass score the cut lies."""
    cut = threshold - margin
    for material in ("project", "field", "unseen"):
        found = [
            r for r in results if r["material"] == material and r["kind"] == "positive"
            and r["detected"]
        ]  # fmt: skip
        if not found:
            continue
        lowest = min(found, key=lambda r: r["first"])
        below = lowest["first"] - cut
        negatives = [r for r in results if r["material"] == material and r["kind"] == "negative"]
        print(
            f"{material}: lowest first-pass score of a positive the full check finds"
            f" {lowest['first']:.3f} ({lowest['name']}); the cut {cut:.3f} lies {below:.3f}"
            f" below it (target >= {TARGET_CUT_BELOW}); negatives ruled out"
            f" {sum(not r['kept'] for r in negatives)} of {len(negatives)}"
        )
        if below < TARGET_CUT_BELOW:
            misses.append(f"{material}: the cut lies only {below:.3f} below a positive")


def costs_side_by_side(results, misses: list[str]) -> None:
    """CPU seconds per track-minute of the first pass and the full check, now and before."""
    minutes = sum(r["minutes"] for r in results)
    versions = [("now", results)]
    if "before" in results[0]:
        versions.append(("before", [r["before"] for r in results]))
    figures = {}
    for label, rows in versions:
        first = sum(r["first_s"] for r in rows) / minutes
        full = sum(r["full_s"] for r in rows) / minutes
        figures[label] = (first, full)
        print(
            f"{label:>6}: first pass {first:.3f}, full check {full:.3f} CPU-s per track-minute"
            f" ({minutes:.1f} track-minutes, every case)"
        )
    if "before" in figures:
        (first, full), (old_first, old_full) = figures["now"], figures["before"]
        print(
            f"  now / before: first pass {first / old_first:.3f}, full check {full / old_full:.3f}"
        )
        differ = [r for r in results if r["detected"] != r["before"]["detected"]]
        # A catalogue clip holds no sample: detecting it is as wrong as a negative.
        worse = [r["name"] for r in differ if r["detected"] != (r["kind"] == "positive")]
        better = [r["name"] for r in differ if r["detected"] == (r["kind"] == "positive")]
        print(f"  decisions now right, wrong before: {better or 'none'}")
        print(f"  decisions now wrong, right before: {worse or 'none'} (of {len(results)} cases)")
        if worse:
            misses.append(f"{len(worse)} decisions wrong that were right before")
    first, full = figures["now"]
    for what, value, target in (
        ("first pass", first, TARGET_FIRST_PER_MINUTE),
        ("full check", full, TARGET_FULL_PER_MINUTE),
    ):
        verdict = "PASS" if value <= target else "MISS"
        print(f"{verdict}  {what}: {value:.3f} CPU-s per track-minute (target <= {target})")
        if value > target:
            misses.append(f"the {what} costs {value:.3f} CPU-s per track-minute")


def throughput_part(args, misses: list[str]) -> dict:
    """The throughput runs, printed; returns the costs they measured.

    ``full_per_minute``: a full check's CPU seconds per track-minute and pair
    (here, one thread, the tracks' reading taken out); ``read_per_minute``: a track's decoding and
    spectrogram, CPU seconds per track-minute; ``dask_share``: the share of a
    ``dask worker`` process's core Dask itself takes; the bytes moved per
    pair (``rows_per_pair``, ``other_per_pair``) and a sample's templates'
    bytes per worker (``templates_per_worker``).
    """
    print("== throughput (full fits, no first pass) ==")
    with tempfile.TemporaryDirectory(prefix="bench_scan_") as folder:
        runs = throughput(Path(folder), args.tracks, args.seconds, args.iters)
        read_per_minute = read_cost(Path(folder))
    rate = {name: len(run["rows"]) / run["seconds"] for name, run in runs.items()}
    efficiency = rate["2 workers"] / (2 * rate["1 worker"])
    here = runs["here"]["rows"]
    same = all(run["rows"] == here for run in runs.values())
    print(f"scaling efficiency with 2 workers: {efficiency:.2f} (target >= {TARGET_EFFICIENCY})")
    print(f"rows here and on every cluster are the same: {same}")
    for name, run in runs.items():
        for key, row in here.items():
            if run["rows"][key] != row:  # say what differs (a file edited meanwhile?)
                print(f"  pair {key} here: {row}\n  pair {key} on {name}: {run['rows'][key]}")
    if efficiency < TARGET_EFFICIENCY:
        misses.append(f"scaling efficiency {efficiency:.2f} < {TARGET_EFFICIENCY}")
    if not same:
        misses.append("rows differ between here and the clusters")
    moved = runs["2 dask worker processes"]["moved"]
    pairs, n_samples = len(here), len({i for i, _ in here})
    print(
        "bytes moved on the 2 dask worker processes (the workers' transfer_outgoing_log, by"
        " key; the templates' pickled size added once):"
        f" rows {moved['rows'] / pairs / 1e3:.2f} kB per pair,"
        f" other (spectrograms, anything else) {moved['other'] / pairs / 1e3:.2f} kB per pair,"
        f" templates {moved['templates'] / 1e6:.2f} MB in all for {n_samples}"
        f" samples and 2 workers, {sum(moved.values()) / pairs / 1e3:.1f} kB per pair in all"
    )
    V_bytes = spectrogram_bytes(args.seconds)
    print(f"(one {args.seconds:g} s track's spectrogram is {V_bytes / 1e6:.2f} MB)")
    # Here each track was read once for its samples: that share is the reading's, not the check's.
    track_minutes = args.tracks * args.seconds / 60
    checks = runs["here"]["cpu"] - track_minutes * read_per_minute
    full_per_minute = checks / len(here) / (args.seconds / 60)
    # What Dask itself takes of a worker's core (its event loop, heartbeats, profiler,
    # nanny; fetching templates and sending rows): the workers' CPU beyond what the
    # same pairs cost here, per worker and second. Mostly by the second, not by the
    # pair, so a share of each core rather than a cost per pair.
    dask_run = runs["2 dask worker processes"]
    extra = dask_run["worker_cpu"] - runs["here"]["worker_cpu"]
    dask_share = min(max(0.0, extra / (2 * dask_run["seconds"])), 0.9)
    print(f"Dask's own share of each dask worker process's core: {dask_share:.1%}")
    print(
        f"a track's decoding and spectrogram, once for all its samples: {read_per_minute:.3f} s"
        f" per track-minute, {read_per_minute / full_per_minute:.1%} of a full check"
    )
    return {
        "full_per_minute": full_per_minute,
        "read_per_minute": read_per_minute,
        "dask_share": dask_share,
        "rows_per_pair": moved["rows"] / pairs,
        "other_per_pair": moved["other"] / pairs,
        # A sample's templates reach each worker once (the scheduler's copy counted as one).
        "templates_per_worker": moved["templates"] / n_samples / 2,
    }


def read_cost(folder: Path) -> float:
    """CPU seconds per track-minute of :func:`read_track` (decoding, spectrogram) of a 3-min WAV."""
    long = folder / "long"  # beside the throughput runs' tracks, not over them
    long.mkdir(exist_ok=True)
    (path,) = write_tracks(long, 1, PAPER_MINUTES * 60)
    read_track(path, SR)  # the decoder's first call loads it
    start = time.process_time()
    for _ in range(3):
        read_track(path, SR)
    return (time.process_time() - start) / 3 / PAPER_MINUTES


def spectrogram_bytes(seconds: float) -> int:
    """Bytes of a float32 spectrogram of ``seconds`` of audio at the scan's STFT sizes."""
    from nmf_helpers.spectral import DEFAULT_HOP, DEFAULT_WIN

    return (DEFAULT_WIN // 2 + 1) * (int(seconds * SR) // DEFAULT_HOP + 1) * 4


def paper_estimate(costs: dict, cores_per_worker: int, misses: list[str]) -> None:
    """Hours for the paper catalogue from the costs measured in this run, with the assumptions."""
    first = costs.get("first_per_minute")
    kept = costs.get("keep_share", 1.0)
    full, read = costs["full_per_minute"], costs["read_per_minute"]
    per_pair = PAPER_MINUTES * ((first or 0.0) + kept * full)
    per_track = PAPER_MINUTES * read
    pairs, tracks = PAPER_SAMPLES * PAPER_TRACKS, PAPER_TRACKS
    cpu = pairs * per_pair + tracks * per_track
    print(
        f"\n== paper estimate: {PAPER_SAMPLES} samples x {PAPER_TRACKS:,}"
        f" {PAPER_MINUTES:g}-minute tracks =="
    )
    print("assumptions (every cost measured in this run, one thread):")
    if first is None:
        print(f"  every pair gets the full check only (--quick): {full:.3f} s per track-minute")
    else:
        print(f"  first pass for every pair: {first:.3f} s per track-minute")
        print(
            f"  full check for the share the first pass keeps ({kept:.0%} of the catalogue-like"
            f" pairs): {full:.3f} s per track-minute"
        )
    print(f"  one decoding and spectrogram per track: {read:.3f} s per track-minute")
    print(
        f"  {cores_per_worker} core(s) per worker, one single-threaded Dask worker per core,"
        " perfect scaling otherwise; the samples' learning (once each) left out"
    )
    print(
        f"  => {per_pair:.2f} s per pair, {per_track:.2f} s per track,"
        f" {cpu / 3600:,.0f} CPU-hours in all"
    )
    share = costs.get("dask_share", 0.0)  # not measured without the throughput part
    print(
        f"  Dask's own share of each core: {share:.1%} (measured on the dask worker processes;"
        " 0 without the throughput part)"
    )
    hours = {}
    for workers in (10, PAPER_WORKERS):
        hours[workers] = cpu / (workers * cores_per_worker * (1 - share)) / 3600
        print(f"{workers:>4} workers: {hours[workers]:7.1f} h ({hours[workers] / 24:.1f} days)")
    if "rows_per_pair" in costs:
        templates = costs["templates_per_worker"] * PAPER_SAMPLES * PAPER_WORKERS
        per_pair = costs["rows_per_pair"] + costs["other_per_pair"] + templates / pairs
        print(
            f"bytes moved per pair on {PAPER_WORKERS} workers: {per_pair / 1e3:.2f} kB (rows"
            f" {costs['rows_per_pair'] / 1e3:.2f} kB, anything else"
            f" {costs['other_per_pair'] / 1e3:.2f} kB, and each sample's templates once per"
            f" worker: {templates / 1e9:.2f} GB in all)"
        )
    print(f"target on {PAPER_WORKERS} workers: <= {TARGET_PAPER_HOURS:g} h")
    if hours[PAPER_WORKERS] > TARGET_PAPER_HOURS:
        misses.append(
            f"the paper catalogue takes {hours[PAPER_WORKERS]:.1f} h on {PAPER_WORKERS} workers"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=100, help="iterations of the full fit")
    parser.add_argument(
        "--tracks",
        type=int,
        default=24,
        help="tracks of the throughput runs (enough that starting the workers is not most of it)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of those tracks")
    parser.add_argument("--quick", action="store_true", help="skip the first-pass part")
    parser.add_argument(
        "--full", action="store_true", help="every case of bench_detection.py, not its quick set"
    )
    parser.add_argument(
        "--compare-with",
        metavar="REV",
        help="also run git revision REV's detector on the first-pass cases, in turns",
    )
    parser.add_argument(
        "--no-throughput",
        action="store_true",
        help="skip the throughput part (here, 1 and 2 local workers, 2 dask worker processes)",
    )
    parser.add_argument(
        "--cores-per-worker",
        type=int,
        default=1,
        help="cores of each worker of the paper estimate (one single-threaded Dask worker each)",
    )
    args = parser.parse_args()
    threshold, margin = nh.DETECTION_THRESHOLD, SCREEN_MARGIN
    misses = []

    costs = {}
    if not args.no_throughput:
        costs |= throughput_part(args, misses)

    if not args.quick:
        print(
            f"\n== first pass ({SCREEN_ITERATIONS} iterations, {SCREEN_RATIOS} tempo ratios,"
            f" margin {margin}) =="
        )
        before = None
        if args.compare_with:
            sys.path.insert(0, str(HERE))
            from bench_core import package_at

            folder = tempfile.mkdtemp(prefix="bench_scan_before_")
            before = package_at(args.compare_with, Path(folder))
        results = first_pass(args.iters, threshold, margin, args.full, before)
        first_pass_margins(results, threshold, margin, misses)
        costs_side_by_side(results, misses)
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
        costs |= {
            "first_per_minute": first_per_minute,
            "full_per_minute": full_per_minute,
            "keep_share": keep_share,
        }
        share = (first_per_minute + keep_share * full_per_minute) / full_per_minute
        every = sum(r["first_s"] for r in results) / sum(r["full_s"] for r in results)
        print(f"the first pass alone costs {every:.2f} of a full check (all cases)")
        print(
            f"cost per track-minute and pair: first pass {first_per_minute:.2f} s,"
            f" full fit {full_per_minute:.2f} s; with the first pass a catalogue-like pair"
            f" costs {share:.2f} of a full fit, {share * full_per_minute:.2f} s"
        )
        # No target on the share: the full check's own cost is held to its target
        # above, and the cheaper it gets, the larger the first pass's share of it.

    if "full_per_minute" not in costs:
        return finish(misses)
    if "read_per_minute" not in costs:
        with tempfile.TemporaryDirectory(prefix="bench_scan_") as folder:
            costs["read_per_minute"] = read_cost(Path(folder))
    paper_estimate(costs, args.cores_per_worker, misses)
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
