"""A grading kernel where a submission can read, write and signal nothing but its own folder.

Every notebook of every submission is executed by a kernel started through
this module (nbgrader finds it as the kernelspec ``nmf-grading``, written by
:func:`write_kernelspec`). What the OS gives, nothing installed:

* **Its own view of the files** (a mount namespace): a new, read-only root
  holding only the system folders (``/usr``, ``/lib``, ``/etc``, ...), the
  Python installation and the virtual environment, the package copy of
  :func:`make_package_copy` at ``/opt/grading-package``, and the submission's
  scratch folder at ``/submission`` (the one writable place, besides a small
  ``/tmp``). The repository, the solution notebooks, the judge, the gradebook,
  the grading results and the other students' files are not in that view.
* **Its own processes** (a PID namespace): the kernel sees only itself and
  what it started; the grader's processes have no number it could signal.
  Everything in it dies with it, and it dies with the grader.
* **Its own user**: run as root, the kernel drops to an unprivileged uid of
  its own (:data:`FIRST_UID` + the grading slot), so file permissions and
  signals stop it even where the namespaces would not. Run as another user,
  the same is built inside a user namespace and every capability is dropped.
* **Limits**: processes, memory, file size (:data:`LIMITS`).

The launcher (``python sandbox.py launch CONFIG CONNECTION_FILE``) runs as
the grader's user, builds the sandbox and writes how the kernel ended
(``{"exit": .., "signal": ..}``) to the config's ``status`` file, which the
grader reads to say "the kernel was killed (SIGKILL)".
"""

from __future__ import annotations

import compileall
import ctypes
import json
import os
import py_compile
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

#: Where the scratch folder and the package copy appear inside the sandbox.
SCRATCH, PACKAGE = "/submission", "/opt/grading-package"
#: The kernel of grading slot ``s`` runs as uid and gid ``FIRST_UID + s`` (when the grader is root).
FIRST_UID = 62000
#: Resource limits of everything a submission starts.
LIMITS = {
    resource.RLIMIT_NPROC: 256,  # threads count too: ipykernel, BLAS
    resource.RLIMIT_AS: 4 * 2**30,
    resource.RLIMIT_FSIZE: 256 * 2**20,
    resource.RLIMIT_CORE: 0,
}
#: The package modules whose functions are switched off in a grading kernel (engine_block.py).
ENGINE_MODULES = ("nmf", "separation", "_kl_sweep")
KERNEL_NAME = "nmf-grading"

_CLONE_NEWNS, _CLONE_NEWUTS, _CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
_CLONE_NEWUSER, _CLONE_NEWPID = 0x10000000, 0x20000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_MOVE, _MS_REC, _MS_PRIVATE = 32, 4096, 8192, 16384, 1 << 18
_MS_NOATIME, _MS_NODIRATIME, _MS_RELATIME = 1024, 2048, 1 << 21
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 1, 24, 38
_LIBC = ctypes.CDLL(None, use_errno=True)
#: This interpreter, spelled without ``..`` (the sandbox has none of the folders around it).
_PYTHON = os.path.abspath(sys.executable)


class SandboxError(RuntimeError):
    """Isolation cannot be set up; the message says what is missing."""


# ---------------------------------------------------------------- system calls


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _unshare(flags: int) -> None:
    _check(_LIBC.unshare(flags), "unshare")


def _mount(source, target, fstype, flags: int, data=None) -> None:
    def raw(text):
        return None if text is None else os.fsencode(text)

    _check(
        _LIBC.mount(raw(source), raw(target), raw(fstype), ctypes.c_ulong(flags), raw(data)),
        f"mount {target}",
    )


def _prctl(option: int, value: int) -> int:
    return _LIBC.prctl(option, ctypes.c_ulong(value), 0, 0, 0)


def _locked_flags(path: str) -> int:
    """The flags of the mount under ``path`` that a bind remount must keep."""
    flags = os.statvfs(path).f_flag
    kept = 0
    for st_flag, ms_flag in (
        (os.ST_NOSUID, _MS_NOSUID),
        (os.ST_NODEV, _MS_NODEV),
        (os.ST_NOEXEC, _MS_NOEXEC),
        (os.ST_NOATIME, _MS_NOATIME),
        (os.ST_NODIRATIME, _MS_NODIRATIME),
        (os.ST_RELATIME, _MS_RELATIME),
    ):
        if flags & st_flag:
            kept |= ms_flag
    return kept


def _bind(source: str, target: str, *, writable: bool = False) -> None:
    """Bind ``source`` at ``target`` (created like it); read-only unless ``writable``."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        Path(target).touch()
    _mount(source, target, None, _MS_BIND | _MS_REC)
    flags = _MS_BIND | _MS_REMOUNT | _MS_NOSUID | _locked_flags(target)
    _mount(None, target, None, flags | (0 if writable else _MS_RDONLY))


# ---------------------------------------------------------------- the package copy


def make_package_copy(dest: Path) -> Path:
    """A copy of ``nmf_helpers`` with no repository around it and its engine switched off.

    The modules of :data:`ENGINE_MODULES` are compiled without their source,
    each ending with ``engine_block.block_module(globals())``; everything else
    is copied and compiled as it is, so the kernel imports without writing.

    Returns
    -------
    Path
        ``dest``, holding ``nmf_helpers/`` (put ``dest`` on ``PYTHONPATH``).
    """
    import nmf_helpers

    source = Path(nmf_helpers.__file__).resolve().parent
    target = Path(dest) / "nmf_helpers"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    footer = (
        "\n\nfrom nmf_helpers._grading_block import block_module as _block_module\n\n"
        "_block_module(globals())\n"
    )
    with tempfile.TemporaryDirectory() as scratch:
        compiled = [("_grading_block", Path(__file__).with_name("engine_block.py").read_text())]
        compiled += [
            (name, (source / f"{name}.py").read_text() + footer) for name in ENGINE_MODULES
        ]
        for name, text in compiled:
            plain = Path(scratch) / f"{name}.py"
            plain.write_text(text)
            py_compile.compile(
                str(plain),
                cfile=str(target / f"{name}.pyc"),
                dfile=f"nmf_helpers/{name}.py",
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
            (target / f"{name}.py").unlink(missing_ok=True)
    compileall.compile_dir(str(target), quiet=1)
    for path in [Path(dest), *Path(dest).rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return Path(dest)


# ---------------------------------------------------------------- configuration


def system_paths() -> list[str]:
    """The folders a kernel needs to run Python, read-only: system, interpreter, venv."""
    paths = ["/usr", "/etc", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin"]
    for prefix in (os.path.abspath(sys.base_prefix), os.path.abspath(sys.prefix)):
        if not any(Path(prefix).is_relative_to(p) for p in paths):
            paths.append(prefix)
    return [path for path in paths if os.path.lexists(path)]


def sandbox_config(
    work: Path,
    *,
    slot: int,
    scratch: Path,
    package: Path,
    notebook: str,
    command: list[str] | None = None,
    unsafe: bool = False,
    own_user: bool | None = None,
) -> dict:
    """The launcher's settings for one kernel (default) or any ``command`` in ``scratch``.

    ``unsafe``: no isolation at all (``course.py grade --unsafe``), only the
    package copy, the scratch folder as working folder and a clean environment.
    ``own_user``: run as uid :data:`FIRST_UID` + ``slot`` (default: when root);
    otherwise the sandbox is built in a user namespace.
    """
    if unsafe:
        inside = {"scratch": str(scratch), "package": str(package)}
    else:
        inside = {"scratch": SCRATCH, "package": PACKAGE}
    own_user = os.geteuid() == 0 if own_user is None else own_user
    return {
        "unsafe": unsafe,
        "inside": inside,
        "uid": FIRST_UID + slot if own_user and not unsafe else None,
        "scratch": str(scratch),
        "package": str(package),
        "root_dir": str(Path(work) / f"root-{notebook}"),
        "status": str(Path(work) / f"status-{notebook}.json"),
        "notebook": notebook,
        "binds": system_paths(),
        "command": command or kernel_command(inside["scratch"]),
        "python": _PYTHON,
    }


def write_kernelspec(jupyter_dir: Path, config: dict) -> Path:
    """``JUPYTER_DIR/kernels/nmf-grading/kernel.json``: the launcher with ``config``.

    Point ``JUPYTER_PATH`` at ``jupyter_dir`` and nbgrader's ``Execute.kernel_name``
    at :data:`KERNEL_NAME`.
    """
    folder = Path(jupyter_dir) / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "sandbox.json"
    config_path.write_text(json.dumps(config))
    config_path.chmod(0o600)
    argv = [sys.executable, str(Path(__file__).resolve()), "launch", str(config_path)]
    spec = {
        "argv": [*argv, "{connection_file}"],
        "display_name": "Python 3 (grading sandbox)",
        "language": "python",
        "interrupt_mode": "signal",
    }
    (folder / "kernel.json").write_text(json.dumps(spec))
    return folder


def kernel_command(scratch: str = SCRATCH) -> list[str]:
    """ipykernel, reading the connection file copied into the scratch folder."""
    return [_PYTHON, "-m", "ipykernel_launcher", "-f", f"{scratch}/.kernel.json"]


def kernel_environment(config: dict) -> dict:
    """A clean environment: no secrets of the grader's, one thread per library."""
    venv_bin = str(Path(config["python"]).parent)
    scratch, package = config["inside"]["scratch"], config["inside"]["package"]
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": scratch,
        "LANG": "C.UTF-8",
        "PYTHONPATH": package,
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "IPYTHONDIR": "/tmp/ipython",
        "NUMBA_CACHE_DIR": "/tmp/numba",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
        "NBGRADER_EXECUTION": "autograde",
        "NMF_GRADING_NOTEBOOK": config["notebook"],
        "NMF_GRADING_RECORD": f"{scratch}/.engine_calls.jsonl",
    }


# ---------------------------------------------------------------- the launcher


def launch(config: dict, connection_file: str | None = None) -> int:
    """Build the sandbox, run ``config["command"]`` in it, record how it ended.

    Runs in the launcher process (the grader's user); returns the exit status
    (``128 + signal`` when the command was killed).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is for the kernel alone
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # the grader gone, the sandbox goes too
    uid = config["uid"]
    scratch = Path(config["scratch"])
    if connection_file:
        copy = scratch / ".kernel.json"
        copy.write_bytes(Path(connection_file).read_bytes())
        copy.chmod(0o600)
        if uid is not None:
            os.chown(copy, uid, uid)
    if config["unsafe"]:  # the grader's user, its files in view: only a working folder of its own
        os.chdir(scratch)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execve(config["command"][0], config["command"], kernel_environment(config))
    outer_uid, outer_gid = os.getuid(), os.getgid()
    _unshare(_CLONE_NEWPID | (0 if uid is not None else _CLONE_NEWUSER))
    if uid is None:  # one user inside, the grader's user outside; no other ids exist
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {outer_uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {outer_gid} 1")
    read_end, write_end = os.pipe()  # closed when the launcher dies
    child = os.fork()
    if child == 0:
        os.close(write_end)
        try:
            _init(config, read_end)
        except BaseException as error:
            print(f"sandbox: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
            os._exit(125)
    os.close(read_end)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    if code >= 128 and code - 128 < signal.NSIG:  # init passes a killed kernel on as 128 + n
        ended = {"exit": None, "signal": signal.Signals(code - 128).name}
    else:
        ended = {"exit": code, "signal": None}
    Path(config["status"]).write_text(json.dumps(ended))
    return code


def _init(config: dict, launcher_alive: int) -> None:
    """PID 1 of the sandbox: build the view, start the command, wait, exit as it did."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if select.select([launcher_alive], [], [], 0)[0]:  # the launcher died before the line above
        os._exit(125)
    _unshare(_CLONE_NEWNS | _CLONE_NEWIPC | _CLONE_NEWUTS)
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    root = config["root_dir"]
    os.makedirs(root, mode=0o700, exist_ok=True)
    _mount("tmpfs", root, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=755,size=16m")
    for path in config["binds"]:
        if os.path.islink(path):  # /bin -> usr/bin on merged-/usr systems
            os.makedirs(root + os.path.dirname(path), exist_ok=True)
            os.symlink(os.readlink(path), root + path)
        else:
            _bind(path, root + path)
    _bind(config["scratch"], root + SCRATCH, writable=True)
    _bind(config["package"], root + PACKAGE)
    for folder, size in (("/tmp", "256m"), ("/dev", "1m")):
        os.makedirs(root + folder)
        _mount("tmpfs", root + folder, "tmpfs", _MS_NOSUID, f"mode=1777,size={size}")
    for device in ("null", "zero", "full", "random", "urandom"):
        _bind(f"/dev/{device}", f"{root}/dev/{device}", writable=True)
    os.makedirs(f"{root}/dev/shm")
    _mount("tmpfs", f"{root}/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=1777,size=64m")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        os.symlink(target, f"{root}/dev/{name}")
    os.symlink("/proc/self/fd/1", f"{root}/dev/stdout")
    os.symlink("/proc/self/fd/2", f"{root}/dev/stderr")
    os.makedirs(root + "/proc")
    _mount("proc", root + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    os.chdir(root)
    _mount(root, "/", None, _MS_MOVE)
    os.chroot(".")
    os.chdir("/")
    _mount(None, "/", None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    command = os.fork()
    if command == 0:
        _become_student(config)
    while True:  # reap whatever is orphaned in here; end when the command ends
        pid, status = os.wait()
        if pid == command:
            os._exit(os.waitstatus_to_exitcode(status) % 256 if os.WIFEXITED(status) else
                     128 + os.WTERMSIG(status))  # fmt: skip


def _become_student(config: dict) -> None:
    """In the command's process: limits, an unprivileged user, then exec (never returns)."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # ignored signals stay ignored across exec
        log = os.open(f"{SCRATCH}/.kernel.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        uid = config["uid"]
        if uid is not None:
            os.fchown(log, uid, uid)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)  # every capability goes with uid 0
        else:  # uid 0 of a user namespace: drop every capability it could regain on exec
            cap = 0
            while _prctl(_PR_CAPBSET_DROP, cap) == 0:
                cap += 1
        _check(_prctl(_PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")
        for limit, value in LIMITS.items():
            resource.setrlimit(limit, (value, value))
        os.chdir(SCRATCH)
        command = config["command"]
        os.execve(command[0], command, kernel_environment(config))
    except BaseException as error:
        os.write(2, f"sandbox: cannot start {config['command'][0]}: {error}\n".encode())
        os._exit(126)


# ---------------------------------------------------------------- running and probing


def run_sandboxed(
    code: str,
    *,
    work: Path,
    scratch: Path,
    package: Path,
    slot: int = 0,
    timeout: float = 60,
    own_user: bool | None = None,
) -> tuple[int, dict]:
    """Run Python ``code`` in a sandbox as a grading kernel would be; ``(status, ended)``.

    For the probe and the tests: the code's output goes to ``scratch/.kernel.log``.
    """
    config = sandbox_config(
        work,
        slot=slot,
        scratch=scratch,
        package=package,
        notebook="probe",
        command=[_PYTHON, "-c", code],
        own_user=own_user,
    )
    if config["uid"] is not None:
        os.chown(scratch, config["uid"], config["uid"])
    config_path = Path(work) / "probe.json"
    config_path.write_text(json.dumps(config))
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "launch", str(config_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if completed.returncode == 125:
        raise SandboxError(completed.stderr.strip().splitlines()[-1])
    status = Path(config["status"])
    return completed.returncode, json.loads(status.read_text()) if status.exists() else {}


def probe() -> str | None:
    """Why submissions cannot be isolated on this machine, or None when they can."""
    with tempfile.TemporaryDirectory(prefix="nmf-sandbox-probe-") as folder:
        work = Path(folder)
        (work / "scratch").mkdir()
        (work / "package").mkdir()
        secret = work / "secret"
        secret.write_text("the grader's")
        code = (
            "import os, sys\n"
            f"sys.exit(3 if os.path.exists({str(secret)!r}) else 0)\n"
        )  # fmt: skip
        try:
            status, _ = run_sandboxed(
                code, work=work, scratch=work / "scratch", package=work / "package"
            )
        except (OSError, SandboxError, subprocess.SubprocessError) as error:
            return str(error)
        if status != 0:
            return f"a sandboxed process could still see the grader's files (status {status})"
    return None


def main(argv: list[str]) -> int:
    """``sandbox.py launch CONFIG [CONNECTION_FILE]``: what a kernelspec runs."""
    if len(argv) not in (2, 3) or argv[0] != "launch":
        print("usage: sandbox.py launch CONFIG [CONNECTION_FILE]", file=sys.stderr)
        return 2
    config = json.loads(Path(argv[1]).read_text())
    try:
        return launch(config, argv[2] if len(argv) == 3 else None)
    except OSError as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 125


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
