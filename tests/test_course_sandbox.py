"""The grading sandbox: what a submission's code can read, write, signal and call.

``scripts/course_lib/sandbox.py`` and ``engine_block.py``. Each test runs a
few lines of Python in the sandbox exactly as a grading kernel is started
(``sandbox.py launch``), makes them report what they could do, and checks one
piece of isolation; each fails when that piece is taken out of the launcher.
The whole grading run with nbgrader is tested in ``test_course.py``.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sandbox = importlib.import_module("course_lib.sandbox")
grading = importlib.import_module("course_lib.grading")

IS_ROOT = os.geteuid() == 0
#: The sandbox as root builds (its own uid) and as any other user builds (a user namespace).
MODES = [
    pytest.param(True, id="own-uid", marks=pytest.mark.skipif(not IS_ROOT, reason="needs root")),
    pytest.param(False, id="user-namespace"),
]


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """The package copy every kernel of a grading run imports."""
    return sandbox.make_package_copy(tmp_path_factory.mktemp("package"))


@pytest.fixture
def run(tmp_path, package):
    """``run(code, own_user)`` -> (exit status, what the code printed as JSON, its scratch)."""

    def run(code: str, own_user: bool, slot: int = 0, binds=()):
        work = tmp_path / "work"
        work.mkdir(exist_ok=True)
        (work / "gradebook.db").write_text("hidden tests and their inputs")
        scratch = work / f"scratch-{slot}"
        scratch.mkdir()
        status, ended = sandbox.run_sandboxed(
            code,
            work=work,
            scratch=scratch,
            package=package,
            slot=slot,
            own_user=own_user,
            binds=binds,
        )
        log = (scratch / ".kernel.log").read_text()
        lines = [line for line in log.splitlines() if line.startswith("{")]
        return status, json.loads(lines[-1]) if lines else log, scratch

    return run


def test_probe_finds_this_machine_can_isolate():
    assert sandbox.probe() is None


@pytest.mark.parametrize("own_user", MODES)
def test_a_submission_sees_neither_the_repository_nor_the_course_nor_other_students(
    run, tmp_path, own_user
):
    elsewhere = tmp_path / "other_student" / "1_kl_nmf.ipynb"  # a folder the grader can read
    elsewhere.parent.mkdir()
    elsewhere.write_text("{}")
    paths = {
        "solution": ROOT / "notebooks" / "1_kl_nmf.ipynb",
        "judge": ROOT / "scripts" / "course_lib" / "judge.py",
        "package source": ROOT / "nmf_helpers" / "nmf.py",
        "gradebook": tmp_path / "work" / "gradebook.db",
        "other student": elsewhere,
    }
    code = f"""
import json, os
paths = {json.dumps({key: str(path) for key, path in paths.items()})}
print(json.dumps({{key: os.path.exists(path) for key, path in paths.items()}}))
"""
    status, seen, _ = run(code, own_user)
    assert status == 0, seen
    assert all(path.exists() for path in paths.values())  # they are there, outside
    assert seen == dict.fromkeys(paths, False)


@pytest.mark.parametrize("own_user", MODES)
def test_a_submission_writes_only_into_its_own_folder(run, package, own_user):
    before = grading.snapshot_files([package], keep_bytes=lambda path: False)
    targets = [
        f"{sandbox.PACKAGE}/nmf_helpers/planted.py",
        f"{sandbox.PACKAGE}/nmf_helpers/__init__.py",
        "/etc/planted",
        "/planted",
        str(ROOT / "planted"),
    ]
    code = f"""
import json
written = {{}}
for target in {targets!r} + ["{sandbox.SCRATCH}/mine.txt"]:
    try:
        with open(target, "a") as handle:
            handle.write("x")
        written[target] = True
    except OSError:
        written[target] = False
print(json.dumps(written))
"""
    status, written, scratch = run(code, own_user)
    assert status == 0, written
    # A repository under /tmp (a fresh clone) lies inside the sandbox's own /tmp, where a
    # write is allowed and lands in memory: what counts is that the real one is untouched.
    in_tmp = ROOT.is_relative_to("/tmp")
    expected = dict.fromkeys(targets, False) | {f"{sandbox.SCRATCH}/mine.txt": True}
    if in_tmp:
        expected[str(ROOT / "planted")] = written[str(ROOT / "planted")]
    assert written == expected
    assert (scratch / "mine.txt").read_text() == "x"
    assert grading.snapshot_files([package], keep_bytes=lambda path: False) == before
    assert not (ROOT / "planted").exists()


@pytest.mark.parametrize("own_user", MODES)
def test_a_submission_cannot_see_or_signal_the_grader(run, own_user):
    code = f"""
import json, os, signal
pids = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
try:
    os.kill({os.getpid()}, 0)
    grader = "reachable"
except ProcessLookupError:
    grader = "no such process"
except PermissionError:
    grader = "not permitted"
try:
    os.kill(os.getppid(), signal.SIGKILL)  # its parent, the sandbox's init
    parent = "signalled"
except OSError as error:
    parent = type(error).__name__
print(json.dumps({{"pids": pids, "ppid": os.getppid(), "grader": grader, "parent": parent}}))
"""
    status, seen, _ = run(code, own_user)
    assert status == 0, seen
    assert seen["pids"] == [1, 2] and seen["ppid"] == 1  # itself and the sandbox's init
    assert seen["grader"] == "no such process"  # this process has no number in there
    assert os.getpid() > 0  # and we are still here


@pytest.mark.parametrize("own_user", MODES)
def test_a_submission_has_no_network_not_even_the_grader_s_loopback(run, own_user):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        code = f"""
import json, socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    reached = True
except OSError:
    reached = False
listening = open("/proc/net/tcp").read().count(":{port:04X} ")
print(json.dumps({{"reached": reached, "seen": listening}}))
"""
        status, seen, _ = run(code, own_user)
    assert status == 0, seen
    assert seen == {"reached": False, "seen": 0}


@pytest.mark.skipif(not IS_ROOT, reason="the grader drops to a uid of its own only as root")
def test_as_root_each_grading_slot_runs_as_an_unprivileged_uid_of_its_own(run):
    code = """
import json, os
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
                  "caps": status["CapEff"].strip()}))
"""
    for slot in (0, 3):
        status, seen, _ = run(code, True, slot=slot)
        uid = sandbox.FIRST_UID + slot
        assert status == 0, seen
        assert seen == {"uid": uid, "gid": uid, "groups": [], "caps": "0" * 16}


def test_in_a_user_namespace_no_capability_is_left(run):
    code = """
import json
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
keys = ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs")
print(json.dumps({key: status[key].strip() for key in keys}))
"""
    status, seen, _ = run(code, False)
    assert status == 0, seen
    assert seen == {"CapEff": "0" * 16, "CapPrm": "0" * 16, "CapBnd": "0" * 16, "NoNewPrivs": "1"}


@pytest.mark.parametrize("own_user", MODES)
def test_limits_bound_processes_memory_and_file_size(run, own_user):
    code = """
import json, resource
names = ("RLIMIT_NPROC", "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_CORE")
print(json.dumps({name: resource.getrlimit(getattr(resource, name))[1] for name in names}))
"""
    status, seen, _ = run(code, own_user)
    assert status == 0, seen
    assert seen == {
        name: sandbox.LIMITS[getattr(__import__("resource"), name)]
        for name in ("RLIMIT_NPROC", "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_CORE")
    }


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("own_user", MODES)
def test_nothing_a_submission_started_outlives_its_launcher(tmp_path, package, own_user):
    marker = f"outlive-{os.getpid()}-{own_user}"
    code = f"""
import os, time
for _ in range(3):
    if os.fork() == 0:
        os.setsid()  # its own session: a kill of the process group would miss it
        time.sleep(300)
time.sleep(300)  # {marker}
"""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    config = sandbox.sandbox_config(
        tmp_path,
        slot=1,
        scratch=scratch,
        package=package,
        notebook="probe",
        command=[sys.executable, "-c", code],
        own_user=own_user,
    )
    if config["uid"] is not None:
        os.chown(scratch, config["uid"], config["uid"])
    (tmp_path / "config.json").write_text(json.dumps(config))
    launcher = subprocess.Popen(
        [sys.executable, sandbox.__file__, "launch", str(tmp_path / "config.json")]
    )
    deadline = time.monotonic() + 30
    while len(_processes_with(marker)) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(_processes_with(marker)) == 4  # the command and its three children
    launcher.send_signal(signal.SIGKILL)
    launcher.wait()
    deadline = time.monotonic() + 10
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(marker) == []


# ---------------------------------------------------------------- the package copy


def test_the_package_copy_has_no_repository_around_it_and_no_engine_source(package):
    assert sorted(path.name for path in package.iterdir()) == ["nmf_helpers"]
    copy = package / "nmf_helpers"
    for name in sandbox.ENGINE_MODULES:  # stand-ins: not one line of the engine to run
        stand_in = (copy / f"{name}.py").read_text()
        assert "def " not in stand_in and "class " not in stand_in and "lambda" not in stand_in
        assert "_stand_in(" in stand_in
    engine = (ROOT / "nmf_helpers" / "nmf.py").read_text()
    copied = "".join(path.read_text() for path in copy.rglob("*.py"))
    for line in ("def factorise(", "class _KullbackLeibler", "class KLSweep", "def component("):
        assert (
            line
            in engine
            + (ROOT / "nmf_helpers" / "separation.py").read_text()
            + (ROOT / "nmf_helpers" / "_kl_sweep.py").read_text()
        )
        assert line not in copied
    assert (copy / "spectral.py").read_text() == (ROOT / "nmf_helpers" / "spectral.py").read_text()


SPELLINGS = {
    "nh.nmf_kl(V, 2)": "nh.nmf_kl",
    "getattr(nh, 'nmf_' + 'kl')(V, 2)": "nh.nmf_kl",
    "nh.nmf(V, 2, loss='kl')": "nh.nmf",
    "nh.nmf_euclidean(V, 2)": "nh.nmf_euclidean",
    "importlib.import_module('nmf_helpers.nmf').factorise(V)": "nmf_helpers.nmf.factorise",
    "importlib.reload(importlib.import_module('nmf_helpers.nmf')).nmf_kl(V, 2)": "nh.nmf_kl",
    "__import__('nmf_helpers.nmf', fromlist=['x']).nmf_kl(V, 2)": "nh.nmf_kl",
    "nh.component(W, H, 0)": "nh.component",
    "nh.components(W, H, [0])": "nh.components",
    "nh.soft_masks(W, H, [[0]])": "nh.soft_masks",
    "nh.separate(V[0], W, H, [[0]])": "nh.separate",
    "importlib.import_module('nmf_helpers._kl_sweep').KLSweep(V)": "nmf_helpers._kl_sweep.KLSweep",
}


@pytest.mark.parametrize("own_user", MODES)
def test_the_engine_is_switched_off_whatever_the_spelling(run, own_user):
    code = f"""
import importlib, json
import numpy as np
import nmf_helpers as nh

V, W, H = np.ones((4, 5), np.float32), np.ones((4, 2), np.float32), np.ones((2, 5), np.float32)
raised = {{}}
for spelling in {list(SPELLINGS)!r}:
    try:
        eval(spelling)
        raised[spelling] = "ran"
    except Exception as error:
        raised[spelling] = type(error).__name__ + ": " + str(error)


def kl_nmf(V, W, H, n_iter=100):
    return nh.nmf_kl(V, W.shape[1], W_init=W, H_init=H)


try:
    kl_nmf(V, W, H)
except Exception as error:
    raised["kl_nmf"] = str(error)
# switch the switch off, reload: still no engine (the stand-in module has none)
importlib.import_module("nmf_helpers._grading_block").stand_in = lambda spelled, name: None
reloaded = importlib.reload(importlib.import_module("nmf_helpers.nmf"))
raised["patched"] = repr(reloaded.nmf_kl)
record = [json.loads(line) for line in open(".engine_calls.jsonl")]
still = {{"EPS": nh.EPS, "spectrogram": nh.spectrogram(np.ones(4096, np.float32)).shape}}
print(json.dumps({{"raised": raised, "record": record, "still": still}}))
"""
    status, seen, scratch = run(code, own_user)
    assert status == 0, seen
    for spelling, name in SPELLINGS.items():
        assert seen["raised"][spelling].startswith("EngineOff: "), spelling
        assert f"a cell called {name} " in seen["raised"][spelling]
    assert seen["raised"]["patched"] == "None"
    assert seen["raised"]["kl_nmf"] == (
        "The task asks for numpy; kl_nmf called nh.nmf_kl (switched off while grading)"
    )
    assert len(seen["record"]) == len(SPELLINGS) + 1
    assert seen["record"][-1] == {"by": "kl_nmf", "called": "nh.nmf_kl"}
    assert seen["still"] == {"EPS": 1e-12, "spectrogram": [1025, 9]}  # the rest still works
    calls = grading._engine_calls(scratch)  # what reaches the feedback
    assert calls[-1] == {"by": "kl_nmf", "called": "nh.nmf_kl"}


def test_a_forged_engine_record_puts_nothing_of_the_students_choosing_into_feedback(tmp_path):
    lines = [
        {"by": "kl_nmf", "called": "nh.nmf_kl"},
        {"by": "seed_7101", "called": "nh.component"},  # the hidden seed, smuggled in a name
        {"by": "kl_nmf", "called": "V_hidden = rng.gamma(0.5)"},
        {"by": "kl_nmf", "called": "nmf_helpers.x" + "MTAx" * 2000 + ".y"},  # data, as a name
        {"by": "kl_nmf", "called": "nh.x7101"},
        "not json",
    ]
    (tmp_path / ".engine_calls.jsonl").write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    )
    assert grading._engine_calls(tmp_path) == [
        {"by": "kl_nmf", "called": "nh.nmf_kl"},
        {"by": "your code", "called": "nh.component"},
    ]
    (tmp_path / ".engine_calls.jsonl").unlink()
    (tmp_path / ".engine_calls.jsonl").symlink_to("/etc/hostname")
    assert grading._engine_calls(tmp_path) == []


def test_every_mount_below_the_new_root_is_made_read_only_submounts_included(tmp_path):
    code = f"""
import os, sys
sys.path.insert(0, {str(ROOT / "scripts")!r})
from course_lib import sandbox
root = {str(tmp_path / "root")!r}
os.makedirs(root + "/usr/inner", exist_ok=True)
os.makedirs(root + "/tmp", exist_ok=True)
sandbox._mount(None, "/", None, sandbox._MS_REC | sandbox._MS_PRIVATE)
sandbox._mount("tmpfs", root + "/usr", "tmpfs", 0, "size=1m")
os.makedirs(root + "/usr/inner")
sandbox._mount("tmpfs", root + "/usr/inner", "tmpfs", 0, "size=1m")  # a submount
sandbox._mount("tmpfs", root + "/tmp", "tmpfs", 0, "size=1m")
sandbox._read_only_below(root, writable={{root + "/tmp"}})
for path in ("/usr/x", "/usr/inner/x", "/tmp/x"):
    try:
        open(root + path, "w").close()
        print(path, "written")
    except OSError:
        print(path, "refused")
"""
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", sys.executable, "-c", code],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.split("\n")[:3] == [
        "/usr/x refused",
        "/usr/inner/x refused",
        "/tmp/x written",
    ], done.stdout + done.stderr


@pytest.mark.parametrize("own_user", MODES)
def test_a_venv_under_tmp_is_seen_read_only_inside_the_sandbox_s_own_tmp(run, tmp_path, own_user):
    venv = tmp_path / "clone" / ".venv"  # a fresh clone in a temporary folder, as CI makes
    venv.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin")
    code = f"""
import json, os
try:
    open({str(venv / "planted")!r}, "w")
    written = True
except OSError:
    written = False
print(json.dumps({{"seen": os.listdir({str(venv)!r}), "written": written}}))
"""
    status, seen, _ = run(code, own_user, binds=(str(venv),))
    assert status == 0, seen
    assert seen == {"seen": ["pyvenv.cfg"], "written": False}
