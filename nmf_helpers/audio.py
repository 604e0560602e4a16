"""Reading and writing audio files.

Reading goes through soundfile (libsndfile: WAV, FLAC, OGG, MP3, AIFF, ...)
and falls back to librosa's audioread backend for anything else ffmpeg can
decode. Every clip comes back mono, float32, at the rate asked for.
Writing never touches a file this process has read as input.

What a user brings is looked at before a decoder is: an empty path, a URL,
a folder, a FIFO or a device, a symlink loop are each refused in words that
say so; any name the system allows is read, UTF-8 or not. A file that ends
before its header says (truncated, or damaged part way) gives the audio that
decodes and one warning with both lengths; samples beyond 2**31
(:data:`MAX_PEAK`) are refused as damaged or mis-scaled; rates lie in
:data:`SR_RANGE`. Decoders' own chatter on stderr is silenced.

The project's own clips (``audio/``) and their facts (``audio/clips.json``:
durations, stems, where the sample plays, where the voice enters) are found
here too: :func:`clip_path`, :func:`clip_facts`, :func:`load_stems`.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import functools
import json
import math
import os
import re
import signal
import stat
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile
import soxr

from ._validation import ParameterError, check_int, check_signal

__all__ = [
    "AUDIO_DIR",
    "audio_blocks",
    "clip_facts",
    "clip_names",
    "clip_path",
    "load_audio",
    "load_stems",
    "sample_ranges",
    "save_audio",
]

# Files read by load_audio in this process, which save_audio refuses to write
# over: (device, inode) -> the path they were loaded from. The inode is what a
# hard link (and the target of a symlink) shares with the file.
_INPUT_FILES: dict[tuple[int, int], Path] = {}

_WRITE_FORMATS = {".wav": "WAV", ".flac": "FLAC"}


#: The sample rates read and written, in Hz: from the telephone's lowest to
#: the highest any converter records. soxr is not asked for rates beyond it
#: (at 10**9 Hz it dies in a segmentation fault rather than raise).
SR_RANGE = (1000, 384000)

#: The largest sample magnitude a file may hold: 2**31, the full scale of
#: 32-bit integer PCM. Audio is within 1 (16- and 24-bit PCM always; float files
#: nominally), and a float file holding samples beyond 2**31 is damaged or
#: mis-scaled: at 1e25 and more its spectrogram no longer fits in float32.
MAX_PEAK = 2.0**31

# A URL's scheme, as in "https://": read by no decoder here.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

# What a file that is not a regular file is, by its type in stat.
_FILE_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def _check_sr(function: str, sr) -> int:
    return check_int(function, "sr", sr, minimum=SR_RANGE[0], maximum=SR_RANGE[1])


def _input_file(function: str, path) -> Path:
    """``path`` as a Path to an existing regular file, or an error naming what it is.

    Checked before any decoder opens it: a FIFO would block the decoder
    forever, and libsndfile says "no such file" of anything it cannot open.
    Names that are not valid UTF-8 (str with surrogate escapes, or bytes)
    are accepted; messages show them with ``repr``, which escapes them.
    """
    if not isinstance(path, str | bytes | os.PathLike):
        raise ParameterError(
            f"{function}: path must be a file name (str or Path), got {type(path).__name__}"
        )
    name = os.fsdecode(path)
    if not name:
        raise ParameterError(f"{function}: path is empty; give the name of an audio file")
    if _URL.match(name):
        raise ParameterError(
            f"{function}: {name!r} is a URL, and only local files are read;"
            " download the file first and give its path"
        )
    path = Path(name).expanduser()
    try:
        status = os.stat(path)
    except OSError as error:
        raise _cannot_read(function, path, error) from None
    if stat.S_ISDIR(status.st_mode):
        raise ParameterError(f"{function}: {str(path)!r} is a directory, not an audio file")
    if not stat.S_ISREG(status.st_mode):
        kind = _FILE_KINDS.get(stat.S_IFMT(status.st_mode), "not a regular file")
        raise ParameterError(
            f"{function}: {str(path)!r} is {kind}, not an audio file; give a regular file"
        )
    return path


def _cannot_read(function: str, path: Path, error: OSError) -> OSError:
    """``error`` from opening ``path``, as the same kind of OSError, saying why in plain words."""
    code = error.errno
    if code == errno.ENOENT:
        reason = f"no such file: {str(path)!r}"
        if path.is_symlink():
            reason += f" (a symlink to {os.readlink(path)!r}, which does not exist)"
        failure: OSError = FileNotFoundError(f"{function}: {reason}")
    elif code == errno.ELOOP:
        failure = OSError(
            f"{function}: cannot read {str(path)!r}: symlink loop (the links point at"
            " each other and never reach a file)"
        )
    elif code == errno.ENOTDIR:
        failure = NotADirectoryError(
            f"{function}: no such file: {str(path)!r} (a folder on the way is a file)"
        )
    elif code in (errno.EACCES, errno.EPERM):
        failure = PermissionError(f"{function}: cannot read {str(path)!r}: permission denied")
    else:
        why = (error.strerror or str(error)).lower()
        failure = OSError(f"{function}: cannot read {str(path)!r}: {why}")
    failure.errno = code
    return failure


class DamagedAudio(ParameterError):
    """The file ends before its header says, or cannot be decoded past a point.

    A :class:`~nmf_helpers.ParameterError` that also carries the facts, so the
    command line can put the blame on the input (never on the outputs being
    written) with :meth:`reworded`. Raised while streaming
    (:func:`audio_blocks`, :func:`nmf_helpers.split_drums_file`). Not in
    ``__all__``: catch ParameterError.

    Attributes
    ----------
    path : pathlib.Path
    read_s : float
        Seconds of the song that could be decoded (about).
    total_s : float
        Seconds the file's header announces.
    """

    def __init__(self, function: str, path: Path, read_s: float, total_s: float):
        self.path, self.read_s, self.total_s = path, read_s, total_s
        super().__init__(self.reworded(function, repr(str(path))))

    def reworded(self, function: str, name: str) -> str:
        """The message, naming ``function`` and the file as ``name`` (e.g. as the user typed it)."""
        return (
            f"{function}: {name}: the file is damaged or ends early (read {self.read_s:.0f} s"
            f" of {self.total_s:.0f} s); repair or re-encode it, or give a complete copy"
        )


def _decoder_says(error: Exception) -> str:
    """libsndfile's reason, as a clause: ``format not recognised``.

    ``str(error)`` repeats the path, as bytes when it was given as bytes
    (``Error opening b'x.wav': Format not recognised.``); the message that
    wraps it names the path already.
    """
    text = (getattr(error, "error_string", None) or str(error)).strip().rstrip(".")
    return text[:1].lower() + text[1:]


# fd 2 as it was before the outermost _quiet_stderr, and how many are open:
# threads decoding MP3 at once share one redirection, so that none restores
# another's /dev/null as stderr.
_QUIET_LOCK = threading.Lock()
_quiet = {"depth": 0, "saved": None}

# Signals held back while fd 2 is switched: a Ctrl-C whose KeyboardInterrupt
# were raised between silencing fd 2 and restoring it would leave the process's
# stderr on /dev/null for good. The synchronous ones (a crash) are not held.
if hasattr(signal, "pthread_sigmask"):
    _HELD_SIGNALS = signal.valid_signals() - {
        signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL
    }  # fmt: skip
else:  # Windows has no signal masks
    _HELD_SIGNALS = set()


def _is_mp3(path: Path) -> bool:
    """Whether ``path`` is MPEG audio: by its extension, or an ID3 tag or a frame sync at its start.

    Only libmpg123 writes to fd 2, so only MP3 decoding is silenced: while it
    is, every other thread's stderr is lost too.
    """
    if path.suffix.lower() in {".mp3", ".mp2", ".mpga"}:
        return True
    try:
        with open(path, "rb") as file:
            head = file.read(3)
    except OSError:  # the decoder will say why
        return False
    return head == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold back asynchronous signals in the main thread (where Python runs their handlers)."""
    if not _HELD_SIGNALS or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a held Ctrl-C is raised now


@contextlib.contextmanager
def _quiet_stderr(active: bool) -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while an MP3 decoder runs (when ``active``).

    libmpg123 writes its complaints about damaged MP3 frames ("part2_3_length
    too large", "Xing stream size off") from C straight to fd 2, where
    Python cannot catch them; load_audio says in one warning what they mean
    (the file ends early). fd 2 is the process's, so other threads' stderr
    is lost while it is silenced: callers pass ``active=_is_mp3(path)``, and
    hold it only around the decoder's own calls, never across a ``yield`` to
    the caller, whose messages must get through.
    """
    if not active:
        yield
        return
    with _signals_held(), _QUIET_LOCK:
        if _quiet["depth"] == 0:
            _quiet["saved"] = _silence_fd2()
        _quiet["depth"] += 1
    try:
        yield
    finally:
        with _signals_held(), _QUIET_LOCK:
            _quiet["depth"] -= 1
            saved = _quiet["saved"]
            if _quiet["depth"] == 0 and saved is not None:
                os.dup2(saved, 2)
                os.close(saved)
                _quiet["saved"] = None


def _silence_fd2() -> int | None:
    """Point fd 2 at /dev/null; a duplicate of what it was, or None if there is no fd 2."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no fd 2 (e.g. pythonw): nothing to silence
        return None
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    return saved


# libsndfile's log of a WAV cut short: "data : 132300 (should be 119065)",
# the bytes the header declares, then the bytes the file holds.
_WAV_DATA_LOG = re.compile(r"^data\s*:\s*(\d+)\s*\(should be \d+\)", re.MULTILINE)
_WAV_BLOCK_LOG = re.compile(r"^\s*Block Align\s*:\s*(\d+)", re.MULTILINE)


# Data sizes a WAV writer puts in the header when it cannot know the length
# (streaming to a pipe, which cannot seek back to fill it in): no length at all.
_WAV_UNKNOWN_SIZES = (0, 0xFFFFFFFF)


def _claimed_frames(file: soundfile.SoundFile) -> int:
    """The frames the file's header declares.

    libsndfile counts a truncated WAV's frames from the bytes it holds, so
    the declared length is read from its log; other formats' counts are the
    header's. A WAV written to a pipe declares 0 or 0xFFFFFFFF bytes, which
    says nothing: its length is what it holds.
    """
    log = file.extra_info
    declared, block = _WAV_DATA_LOG.search(log), _WAV_BLOCK_LOG.search(log)
    if declared and int(declared.group(1)) in _WAV_UNKNOWN_SIZES:
        return file.frames
    if declared and block and int(block.group(1)) > 0:
        return max(file.frames, int(declared.group(1)) // int(block.group(1)))
    return file.frames


# The damaged files already reported in this process, so that a command
# reading one file twice (a fit, then a figure) warns once.
_REPORTED: set[tuple[str, int, int]] = set()


def _ends_early(
    function: str, path: Path, decoded: int, claimed: int | None, rate: int, stacklevel: int
) -> None:
    """One warning that ``path`` stops before its end (once a file in a process).

    ``claimed`` is the length its header gives, or None for a format whose
    header gives none (Ogg: the last page closes the stream instead).
    ``stacklevel`` is ``warnings.warn``'s, from here: each caller passes its
    own plus one, so that the warning points at the line that called the
    public function, however deep below it the file was found short.
    """
    key = (str(path.resolve()), decoded, claimed or 0)
    if key in _REPORTED:
        return
    _REPORTED.add(key)
    what = (
        "its last Ogg page does not close the stream"
        if claimed is None
        else f"its header claims {claimed / rate:.2f} s"
    )
    warnings.warn(
        f"{function}: {str(path)!r} ends early (truncated or damaged): decoded"
        f" {decoded / rate:.2f} s, but {what}; using the {decoded / rate:.2f} s decoded",
        stacklevel=stacklevel,
    )


def _ogg_cut_short(path: Path) -> bool:
    """Whether an Ogg file stops before the page that ends its stream.

    An Ogg header gives no length, and libsndfile counts a cut file's frames
    from the last page it finds, so a cut is seen in the pages: they must
    follow one another to the file's last byte, the last flagged
    end-of-stream (header byte 5, bit 2). Reads 27 bytes and a segment table
    a page (about 4 KB of audio each).
    """
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        position, flags = 0, 0
        while position + 27 <= size:
            file.seek(position)
            header = file.read(27)
            if header[:4] != b"OggS":
                return True  # not a page where one must start: damaged
            table = file.read(header[26])
            position += 27 + len(table) + sum(table)
            flags = header[5]
        return position != size or not flags & 0x04


# Frames per read when decoding a damaged file: a read that meets the damage
# gives nothing, so small reads keep all but the last few ms (a FLAC frame
# is 4096 samples).
_SALVAGE_FRAMES = 4096


def _decoded_frames(path: Path, limit: int) -> list[np.ndarray]:
    """Blocks of the file at ``path`` from its start, until ``limit`` frames, its end or damage.

    Opened afresh: after a failed read or seek libsndfile's handle may be
    stuck. A decoder failure on the way (a FLAC's "lost sync", a seek past a
    truncated end) just ends the list: what decoded before it is kept.
    """
    blocks, total = [], 0
    with _quiet_stderr(_is_mp3(path)), soundfile.SoundFile(os.fsencode(path)) as file:
        while total < limit:
            try:
                block = file.read(
                    min(_SALVAGE_FRAMES, limit - total), dtype="float32", always_2d=True
                )
            except (soundfile.LibsndfileError, RuntimeError):
                break
            if not block.shape[0]:
                break
            blocks.append(block)
            total += block.shape[0]
    return blocks


def _read_any(function: str, path: Path, stacklevel: int) -> tuple[np.ndarray, int]:
    """Samples as (n_samples, n_channels) float32 and the file's own rate.

    A file that decodes to fewer frames than its header claims (truncated,
    or damaged part way) gives the frames decoded, and one warning
    (``stacklevel`` as in :func:`_ends_early`, from here).
    """
    # libsndfile encodes a str name strictly; bytes take any name the system has.
    mp3 = _is_mp3(path)
    try:
        with _quiet_stderr(mp3):
            file = soundfile.SoundFile(os.fsencode(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        return _read_fallback(function, path)
    with file, _quiet_stderr(mp3):
        claimed, rate, channels = _claimed_frames(file), file.samplerate, file.channels
        file_format = file.format
        try:
            data = file.read(claimed, dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError):
            data = None
    if data is None:  # damaged part way (a FLAC's "lost sync"): keep what decodes
        blocks = _decoded_frames(path, claimed)
        data = np.concatenate(blocks) if blocks else np.zeros((0, channels), np.float32)
    if 0 < data.shape[0] < claimed:
        _ends_early(function, path, data.shape[0], claimed, rate, stacklevel + 1)
    elif data.shape[0] and file_format == "OGG" and _ogg_cut_short(path):
        _ends_early(function, path, data.shape[0], None, rate, stacklevel + 1)
    if not data.shape[0]:
        _refuse_no_audio(function, path)
    return data, rate


def _refuse_no_audio(function: str, path: Path) -> None:
    """Raise for a file that decodes to nothing: empty, or (when it is not small) damaged."""
    size = path.stat().st_size
    if size > _EMPTY_FILE_BYTES:
        raise ParameterError(
            f"{function}: {str(path)!r} has no audio that can be decoded, though it holds"
            f" {size} bytes: it is damaged or truncated"
        )
    raise ParameterError(f"{function}: {str(path)!r} contains no audio samples")


# A file larger than this that decodes to nothing is damaged, not an empty
# recording (whose header and metadata take a few hundred bytes).
_EMPTY_FILE_BYTES = 4096


def _read_fallback(function: str, path: Path) -> tuple[np.ndarray, int]:
    """What libsndfile cannot open, through librosa's audioread (ffmpeg, when installed)."""
    try:
        import librosa  # audioread fallback: slower, needs ffmpeg for most formats

        with warnings.catch_warnings(), _quiet_stderr(_is_mp3(path)):
            warnings.simplefilter("ignore")
            data, rate = librosa.load(path, sr=None, mono=False, dtype=np.float32)
    except Exception as error:
        reason = str(error) or "no decoder recognises the file"
        raise ParameterError(
            f"{function}: cannot read {str(path)!r} as audio ({reason}); use WAV, FLAC, OGG or MP3"
        ) from None
    return np.atleast_2d(data).T, rate


def _check_peak(function: str, path: Path, data: np.ndarray) -> None:
    """Refuse NaN, Inf, and samples beyond :data:`MAX_PEAK`, naming the file and the value."""
    # Not np.abs(data).max(): that holds a copy of the song (1.3 GB for an hour
    # of 44.1 kHz stereo). max and min propagate NaN, and -(-Inf) is Inf.
    peak = max(float(data.max()), -float(data.min())) if data.size else 0.0
    if not np.isfinite(peak):
        raise ParameterError(f"{function}: {str(path)!r} contains NaN or Inf samples")
    if peak > MAX_PEAK:
        raise ParameterError(
            f"{function}: {str(path)!r} has samples up to {peak:.3g}, beyond any audio's scale"
            f" (at most 2**31 = {MAX_PEAK:.3g}; audio files peak near 1.0): it is damaged or"
            " mis-scaled; normalise it to peak 1.0 in an audio editor and try again"
        )


def load_audio(path, sr: int | None = 22050) -> tuple[np.ndarray, int]:
    """Load an audio file as a mono float32 waveform.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        A local file soundfile or librosa can decode (wav, flac, ogg, mp3,
        ...); any name the system allows, UTF-8 or not. Not a URL, a folder,
        a FIFO or a device.
    sr : int in [1000, 384000] or None
        Sample rate to return; the file is resampled (soxr, high quality)
        when its rate differs. ``None`` keeps the file's own rate.

    Returns
    -------
    x : np.ndarray [shape=(n_samples,), float32]
        Mono waveform (channels averaged), nominally in [-1, 1].
    sr : int
        Its sample rate.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    OSError
        If it cannot be opened (a symlink loop, no permission).
    ParameterError
        If ``path`` is empty, a URL or not a regular file, or the file is not
        readable audio, has no samples, holds NaN/Inf, or samples beyond
        :data:`MAX_PEAK` (2**31: damaged or mis-scaled).

    Warns
    -----
    UserWarning
        If the file ends before the length its header claims (truncated or
        damaged): the audio decoded is returned.

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> x, sr = nh.load_audio(nh.clip_path("groove"))  # doctest: +SKIP
    """
    if sr is not None:
        sr = _check_sr("load_audio", sr)
    return load_audio_unchecked(path, sr)


def load_audio_unchecked(path, sr: int | None, *, stacklevel: int = 3) -> tuple[np.ndarray, int]:
    """:func:`load_audio` with ``sr`` checked.

    The path and the file's own problems (missing, a folder, a FIFO,
    undecodable, empty, NaN, absurdly loud) can only be found by looking at
    the file, so they are found here, in the words of :func:`load_audio`.
    The warning of a file that ends early points ``stacklevel`` frames up
    from here: by default at the line that called the public function
    calling this one.
    """
    path = _input_file("load_audio", path)
    data, rate = _read_any("load_audio", path, stacklevel + 1)  # never empty: refused there
    _check_peak("load_audio", path, data)
    x = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if sr is not None and rate != sr:
        import librosa

        x = librosa.resample(x, orig_sr=rate, target_sr=sr, res_type="soxr_hq")
        rate = sr
    status = path.stat()
    _INPUT_FILES[status.st_dev, status.st_ino] = path.resolve()
    return np.ascontiguousarray(x, dtype=np.float32), int(rate)


def save_audio(path, x, sr: int) -> Path:
    """Write a mono waveform as 16-bit WAV or FLAC (chosen by the extension).

    Parameters
    ----------
    path : str or os.PathLike
        Destination ending in ``.wav`` or ``.flac``; parent folders are made.
        It may not be a file that :func:`load_audio` has read in this
        process, under any name: the same path, a hard link to it or a
        symlink to it (ParameterError).
    x : np.ndarray [shape=(n_samples,)]
        Waveform in [-1, 1]; samples beyond are clipped with a warning.
    sr : int in [1000, 384000]
        Sample rate in Hz.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ParameterError
        For a bad argument, or a path that is an input.
    OSError
        If the file cannot be written; the subclass the system gave
        (PermissionError, NotADirectoryError, IsADirectoryError, ...), with a
        message naming save_audio, the path and the reason, e.g.
        ``save_audio: cannot write '/x/y.wav': permission denied; choose a
        folder you can write to``.
    """
    path = Path(os.fspath(path)).expanduser()
    file_format = _WRITE_FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise ParameterError(f"save_audio: path must end in .wav or .flac, got {str(path)!r}")
    _refuse_an_input(path)
    x = check_signal("save_audio", "x", x)
    sr = _check_sr("save_audio", sr)
    peak = max(float(x.max()), -float(x.min()))  # no copy of x, as in _check_peak
    if peak > 1.0:
        warnings.warn(
            f"save_audio: {path.name} peaks at {peak:.3f} > 1 and was clipped;"
            " scale it (e.g. x / np.abs(x).max()) to avoid distortion",
            stacklevel=2,
        )
        x = np.clip(x, -1.0, 1.0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Opened here rather than by libsndfile, whose only word for a file it
        # cannot open is "System error."; Python's open says why.
        with open(path, "wb") as file:
            soundfile.write(file, x, sr, format=file_format, subtype="PCM_16")
    except OSError as error:
        raise _cannot_write(path, error) from None
    except soundfile.SoundFileError as error:
        raise OSError(f"save_audio: cannot write {str(path)!r}: {_decoder_says(error)}") from None
    return path


def _refuse_an_input(path: Path) -> None:
    """Raise if ``path`` is a file :func:`load_audio` has read: same path, or same inode."""
    resolved = path.resolve()  # follows symlinks
    try:
        status = path.stat()  # follows symlinks too
        loaded = _INPUT_FILES.get((status.st_dev, status.st_ino))
    except OSError:  # nothing there yet, or unreachable: the write will say why
        loaded = None
    if loaded is None and resolved in _INPUT_FILES.values():
        loaded = resolved  # the input was replaced by another file since: still refused
    if loaded is None:
        return
    same_name = loaded == Path(os.path.abspath(path))
    other_name = "" if same_name else f" (it is {str(loaded)!r} under another name)"
    raise ParameterError(
        f"save_audio: refusing to overwrite {str(path)!r}, which was loaded as input"
        f"{other_name}; choose another file name"
    )


# What to do about the errors the system gives when a file cannot be written.
_WRITE_ADVICE = {
    errno.EACCES: "choose a folder you can write to",
    errno.EPERM: "choose a folder you can write to",
    errno.EROFS: "choose a folder you can write to",
    errno.ENOSPC: "free some space, or choose another disk",
    errno.EDQUOT: "free some space, or choose another disk",
}


def _cannot_write(path: Path, error: OSError) -> OSError:
    """``error`` as the same kind of OSError, in words that name save_audio, the path and why."""
    kind, code = type(error), error.errno
    if isinstance(error, NotADirectoryError | FileExistsError):
        # A folder on the way is a regular file (mkdir says "exists", open "not a directory").
        blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), path.parent)
        kind, code = NotADirectoryError, errno.ENOTDIR
        reason = f"{str(blocking)!r} is a file, not a folder; choose another folder"
    elif isinstance(error, IsADirectoryError):
        reason = "it is a folder; give a file name"
    else:
        why = (error.strerror or str(error)).lower()
        reason = f"{why}; {_WRITE_ADVICE.get(code, 'check the path and try again')}"
    failure = kind(f"save_audio: cannot write {str(path)!r}: {reason}")
    failure.errno = code
    return failure


#: The clips the project ships (see audio/README.md), beside the package.
AUDIO_DIR = Path(__file__).resolve().parent.parent / "audio"


def clip_path(name: str) -> Path:
    """Path of one of the project's own clips, e.g. ``clip_path("groove")``.

    Parameters
    ----------
    name : str
        A clip name from audio/README.md (``groove``, ``sample``,
        ``sampling_track``, ``unrelated_track``, a stem such as
        ``groove_vocals``), with or without extension.

    Returns
    -------
    pathlib.Path
    """
    candidates = sorted(AUDIO_DIR.glob(f"{name}.*")) if "." not in name else [AUDIO_DIR / name]
    candidates = [path for path in candidates if path.suffix in {".flac", ".wav", ".ogg", ".mp3"}]
    if not candidates or not candidates[0].exists():
        available = sorted({p.stem for p in AUDIO_DIR.glob("*.flac")})
        raise FileNotFoundError(
            f"clip_path: no clip named {name!r} in {AUDIO_DIR}; available: {available}"
        )
    return candidates[0]


@functools.cache
def _catalogue() -> dict:
    """``audio/clips.json``'s clips, read once per process."""
    return json.loads((AUDIO_DIR / "clips.json").read_text())["clips"]


def clip_names() -> list[str]:
    """Names of the project's clips, in the order of ``audio/clips.json``.

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> nh.clip_names()[0]
    'groove'
    """
    return list(_catalogue())


def clip_facts(name: str) -> dict:
    """The entry of a project clip in ``audio/clips.json`` (stems, intro end, ...).

    Used in notebooks 2, 3 and 5 and by the benchmarks, wherever a number is
    compared with the truth of how a clip was made.

    Parameters
    ----------
    name : str
        A clip name such as ``"groove"``.

    Returns
    -------
    dict
        A copy: changing it changes nothing for the next caller.

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> nh.clip_facts("groove")["instrumental_intro_end_s"]
    4.0
    """
    clips = _catalogue()
    if name not in clips:
        raise ParameterError(f"clip_facts: no clip named {name!r}; have {sorted(clips)}")
    return json.loads(json.dumps(clips[name]))


def load_stems(name: str, *, sr: int = 22050) -> dict[str, np.ndarray]:
    """The reference stems of a project clip, ``{"drums": x_drums, ...}``.

    Parameters
    ----------
    name : str
        A clip with stems (see :func:`clip_facts`), e.g. ``"groove"``.
    sr : int
        Sample rate to load them at.

    Returns
    -------
    dict[str, np.ndarray [shape=(n_samples,), float32]]
        Keyed by the stem's name without the clip prefix, in clips.json order.
        In the project's clips the mixture is exactly their sum.

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> sorted(nh.load_stems("sample"))
    ['bass', 'keys']
    """
    sr = _check_sr("load_stems", sr)
    clips = _catalogue()
    if name not in clips:
        raise ParameterError(f"load_stems: no clip named {name!r}; have {sorted(clips)}")
    stems = clips[name]["stems"]
    if not stems:
        raise ParameterError(f"load_stems: clip {name!r} has no stems")
    prefix = f"{name}_"
    return {
        stem.split(".")[0].removeprefix(prefix): load_audio_unchecked(clip_path(stem), sr)[0]
        for stem in stems
    }


def sample_ranges(name: str) -> list[tuple[float, float]]:
    """Where a project clip plays its sample: ``(start, end)`` in seconds, in time order.

    The truth a sample detector is measured against (notebook 6 and
    ``benchmarks/bench_detection.py``): each copy starts at one of the
    clip's ``sample_offsets_s`` and lasts the sample's duration, cut at the
    end of the clip.

    Parameters
    ----------
    name : str
        A clip built on a sample, e.g. ``"sampling_track"``.

    Returns
    -------
    list of (float, float)

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> [(round(a, 2), round(b, 2)) for a, b in nh.sample_ranges("sampling_track")]
    [(1.11, 10.0), (10.0, 18.89)]
    """
    clips = _catalogue()
    if name not in clips:
        raise ParameterError(f"sample_ranges: no clip named {name!r}; have {sorted(clips)}")
    facts = clips[name]
    if "sample_offsets_s" not in facts:
        raise ParameterError(f"sample_ranges: clip {name!r} does not play a sample")
    length = clips[Path(facts["sample_file"]).stem]["duration_s"]
    return [
        (start, min(start + length, facts["duration_s"]))
        for start in sorted(facts["sample_offsets_s"])
    ]


#: Frames of a file read at a time while streaming (1.5 s at 44.1 kHz).
BLOCK_FRAMES = 65536


def audio_header(function: str, path) -> soundfile._SoundFileInfo | None:
    """The header of an audio file (``.duration``, ``.samplerate``, ...), or None.

    Not public: for a command that decides how to read a song from its
    length before reading it. The path is checked as :func:`load_audio`
    checks it (errors name ``function``; a FIFO is refused rather than
    waited on); a file libsndfile cannot read gives None, and
    :func:`load_audio` then says why or reads it another way.
    """
    path = _input_file(function, path)
    try:
        with _quiet_stderr(_is_mp3(path)):  # libmpg123 reads the Xing header here
            return soundfile.info(os.fsencode(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        return None


def check_streamable(
    function: str, path, *, stacklevel: int = 3
) -> tuple[Path, soundfile._SoundFileInfo]:
    """An existing audio file soundfile can stream, and its header; errors name ``function``.

    Not public: the check of the doors that stream a file (:func:`audio_blocks`,
    :func:`nmf_helpers.split_drums_file`). A file that cannot be read to the
    length its header claims (truncated or damaged) is found here, with one
    warning, and the header returned says how many frames can be read:
    reading or seeking past them would fail part way through the song. The
    warning points ``stacklevel`` frames up from here: by default at the line
    that called the public function calling this one.
    """
    path = _input_file(function, path)
    try:
        with _quiet_stderr(_is_mp3(path)):  # libmpg123 reads the Xing header here
            info = soundfile.info(os.fsencode(path))
        claimed, readable = _readable_frames(path)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise ParameterError(
            f"{function}: cannot stream {str(path)!r}: {_decoder_says(error)};"
            " convert it to WAV or FLAC"
        ) from None
    if readable < claimed:
        if readable > 0:
            _ends_early(function, path, readable, claimed, info.samplerate, stacklevel + 1)
        info = copy.copy(info)
        info.frames, info.duration = readable, readable / info.samplerate
    elif readable and info.format == "OGG" and _ogg_cut_short(path):
        _ends_early(function, path, readable, None, info.samplerate, stacklevel + 1)
    if info.frames <= 0:
        _refuse_no_audio(function, path)
    return path, info


def _readable_frames(path: Path) -> tuple[int, int]:
    """The frames the file's header claims, and how many of them can be read.

    One seek to the last frame shows an intact file (cheap); only a file
    whose last frame cannot be read is decoded through, once, to count.
    """
    with _quiet_stderr(_is_mp3(path)), soundfile.SoundFile(os.fsencode(path)) as file:
        claimed, present = _claimed_frames(file), file.frames
        if present <= 0:
            return claimed, 0
        try:
            file.seek(present - 1)
            if file.read(1, dtype="float32").shape[0] == 1:
                return claimed, present
        except (soundfile.LibsndfileError, RuntimeError):
            pass
    return claimed, sum(block.shape[0] for block in _decoded_frames(path, present))


def audio_blocks(
    path, *, sr: int = 22050, block_frames: int = BLOCK_FRAMES
) -> Iterator[np.ndarray]:
    """Decode an audio file as a stream of mono float32 blocks at ``sr``.

    The file is read ``block_frames`` frames at a time
    (``soundfile.SoundFile.read``), its channels averaged, and resampled by
    one ``soxr.ResampleStream`` (high quality, the resampler
    :func:`nmf_helpers.load_audio` uses), so memory holds one block, never the
    song. The blocks together equal ``load_audio(path, sr)[0]`` to the
    resampler's rounding, and have the same length,
    ``ceil(frames * sr / file_rate)``.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        An audio file soundfile reads (WAV, FLAC, OGG, MP3, AIFF, ...).
    sr : int in [1000, 384000]
        Sample rate of the blocks.
    block_frames : int >= 256
        Frames of the file per block (before resampling).

    Yields
    ------
    np.ndarray [shape=(n,), float32]
        Consecutive pieces of the mono waveform (some may be empty).

    Raises
    ------
    FileNotFoundError, OSError, ParameterError
        Before the first block, for a missing or unreadable file; while
        streaming, for NaN or Inf samples, or samples beyond :data:`MAX_PEAK`,
        and (``DamagedAudio``, a ParameterError) for a file that cannot be
        decoded past a point.

    Warns
    -----
    UserWarning
        Before the first block, if the file ends before the length its header
        claims; the frames that can be read are streamed.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> path = nh.clip_path("groove_stereo44k")
    >>> x = np.concatenate(list(nh.audio_blocks(path)))
    >>> x.dtype, x.size == nh.load_audio(path)[0].size
    (dtype('float32'), True)
    """
    function = "audio_blocks"
    path, info = check_streamable(function, path)
    sr = _check_sr(function, sr)
    block_frames = check_int(function, "block_frames", block_frames, minimum=256)
    return audio_blocks_unchecked(path, info, sr, block_frames, function)


def audio_blocks_unchecked(
    path: Path, info, sr: int, block_frames: int, function: str
) -> Iterator[np.ndarray]:
    """:func:`audio_blocks` of a checked file (``info`` its header); errors name ``function``."""
    resampler = None
    if info.samplerate != sr:
        resampler = soxr.ResampleStream(info.samplerate, sr, 1, dtype="float32", quality="HQ")
    frames_read = produced = 0
    mp3 = _is_mp3(path)
    with _quiet_stderr(mp3):
        file = soundfile.SoundFile(os.fsencode(path))
    with file:
        while True:
            # Never past info.frames: check_streamable has cut it to what can be read.
            wanted_frames = min(block_frames, info.frames - frames_read)
            try:
                with _quiet_stderr(mp3):
                    data = file.read(wanted_frames, dtype="float32", always_2d=True)
            except (soundfile.LibsndfileError, RuntimeError):  # a FLAC's "lost sync"
                raise DamagedAudio(
                    function, path, frames_read / info.samplerate, info.frames / info.samplerate
                ) from None
            last = data.shape[0] < block_frames or frames_read + data.shape[0] >= info.frames
            _check_peak(function, path, data)
            frames_read += data.shape[0]
            mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
            if resampler is not None:
                mono = resampler.resample_chunk(np.ascontiguousarray(mono), last=last)
            if last:
                # The length load_audio gives (librosa's ceil(n * ratio)).
                wanted = math.ceil(frames_read * sr / info.samplerate) - produced
                mono = np.pad(mono[:wanted], (0, max(wanted - mono.size, 0)))
            produced += mono.size
            yield np.ascontiguousarray(mono, dtype=np.float32)
            if last:
                return
