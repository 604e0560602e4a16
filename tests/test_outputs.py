"""What ``nmf_helpers/cli/_outputs.py`` promises, checked in-process on tiny text files.

Outputs appear all at once when the ``writing`` block ends, or not at all;
a user's files are never overwritten without ``force`` (nor an input, nor a
folder, even with it); one run at a time writes a destination (``flock``);
a destination that cannot be written is refused in one message before any
work; an error or an interrupt leaves the destination as it was. The
command-line tests (``test_cli_faults.py``) run the real commands, mostly in
subprocesses; these call the machinery directly, so that each promise is
tied to the function that keeps it (and mutation testing can see it).
"""

from __future__ import annotations

import errno
import fcntl
import importlib
import os
import re
import shutil
import signal
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile

from nmf_helpers.cli import UsageError

OUTPUTS = importlib.import_module("nmf_helpers.cli._outputs")
INTERRUPTS = importlib.import_module("nmf_helpers.cli._interrupts")
Outputs = OUTPUTS.Outputs
NAMES = ["drums.wav", "harmonic.wav"]
LOCK = ".nmf_helpers-outputs.lock"


def outputs_in(folder: Path, names=NAMES, *, force=False, inputs=()):
    return Outputs.folder_of("separate", folder, names, force=force, inputs=inputs)


def write_all(outputs, text: str = "new") -> None:
    for name in outputs.names:
        outputs.temp(name).write_text(text)


def refusal(call) -> str:
    """The message of the UsageError that ``call()`` raises."""
    with pytest.raises(UsageError) as error:
        call()
    return str(error.value)


def run(outputs, body=write_all, expected_bytes: int = 0) -> None:
    with outputs.writing(expected_bytes=expected_bytes):
        body(outputs)


def contents(folder: Path) -> dict[str, str | None]:
    """Relative path -> text (None for a folder) of everything under ``folder``, links as links."""
    if not folder.exists():
        return {}
    return {
        str(path.relative_to(folder)): None
        if path.is_dir() and not path.is_symlink()
        else f"-> {os.readlink(path)}"
        if path.is_symlink()
        else path.read_text()
        for path in sorted(folder.rglob("*"))
    }


def ignore_permissions_like_root_does_not(monkeypatch) -> None:
    """``os.access`` as for the folder's owner: root may write anywhere, a user may not."""

    def as_the_owner(path, mode):
        allowed = (os.stat(path).st_mode >> 6) & 0o7
        return allowed & mode == mode

    monkeypatch.setattr(OUTPUTS.os, "access", as_the_owner)


# -- writing all at once ----------------------------------------------------------------------


def test_outputs_appear_only_when_the_block_ends_beside_nothing_of_ours(tmp_path):
    out = tmp_path / "new" / "out"
    outputs = outputs_in(out)
    assert not (tmp_path / "new").exists()  # the constructor writes nothing
    with outputs.writing():
        write_all(outputs)
        temp = outputs.temp("drums.wav").parent
        assert temp.parent == out and re.fullmatch(
            r"\.nmf_helpers-outputs\.partial-[0-9a-f]{8}", temp.name
        )
        assert (out / LOCK).read_text() == f"{os.getpid()}\n"
        assert not (out / "drums.wav").exists() and not (out / "harmonic.wav").exists()
        assert outputs.final("drums.wav") == out / "drums.wav"
    assert contents(out) == {"drums.wav": "new", "harmonic.wav": "new"}


def test_temp_is_only_given_inside_the_block(tmp_path):
    outputs = outputs_in(tmp_path)
    with pytest.raises(RuntimeError) as error:
        outputs.temp("drums.wav")
    assert str(error.value) == "Outputs.temp: only inside `with outputs.writing():`"
    run(outputs)
    with pytest.raises(RuntimeError, match="only inside"):
        outputs.temp("drums.wav")


def test_each_output_moved_into_place_is_a_moment_of_the_fault_injection_hook(
    tmp_path, monkeypatch
):
    # tests/test_cli_faults.py holds real runs at "commit" to send them signals there.
    log = tmp_path / "moments"
    monkeypatch.setenv(INTERRUPTS.CHECKPOINT_LOG, str(log))
    monkeypatch.delenv(INTERRUPTS.HOLD_AT, raising=False)
    run(outputs_in(tmp_path / "out"))
    assert log.read_text() == "commit\ncommit\n"


def test_a_promised_output_not_written_is_a_bug_and_nothing_moves(tmp_path):
    outputs = outputs_in(tmp_path / "out")
    with pytest.raises(RuntimeError) as error:
        run(outputs, lambda o: o.temp("drums.wav").write_text("new"))
    assert str(error.value) == "separate: harmonic.wav was not written"
    assert contents(tmp_path) == {}


def test_the_file_of_a_scan_has_its_lock_and_temporary_folder_beside_it(tmp_path):
    # Brackets in the name: the leftovers of a killed run are found by a glob.
    path = tmp_path / "hits[1].csv"
    stale = tmp_path / ".hits[1].csv.nmf_helpers.partial-0badf00d"
    stale.mkdir()
    (stale / "hits[1].csv").write_text("half")
    outputs = Outputs.file("scan", path, force=False)
    with outputs.writing():
        outputs.temp("hits[1].csv").write_text("rows")
        assert (tmp_path / ".hits[1].csv.nmf_helpers.lock").exists()
        assert outputs.temp("hits[1].csv").parent.name.startswith(
            ".hits[1].csv.nmf_helpers.partial-"
        )
    assert contents(tmp_path) == {"hits[1].csv": "rows"}
    message = refusal(lambda: Outputs.file("scan", path, force=False))
    assert message == (  # one file: no count of outputs
        f"scan: {path} already exists; choose another -o, or pass --force to replace the outputs"
    )
    message = refusal(lambda: Outputs.file("scan", path, force=True, inputs=[path]))
    assert message.startswith(f"scan: the input {path} is also the output {path};")
    message = refusal(lambda: Outputs.file("scan", path / "hits.csv", force=True))
    assert (
        message
        == f"scan: {path} in -o {path / 'hits.csv'} is a file, not a folder; choose another -o"
    )
    outputs = Outputs.file("scan", path, force=True)
    with outputs.writing():
        outputs.temp("hits[1].csv").write_text("new rows")
    assert contents(tmp_path) == {"hits[1].csv": "new rows"}


def test_what_a_killed_run_left_is_removed_under_the_lock(tmp_path):
    stale = tmp_path / ".nmf_helpers-outputs.partial-deadbeef"
    stale.mkdir()
    (stale / "drums.wav").write_text("half")
    (tmp_path / LOCK).write_text("12345\n")  # its lock file: no process holds it any more
    (tmp_path / "notes.txt").write_text("mine")
    run(outputs_in(tmp_path))
    assert contents(tmp_path) == {"drums.wav": "new", "harmonic.wav": "new", "notes.txt": "mine"}


def test_old_outputs_a_killed_run_kept_aside_are_put_back_or_named_then_removed(tmp_path, capsys):
    # Left by runs SIGKILLed while they replaced their outputs (--force).
    out = tmp_path / "out"
    old_outputs(out, ["drums.wav", "theirs.txt"])
    missing = out / ".nmf_helpers-outputs.old-0000000a"
    missing.mkdir()
    (missing / "harmonic.wav").write_text("old")  # its name is missing: it goes back
    os.link(out / "drums.wav", missing / "drums.wav")  # still in place: dropped
    copied = out / ".nmf_helpers-outputs.old-0000000b"
    copied.mkdir()
    (copied / "theirs.txt").write_text("old")  # a copy, the same bytes: dropped
    run(outputs_in(out, ["summary.json"]))
    assert contents(out) == {
        "drums.wav": "old", "harmonic.wav": "old", "summary.json": "new", "theirs.txt": "old"
    }  # fmt: skip
    assert capsys.readouterr().err == (
        "note: separate: put back the old harmonic.wav, missing since a run was killed\n"
    )


def test_old_outputs_kept_aside_that_differ_stay_and_are_named_in_one_note(tmp_path, capsys):
    out = tmp_path / "out"
    old_outputs(out, ["drums.wav"])
    kept = out / ".nmf_helpers-outputs.old-0000000c"
    kept.mkdir()
    (kept / "drums.wav").write_text("older")  # the killed run's new one, or the user's?
    (kept / "harmonic.wav").write_text("old")
    run(outputs_in(out, ["summary.json"]))
    assert contents(kept) == {"drums.wav": "older"}
    assert capsys.readouterr().err == (
        "note: separate: put back the old harmonic.wav, missing since a run was killed;"
        f" {kept} holds the old drums.wav of a run killed while replacing them, and {out} now"
        " has different ones: keep what you need from it, then remove it\n"
    )


def test_a_leftover_that_cannot_be_removed_does_not_stop_the_run(tmp_path):
    (tmp_path / ".nmf_helpers-outputs.partial-notadir").write_text("not ours to judge")
    run(outputs_in(tmp_path))
    assert set(contents(tmp_path)) == {
        ".nmf_helpers-outputs.partial-notadir", "drums.wav", "harmonic.wav"
    }  # fmt: skip


# -- never overwriting what the user has ------------------------------------------------------


def test_existing_outputs_are_refused_naming_the_first_and_how_many(tmp_path):
    (tmp_path / "harmonic.wav").write_text("mine")
    message = refusal(lambda: outputs_in(tmp_path))
    assert message == (
        f"separate: {tmp_path / 'harmonic.wav'} already exists (1 of the outputs do);"
        " choose another -o, or pass --force to replace the outputs"
    )
    os.symlink(tmp_path / "nowhere", tmp_path / "drums.wav")  # a dangling link is there too
    message = refusal(lambda: outputs_in(tmp_path))
    assert message.startswith(f"separate: {tmp_path / 'drums.wav'} already exists (2 of the")


def test_force_replaces_the_outputs_only_and_a_link_not_what_it_points_to(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "harmonic.wav").write_text("old")
    (out / "notes.txt").write_text("mine")
    (tmp_path / "elsewhere.wav").write_text("mine")
    os.symlink(tmp_path / "elsewhere.wav", out / "drums.wav")
    run(outputs_in(out, force=True))
    assert contents(out) == {"drums.wav": "new", "harmonic.wav": "new", "notes.txt": "mine"}
    assert (tmp_path / "elsewhere.wav").read_text() == "mine"


def test_an_output_that_appears_before_the_lock_is_refused_and_nothing_is_left(tmp_path):
    out = tmp_path / "out"
    outputs = outputs_in(out)
    out.mkdir()
    (out / "drums.wav").write_text("theirs")
    message = refusal(lambda: run(outputs))
    assert message == (
        f"separate: {out / 'drums.wav'} appeared meanwhile (1 of the outputs do);"
        " choose another -o, or pass --force to replace the outputs"
    )
    assert contents(out) == {"drums.wav": "theirs"}


def test_an_output_that_appears_during_the_work_is_left_as_it_is(tmp_path):
    out = tmp_path / "out"

    def another_program_writes_one(outputs):
        write_all(outputs)
        (out / "harmonic.wav").write_text("theirs")

    message = refusal(lambda: run(outputs_in(out), another_program_writes_one))
    assert message.startswith(f"separate: {out / 'harmonic.wav'} appeared meanwhile")
    assert contents(out) == {"harmonic.wav": "theirs"}  # not even drums.wav moved in
    run(outputs_in(out, force=True), another_program_writes_one)  # with --force: replaced
    assert contents(out) == {"drums.wav": "new", "harmonic.wav": "new"}


def test_an_input_among_the_outputs_is_refused_even_with_force(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    song = tmp_path / "song.wav"
    song.write_text("the song")
    os.link(song, out / "drums.wav")  # the song under an output's name: a hard link
    (out / "harmonic.wav").write_text("old")
    inputs = [tmp_path / "other.wav", song]  # the first is missing: not an output
    message = refusal(lambda: outputs_in(out, force=True, inputs=inputs))
    assert message == (
        f"separate: the input {song} is also the output {out / 'drums.wav'};"
        " choose another -o, so that the input is not overwritten"
    )
    message = refusal(lambda: outputs_in(out, force=True, inputs=[out / "harmonic.wav"]))
    assert f"the input {out / 'harmonic.wav'} is also the output" in message
    outputs_in(out, force=True, inputs=[tmp_path / "other.wav"])  # a missing input is no output


def test_an_output_that_is_a_folder_or_a_device_is_refused_even_with_force(tmp_path):
    (tmp_path / "harmonic.wav").mkdir()
    message = refusal(lambda: outputs_in(tmp_path, force=True))
    assert message == (
        f"separate: {tmp_path / 'harmonic.wav'} is a folder; move it away or choose another -o"
    )
    message = refusal(lambda: Outputs.file("scan", "/dev/null", force=True))
    assert message == "scan: /dev/null is not a regular file; choose another -o"
    assert contents(tmp_path) == {"harmonic.wav": None}


# -- destinations that cannot be written, in one message --------------------------------------


def test_a_destination_under_a_file_is_refused_naming_the_file(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("mine")
    message = refusal(lambda: outputs_in(a_file / "new" / "out"))
    assert message == (
        f"separate: {a_file} in -o {a_file / 'new' / 'out'} is a file, not a folder;"
        " choose another -o"
    )
    message = refusal(lambda: outputs_in(a_file))
    assert message == f"separate: -o {a_file} is a file, not a folder; choose another -o"
    assert contents(tmp_path) == {"a_file": "mine"}


@pytest.mark.parametrize("mode", [0o555, 0o666])  # not writable; writable but not enterable
def test_a_folder_the_user_may_not_write_in_is_refused_before_anything(tmp_path, monkeypatch, mode):
    ignore_permissions_like_root_does_not(monkeypatch)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(mode)
    try:
        message = refusal(lambda: outputs_in(locked / "new" / "out"))
        assert message == (
            f"separate: cannot write {locked / 'new' / 'out'}: {locked} is not writable"
            " (its permissions, or a read-only disk); choose another -o"
        )
    finally:
        locked.chmod(0o755)
    assert contents(locked) == {}
    outputs_in(tmp_path / "new" / "out")  # 0o755: fine


def test_too_little_free_space_is_refused_under_the_lock_and_nothing_is_left(tmp_path, monkeypatch):
    free = shutil.disk_usage(tmp_path)._replace(free=1_250_001)
    monkeypatch.setattr(OUTPUTS.shutil, "disk_usage", lambda path: free)
    out = tmp_path / "new" / "out"
    message = refusal(lambda: run(outputs_in(out), expected_bytes=2_250_001))
    assert message == (  # megabytes of 10**6 bytes
        f"separate: only 1.3 MB free where {out} goes; the outputs need about 2.3 MB;"
        " free some space or choose another -o"
    )
    assert contents(tmp_path) == {}
    run(outputs_in(out), expected_bytes=1_250_001)  # exactly enough
    assert contents(out) == {"drums.wav": "new", "harmonic.wav": "new"}


def test_the_free_space_message_says_old_outputs_stay_until_the_new_ones_are_complete(
    tmp_path, monkeypatch
):
    # Both sets are on the disk at once while the run works: never all old nor all new.
    out = tmp_path / "out"
    out.mkdir()
    (out / "drums.wav").write_bytes(b"x" * 500_000)
    free = shutil.disk_usage(tmp_path)._replace(free=1_250_001)
    monkeypatch.setattr(OUTPUTS.shutil, "disk_usage", lambda path: free)
    message = refusal(lambda: run(outputs_in(out, force=True), expected_bytes=2_250_001))
    assert message == (
        f"separate: only 1.3 MB free where {out} goes; the outputs need about 2.3 MB"
        " (the 0.5 MB of old outputs --force replaces stay until the new ones are complete);"
        " free some space or choose another -o"
    )


def refuse_mkdir(monkeypatch, name_starts: str, code: int) -> None:
    """Make ``Path.mkdir`` of a folder whose name starts with ``name_starts`` fail with ``code``."""
    real_mkdir = Path.mkdir

    def refused(path, *args, **kwargs):
        if path.name.startswith(name_starts):
            raise OSError(code, os.strerror(code), str(path))
        real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refused)


@pytest.mark.parametrize(
    ("failing", "code", "reason"),
    [
        (".nmf_helpers-outputs.partial-", errno.EACCES, "permission denied"),  # under the lock
        ("out", errno.EIO, "Input/output error"),  # the destination itself, before the lock
    ],
)
def test_a_failure_while_preparing_names_the_destination_and_the_reason(
    tmp_path, monkeypatch, failing, code, reason
):
    out = tmp_path / "out"
    refuse_mkdir(monkeypatch, failing, code)
    message = refusal(lambda: run(outputs_in(out)))
    assert message == f"separate: cannot write {out}: {reason}; choose another -o"
    assert contents(tmp_path) == {}  # the folder it made and the lock are gone


def test_folders_made_before_a_deeper_one_failed_are_removed(tmp_path, monkeypatch):
    refuse_mkdir(monkeypatch, "out", errno.EIO)
    refusal(lambda: run(outputs_in(tmp_path / "new" / "out")))
    assert contents(tmp_path) == {}


# -- errors and interrupts while the run works ------------------------------------------------


def test_a_full_disk_while_writing_leaves_the_destination_as_it_was(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "drums.wav").write_text("old")

    def disk_fills(outputs):
        outputs.temp("drums.wav").write_text("ha")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(outputs.temp("drums.wav")))

    message = refusal(lambda: run(outputs_in(out, force=True), disk_fills))
    assert message == (
        f"separate: could not write {out}: the disk is full; nothing was written:"
        " fix that and rerun"
    )
    assert contents(out) == {"drums.wav": "old"}


@pytest.mark.parametrize(
    "error",
    [
        soundfile.SoundFileError("Error : System error."),
        OSError(errno.ENOSPC, "No space left on device"),  # no file named: ours
    ],
)
def test_a_write_error_without_a_file_named_is_counted_as_writing(tmp_path, error):
    def fails(outputs):
        raise error

    message = refusal(lambda: run(outputs_in(tmp_path / "out"), fails))
    assert message.startswith(f"separate: could not write {tmp_path / 'out'}: ")
    assert message.endswith("; nothing was written: fix that and rerun")
    assert contents(tmp_path) == {}


@pytest.mark.parametrize(
    "error",
    [
        FileNotFoundError(errno.ENOENT, "No such file or directory", "song.wav"),  # an input
        OSError("a library's own message"),  # no errno
    ],
)
def test_other_errors_go_up_as_they_are_and_nothing_is_left(tmp_path, monkeypatch, error):
    monkeypatch.chdir(tmp_path)  # song.wav resolves beside out/, not inside it

    def fails(outputs):
        raise error

    with pytest.raises(OSError) as raised:
        run(outputs_in(tmp_path / "out"), fails)
    assert raised.value is error
    assert contents(tmp_path) == {}


def refuse_replace(monkeypatch, refused) -> None:
    """``os.replace`` fails with EPERM when ``refused(source, destination)`` says so."""
    real_replace = os.replace

    def replace(source, destination):
        if refused(Path(source), Path(destination)):
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), str(destination))
        real_replace(source, destination)

    monkeypatch.setattr(OUTPUTS.os, "replace", replace)


def old_outputs(folder: Path, names=NAMES) -> None:
    folder.mkdir()
    for name in names:
        (folder / name).write_text("old")


def test_a_new_output_that_cannot_move_in_leaves_every_old_one_as_it_was(tmp_path, monkeypatch):
    # drums.wav new is already in place when harmonic.wav fails: it must go again.
    out = tmp_path / "out"
    old_outputs(out)
    new_harmonic = lambda source, to: to.name == "harmonic.wav" and ".partial-" in str(source)  # noqa: E731
    refuse_replace(monkeypatch, new_harmonic)
    message = refusal(lambda: run(outputs_in(out, force=True)))
    assert message == (
        f"separate: could not write {out}: harmonic.wav: permission denied;"
        " the 2 old outputs are back as they were: fix that and rerun"
    )
    assert contents(out) == {"drums.wav": "old", "harmonic.wav": "old"}


def refuse_link(monkeypatch, refused, error=errno.EPERM) -> None:
    """``os.link`` fails with ``error`` when ``refused(source)`` says so."""
    real_link = os.link

    def link(source, destination, **options):
        if refused(Path(source)):
            raise OSError(error, os.strerror(error), str(source))
        real_link(source, destination, **options)

    monkeypatch.setattr(OUTPUTS.os, "link", link)


def test_an_old_output_that_cannot_be_replaced_leaves_every_old_one_as_it_was(
    tmp_path, monkeypatch
):
    # As an immutable summary.json (chattr +i): no hard link to it, and nothing
    # replaces it; it is copied aside, and the new ones moved in go again.
    names = [*NAMES, "summary.json"]
    out = tmp_path / "out"
    old_outputs(out, names)
    refuse_link(monkeypatch, lambda source: source.name == "summary.json")
    refuse_replace(monkeypatch, lambda source, to: to.name == "summary.json" == source.name)
    message = refusal(lambda: run(outputs_in(out, names, force=True)))
    assert message == (
        f"separate: could not write {out}: summary.json: permission denied;"
        " the 3 old outputs are back as they were: fix that and rerun"
    )
    assert contents(out) == dict.fromkeys(names, "old")


def test_one_old_output_back_is_said_in_the_singular(tmp_path, monkeypatch):
    out = tmp_path / "out"
    old_outputs(out, ["drums.wav"])
    refuse_replace(monkeypatch, lambda source, to: to.name == "harmonic.wav")
    message = refusal(lambda: run(outputs_in(out, force=True)))
    assert message == (
        f"separate: could not write {out}: harmonic.wav: permission denied;"
        " the old output is back as it was: fix that and rerun"
    )
    assert contents(out) == {"drums.wav": "old"}


def test_an_old_output_that_cannot_be_kept_aside_is_named_and_nothing_moves(tmp_path, monkeypatch):
    names = [*NAMES, "summary.json"]
    out = tmp_path / "out"
    old_outputs(out, names)
    refuse_link(monkeypatch, lambda source: source.name == "harmonic.wav", errno.ENOSPC)
    message = refusal(lambda: run(outputs_in(out, names, force=True)))
    assert message == (
        f"separate: could not move the old {out / 'harmonic.wav'} aside: the disk is full;"
        " nothing was written, the 3 old outputs are as they were: fix that and rerun"
    )
    assert contents(out) == dict.fromkeys(names, "old")  # the kept links gone too


def test_at_every_moment_of_the_moves_each_output_name_exists(tmp_path, monkeypatch):
    # A run killed (SIGKILL) between two moves must not hide an output:
    # tests/test_outputs_killed.py kills a real one; here each moment is looked at.
    names = [*NAMES, "summary.json", "new.png"]
    out = tmp_path / "out"
    old_outputs(out, names[:3])
    seen = []
    monkeypatch.setattr(OUTPUTS, "checkpoint", lambda moment: seen.append(sorted(os.listdir(out))))
    run(outputs_in(out, names, force=True))
    assert len(seen) == 4
    for listing in seen:
        assert set(names[:3]) <= set(listing)


def test_a_failed_move_with_no_old_outputs_writes_nothing(tmp_path, monkeypatch):
    out = tmp_path / "out"
    refuse_replace(monkeypatch, lambda source, to: to.name == "harmonic.wav")
    message = refusal(lambda: run(outputs_in(out)))
    assert message == (
        f"separate: could not write {out}: harmonic.wav: permission denied;"
        " nothing was written: fix that and rerun"
    )
    assert contents(out) == {}


def test_when_even_putting_the_old_outputs_back_fails_one_line_says_which_is_which(
    tmp_path, monkeypatch
):
    names = ["drums.wav", "harmonic.wav", "summary.json"]
    out = tmp_path / "out"
    old_outputs(out, names)

    def refused(source, to):
        # summary.json's new copy cannot come in, and harmonic.wav's old one cannot go back.
        new_summary = to.name == "summary.json" and "partial" in source.parent.name
        return new_summary or (to.name == "harmonic.wav" and ".old-" in source.parent.name)

    refuse_replace(monkeypatch, refused)
    message = refusal(lambda: run(outputs_in(out, names, force=True)))
    (backup,) = out.glob(".nmf_helpers-outputs.old-*")
    assert message == (
        f"separate: could not write {out}: summary.json: permission denied; putting the old"
        f" outputs back failed too, so {out} now holds a mix (new: harmonic.wav; old:"
        f" drums.wav, summary.json; old, kept in {backup}: harmonic.wav): fix that and rerun"
    )
    assert (out / "harmonic.wav").read_text() == "new"
    assert (backup / "harmonic.wav").read_text() == "old"
    assert (out / "drums.wav").read_text() == (out / "summary.json").read_text() == "old"


def test_the_old_outputs_moved_aside_are_removed_once_the_new_ones_are_in(tmp_path):
    out = tmp_path / "out"
    old_outputs(out)
    (out / "theirs.txt").write_text("theirs")
    run(outputs_in(out, force=True))
    assert contents(out) == {"drums.wav": "new", "harmonic.wav": "new", "theirs.txt": "theirs"}


def test_folders_made_for_a_failed_run_are_removed_unless_something_else_is_in_them(tmp_path):
    out = tmp_path / "made" / "deeper" / "out"

    def someone_saves_a_file_then_the_disk_fills(outputs):
        (tmp_path / "made" / "theirs.txt").write_text("theirs")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(outputs.temp("drums.wav")))

    refusal(lambda: run(outputs_in(out), someone_saves_a_file_then_the_disk_fills))
    assert contents(tmp_path) == {"made": None, "made/theirs.txt": "theirs"}


def test_an_interrupt_while_working_leaves_the_destination_as_it_was(tmp_path):
    out = tmp_path / "out"

    def interrupted(outputs):
        write_all(outputs)
        raise INTERRUPTS.Interrupted(signal.SIGINT)

    with pytest.raises(INTERRUPTS.Interrupted) as stop:
        run(outputs_in(out), interrupted)
    assert stop.value.outcome == f"nothing written, {out} is as it was (rerun to start again)"
    assert contents(tmp_path) == {}


def test_an_interrupt_that_already_says_what_happened_keeps_its_words(tmp_path):
    def interrupted(outputs):
        stop = INTERRUPTS.Interrupted(signal.SIGINT)
        stop.outcome = "the inner outputs are complete"
        raise stop

    with pytest.raises(INTERRUPTS.Interrupted) as stop:
        run(outputs_in(tmp_path / "out"), interrupted)
    assert stop.value.outcome == "the inner outputs are complete"


def test_a_signal_during_the_moves_waits_until_every_output_is_in_place(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "drums.wav").write_text("old")
    (out / "harmonic.wav").write_text("old")
    monkeypatch.setattr(OUTPUTS, "checkpoint", lambda moment: os.kill(os.getpid(), signal.SIGTERM))
    with pytest.raises(INTERRUPTS.Interrupted) as stop:
        with INTERRUPTS.signals_raised():
            run(outputs_in(out, force=True))
    assert stop.value.signum == signal.SIGTERM
    assert stop.value.outcome == f"the outputs were complete first: all 2 are in {out}"
    assert contents(out) == {"drums.wav": "new", "harmonic.wav": "new"}


# -- one run at a time ------------------------------------------------------------------------


def test_a_second_run_into_the_same_outputs_is_refused_while_the_first_writes(tmp_path):
    out = tmp_path / "out"
    first, second = outputs_in(out), outputs_in(out, force=True)
    with first.writing():
        write_all(first)
        message = refusal(lambda: run(second))
        assert message == (
            f"separate: another run (process {os.getpid()}) is writing {out} right now;"
            " wait for it to finish, or choose another -o"
        )
        assert (out / LOCK).exists()  # the refused run leaves the first one's lock alone
    assert not (out / LOCK).exists()  # released at the end
    run(second, lambda o: write_all(o, "second"))  # and the next run may write
    assert contents(out) == {"drums.wav": "second", "harmonic.wav": "second"}


def test_a_lock_held_by_a_run_that_wrote_no_pid_yet_is_still_refused(tmp_path):
    fd = os.open(tmp_path / LOCK, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        message = refusal(lambda: run(outputs_in(tmp_path)))
        assert message.startswith("separate: another run (process ?) is writing")
    finally:
        os.close(fd)
    assert stat.S_ISREG(os.stat(tmp_path / LOCK).st_mode)  # not ours to remove


def test_a_lock_holding_garbage_still_gives_the_one_message(tmp_path):
    fd = os.open(tmp_path / LOCK, os.O_RDWR | os.O_CREAT)
    try:
        os.write(fd, b"\xff\xfe 12")
        fcntl.flock(fd, fcntl.LOCK_EX)
        message = refusal(lambda: run(outputs_in(tmp_path)))
        assert message.startswith("separate: another run (process \ufffd\ufffd 12) is writing")
    finally:
        os.close(fd)


def test_the_lock_file_is_readable_by_every_run_and_executable_by_none(tmp_path):
    previous = os.umask(0o022)
    try:
        with outputs_in(tmp_path).writing() as outputs:
            write_all(outputs)
            mode = stat.S_IMODE(os.stat(tmp_path / LOCK).st_mode)
    finally:
        os.umask(previous)
    assert mode == 0o644  # 0o666 less the umask: another user's run can read who holds it


def test_a_lock_file_removed_by_someone_else_does_not_fail_the_run(tmp_path):
    def removed(outputs):
        write_all(outputs)
        (tmp_path / LOCK).unlink()

    run(outputs_in(tmp_path), removed)
    assert contents(tmp_path) == {"drums.wav": "new", "harmonic.wav": "new"}


def test_a_lock_file_removed_just_before_it_was_locked_is_not_the_one_locked(tmp_path, monkeypatch):
    # The run before us releases (and removes) the lock between our open and our flock.
    removals = []

    class ReleasedMeanwhile:
        LOCK_EX, LOCK_NB = fcntl.LOCK_EX, fcntl.LOCK_NB

        @staticmethod
        def flock(fd, operation):
            if not removals:
                removals.append(tmp_path / LOCK)
                (tmp_path / LOCK).unlink()
            fcntl.flock(fd, operation)

    monkeypatch.setattr(OUTPUTS, "fcntl", ReleasedMeanwhile)
    descriptors = len(os.listdir("/proc/self/fd"))
    with outputs_in(tmp_path).writing() as outputs:
        write_all(outputs)
        message = refusal(lambda: run(outputs_in(tmp_path, force=True)))  # the file at the path
        assert message.startswith(f"separate: another run (process {os.getpid()})")
    assert removals and len(os.listdir("/proc/self/fd")) == descriptors  # nothing left open


# -- the reasons and the sizes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EDQUOT, "the disk quota is used up"),
        (errno.EROFS, "the disk is read-only"),
        (errno.EACCES, "permission denied"),
        (errno.EPERM, "permission denied"),
    ],
)
def test_reasons_of_the_os_in_a_few_words(tmp_path, code, reason):
    assert OUTPUTS._reason(OSError(code, os.strerror(code)), tmp_path) == reason


def test_other_reasons_are_the_librarys_words_on_one_line_or_a_nearly_full_disk(
    tmp_path, monkeypatch
):
    error = soundfile.SoundFileError("Error opening 'x.wav':\nSystem error.")
    assert OUTPUTS._reason(error, tmp_path) == "Error opening 'x.wav': System error"
    assert OUTPUTS._reason(OSError(errno.EIO, "Input/output error"), tmp_path) == (
        "Input/output error"
    )
    unknown = soundfile.SoundFileError("Format not recognised: WAVEX.")
    assert OUTPUTS._reason(unknown, tmp_path) == "Format not recognised: WAVEX"
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(OUTPUTS.shutil, "disk_usage", lambda p: usage._replace(free=999_999))
    assert OUTPUTS._reason(error, tmp_path) == "the disk is full"
    monkeypatch.setattr(OUTPUTS.shutil, "disk_usage", lambda p: usage._replace(free=1_000_000))
    assert OUTPUTS._reason(error, tmp_path) == "Error opening 'x.wav': System error"


def test_full_scale_scales_every_part_by_one_factor_only_past_full_scale():
    quiet = {"a": np.array([0.5, -1.0], np.float32), "none": np.zeros(0, np.float32)}
    assert OUTPUTS.full_scale(quiet) == (quiet, 1.0, 1.0)
    loud = {
        "a": np.array([0.5, -4.0], np.float32),
        "b": np.array([1.0]),
        "none": np.zeros(0, np.float32),
    }
    parts, factor, peak = OUTPUTS.full_scale(loud)
    assert (factor, peak) == (0.25, 4.0)
    np.testing.assert_array_equal(parts["a"], [0.125, -1.0])
    np.testing.assert_array_equal(parts["b"], [0.25])
    assert parts["a"].dtype == np.float32 and parts["b"].dtype == np.float64
    assert OUTPUTS.full_scale({"none": np.zeros(0)})[1:] == (1.0, 0.0)
    parts, factor, peak = OUTPUTS.full_scale({"a": np.array([0.5, 1.25])})  # just past 1.0
    assert (factor, peak) == (0.8, 1.25)
    np.testing.assert_allclose(parts["a"], [0.4, 1.0])
    broken = {"a": np.array([np.inf, 2.0])}  # not a level to scale by
    assert OUTPUTS.full_scale(broken)[:2] == (broken, 1.0)


def test_expected_wav_bytes_are_16_bit_samples_a_header_each_and_room_for_figures():
    assert OUTPUTS.expected_wav_bytes(1000, 3) == 3 * (2 * 1000 + 44) + 4_000_000
