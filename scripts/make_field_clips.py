"""Cut the field recordings in ``audio/field/`` from freely licensed game soundtracks.

The project's own clips come from one synthesiser in one style. Sample
detection has to hold on records made by other musicians, with other
instruments, reverb and mastering, so the detection benchmark also uses
excerpts of real recordings whose licence lets the project redistribute
them: soundtracks packaged by Debian (CC BY-SA 3.0). This script downloads
those packages with ``apt-get download`` (only needed to regenerate; the
excerpts are committed), decodes the pieces, cuts the excerpts listed in
``EXCERPTS`` and writes them as mono 22050 Hz 16-bit FLAC, with
``audio/field/README.md`` giving each excerpt's author, source and licence.

Run: ``python scripts/make_field_clips.py`` (needs ``apt-get update`` once,
``dpkg-deb`` and the network to Debian's mirror).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

SR = 22050
OUT_DIR = Path(__file__).resolve().parents[1] / "audio" / "field"
FADE_S = 0.005  # edges without a click; a producer's chop keeps its own edges

CC_BY_SA_3 = "CC BY-SA 3.0 (https://creativecommons.org/licenses/by-sa/3.0/)"


@dataclass(frozen=True)
class Source:
    package: str
    version: str
    folder: str
    licence: str
    credit: str  # where Debian's copyright file states the author and licence


SOURCES = {
    "hyperrogue-music": Source(
        "hyperrogue-music",
        "12.0q-1",
        "usr/share/hyperrogue/music",
        CC_BY_SA_3,
        "/usr/share/doc/hyperrogue-music/copyright, sections music/hr-*.ogg and music/hr3-*.ogg",
    ),
    "singularity-music": Source(
        "singularity-music",
        "007-2",
        "usr/share/games/singularity/music",
        CC_BY_SA_3,
        "/usr/share/doc/singularity-music/copyright (Max McCracken, CC BY-SA 3.0)",
    ),
    "warzone2100-music": Source(
        "warzone2100-music",
        "4.3.3-3",
        "usr/share/games/warzone2100/music/albums/aftermath_soundtrack",
        CC_BY_SA_3 + " or later, or GPL-2+",
        "albums/aftermath_soundtrack/license.txt in the package",
    ),
}


@dataclass(frozen=True)
class Excerpt:
    name: str
    role: str  # "riff": a part a producer might sample; "backing": a new track's other parts
    package: str
    file: str
    title: str
    author: str
    start_s: float
    duration_s: float


# Starts chosen where each piece is loud and steady (no break or fade
# inside), by the level of every 10 s or 20 s window over its first 150 s.
# Two riffs per author: each is the other's same-style hard negative.
EXCERPTS = [
    Excerpt(
        "savino_ocean", "riff", "hyperrogue-music", "hr-savino-ocean.ogg",
        "Ocean", "Will Savino", 40.9, 10.0,
    ),
    Excerpt(
        "savino_caribbean", "riff", "hyperrogue-music", "hr-savino-caribbean.ogg",
        "Caribbean", "Will Savino", 33.9, 10.0,
    ),
    Excerpt(
        "mccracken_awakening", "riff", "singularity-music", "Awakening.ogg",
        "Awakening", "Max McCracken", 131.8, 10.0,
    ),
    Excerpt(
        "mccracken_inevitable", "riff", "singularity-music", "Inevitable.ogg",
        "Inevitable", "Max McCracken", 138.8, 10.0,
    ),
    Excerpt(
        "lupus_track19", "riff", "warzone2100-music", "track19.opus",
        "Track 19 (Aftermath Soundtrack)", "LupusMechanicus", 91.9, 10.0,
    ),
    Excerpt(
        "lupus_track21", "riff", "warzone2100-music", "track21.opus",
        "Track 21 (Aftermath Soundtrack)", "LupusMechanicus", 123.8, 10.0,
    ),
    Excerpt(
        "domina_mountain", "backing", "hyperrogue-music", "hr-domina-mountain.ogg",
        "Mountain", "Lincoln Domina", 64.9, 20.0,
    ),
    Excerpt(
        "parrotte_graveyard", "backing", "hyperrogue-music", "hr3-graveyard.ogg",
        "Graveyard", "Shawn Parrotte", 88.9, 20.0,
    ),
    Excerpt(
        "mccracken_deprecation", "backing", "singularity-music", "Deprecation.ogg",
        "Deprecation", "Max McCracken", 58.9, 20.0,
    ),
]  # fmt: skip


def fetch(package: str, work: Path) -> Path:
    """Download one Debian package and unpack it; returns the unpacked root."""
    source = SOURCES[package]
    subprocess.run(["apt-get", "download", f"{package}={source.version}"], cwd=work, check=True)
    deb = next(work.glob(f"{package}_*.deb"))
    root = work / package
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def cut(path: Path, start_s: float, duration_s: float) -> np.ndarray:
    """The excerpt, mono at SR, with short fades, peak-normalised to -1 dBFS."""
    x, _ = librosa.load(path, sr=SR, mono=True, offset=start_s, duration=duration_s)
    expected = round(duration_s * SR)
    if x.size < expected:
        raise SystemExit(f"{path.name}: only {x.size / SR:.2f} s from {start_s} s")
    x = x[:expected].astype(np.float64)
    fade = np.linspace(0.0, 1.0, round(FADE_S * SR))
    x[: fade.size] *= fade
    x[-fade.size :] *= fade[::-1]
    return x / np.max(np.abs(x)) * 10 ** (-1 / 20)


def readme(excerpts: list[Excerpt]) -> str:
    rows = "\n".join(
        f"| `{e.name}.flac` | {e.role} | *{e.title}* by {e.author} | {e.start_s:.1f}-"
        f"{e.start_s + e.duration_s:.1f} s of `{e.file}` | Debian `{e.package}` "
        f"{SOURCES[e.package].version} | {SOURCES[e.package].licence} |"
        for e in excerpts
    )
    credits = "\n".join(f"- `{s.package}`: {s.credit}" for s in SOURCES.values())
    return f"""# Field recordings: real music by other musicians

Excerpts of freely licensed recordings, used by `benchmarks/bench_detection.py` so that
sample detection is measured on music that was not made by this project's synthesiser: other
composers, instruments, rooms and mastering. Made by `scripts/make_field_clips.py`, which
downloads the Debian packages named below and cuts the excerpts; the excerpts are committed so
nobody needs the network.

Every file is **mono, 22050 Hz, 16-bit FLAC**. Changes made to the originals: the excerpt cut at
the times given, mixed down to mono, resampled to 22050 Hz, 5 ms fades at both ends, and the peak
set to -1 dBFS. Each excerpt is licensed under the same licence as its original (share-alike).

- **riff**: a part a producer might sample. Two riffs per author, so each riff has a same-style
  hard negative (the other riff of the same author) in the benchmark.
- **backing**: the other parts of a new track that a sample is put into.

| file | role | piece | excerpt | source | licence |
| --- | --- | --- | --- | --- | --- |
{rows}

Authors and licences as stated in each package's copyright file:

{credits}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder for the excerpts")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="field-clips-") as scratch:
        roots = {p: fetch(p, Path(scratch)) for p in sorted({e.package for e in EXCERPTS})}
        for excerpt in EXCERPTS:
            source = roots[excerpt.package] / SOURCES[excerpt.package].folder / excerpt.file
            audio = cut(source, excerpt.start_s, excerpt.duration_s)
            sf.write(args.out / f"{excerpt.name}.flac", audio, SR, subtype="PCM_16")
            print(f"{excerpt.name}.flac: {excerpt.duration_s:.1f} s of {excerpt.file}")
    (args.out / "README.md").write_text(readme(EXCERPTS))
    facts = {
        "description": "Field recordings; see README.md.",
        "sample_rate": SR,
        "excerpts": [asdict(e) | {"licence": SOURCES[e.package].licence} for e in EXCERPTS],
    }
    (args.out / "excerpts.json").write_text(json.dumps(facts, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
