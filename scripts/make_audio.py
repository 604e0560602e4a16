"""Compose, render and write the project's own music clips with ground-truth stems.

Run ``python scripts/make_audio.py`` from the repository root (optionally
``--out DIR``) to rebuild every file in ``audio/``. Rendering needs the
``fluidsynth`` program and the FluidR3_GM soundfont (``apt-get install
fluidsynth fluid-soundfont-gm``); all the other steps are plain numpy and
pretty_midi, so the tests can exercise the composition, looping and
normalisation without a synthesiser.

How a clip is made (the steps live in ``scripts/make_audio_lib/``):

1. A composition function returns an ``Arrangement``: one note list per
   stem, timed in beats (``compose.py``).
2. Each stem is rendered on its own by FluidSynth (reverb and chorus off, so
   the stems add up to the mix) to float audio, folded to mono and trimmed to
   the arrangement's exact length (``render.py``).
3. One gain is chosen per clip (from the peak of the float mix, with headroom),
   every stem is scaled by it and quantised to int16, and the mix is defined as
   the sum of the quantised stems: the mix equals the sum of its stems exactly
   (``mix.py``, ``write.py``; ``ogg.py`` keeps the ``.ogg`` reproducible).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
from make_audio_lib.compose import (
    BEATS_PER_BAR,
    GROOVE_BPM,
    GROOVE_VOICE_ENTRY_BEAT,
    SAMPLE_BPM,
    SAMPLE_RATE,
    SAMPLING_TRACK_LOOPS,
    SAMPLING_TRACK_PICKUP_BEATS,
    arrangement_n_samples,
    beats_to_samples,
    compose_groove,
    compose_sample,
    compose_sampling_track_parts,
    compose_unrelated_track,
)
from make_audio_lib.mix import (
    TARGET_PEAK_DBFS,
    int16_to_float,
    loop_audio,
    pan_to_stereo,
    peak_normalising_gain,
    sample_offsets,
    scale_and_quantize,
)
from make_audio_lib.ogg import set_ogg_serial
from make_audio_lib.render import check_renderer, render_arrangement
from make_audio_lib.write import arrangement_info, clip_entry, write_clip
from scipy.signal import resample_poly

__all__ = ["build_all", "main"]

STEREO_SAMPLE_RATE = 44100
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "audio"

# Trimming a render to its bar length cuts release tails: a short fade-out
# hides the cut at the end of a clip, and a shorter one the seam of the loop.
END_FADE_SAMPLES = round(0.25 * SAMPLE_RATE)
LOOP_FADE_SAMPLES = round(0.03 * SAMPLE_RATE)

# Constant-balance pans (-1 left, +1 right) for the stereo copy of the groove.
GROOVE_STEREO_PANS = {"drums": 0.0, "bass": 0.0, "keys": -0.4, "vocals": 0.3}


def build_all(out_dir: Path, work_dir: Path) -> dict:
    """Compose, render and write every clip; return the clips.json content.

    Parameters
    ----------
    out_dir : pathlib.Path
        Where the audio files and clips.json go.
    work_dir : pathlib.Path
        Scratch folder for MIDI and WAV renders.

    Returns
    -------
    dict
        The content written to clips.json.
    """
    fade = END_FADE_SAMPLES
    clips: dict[str, dict] = {}

    # 1. The groove, and its stereo 44.1 kHz OGG copy.
    groove = compose_groove()
    groove_float = render_arrangement(groove, work_dir, n_fade=fade)
    groove_gain = peak_normalising_gain([sum(groove_float.values())])
    groove_stems = scale_and_quantize(groove_float, groove_gain)
    _, clips["groove"] = write_clip(out_dir, "groove", groove_stems)
    intro_end_samples = beats_to_samples(GROOVE_VOICE_ENTRY_BEAT, GROOVE_BPM)
    clips["groove"].update(
        arrangement_info(groove),
        instrumental_intro_end_s=intro_end_samples / SAMPLE_RATE,
        instrumental_intro_end_samples=intro_end_samples,
    )

    stereo = pan_to_stereo(
        {name: int16_to_float(stem) for name, stem in groove_stems.items()}, GROOVE_STEREO_PANS
    )
    stereo = resample_poly(stereo, STEREO_SAMPLE_RATE // SAMPLE_RATE, 1, axis=0)
    stereo *= min(1.0, 10.0 ** (TARGET_PEAK_DBFS / 20.0) / np.max(np.abs(stereo)))
    ogg_path = out_dir / "groove_stereo44k.ogg"
    sf.write(ogg_path, stereo, STEREO_SAMPLE_RATE, format="OGG", subtype="VORBIS")
    ogg_path.write_bytes(set_ogg_serial(ogg_path.read_bytes()))
    clips["groove_stereo44k"] = {
        **clip_entry("groove_stereo44k.ogg", len(stereo), [], sr=STEREO_SAMPLE_RATE),
        "channels": 2,
        "copy_of": "groove",
        "pans": GROOVE_STEREO_PANS,
    }

    # 2 and 3. The sample, and the track that loops its audio. Both share one
    # gain, so the sample sits in the sampling track bit for bit.
    sample = compose_sample()
    sampling_parts = compose_sampling_track_parts()
    loop_fade = LOOP_FADE_SAMPLES
    sample_float = render_arrangement(sample, work_dir, n_fade=loop_fade)
    parts_float = render_arrangement(sampling_parts, work_dir, n_fade=fade)
    n_track = arrangement_n_samples(sampling_parts)
    offsets = sample_offsets(
        SAMPLING_TRACK_PICKUP_BEATS, sample.n_beats, SAMPLING_TRACK_LOOPS, SAMPLE_BPM
    )
    sample_mix_float = sum(sample_float.values())
    track_mix_float = loop_audio(sample_mix_float, offsets, n_track) + sum(parts_float.values())
    shared_gain = peak_normalising_gain([sample_mix_float, track_mix_float])

    sample_mix, clips["sample"] = write_clip(
        out_dir, "sample", scale_and_quantize(sample_float, shared_gain)
    )
    clips["sample"].update(arrangement_info(sample), bars=sample.n_beats // BEATS_PER_BAR)

    track_stems = {"sample": loop_audio(sample_mix, offsets, n_track)}
    track_stems |= scale_and_quantize(parts_float, shared_gain)
    _, clips["sampling_track"] = write_clip(out_dir, "sampling_track", track_stems)
    clips["sampling_track"].update(
        arrangement_info(sampling_parts),
        sample_file="sample.flac",
        sample_offsets_samples=offsets,
        sample_offsets_s=[offset / SAMPLE_RATE for offset in offsets],
        sample_gain=1.0,
    )

    # 4. The negative case.
    unrelated = compose_unrelated_track()
    unrelated_float = render_arrangement(unrelated, work_dir, n_fade=fade)
    unrelated_gain = peak_normalising_gain([sum(unrelated_float.values())])
    _, clips["unrelated_track"] = write_clip(
        out_dir, "unrelated_track", scale_and_quantize(unrelated_float, unrelated_gain)
    )
    clips["unrelated_track"].update(arrangement_info(unrelated), contains_sample=False)

    return {
        "description": "The project's own clips; see README.md. Offsets count from 0.",
        "licence": "CC BY 4.0 (arrangements); rendered with FluidR3_GM (MIT)",
        "sample_rate": SAMPLE_RATE,
        "clips": clips,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: rebuild every clip and clips.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: audio/)"
    )
    args = parser.parse_args(argv)
    check_renderer()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        clips = build_all(args.out, Path(scratch))
    (args.out / "clips.json").write_text(json.dumps(clips, indent=2) + "\n")
    for name, entry in clips["clips"].items():
        print(f"{name:18s} {entry['duration_s']:7.3f} s  {entry['file']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
