"""The pieces of ``scripts/make_audio.py``, which composes and renders the music in ``audio/``.

One module per step, in the order a clip is made:

- :mod:`.compose` — the music as notes (:class:`~.compose.Arrangement`), the four
  compositions and their timing; pure, no I/O.
- :mod:`.render` — each part to MIDI (pretty_midi), then to audio (FluidSynth).
- :mod:`.mix` — lengths, fades, loops, the shared gain, int16 rounding, pans.
- :mod:`.write` — the FLAC files and the clips.json records.
- :mod:`.ogg` — fixes the Ogg serial number so the ``.ogg`` rebuilds byte for byte.

``scripts/make_audio.py`` puts them together; run it from the repository root with
``python scripts/make_audio.py`` (see ``audio/README.md``). This folder is not part of
the installed ``nmf_helpers`` package: ``tests/test_audio_clips.py`` imports it by path.
"""
