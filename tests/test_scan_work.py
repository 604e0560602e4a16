"""How a scan cuts its work: each track read once, and all its pairs checked where it was read.

:func:`nmf_helpers.detection.scan.run_pairs` is run here and on a
``LocalCluster`` of two worker processes, three samples against three tracks,
with every track read (decoding and spectrogram: ``read_track``) counted in
a file, with the process that read it, by whatever process reads it, and
every pair's checkpoint moment logged by the fault-injection hook
(``pair:I-J@PID``). One pair's checkpoint raises, as a fault of that pair
alone would inside its track's task.
"""

from __future__ import annotations

import collections
import importlib
import os

import pytest
import soundfile as sf

import nmf_helpers as nh
from nmf_helpers import _fault_injection

ENGINE = importlib.import_module("nmf_helpers.detection.scan")

SR = ENGINE.SR
SETTINGS = ENGINE.ScanSettings(n_iter=8, screen_iter=3, n_free=5)
#: The pair whose checkpoint raises: the middle sample against the middle track, so
#: its track's task has pairs to check before it and after it.
FAILING = "1-1"
FAULT = "a fault of this pair alone"


def count_reads(log: str) -> None:
    """From now on, this process appends ``PATH@PID`` to ``log`` each time it reads a track.

    Run on each worker (``client.run``): the workers are processes of their
    own, which a monkeypatch in the test's process does not reach.
    """
    real = ENGINE.read_track

    def counted(path, sr):
        with open(log, "a") as handle:
            handle.write(f"{path}@{os.getpid()}\n")
        return real(path, sr)

    ENGINE.read_track = counted


def malloc_trim() -> str | None:
    """This process's MALLOC_TRIM_THRESHOLD_ (run on each worker: ``client.run``)."""
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def failing_checkpoint(moment: str) -> None:
    """The hook's log of every moment; the moment pair ``FAILING`` is checked, an error."""
    _fault_injection.record(moment)
    if moment == f"check:{FAILING}":
        raise RuntimeError(FAULT)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Three samples' templates (3 s each) and three tracks (4 s): nine pairs."""
    folder = tmp_path_factory.mktemp("work")
    templates = []
    for name, start in [("sample", 0), ("sample_keys", 2), ("groove_keys", 5)]:
        x = nh.load_audio(nh.clip_path(name))[0]
        path = folder / f"{name}.wav"
        sf.write(path, x[start * SR : (start + 3) * SR], SR, subtype="PCM_16")
        templates.append(ENGINE.scan_templates(path, seed=SETTINGS.seed))
    tracks = []
    for name in ["sampling_track", "groove", "unrelated_track"]:
        x = nh.load_audio(nh.clip_path(name))[0]
        tracks.append(str(folder / f"{name}.wav"))
        sf.write(tracks[-1], x[: 4 * SR], SR)
    return templates, tracks


@pytest.fixture(scope="module")
def expected(inputs) -> dict[tuple[int, int], dict[str, str]]:
    """Each pair's fields, checked one by one in this process."""
    templates, tracks = inputs
    read = [ENGINE.read_track(path, SR) for path in tracks]
    return {
        (i, j): ENGINE.scan_pair(t, track, SETTINGS)
        for i, t in enumerate(templates)
        for j, track in enumerate(read)
    }


@pytest.fixture(scope="module", params=["here", "local cluster"])
def scan(request, inputs, tmp_path_factory):
    """One scan of the nine pairs, here or on two workers.

    Its rows, track reads and moments, and each worker's MALLOC_TRIM_THRESHOLD_.
    """
    templates, tracks = inputs
    folder = tmp_path_factory.mktemp(request.param.replace(" ", "_"))
    reads, moments = folder / "reads", folder / "moments"
    rows = {}

    def emit(i, j, fields):
        assert (i, j) not in rows, f"pair {i}-{j} emitted twice"
        rows[i, j] = fields

    todo = {j: list(range(len(templates))) for j in range(len(tracks))}
    with pytest.MonkeyPatch.context() as patch:
        # Set before the workers start: they take this process's environment.
        patch.setenv(_fault_injection.CHECKPOINT_LOG, str(moments))
        patch.delenv(_fault_injection.HOLD_AT, raising=False)
        trims = {}
        if request.param == "here":
            patch.setattr(ENGINE, "read_track", ENGINE.read_track)  # given back at the end
            count_reads(str(reads))
            undone = ENGINE.run_pairs(
                templates, tracks, todo, SETTINGS, emit, checkpoint=failing_checkpoint
            )
        else:
            with ENGINE.dask_client(None, 2) as client:
                client.wait_for_workers(2)
                client.run(count_reads, str(reads))
                trims = client.run(malloc_trim)
                undone = ENGINE.run_pairs(
                    templates,
                    tracks,
                    todo,
                    SETTINGS,
                    emit,
                    client=client,
                    checkpoint=failing_checkpoint,
                )
    assert undone == []
    return rows, reads.read_text().split(), moments.read_text().split(), trims


def test_each_track_is_read_once_per_scan_where_all_its_pairs_are_checked(scan, inputs):
    templates, tracks = inputs
    rows, reads, moments, _ = scan
    paths = [read.split("@")[0] for read in reads]
    assert collections.Counter(paths) == {path: 1 for path in tracks}  # once, for 3 samples
    reader = {path: int(read.split("@")[1]) for path, read in zip(paths, reads, strict=True)}
    checked = [m.removeprefix("pair:").split("@") for m in moments if m.startswith("pair:")]
    assert sorted(label for label, _ in checked) == sorted(f"{i}-{j}" for i, j in rows)
    for label, pid in checked:
        track = tracks[int(label.split("-")[1])]
        assert int(pid) == reader[track], f"pair {label} checked away from where its track was read"
    assert len(rows) == len(templates) * len(tracks)


def test_a_pair_that_raises_is_the_only_error_row_of_its_track(scan, expected):
    rows, _, _, _ = scan
    failing = tuple(map(int, FAILING.split("-")))
    assert rows[failing] == {"decision": "error", "error": f"RuntimeError: {FAULT}"}
    others = {pair: fields for pair, fields in rows.items() if pair != failing}
    assert others == {pair: fields for pair, fields in expected.items() if pair != failing}


def test_local_workers_keep_glibcs_own_malloc_thresholds(scan):
    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_ for its workers; with it every large
    # array of a fit is mapped afresh, and each check costs far more CPU.
    *_, trims = scan
    assert set(trims.values()) <= {None}, trims


def _interrupted_inside_compiled_code(*args, **kwargs):
    """Stand-in for a step of the check that Ctrl-C reached inside compiled code.

    Python runs a signal's handler at its next line; when that comes while numba's
    dispatcher is returning, the handler's KeyboardInterrupt is turned into this
    (seen in a scan stopped with SIGINT: "SystemError: CPUDispatcher(<function
    _best_diagonal_windows ...>) returned a result with an exception set").
    """
    raise SystemError(
        "CPUDispatcher(<function _best_diagonal_windows>) returned a result with an exception set"
    ) from KeyboardInterrupt()


@pytest.mark.parametrize("step", ["track_spectrogram_unchecked", "coarse_score_unchecked"])
def test_ctrl_c_inside_compiled_code_stops_the_scan_rather_than_making_an_error_row(
    inputs, monkeypatch, step
):
    # The pair (or the track) must not take the interrupt for its own fault and write an
    # error row, which --resume would keep: the interrupt goes on up and stops the scan.
    templates, tracks = inputs
    track = ENGINE.read_track(tracks[0], SR)
    monkeypatch.setattr(ENGINE, step, _interrupted_inside_compiled_code)
    with pytest.raises(KeyboardInterrupt):
        if step == "track_spectrogram_unchecked":
            ENGINE.read_track(tracks[0], SR)
        else:
            ENGINE.scan_pair(templates[0], track, SETTINGS)
    # Any other fault of compiled code is still the pair's own error row.
    monkeypatch.setattr(ENGINE, "coarse_score_unchecked", _fails_inside_compiled_code)
    assert ENGINE.scan_pair(templates[0], track, SETTINGS)["error"].startswith("SystemError")


def _fails_inside_compiled_code(*args, **kwargs):
    raise SystemError("returned a result with an exception set") from ValueError("bad")
