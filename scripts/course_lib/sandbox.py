"""A grading kernel where a submission can read, write and signal nothing but its own folder.

Every notebook of every submission is executed by a kernel started through
this module (nbgrader finds it as the kernelspec ``nmf-grading``, written by
:func:`write_kernelspec`). What the OS gives, nothing installed:

* **Its own view of the files** (a mount namespace): a new root, entered
  with ``pivot_root`` and read-only mount by mount, holding only the system
  folders (``/usr``, ``/lib``, ``/etc``, ...), the Python installation and the
  virtual environment, the package copy of :func:`make_package_copy` at
  ``/opt/grading-package``, and the places it may write: the submission's
  scratch folder at ``/submission`` and a small ``/tmp`` and ``/dev/shm`` in
  memory. The repository, the solution notebooks, the judge, the gradebook,
  the grading results and the other students' files are not in that view.
* **Its own processes, IPC and network** (namespaces): the kernel sees only
  itself and what it started, and the grader's processes have no number it
  could signal; everything in it dies with it, and it dies with the grader.
  It has no network: nbgrader reaches it through unix sockets in its
  scratch folder (``transport: ipc``), so no kernel can reach another's.
* **Its own user**: run as root, the kernel drops to an unprivileged uid of
  its own (:data:`FIRST_UID` + the grading slot), so file permissions and
  signals stop it even where the namespaces would not. Run as another user,
  the same is built inside a user namespace and every capability is dropped;
  the kernel is then the grader's user outside, and can still signal its own
  process group (its launcher), which ends only its own run.
* **Limits**: processes, memory, file size (:data:`LIMITS`).

The launcher (``python sandbox.py launch CONFIG CONNECTION_FILE``) runs as
the grader's user, builds the sandbox and writes how the kernel ended
(``{"exit": .., "signal": ..}``) to the config's ``status`` file, which the
grader reads to say "the kernel was killed (SIGKILL)".
"""

from __future__ import annotations

import ast
import compileall
import contextlib
import ctypes
import importlib
import inspect
import json
import os
import platform
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
#: The kernel of grading slot ``s`` runs as uid and gid ``FIRST_UID + s`` (when the grader is
#: root): far above the ranges systems hand out (users, systemd's dynamic users, subuids).
FIRST_UID = 2_000_000_000
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
_CLONE_NEWUSER, _CLONE_NEWPID, _CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_MOVE, _MS_REC, _MS_PRIVATE = 32, 4096, 8192, 16384, 1 << 18
_MS_NOATIME, _MS_NODIRATIME, _MS_RELATIME = 1024, 2048, 1 << 21
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 1, 24, 38
_MNT_DETACH = 2
#: pivot_root(2) has no libc wrapper; where its number is unknown, MS_MOVE and chroot do.
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(platform.machine())
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


def die_with_parent() -> None:
    """This process is killed (SIGKILL) when the one that started it ends."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


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


def _stub_source(name: str) -> tuple[str, list[str]]:
    """The text of a stand-in for ``nmf_helpers.<name>``, and the spellings it switches off.

    Every function, class and numba kernel the real module defines becomes
    ``engine_block.stand_in``; its constants are copied as literals and the
    names it imports from elsewhere in the package are imported again, so the
    other modules import as usual. No line of the engine is in it.
    """
    module = importlib.import_module(f"nmf_helpers.{name}")
    # A private module's names are not the package's (nh.X): spell them in full.
    public = set(getattr(module, "__all__", ())) if not name.startswith("_") else set()
    lines = [
        f'"""nmf_helpers.{name} while grading: every function is switched off."""',
        "from nmf_helpers._grading_block import stand_in as _stand_in",
    ]
    spellings = []
    for attribute, value in vars(module).items():
        if attribute.startswith("__") and attribute != "__all__":
            continue
        home = getattr(getattr(value, "py_func", value), "__module__", None)
        runnable = inspect.isfunction(value) or inspect.isclass(value) or hasattr(value, "py_func")
        if runnable and home == module.__name__:
            spelled = f"nh.{attribute}" if attribute in public else f"{module.__name__}.{attribute}"
            lines.append(f"{attribute} = _stand_in({spelled!r}, {attribute!r})")
            spellings.append(spelled)
        elif runnable and str(home).startswith("nmf_helpers."):
            lines.append(f"from {home} import {attribute}")
        elif isinstance(value, (bool, int, float, str, tuple, list)):
            with contextlib.suppress(ValueError, SyntaxError):
                if ast.literal_eval(repr(value)) == value:
                    lines.append(f"{attribute} = {value!r}")
    return "\n".join(lines) + "\n", spellings


def engine_spellings() -> set[str]:
    """Every name a grading kernel's refusal can report (``nh.nmf_kl``, ...)."""
    return {spelled for name in ENGINE_MODULES for spelled in _stub_source(name)[1]}


def make_package_copy(dest: Path) -> Path:
    """A copy of ``nmf_helpers`` with no repository around it and its engine switched off.

    The modules of :data:`ENGINE_MODULES` are replaced by stand-ins that hold
    no engine code (:func:`_stub_source`; nothing to reload, patch back or
    unmarshal); everything else is copied and compiled as it is, so the kernel
    imports without writing.

    Returns
    -------
    Path
        ``dest``, holding ``nmf_helpers/`` (put ``dest`` on ``PYTHONPATH``).
    """
    import nmf_helpers

    source = Path(nmf_helpers.__file__).resolve().parent
    target = Path(dest) / "nmf_helpers"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(Path(__file__).with_name("engine_block.py"), target / "_grading_block.py")
    for name in ENGINE_MODULES:
        (target / f"{name}.py").write_text(_stub_source(name)[0])
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
    die_with_parent()  # the grader gone, the sandbox goes too
    uid = config["uid"]
    scratch = Path(config["scratch"])
    if connection_file:
        copy = scratch / ".kernel.json"
        connection = json.loads(Path(connection_file).read_text())
        if connection.get("transport") == "ipc":  # the same sockets, seen from inside
            connection["ip"] = f"{config['inside']['scratch']}/{Path(connection['ip']).name}"
        copy.write_text(json.dumps(connection))
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
    status_read, status_write = os.pipe()  # how the command ended, from the sandbox's init
    child = os.fork()
    if child == 0:
        os.close(write_end)
        os.close(status_read)
        try:
            _init(config, read_end, status_write)
        except BaseException as error:
            print(f"sandbox: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
            os._exit(125)
    os.close(read_end)
    os.close(status_write)
    _, status = os.waitpid(child, 0)
    reported = os.read(status_read, 64)
    if reported:  # the command's own wait status
        ended = _ended(int(reported))
    else:  # init itself failed or was killed
        ended = {"exit": None, "signal": None, "sandbox": os.waitstatus_to_exitcode(status)}
    Path(config["status"]).write_text(json.dumps(ended))
    if ended.get("sandbox") is not None:
        return 125
    return ended["exit"] if ended["exit"] is not None else 128 + ended["signum"]


def _ended(status: int) -> dict:
    """``{"exit": code, "signal": name}`` of a wait status."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return {"exit": None, "signal": name, "signum": number}
    return {"exit": os.WEXITSTATUS(status), "signal": None}


def _init(config: dict, launcher_alive: int, status_pipe: int) -> None:
    """PID 1 of the sandbox: build the view, start the command, wait, report how it ended."""
    die_with_parent()
    if select.select([launcher_alive], [], [], 0)[0]:  # the launcher died before the line above
        os._exit(125)
    # No network either: the kernel talks to the grader through sockets in its scratch folder.
    _unshare(_CLONE_NEWNS | _CLONE_NEWIPC | _CLONE_NEWUTS | _CLONE_NEWNET)
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    root = config["root_dir"]
    os.makedirs(root, mode=0o700, exist_ok=True)
    _mount("tmpfs", root, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=755,size=16m")
    # /tmp and /dev first: a venv or a Python that lives under /tmp is bound inside them.
    for folder, size in (("/tmp", "256m"), ("/dev", "1m")):
        os.makedirs(root + folder)
        _mount("tmpfs", root + folder, "tmpfs", _MS_NOSUID, f"mode=1777,size={size}")
    for path in config["binds"]:
        if os.path.islink(path):  # /bin -> usr/bin on merged-/usr systems
            os.makedirs(root + os.path.dirname(path), exist_ok=True)
            os.symlink(os.readlink(path), root + path)
        else:
            _bind(path, root + path)
    _bind(config["scratch"], root + SCRATCH, writable=True)
    _bind(config["package"], root + PACKAGE)
    for device in ("null", "zero", "full", "random", "urandom"):
        _bind(f"/dev/{device}", f"{root}/dev/{device}", writable=True)
    os.makedirs(f"{root}/dev/shm")
    _mount("tmpfs", f"{root}/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=1777,size=64m")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        os.symlink(target, f"{root}/dev/{name}")
    os.symlink("/proc/self/fd/1", f"{root}/dev/stdout")
    os.symlink("/proc/self/fd/2", f"{root}/dev/stderr")
    _read_only_below(root, writable={root + SCRATCH, root + "/tmp", root + "/dev"})
    os.makedirs(root + "/proc")
    _mount("proc", root + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    _enter(root)
    _mount(None, "/", None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    command = os.fork()
    if command == 0:
        _become_student(config)
    while True:  # reap whatever is orphaned in here; end when the command ends
        pid, status = os.wait()
        if pid == command:
            os.write(status_pipe, str(status).encode())
            os._exit(0)


def _read_only_below(root: str, *, writable: set[str]) -> None:
    """Every mount under ``root`` read-only (a bind's submounts too), but ``writable``'s."""
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        points = [
            line.split()[4].encode().decode("unicode_escape")  # spaces come as \\040
            for line in handle
        ]
    for point in points:
        inside = point.startswith(root + "/")
        if inside and not any(point == w or point.startswith(w + "/") for w in writable):
            flags = _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _locked_flags(point)
            _mount(None, point, None, flags)


def _enter(root: str) -> None:
    """Make ``root`` the root, with nothing of the old one left underneath."""
    os.chdir(root)
    if _SYS_PIVOT_ROOT is not None:
        _check(_LIBC.syscall(_SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
        _check(_LIBC.umount2(b".", _MNT_DETACH), "umount the old root")
    else:
        _mount(root, "/", None, _MS_MOVE)
        os.chroot(".")
    os.chdir("/")


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
    binds: tuple[str, ...] = (),
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
    config["binds"] += list(binds)  # as a venv's or a Python's folder would be
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
        said = completed.stderr.strip().splitlines()
        raise SandboxError(said[-1] if said else "the sandbox could not be built")
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
        if status == 126:
            said = (work / "scratch" / ".kernel.log").read_text(errors="replace").strip()
            return said.splitlines()[-1] if said else "Python could not start in the sandbox"
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
