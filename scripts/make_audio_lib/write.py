"""Writing a clip: its int16 stems and their mix as FLAC, and its record in clips.json."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from .compose import SAMPLE_RATE, Arrangement
from .mix import mix_of_stems

__all__ = ["arrangement_info", "clip_entry", "write_clip", "write_flac"]


def write_flac(path: Path, x: np.ndarray) -> None:
    """Write mono int16 samples as 16-bit FLAC at the project rate.

    Parameters
    ----------
    path : pathlib.Path
        Destination file.
    x : np.ndarray of int16
        Samples, written unchanged.
    """
    sf.write(path, x, SAMPLE_RATE, format="FLAC", subtype="PCM_16")


def clip_entry(file: str, n_samples: int, stems: Sequence[str], sr: int = SAMPLE_RATE) -> dict:
    """The clips.json record of one clip.

    Parameters
    ----------
    file : str
        File name of the mix, relative to audio/.
    n_samples : int
        Length in samples.
    stems : sequence of str
        File names of its stems.
    sr : int
        Sample rate of the file.

    Returns
    -------
    dict
    """
    return {
        "file": file,
        "duration_s": round(n_samples / sr, 6),
        "n_samples": n_samples,
        "sample_rate": sr,
        "channels": 1,
        "stems": list(stems),
    }


def write_clip(out_dir: Path, name: str, stems: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
    """Write a clip's int16 stems and their sum as FLAC files.

    Parameters
    ----------
    out_dir : pathlib.Path
        Destination folder.
    name : str
        Clip name; stems are written as ``{name}_{stem}.flac``.
    stems : dict of str to np.ndarray of int16
        The quantised stems.

    Returns
    -------
    mix : np.ndarray of int16
        The mix that was written.
    entry : dict
        Its clips.json record.
    """
    mix = mix_of_stems(stems.values())
    stem_files = []
    for stem_name, stem in stems.items():
        stem_file = f"{name}_{stem_name}.flac"
        write_flac(out_dir / stem_file, stem)
        stem_files.append(stem_file)
    write_flac(out_dir / f"{name}.flac", mix)
    return mix, clip_entry(f"{name}.flac", len(mix), stem_files)


def arrangement_info(arrangement: Arrangement) -> dict:
    """Tempo, key and instruments of an arrangement, for clips.json.

    Parameters
    ----------
    arrangement : Arrangement
        The piece.

    Returns
    -------
    dict
        ``tempo_bpm``, ``key`` and the GM program of each stem.
    """
    return {
        "tempo_bpm": arrangement.bpm,
        "key": arrangement.key,
        "gm_programs": {
            name: ("drum kit (channel 10)" if part.is_drum else part.program)
            for name, part in arrangement.parts.items()
        },
    }
