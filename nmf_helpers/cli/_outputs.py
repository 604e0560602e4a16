"""Outputs written all at once or not at all, by one run at a time.

Every command that writes files goes through :class:`Outputs`: ``separate``
and ``demo`` a folder of files (:meth:`Outputs.folder`), ``scan`` one CSV
(:meth:`Outputs.file`). Three steps::

    outputs = Outputs.folder_of("separate", args.outdir, names, force=args.force, inputs=[song])
    x, sr = load(song)                                   # the user's input, checked
    with outputs.writing(expected_bytes=...):            # lock, temporary folder, free space
        ...heavy work...; save(outputs.temp("drums.wav"), ...)
    # here every output is in place

1. The constructor checks what can be known without writing: the
   destination is a folder (or can become one) we may write in, no output is
   a folder, a device or one of the inputs (hard links included), and no
   output exists unless ``force``.
2. :meth:`Outputs.writing` makes the missing folders, takes the lock (an
   ``flock`` on ``TAG.lock`` beside the outputs: a second run into the same
   outputs is refused; the kernel releases it when a run dies, even by
   SIGKILL), checks again under the lock, removes what a killed run left,
   makes a temporary folder ``TAG.partial-XXXXXXXX`` beside the outputs and
   checks the free space. All of this before the heavy work.
3. When the block ends, the old outputs (with ``force``) are first kept: a
   hard link to each (a copy where links fail) in a folder
   ``TAG.old-XXXXXXXX`` beside them. Then each finished file is moved over
   its old one with ``os.replace`` (atomic, same folder), all inside
   :func:`~nmf_helpers.cli._interrupts.uninterruptible`, so every output
   name exists, old or new, at every instant. If one move fails, the new
   files moved are taken out and the old ones put back, so the folder holds
   all the old outputs or all the new ones, never a mix; should even that
   fail, the one line names which files are old and which new. On an error
   or an interrupt, the temporary folder, the lock file and the folders this
   run made are removed: the destination is as it was. A run killed outright
   (SIGKILL) in the middle of the moves leaves its ``TAG.old-*`` folder: the
   next run, under the lock, puts back any old output missing from the
   folder and removes it, or names it in a note if it still holds an old
   output that differs from the one in place.

With ``force`` the named outputs are replaced; other files in the folder
are left alone. The free space must hold the new outputs while the old ones
are still there (they go only once the new ones are complete), so the old
outputs' sizes free nothing before that.
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import glob
import math
import os
import secrets
import shutil
import stat
from pathlib import Path

import numpy as np
import soundfile

from . import UsageError, note
from ._interrupts import Interrupted, checkpoint, uninterruptible

try:
    import fcntl
except ImportError:  # Windows: no flock; runs into one folder are then not refused
    fcntl = None

__all__ = ["Outputs", "expected_wav_bytes", "full_scale"]

#: Names of a folder's lock and temporary folders (never an output's name).
FOLDER_TAG = ".nmf_helpers-outputs"
#: Room for figures and the summary beside the audio, in bytes.
FIGURES_BYTES = 4_000_000


class Outputs:
    """A set of output files in one folder, written all at once or not at all.

    Parameters
    ----------
    command : str
        The command's name, first word of every message.
    folder : path
        Where the outputs go; made if missing.
    names : list of str
        The file names, known before any work.
    force : bool
        Replace outputs that exist (without it they are refused).
    inputs : list of paths
        Files the command reads: none of them may be an output.
    tag : str
        Prefix of the lock file and the temporary folder in ``folder``.
    shown : str
        The destination as the user wrote it, for messages.
    """

    def __init__(self, command, folder, names, *, force, inputs=(), tag, shown):
        self.command, self.shown, self.tag = command, shown, tag
        self.folder = Path(folder)
        self.names = list(names)
        self.force = force
        self._temp: Path | None = None
        self._lock: _Lock | None = None
        self._made: list[Path] = []
        self._committed = False
        self._moved: list[str] = []
        self._check_names(inputs)
        self._check_place()
        self._refuse_existing()

    @classmethod
    def folder_of(cls, command, outdir, names, *, force, inputs=()) -> Outputs:
        """Files ``names`` in the folder ``outdir`` (``separate``, ``demo``)."""
        return cls(
            command, outdir, names, force=force, inputs=inputs, tag=FOLDER_TAG, shown=str(outdir)
        )

    @classmethod
    def file(cls, command, path, *, force, inputs=()) -> Outputs:
        """The one file ``path`` (``scan``'s CSV); its lock and temporary folder beside it."""
        path = Path(path)
        tag = f".{path.name}.nmf_helpers"  # never FOLDER_TAG: ends in .nmf_helpers
        return cls(
            command, path.parent, [path.name], force=force, inputs=inputs, tag=tag, shown=str(path)
        )

    def temp(self, name: str) -> Path:
        """Where to write output ``name`` while the run works."""
        if self._temp is None:
            raise RuntimeError("Outputs.temp: only inside `with outputs.writing():`")
        return self._temp / name

    def final(self, name: str) -> Path:
        """Where output ``name`` ends up."""
        return self.folder / name

    # -- the checks -----------------------------------------------------------------------

    def _refuse(self, problem: str, advice: str = "choose another -o") -> None:
        raise UsageError(f"{self.command}: {problem}; {advice}")

    def _check_place(self) -> None:
        existing = self.folder
        while not os.path.lexists(existing) and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            where = "" if str(existing) == self.shown else f"{existing} in "
            self._refuse(f"{where}-o {self.shown} is a file, not a folder")
        if not os.access(existing, os.W_OK | os.X_OK):
            self._refuse(
                f"cannot write {self.shown}: {existing} is not writable"
                " (its permissions, or a read-only disk)"
            )

    def _check_names(self, inputs) -> None:
        for name in self.names:
            final = self.final(name)
            for source in inputs:
                if _same_file(source, final):
                    self._refuse(
                        f"the input {source} is also the output {final}",
                        "choose another -o, so that the input is not overwritten",
                    )
            try:
                mode = os.lstat(final).st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode):
                self._refuse(f"{final} is a folder", "move it away or choose another -o")
            if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                self._refuse(f"{final} is not a regular file")

    def _refuse_existing(self, when: str = "already exists") -> None:
        existing = [self.final(name) for name in self.names if os.path.lexists(self.final(name))]
        if existing and not self.force:
            count = f" ({len(existing)} of the outputs do)" if len(self.names) > 1 else ""
            self._refuse(
                f"{existing[0]} {when}{count}",
                "choose another -o, or pass --force to replace the outputs",
            )

    # -- writing --------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self, expected_bytes: int = 0):
        """Lock, then a temporary folder; on success every output moves into place.

        ``expected_bytes`` is the size the outputs will take: refused up front
        if the disk has less free. On any error or interrupt nothing is left.
        """
        try:
            with uninterruptible():
                self._open(expected_bytes)
            yield self
            with uninterruptible():
                self._commit()
        except Interrupted as stop:
            stop.outcome = stop.outcome or self._outcome()
            raise
        except (OSError, soundfile.SoundFileError) as error:  # disk full, permissions
            if self._committed or not self._in_writing(error):
                raise  # e.g. an input that cannot be read: main says it in one line
            raise UsageError(
                f"{self.command}: could not write {self.shown}: {_reason(error, self.folder)};"
                " nothing was written: fix that and rerun"
            ) from error
        finally:
            with uninterruptible():
                self._close()

    def _in_writing(self, error: Exception) -> bool:
        """Did ``error`` come from writing the outputs (not from reading an input)?"""
        if isinstance(error, soundfile.SoundFileError):
            return True  # inputs are read by load_audio, which says "cannot read" itself
        if error.errno is None:
            return False  # one of the library's own messages
        name = error.filename
        return name is None or Path(os.fsdecode(name)).resolve().is_relative_to(
            self.folder.resolve()
        )

    def _open(self, expected_bytes: int) -> None:
        try:
            _make_folders(self.folder, self._made)
            self._lock = _Lock(self.folder / f"{self.tag}.lock")
            if self._lock.holder is not None:
                self._refuse(
                    f"another run (process {self._lock.holder}) is writing {self.shown} right now",
                    "wait for it to finish, or choose another -o",
                )
            for kept in sorted(self.folder.glob(f"{glob.escape(self.tag)}.old-*")):
                self._put_back(kept)  # first: what it puts back is the user's
            self._refuse_existing("appeared meanwhile")
            for stale in self.folder.glob(f"{glob.escape(self.tag)}.partial-*"):
                shutil.rmtree(stale, ignore_errors=True)  # left by a killed run: ours is locked
            self._temp = self.folder / f"{self.tag}.partial-{secrets.token_hex(4)}"
            self._temp.mkdir()
            free = shutil.disk_usage(self._temp).free
        except OSError as error:
            self._refuse(f"cannot write {self.shown}: {_reason(error, self.folder)}")
        if free < expected_bytes:
            old = self._old_bytes()
            # The old outputs are removed only once the new ones are all in place
            # (never a mix), so for the whole run both take room.
            kept = (
                f" (the {old / 1e6:.1f} MB of old outputs --force replaces stay until"
                " the new ones are complete)"
                if old
                else ""
            )
            self._refuse(
                f"only {free / 1e6:.1f} MB free where {self.shown} goes; the outputs need"
                f" about {expected_bytes / 1e6:.1f} MB{kept}",
                "free some space or choose another -o",
            )

    def _put_back(self, kept: Path) -> None:
        """Deal with ``kept``, the old outputs of a run killed while it replaced them.

        Each old output missing from the folder is put back. One that is
        there, the same, is dropped. One that differs (the killed run's new
        file, or the user's) cannot be judged here: the folder stays, named
        in a note. The folder goes once nothing in it is left to judge.
        """
        if kept.is_symlink() or not kept.is_dir():
            return  # not one of ours
        back, undecided = [], []
        try:
            old = sorted(kept.iterdir())
        except OSError:
            old, undecided = [], ["files"]  # unreadable: not ours to judge
        for path in old:
            final = self.folder / path.name
            try:
                if not os.path.lexists(final):
                    os.replace(path, final)
                    back.append(path.name)
                elif not _same_content(path, final):
                    undecided.append(path.name)
            except OSError:
                undecided.append(path.name)
        said = (
            [f"put back the old {', '.join(back)}, missing since a run was killed"] if back else []
        )
        if undecided:
            said.append(
                f"{kept} holds the old {', '.join(undecided)} of a run killed while replacing"
                f" them, and {self.shown} now has different ones: keep what you need from it,"
                " then remove it"
            )
        else:
            shutil.rmtree(kept, ignore_errors=True)
        if said:
            note(self.command, "; ".join(said))

    def _old_bytes(self) -> int:
        """Bytes of the outputs that exist already (those ``force`` will replace)."""
        total = 0
        for name in self.names:
            with contextlib.suppress(OSError):
                total += os.lstat(self.final(name)).st_size
        return total

    def _commit(self) -> None:
        missing = [name for name in self.names if not self.temp(name).exists()]
        if missing:  # a command that promised a file and did not write it: a bug
            raise RuntimeError(f"{self.command}: {missing[0]} was not written")
        self._refuse_existing("appeared meanwhile")
        old = [name for name in self.names if os.path.lexists(self.final(name))]
        backup = self.folder / f"{self.tag}.old-{secrets.token_hex(4)}"
        name = None
        try:
            # The old outputs are kept (linked, not moved) before any new one comes:
            # each name then always exists, old or new, even if the run is killed
            # (a later run puts back what is missing, see _leftovers), and a move
            # that fails can put every old output back.
            if old:
                backup.mkdir()
            for name in old:
                _keep(self.final(name), backup / name)
        except OSError as error:
            shutil.rmtree(backup, ignore_errors=True)  # only links or copies: the old are in place
            step = f"move the old {self.final(name)} aside" if name else f"make {backup}"
            raise UsageError(
                f"{self.command}: could not {step}: {_reason(error, self.folder)};"
                f" nothing was written, {_old_kept(len(old))}: fix that and rerun"
            ) from error
        try:
            for name in self.names:
                os.replace(self.temp(name), self.final(name))  # atomic: old, then new
                self._moved.append(name)
                checkpoint("commit")
        except OSError as error:
            raise UsageError(self._rolled_back(error, name, old, backup)) from error
        self._committed = True  # the temporary folder, now empty, goes in _close
        if old:
            shutil.rmtree(backup, ignore_errors=True)

    def _rolled_back(self, error: OSError, failed: str, old: list[str], backup: Path) -> str:
        """Undo a commit that failed at ``failed``: the new files out, the old ones back.

        ``backup`` holds a link to (or a copy of) each ``old`` output. Returns
        the one line that says so; if the undoing fails too, the line names the
        files that are new, those that are old and where the rest are.
        """
        stuck_new, stuck_old = [], []
        for name in self._moved:
            try:
                if name in old:
                    os.replace(backup / name, self.final(name))  # atomic: new, then old
                else:
                    os.replace(self.final(name), self.temp(name))
            except OSError:
                (stuck_old if name in old else stuck_new).append(name)
        if not stuck_old:
            shutil.rmtree(backup, ignore_errors=True)
        self._moved = []
        where = f"could not write {self.shown}: {failed}: {_reason(error, self.folder)}"
        if not stuck_new and not stuck_old:
            done = _old_kept(len(old), back=True) if old else "nothing was written"
            return f"{self.command}: {where}; {done}: fix that and rerun"
        new = stuck_new + stuck_old
        back = [name for name in old if name not in stuck_old]
        parts = [f"new: {', '.join(new)}"]
        parts += [f"old: {', '.join(back)}"] if back else []
        parts += [f"old, kept in {backup}: {', '.join(stuck_old)}"] if stuck_old else []
        return (
            f"{self.command}: {where}; putting the old outputs back failed too, so"
            f" {self.shown} now holds a mix ({'; '.join(parts)}): fix that and rerun"
        )

    def _outcome(self) -> str:
        if self._committed:
            return f"the outputs were complete first: all {len(self.names)} are in {self.shown}"
        return f"nothing written, {self.shown} is as it was (rerun to start again)"

    def _close(self) -> None:
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if not self._committed:
            for folder in reversed(self._made):
                with contextlib.suppress(OSError):  # not empty: something else is in it
                    folder.rmdir()


class _Lock:
    """``flock`` on ``path``; ``holder`` is the pid of the run holding it, else None.

    The file is removed on release. A run that opened it just before must not
    lock a removed file, so after locking, the path must still be the file locked.
    """

    def __init__(self, path: Path):
        self.path, self.holder, self._fd = path, None, None
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
                os.close(fd)
                return
            if _same_file(fd, path):
                break
            os.close(fd)  # released and removed meanwhile: lock the new one
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            os.close(self._fd)
            self._fd = None


def _old_kept(count: int, *, back: bool = False) -> str:
    """ "the 3 old outputs are as they were", in words that fit ``count``."""
    state = "back as" if back else "as"
    if count == 1:
        return f"the old output is {state} it was"
    return f"the {count} old outputs are {state} they were"


def _keep(path: Path, kept: Path) -> None:
    """Put a hard link to ``path`` at ``kept`` (a copy where links fail); a link stays a link."""
    try:
        os.link(path, kept, follow_symlinks=False)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise  # a copy would fail the same way
        shutil.copy2(path, kept, follow_symlinks=False)  # e.g. a disk without hard links


def _same_content(a: Path, b: Path) -> bool:
    """Is ``b`` the file ``a`` (a link to it, or a copy with the same bytes or target)?"""
    try:
        first, second = os.lstat(a), os.lstat(b)
        if os.path.samestat(first, second):
            return True
        if stat.S_ISLNK(first.st_mode) and stat.S_ISLNK(second.st_mode):
            return os.readlink(a) == os.readlink(b)
        regular = stat.S_ISREG(first.st_mode) and stat.S_ISREG(second.st_mode)
        return regular and filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def _same_file(a, b) -> bool:
    """Same device and inode (symlinks followed, hard links found); False if one is missing."""
    try:
        first = os.fstat(a) if isinstance(a, int) else os.stat(a)
        return os.path.samestat(first, os.stat(b))
    except OSError:
        return False


def _make_folders(folder: Path, made: list[Path]) -> None:
    """``mkdir -p folder``, appending each folder to ``made`` as it is made, outermost first.

    Appended one by one, so that when a deeper ``mkdir`` fails the caller
    still knows (and removes) the ones made before it.
    """
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir()
        made.append(path)


_ADVICE = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the disk is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


def _reason(error: Exception, folder: Path) -> str:
    """Why writing failed, in a few words (libsndfile says only "System error.")."""
    if isinstance(error, OSError) and error.errno in _ADVICE:
        return _ADVICE[error.errno]
    with contextlib.suppress(OSError):
        if shutil.disk_usage(folder).free < 1_000_000:
            return "the disk is full"
    text = getattr(error, "strerror", None) or str(error)
    return text.rstrip(".").replace("\n", " ")


def full_scale(parts: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float, float]:
    """Scale every part by one factor so none peaks above 1.0 (16-bit full scale).

    Returns the parts (unchanged if none exceeds 1.0), the factor (1.0 or
    less) and the highest peak before scaling. One common factor keeps their
    sum the song times that factor.
    """
    peak = max((float(np.max(np.abs(y))) for y in parts.values() if y.size), default=0.0)
    if not math.isfinite(peak) or peak <= 1.0:
        return parts, 1.0, peak
    factor = 1.0 / peak
    return {name: (y * factor).astype(y.dtype) for name, y in parts.items()}, factor, peak


def expected_wav_bytes(n_samples: int, n_files: int) -> int:
    """Size of ``n_files`` 16-bit mono WAVs of ``n_samples``, plus room for figures."""
    return n_files * (2 * n_samples + 44) + FIGURES_BYTES
