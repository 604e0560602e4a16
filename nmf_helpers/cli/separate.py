"""``separate SONG -o OUTDIR [-k K] [--loss kl|euclidean] [--iters N] [--vocals-from START:END]``.

Separate a song into stems with soft masks and the mixture's phase:

* by default drums and harmonic (:func:`nmf_helpers.split_drums`): NMF,
  then each component is grouped by its features, no reference needed;
* with ``--vocals-from START:END`` (seconds of a passage without voice)
  karaoke and vocals (:func:`nmf_helpers.filter_vocals`).

Writes one WAV per group (and per component with ``--components``), a
figure of spectrograms, a figure of the loss curves, and ``summary.json``
(parameters, final losses, groups, times, notes). Never overwrites a file
unless ``--force``. Every check of what the user gave, and of where the
outputs go, runs before the NMF; the outputs appear all at once at the end
(:mod:`nmf_helpers.cli._outputs`).
Also installed as the console script ``nmf-separate``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib
import numpy as np

import nmf_helpers as nh

from .. import grouping, vocals
from .._validation import check_not_silent, check_time_range, is_silent
from ..audio import audio_header
from ..long_songs import PARTS, DamagedAudio, MemoryEstimate, Streaming
from ..spectral import DEFAULT_HOP, DEFAULT_WIN, frame_count, time_range_frames_unchecked
from . import UsageError, note
from ._interrupts import checkpoint
from ._options import (
    ITERATIONS_OPTION_MAX,
    MAX_COMPONENTS,
    estimated_seconds,
    output_folder,
    real_number,
    seed_option,
    time_note,
    time_range,
    whole_number,
)
from ._outputs import Outputs, expected_wav_bytes, full_scale

#: Songs longer than this (seconds) show a progress bar during NMF (on a terminal).
PROGRESS_AFTER_S = 30.0
#: How a song longer than one chunk is read: split_drums_file's defaults, read once
#: here so that the files promised, the notes and the run all follow one choice.
STREAMING = Streaming()
#: The groups of the vocal mode, one WAV each; drums mode's are long_songs.PARTS,
#: the parts split_drums_file writes (the streamed path hands them to it as keys).
VOCAL_GROUPS = ("karaoke", "vocals")
#: -k from 2: one component could not be split into two groups.
K_RANGE = (2, MAX_COMPONENTS)
#: --iters from 2: filter_vocals needs two (a fit, then its refit).
ITERS_RANGE = (2, ITERATIONS_OPTION_MAX)
VOICE_COMPONENTS_RANGE = (1, 64)
POWER_RANGE = (0.1, 10.0)


def output_names(vocal_mode: bool, n_component_wavs: int, *, streamed: bool = False) -> list[str]:
    """File names, known before any work so existing files are refused up front.

    ``n_component_wavs`` WAVs of one component each (``--components``), none
    without it. A streamed song (longer than one chunk) gets no spectrogram
    figure: drawing it would need the whole song in memory.
    """
    groups = [f"{name}.wav" for name in (VOCAL_GROUPS if vocal_mode else PARTS)]
    components = [f"component_{k:02d}.wav" for k in range(n_component_wavs)]
    figures = [] if streamed else ["spectrograms.png"]
    figures += ["losses.png"] + ([] if vocal_mode else ["grouping.png"])
    return groups + components + figures + ["summary.json"]


def _duration(path) -> float | None:
    """The song's length in seconds from its header, or None if soundfile cannot tell.

    A missing file or a FIFO is refused here, in ``separate``'s name; a file
    soundfile cannot read goes to the in-memory path, which loads it or says why.
    """
    header = audio_header("separate", path)
    return None if header is None else header.duration


def _load_song(args, K: int):
    """The song as mono 22050 Hz; refused if silent, or too short for -k or --vocals-from.

    What the library would refuse later, in its own argument names (``K``,
    ``instrumental``), is refused here in the options' words, before any work.
    """
    path = args.song
    x, sr = nh.load_audio(path)
    check_not_silent("separate", str(path), x)
    n_frames = frame_count(x.size, DEFAULT_WIN, DEFAULT_HOP)
    if args.vocals_from is None:
        if K > n_frames:
            raise UsageError(
                f"separate: -k {K} is more than the {n_frames} frames of {path}"
                f" ({x.size / sr:.2f} s); give a smaller -k"
            )
        return x, sr
    start, end = args.vocals_from
    shown = f"--vocals-from {start:g}:{end:g}"
    check_time_range("separate", "--vocals-from", args.vocals_from, x.size / sr)
    frames = time_range_frames_unchecked(
        args.vocals_from, sr, DEFAULT_WIN, DEFAULT_HOP, function="separate", name="--vocals-from"
    )
    held = frames.stop - frames.start
    if held < K:
        need = ((K - 1) * DEFAULT_HOP + DEFAULT_WIN) / sr
        raise UsageError(
            f"separate: {shown} holds {held} frames, fewer than -k {K} (the accompaniment"
            f" templates learned there); give a passage of at least about {need:.1f} s,"
            " or a smaller -k"
        )
    return x, sr


def _announce_time(args, K: int, n_samples: int, streamed_from: int = 0) -> None:
    """One note before a run that will take more than a few minutes, and how to shorten it.

    A vocal model fits every template in pitch-shifted copies (7 per
    accompaniment template, 9 per voice one), then refits: twice the work.
    ``streamed_from`` adds the samples W is learned on, for a streamed song.
    """
    if args.vocals_from is None:
        seconds = estimated_seconds(n_samples + streamed_from, K, args.iters)
    else:
        columns = (2 * vocals.DEFAULT_SEMITONES + 1) * K
        columns += (2 * vocals.DEFAULT_VOICE_SEMITONES + 1) * args.voice_components
        seconds = 2 * estimated_seconds(n_samples, columns, args.iters)
    text = time_note(
        seconds,
        f"fewer --iters (now {args.iters}) or a smaller -k (now {K}) make it shorter,"
        " in proportion",
    )
    if text is not None:
        note("separate", text)


@dataclass(frozen=True)
class _Separation:
    """What a separation produced, in the words of the summary.

    ``components`` lists, per estimate, the indices of the learned templates
    it holds; ``columns_of_W`` counts its columns of W (with the vocal
    model's transposed copies, more than its templates); ``templates`` gives
    the columns of W of each template, for one WAV per component.
    """

    W: np.ndarray
    H: np.ndarray
    estimates: dict[str, np.ndarray]
    components: dict[str, list[int]]
    columns_of_W: dict[str, int]
    templates: list[list[int]]
    losses: dict[str, np.ndarray]
    features: grouping.ComponentFeatures | None


def _separate(args, x, sr, K: int) -> _Separation:
    """Run the chosen separation."""
    common = {"n_iter": args.iters, "loss": args.loss, "power": args.power, "seed": args.seed}
    # A bar redraws its line: into a log file that is a line per update, so only on a terminal.
    progress = sys.stderr.isatty() and x.size / sr > PROGRESS_AFTER_S
    if args.vocals_from is None:
        result = nh.split_drums(x, K=K, progress=progress, **common)
        components = {"drums": result.percussive, "harmonic": result.harmonic_components}
        return _Separation(
            W=result.W,
            H=result.H,
            estimates={"drums": result.drums, "harmonic": result.harmonic},
            components=components,
            columns_of_W={name: len(group) for name, group in components.items()},
            templates=[[k] for k in range(K)],
            losses={"NMF": result.losses},
            features=result.features,
        )
    result = nh.filter_vocals(
        x,
        instrumental=args.vocals_from,
        sr=sr,
        K=K,
        K_voice=args.voice_components,
        progress=progress,
        **common,
    )
    return _Separation(
        W=result.W,
        H=result.H,
        estimates={"karaoke": result.karaoke, "vocals": result.vocals},
        components={
            "karaoke": list(range(K)),
            "vocals": list(range(K, K + args.voice_components)),
        },
        columns_of_W={"karaoke": len(result.accompaniment), "vocals": len(result.voice)},
        templates=result.templates,
        losses=result.losses,
        features=None,
    )


def _for_display(V: np.ndarray, max_frames: int = 2000) -> tuple[np.ndarray, int]:
    """V max-pooled over time to at most ``max_frames`` frames, and the pooled hop.

    Drawing costs time per frame drawn, and a long song has far more frames
    than a panel has pixels to show them; the pooled figure looks the same.
    """
    factor = -(-V.shape[1] // max_frames)
    usable = V.shape[1] // factor * factor
    pooled = V[:, :usable].reshape(V.shape[0], -1, factor).max(axis=2)
    return pooled, 512 * factor


def _write_figures(temp, x, sr, fit: _Separation, song_name: str) -> None:
    """The figures, into ``temp(name)``: spectrograms, losses and (drums mode) grouping."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after choosing the backend

    signals = {f"{song_name}: mixture": x, **fit.estimates}
    # A silent part (is_silent, as the summary flags it) has no spectrogram to draw.
    panels = {
        name: _for_display(nh.spectrogram(y)) for name, y in signals.items() if not is_silent(y)
    }
    hop = next(iter(panels.values()))[1]
    figure = nh.plot_spectrograms(
        {name: V for name, (V, _) in panels.items()}, sr=sr, hop=hop, ncols=1
    )
    figure.savefig(temp("spectrograms.png"), dpi=100)
    plt.close(figure)
    figure, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    nh.plot_losses(fit.losses, ax=ax, title=f"{song_name}: NMF loss per iteration")
    figure.savefig(temp("losses.png"), dpi=100)
    plt.close(figure)
    if fit.features is not None:
        figure = nh.plot_grouping(fit.features)
        figure.savefig(temp("grouping.png"), dpi=100)
        plt.close(figure)


#: Why a group's WAV is silent, by group (``separate`` still writes it).
SILENT_BECAUSE = {
    "drums": "none of the {K} components is drum-like"
    " (if the song has drums, a larger -k may find them)",
    "harmonic": "all {K} components are drum-like",
}


def _silent_notes(groups: dict[str, dict], K: int) -> list[str]:
    """A note per group written silent (a song without drums, say), and why.

    ``silent`` is each group's :func:`~nmf_helpers._validation.is_silent` flag,
    set by the caller from the part it wrote.
    """
    return [
        f"{name}.wav is silent: "
        + SILENT_BECAUSE.get(name, "none of the components went to it").format(K=K)
        for name, group in groups.items()
        if group["silent"]
    ]


def _audio_to_write(args, x, fit: _Separation):
    """The WAVs' waveforms by file stem, their common scale, and a note if they were scaled.

    Parts that would clip are all scaled by one factor, so they still add up
    to the song times that factor.
    """
    notes = []
    audio = dict(fit.estimates)
    if args.components:
        parts = nh.separate(x, fit.W, fit.H, fit.templates, power=args.power)
        audio |= {f"component_{k:02d}": part for k, part in enumerate(parts)}
    audio, scale, peak = full_scale(audio)
    if scale < 1.0:
        notes.append(
            f"the parts would peak at {peak:.3f}, above full scale (1.0): all were scaled by"
            f" {scale:.3g} ({20 * np.log10(scale):+.1f} dB), so none clips and they still"
            " add up to the song times that factor"
        )
    return audio, scale, notes


def _parameters(args, K: int) -> dict:
    """The options of this run, as ``summary.json`` records them (both paths)."""
    vocal_mode = args.vocals_from is not None
    parameters = {
        "mode": "vocals" if vocal_mode else "drums",
        "K": K,
        "loss": args.loss,
        "iterations": args.iters,
        "power": args.power,
        "seed": args.seed,
    }
    if vocal_mode:
        parameters.update(vocals_from_s=list(args.vocals_from), K_voice=args.voice_components)
    return parameters


@dataclass(frozen=True)
class _Report:
    """What a run tells: ``summary.json`` and the closing lines, the same for both paths.

    ``groups`` maps each group to its ``components``, ``columns_of_W`` and
    whether it is ``silent``; ``peaks`` is kept only by a streamed run, whose
    parts are not scaled (``scale`` 1).
    """

    sample_rate: int
    duration_s: float
    parameters: dict
    final_loss: dict[str, float]
    groups: dict[str, dict]
    notes: list[str]
    seconds: dict[str, float]
    scale: float = 1.0
    peaks: dict[str, float] | None = None


def _write_summary(args, report: _Report, outputs: Outputs) -> None:
    """``summary.json``, into the outputs being written."""
    summary = {
        "song": str(args.song),
        "sample_rate": report.sample_rate,
        "duration_s": round(report.duration_s, 3),
        "parameters": report.parameters,
        "final_loss": report.final_loss,
        "groups": report.groups,
    }
    if report.peaks is not None:
        summary["peaks"] = {name: round(peak, 6) for name, peak in report.peaks.items()}
    summary |= {
        "scale": float(f"{report.scale:.6g}"),  # significant digits: a loud file's scale is tiny
        "notes": report.notes,
        "seconds": {stage: round(t, 3) for stage, t in report.seconds.items()},
        "outputs": [str(outputs.final(name)) for name in outputs.names if name != "summary.json"],
    }
    outputs.temp("summary.json").write_text(json.dumps(summary, indent=2) + "\n")


def _say_done(args, report: _Report, n_files: int, started: float) -> int:
    """The notes on stderr, then what was split and written on stdout; exit status 0."""
    for text in report.notes:
        note("separate", text)
    groups = ", ".join(
        f"{name}: {len(group['components'])} components" for name, group in report.groups.items()
    )
    if report.parameters.get("streamed"):
        length = f"{report.duration_s / 60:.1f} min in chunks"
    else:
        length = f"{report.duration_s:.1f} s"
    print(f"{report.parameters['mode']} split of {length} ({groups})")
    total = time.perf_counter() - started
    print(f"wrote {n_files} files to {args.outdir} in {total:.1f} s")
    return 0


def _announce_memory(estimate: MemoryEstimate, streamed: bool) -> None:
    """One note on the memory a long song takes, chunked or (vocals, components) whole."""
    duration = estimate.duration_s
    if streamed:
        note("separate", f"a long song, processed in chunks: {estimate}")
    else:
        note(
            "separate",
            f"{duration / 60:.1f} min, processed in one piece: about"
            f" {estimate.in_memory_gb:.1f} GB peak; --vocals-from and --components need the"
            f" whole song at once (without them: about {estimate.streamed_gb:.1f} GB, in chunks)",
        )


def run(args) -> int:
    started = time.perf_counter()
    vocal_mode = args.vocals_from is not None
    module = vocals if vocal_mode else grouping
    K = args.k if args.k is not None else module.DEFAULT_K
    if args.loss is None:
        args.loss = module.DEFAULT_LOSS
    n_component_wavs = K + (args.voice_components if vocal_mode else 0) if args.components else 0
    duration = _duration(args.song)
    long_song = duration is not None and STREAMING.streams(duration)
    streamed = long_song and not vocal_mode and not args.components
    names = output_names(vocal_mode, n_component_wavs, streamed=streamed)
    outputs = Outputs.folder_of(
        "separate", args.outdir, names, force=args.force, inputs=[args.song]
    )
    if long_song:
        _announce_memory(STREAMING.memory(duration), streamed)
    if streamed:
        return _run_streamed(args, K, outputs, duration, started)
    x, sr = _load_song(args, K)
    _announce_time(args, K, x.size)
    times = {"load": time.perf_counter() - started}
    n_wavs = sum(name.endswith(".wav") for name in names)
    with outputs.writing(expected_bytes=expected_wav_bytes(x.size, n_wavs)):
        checkpoint("fit")
        fit = _separate(args, x, sr, K)
        times["separate"] = time.perf_counter() - started - times["load"]
        audio, scale, clip_notes = _audio_to_write(args, x, fit)
        for stem, y in audio.items():
            nh.save_audio(outputs.temp(f"{stem}.wav"), y, sr)
            checkpoint("write")
        _write_figures(outputs.temp, x, sr, fit, song_name=Path(args.song).name)
        times["write"] = time.perf_counter() - started - times["load"] - times["separate"]
        times["total"] = time.perf_counter() - started
        groups = {
            name: {
                "components": group,
                "columns_of_W": fit.columns_of_W[name],
                "silent": is_silent(fit.estimates[name]),
            }
            for name, group in fit.components.items()
        }
        report = _Report(
            sample_rate=sr,
            duration_s=x.size / sr,
            parameters=_parameters(args, K),
            final_loss={stage: float(curve[-1]) for stage, curve in fit.losses.items()},
            groups=groups,
            notes=_silent_notes(groups, K) + clip_notes,
            seconds=times,
            scale=scale,
        )
        _write_summary(args, report, outputs)
    return _say_done(args, report, len(names), started)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "separate",
        help="stems of a song: drums/harmonic, or karaoke/vocals (--vocals-from)",
        description=__doc__.split("\n\n")[1],
    )
    parser.add_argument("song", help="audio file (wav, flac, ogg, mp3)")
    parser.add_argument(
        "-o",
        "--outdir",
        required=True,
        type=output_folder("separate"),
        help="folder for the outputs",
    )
    parser.add_argument(
        "-k",
        type=whole_number("separate", "-k", *K_RANGE),
        default=None,
        help=f"NMF components (default {grouping.DEFAULT_K}); with --vocals-from,"
        f" accompaniment templates ({vocals.DEFAULT_K})",
    )
    parser.add_argument(
        "--loss",
        choices=list(nh.LOSSES),
        default=None,
        help=f"NMF loss (default {grouping.DEFAULT_LOSS}; {vocals.DEFAULT_LOSS} with"
        " --vocals-from, which measured better there)",
    )
    parser.add_argument(
        "--iters",
        type=whole_number("separate", "--iters", *ITERS_RANGE),
        default=100,
        help="NMF iterations (default 100)",
    )
    parser.add_argument(
        "--vocals-from",
        type=time_range("separate", "--vocals-from"),
        metavar="START:END",
        help="seconds of a passage without voice: write karaoke and vocals",
    )
    parser.add_argument(
        "--voice-components",
        type=whole_number("separate", "--voice-components", *VOICE_COMPONENTS_RANGE),
        default=vocals.DEFAULT_K_VOICE,
        help=f"free voice templates (default {vocals.DEFAULT_K_VOICE})",
    )
    parser.add_argument(
        "--power",
        type=real_number("separate", "--power", *POWER_RANGE),
        default=1.0,
        help="mask exponent (default 1)",
    )
    parser.add_argument("--components", action="store_true", help="also one WAV per component")
    parser.add_argument(
        "--seed", type=seed_option("separate"), default=0, help="random seed (default 0)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.set_defaults(run=run)


def console_main() -> None:
    """Entry point of the ``nmf-separate`` console script."""
    from . import exit_with, main

    exit_with(main(["separate", *sys.argv[1:]]))


def _run_streamed(args, K: int, outputs: Outputs, duration: float, started: float) -> int:
    """Drums and harmonic of a song longer than one chunk, in bounded memory.

    :func:`nmf_helpers.split_drums_file` learns W on excerpts, fits H chunk by
    chunk with W fixed and streams both parts to 32-bit float WAVs, which
    cannot clip (peaks above 1.0 are reported, not scaled: the scale would
    only be known at the end).
    """
    n_samples, learn_samples = STREAMING.samples(duration)
    _announce_time(args, K, n_samples, streamed_from=learn_samples)
    with outputs.writing(expected_bytes=2 * expected_wav_bytes(n_samples, 2)):
        checkpoint("fit")
        result = _split_drums_file(
            args.song,
            {part: outputs.temp(f"{part}.wav") for part in PARTS},
            K=K,
            n_iter=args.iters,
            loss=args.loss,
            power=args.power,
            seed=args.seed,
            progress=sys.stderr.isatty(),
        )
        checkpoint("write")
        components = {"drums": result.percussive, "harmonic": result.harmonic_components}
        groups = {
            name: {
                "components": group,
                "columns_of_W": len(group),
                # a part's peak is zero exactly when all its samples are
                "silent": is_silent(np.float32(result.peaks[name])),
            }
            for name, group in components.items()
        }
        notes = _silent_notes(groups, K)
        loud = [f"{name}.wav {peak:.3f}" for name, peak in result.peaks.items() if peak > 1.0]
        if loud:
            notes.append(
                f"peaks above full scale ({', '.join(loud)}) are kept: the WAVs are 32-bit"
                " float; scale them before converting to 16 bits"
            )
        _write_streamed_figures(outputs.temp, result, song_name=Path(args.song).name)
        report = _Report(
            sample_rate=result.sample_rate,
            duration_s=result.duration_s,
            parameters=_parameters(args, K) | {"streamed": True, **asdict(STREAMING)},
            final_loss={"W on excerpts": float(result.losses[-1])},
            groups=groups,
            notes=notes,
            seconds=result.seconds,
            peaks=result.peaks,
        )
        _write_summary(args, report, outputs)
    return _say_done(args, report, len(outputs.names), started)


def _split_drums_file(song, outputs, **options):
    """:func:`nmf_helpers.split_drums_file`, read as :data:`STREAMING` says; a damaged
    song is said to be the input's fault.

    Reading a truncated FLAC fails deep in libsndfile (``psf_fseek() failed``)
    while the outputs are being written: without this, the failure would read
    as one of the outputs'.
    """
    try:
        return STREAMING.split(song, outputs, **options)
    except DamagedAudio as damaged:
        raise UsageError(damaged.reworded("separate", str(song))) from None


def _write_streamed_figures(path_of, result, song_name: str) -> None:
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after choosing the backend

    figure, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    nh.plot_losses(
        {"W on excerpts": result.losses}, ax=ax, title=f"{song_name}: NMF loss per iteration"
    )
    figure.savefig(path_of("losses.png"), dpi=100)
    plt.close(figure)
    figure = nh.plot_grouping(result.features)
    figure.savefig(path_of("grouping.png"), dpi=100)
    plt.close(figure)
