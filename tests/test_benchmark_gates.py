"""The benchmarks gate a release: a missed target makes them exit with status 1.

The measurements themselves take minutes and are not run here; each
benchmark's verdict is fed made-up measurements, one that meets its targets
and one that misses.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("met", [True, False])
def test_bench_core_exits_1_when_a_target_is_missed(monkeypatch, capsys, met):
    bench = load("bench_core")
    monkeypatch.setattr(bench, "run", lambda args, before: [("fast", True), ("also", met)])
    monkeypatch.setattr(sys, "argv", ["bench_core.py"])
    if met:
        bench.main()
    else:
        with pytest.raises(SystemExit) as exit_:
            bench.main()
        assert exit_.value.code == 1
        assert "1 of 2 targets missed" in capsys.readouterr().err


def separation_rows(drums_gain: float, vocals_gain: float) -> list[dict]:
    def row(method, source, sdr):
        return {"clip": "c", "method": method, "source": source, "sdr": sdr, "sdr_min": sdr}

    return [
        row("nmf_helpers", "drums", 5.0 + drums_gain),
        row("librosa HPSS", "drums", 5.0),
        row("nmf_helpers", "vocals", 1.0 + vocals_gain),
        row("nmf_helpers", "karaoke", 1.0 + 7.0),
        row("floor: mixture", "vocals", 1.0),
        row("floor: mixture", "karaoke", 1.0),
    ]


@pytest.mark.parametrize(
    ("drums_gain", "vocals_gain", "failed"), [(1.5, 7.0, 0), (0.5, 7.0, 1), (0.5, 5.0, 2)]
)
def test_bench_separation_counts_and_exits_on_failed_targets(
    monkeypatch, drums_gain, vocals_gain, failed
):
    bench = load("bench_separation")
    rows = separation_rows(drums_gain, vocals_gain)
    assert bench.print_targets(rows) == failed
    monkeypatch.setattr(bench, "clips_with_stems", list)  # no clip: main measures nothing
    monkeypatch.setattr(bench, "print_table", lambda rows, seeds: None)
    monkeypatch.setattr(bench, "print_targets", lambda rows: failed)
    monkeypatch.setattr(sys, "argv", ["bench_separation.py"])
    if failed:
        with pytest.raises(SystemExit) as exit_:
            bench.main()
        assert exit_.value.code == 1
    else:
        bench.main()


@pytest.mark.parametrize("peak_gb", [1.5, 2.5])
def test_bench_long_song_exits_1_when_the_memory_target_is_missed(monkeypatch, peak_gb):
    bench = load("bench_long_song")

    def build_song(path, minutes):
        path.write_bytes(b"song")
        return minutes * 60

    monkeypatch.setattr(bench, "build_song", build_song)
    monkeypatch.setattr(
        bench, "run_child", lambda song, out, mode: {"seconds": 1.0, "peak_gb": peak_gb}
    )
    monkeypatch.setattr(sys, "argv", ["bench_long_song.py", "--minutes", "1"])
    if peak_gb <= bench.TARGET_GB:
        bench.main()
    else:
        with pytest.raises(SystemExit) as exit_:
            bench.main()
        assert exit_.value.code == 1
