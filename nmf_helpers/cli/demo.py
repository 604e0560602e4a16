"""``demo SONG -o OUTDIR [-k K] [--iters N] [--seed S] [--force]``.

Load a song, run KL NMF, write each component's audio (Griffin-Lim), the
reconstruction W H, a figure of spectrograms and the loss curve, and a JSON
summary.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import matplotlib

import nmf_helpers as nh

from . import output_paths


def run(args) -> int:
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after choosing the backend

    started = time.perf_counter()
    names = [f"component_{k}.wav" for k in range(args.k)] if args.k > 0 else []
    names += ["reconstruction.wav", "demo.png", "summary.json"]
    paths = output_paths(args.outdir, names, args.force)
    x, sr = nh.load_audio(args.song)
    V = nh.spectrogram(x)
    W, H, losses = nh.nmf_kl(V, args.k, n_iter=args.iters, seed=args.seed, progress=True)
    for k in range(args.k):
        audio = nh.griffin_lim(nh.component(W, H, k), length=x.size)
        nh.save_audio(paths[k], audio, sr)
    nh.save_audio(paths[args.k], nh.griffin_lim(W @ H, length=x.size), sr)

    figure, axes = plt.subplots(3, 1, figsize=(10, 10), layout="constrained")
    nh.plot_spectrogram(V, sr=sr, ax=axes[0], title=f"{Path(args.song).name}: |STFT|")
    nh.plot_spectrogram(
        W @ H, sr=sr, ax=axes[1], title=f"W H, KL NMF, K = {args.k}", ref=float(V.max())
    )
    nh.plot_losses(losses, ax=axes[2], title="KL divergence per iteration")
    figure.savefig(paths[args.k + 1], dpi=100)
    plt.close(figure)

    summary = {
        "song": str(args.song),
        "sample_rate": sr,
        "duration_s": round(x.size / sr, 3),
        "K": args.k,
        "iterations": args.iters,
        "seed": args.seed,
        "final_kl_divergence": float(losses[-1]),
        "seconds": round(time.perf_counter() - started, 2),
        "outputs": [str(path) for path in paths[:-1]],
    }
    paths[-1].parent.mkdir(parents=True, exist_ok=True)
    paths[-1].write_text(json.dumps(summary, indent=2) + "\n")
    print(f"KL NMF, K = {args.k}, {args.iters} iterations: final D(V||WH) = {losses[-1]:.6g}")
    print(f"wrote {len(paths)} files to {args.outdir} in {summary['seconds']} s")
    return 0


def add_parser(subparsers) -> None:
    demo = subparsers.add_parser("demo", help="KL NMF of a song: component audio and a figure")
    demo.add_argument("song", help="audio file (wav, flac, ogg, mp3)")
    demo.add_argument("-o", "--outdir", required=True, help="folder for the outputs")
    demo.add_argument("-k", type=int, default=3, help="number of components (default 3)")
    demo.add_argument("--iters", type=int, default=100, help="NMF iterations (default 100)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--force", action="store_true", help="overwrite existing outputs")
    demo.set_defaults(run=run)
