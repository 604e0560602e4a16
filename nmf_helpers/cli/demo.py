"""``demo SONG -o OUTDIR [-k K] [--iters N] [--seed S] [--force]``.

Load a song, run KL NMF, write each component's audio (Griffin-Lim), the
reconstruction W H, a figure of spectrograms and the loss curve, and a JSON
summary: all at once at the end, or nothing (:mod:`nmf_helpers.cli._outputs`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np

import nmf_helpers as nh

from ..audio import audio_header
from ..spectral import DEFAULT_HOP, DEFAULT_WIN, frame_count
from . import UsageError, note
from ._interrupts import checkpoint
from ._options import (
    ITERATIONS_OPTION_MAX,
    MAX_COMPONENTS,
    estimated_seconds,
    output_folder,
    seed_option,
    time_note,
    whole_number,
)
from ._outputs import Outputs, expected_wav_bytes, full_scale


def _write_figure(path, V, W, H, losses, *, sr: int, song_name: str) -> None:
    """The song's spectrogram, W H and the loss curve, one above the other."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after choosing the backend

    figure, axes = plt.subplots(3, 1, figsize=(10, 10), layout="constrained")
    nh.plot_spectrogram(V, sr=sr, ax=axes[0], title=f"{song_name}: |STFT|")
    nh.plot_spectrogram(
        W @ H, sr=sr, ax=axes[1], title=f"W H, KL NMF, K = {W.shape[1]}", ref=float(V.max())
    )
    nh.plot_losses(losses, ax=axes[2], title="KL divergence per iteration")
    figure.savefig(path, dpi=100)
    plt.close(figure)


def run(args) -> int:
    started = time.perf_counter()
    stems = [f"component_{k}" for k in range(args.k)] + ["reconstruction"]
    names = [f"{stem}.wav" for stem in stems] + ["demo.png", "summary.json"]
    outputs = Outputs.folder_of("demo", args.outdir, names, force=args.force, inputs=[args.song])
    audio_header("demo", args.song)  # a missing file, a FIFO, a URL: said as demo's
    x, sr = nh.load_audio(args.song)
    n_frames = frame_count(x.size, DEFAULT_WIN, DEFAULT_HOP)
    if args.k > n_frames:  # nmf_kl would say it in its own words: "K = ..."
        raise UsageError(
            f"demo: -k {args.k} is more than the {n_frames} frames of {args.song}"
            f" ({x.size / sr:.2f} s); give a smaller -k"
        )
    text = time_note(
        estimated_seconds(x.size, args.k, args.iters),
        f"fewer --iters (now {args.iters}) or a smaller -k (now {args.k}) make it shorter,"
        " in proportion",
    )
    if text is not None:
        note("demo", text)
    with outputs.writing(expected_bytes=expected_wav_bytes(x.size, len(stems))):
        checkpoint("fit")
        V = nh.spectrogram(x)
        W, H, losses = nh.nmf_kl(
            V, args.k, n_iter=args.iters, seed=args.seed, progress=sys.stderr.isatty()
        )
        audio = {
            f"component_{k}": nh.griffin_lim(nh.component(W, H, k), length=x.size)
            for k in range(args.k)
        }
        audio["reconstruction"] = nh.griffin_lim(W @ H, length=x.size)
        audio, scale, peak = full_scale(audio)
        notes = []
        if scale < 1.0:
            notes.append(
                f"the audio would peak at {peak:.3f}, above full scale (1.0): every file was"
                f" scaled by {scale:.3f} ({20 * np.log10(scale):+.1f} dB), so none clips"
            )
        for stem, y in audio.items():
            nh.save_audio(outputs.temp(f"{stem}.wav"), y, sr)
            checkpoint("write")
        _write_figure(
            outputs.temp("demo.png"), V, W, H, losses, sr=sr, song_name=Path(args.song).name
        )
        summary = {
            "song": str(args.song),
            "sample_rate": sr,
            "duration_s": round(x.size / sr, 3),
            "K": args.k,
            "iterations": args.iters,
            "seed": args.seed,
            "final_kl_divergence": float(losses[-1]),
            "scale": round(scale, 6),
            "notes": notes,
            "seconds": round(time.perf_counter() - started, 2),
            "outputs": [str(outputs.final(name)) for name in names[:-1]],
        }
        outputs.temp("summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for text in notes:
        note("demo", text)
    print(f"KL NMF, K = {args.k}, {args.iters} iterations: final D(V||WH) = {losses[-1]:.6g}")
    print(f"wrote {len(names)} files to {args.outdir} in {summary['seconds']} s")
    return 0


def add_parser(subparsers) -> None:
    demo = subparsers.add_parser("demo", help="KL NMF of a song: component audio and a figure")
    demo.add_argument("song", help="audio file (wav, flac, ogg, mp3)")
    demo.add_argument(
        "-o", "--outdir", required=True, type=output_folder("demo"), help="folder for the outputs"
    )
    demo.add_argument(
        "-k",
        type=whole_number("demo", "-k", 1, MAX_COMPONENTS),
        default=3,
        help="number of components (default 3)",
    )
    demo.add_argument(
        "--iters",
        type=whole_number("demo", "--iters", 1, ITERATIONS_OPTION_MAX),
        default=100,
        help="NMF iterations (default 100)",
    )
    demo.add_argument("--seed", type=seed_option("demo"), default=0, help="random seed (default 0)")
    demo.add_argument("--force", action="store_true", help="overwrite existing outputs")
    demo.set_defaults(run=run)
