"""The same sandbox built by root (through the sandbox account) and by an ordinary account.

Both runs drive sandbox_session.py: create a Sandbox, run a probe inside, start a service and
fetch from it inside, tear down. Meanwhile the test, as root, drops a root-only file into the
sandbox and looks at every process of the host: nothing in the sandbox's user namespace, and
nothing that got the drill's ``LD_PRELOAD``, may run as root or outside the sandbox.

The ordinary account cannot read the project's virtualenv (root's) nor pyenv's interpreter under
/root. So, once per test session, the test builds a virtualenv from Debian's /usr/bin/python3
(package python3-venv, which ``make setup`` installs) in a world-readable temporary folder,
pip-installs the project's declared dependencies (pyproject.toml's, not the test extras), and
puts a world-readable copy of ``src/`` on PYTHONPATH. A copy rather than ``pip install .``:
no wheel build, and the code under test is exactly the tree's. All dependencies rather than the
few the sandbox imports today: which modules ``drillbook.spec`` pulls in changes with the code.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from drillbook.sandbox.holder import remove_tree
from drillbook.sandbox.isolation import SANDBOX_ACCOUNT
from drillbook.util.procfs import all_pids, environ, namespace
from tests.integration.rootless_host import readable_by_all
from tests.support import free_port

REPO = Path(__file__).resolve().parents[2]
SESSION = Path(__file__).with_name("sandbox_session.py")
SYSTEM_PYTHON = Path("/usr/bin/python3")
#: The ordinary account of the rootless run; created like drillbook creates its own account.
ORDINARY_ACCOUNT = "drillbook-rootless-test"
NO_CAPABILITIES = "0000000000000000"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: creates an account, runs as it")


# -- fixtures -------------------------------------------------------------------------

@pytest.fixture(scope="session")
def shared() -> Iterator[Path]:
    """A temporary folder every account can read, for the interpreter, the code and sandboxes."""
    folder = Path(tempfile.mkdtemp(prefix="drillbook-accounts-"))
    folder.chmod(0o755)
    yield folder
    remove_tree(folder)


@pytest.fixture(scope="session")
def ordinary_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(ORDINARY_ACCOUNT)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
                        "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment",
                        "drillbook rootless sandbox test", ORDINARY_ACCOUNT],
                       check=True, capture_output=True, timeout=60)
        return pwd.getpwnam(ORDINARY_ACCOUNT)


@pytest.fixture(scope="session")
def foreign_python(shared: Path) -> list[str]:
    """The argv prefix of a Python that the ordinary account can run and import drillbook with."""
    usable = SYSTEM_PYTHON.exists() and subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import ensurepip, venv"], capture_output=True).returncode == 0
    if not usable:
        message = f"{SYSTEM_PYTHON} with its venv module is needed (apt-get install python3-venv)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    venv = shared / "venv"
    _checked([str(SYSTEM_PYTHON), "-m", "venv", str(venv)])
    _checked([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
              *_requirements()])
    shutil.copytree(REPO / "src", shared / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    readable_by_all(shared)
    return ["env", "-i", "PATH=/usr/bin:/bin", f"PYTHONPATH={shared / 'src'}", "PYTHONDONTWRITEBYTECODE=1",
            str(venv / "bin" / "python")]


@pytest.fixture
def host_port() -> Iterator[int]:
    """A listener on the host's loopback, which the sandbox must not reach."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


def _requirements() -> list[str]:
    return list(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])


def _checked(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}"




# -- one session ----------------------------------------------------------------------

@dataclass
class RootsView:
    """What root saw on the whole host while the sandbox's service ran."""

    marker: str
    carriers: list[dict[str, Any]] = field(default_factory=list)   # got the drill's LD_PRELOAD
    members: list[dict[str, Any]] = field(default_factory=list)    # in the sandbox's user namespace

    def on_pause(self, tag: str, message: dict[str, Any]) -> None:
        if tag == "created":
            secret = Path(message["path"]) / "logs" / "root-only.txt"
            secret.write_text("only root may read this\n")
            os.chown(secret, 0, 0)
            secret.chmod(0o600)
        elif tag == "serving":
            for pid in all_pids():
                seen = {"pid": pid, "uids": _uids(pid), "pid_ns": namespace(pid, "pid")}
                if any(self.marker in item for item in environ(pid)):
                    self.carriers.append(seen)
                if namespace(pid, "user") == message["user_ns"]:
                    self.members.append(seen)


def _uids(pid: int) -> list[int]:
    """Real, effective, saved and filesystem uid."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            line = next(row for row in fh if row.startswith("Uid:"))
    except (OSError, StopIteration):
        return []
    return [int(part) for part in line.split()[1:]]


def run_session(prefix: list[str], script: Path, sandbox_root: Path, host_port: int,
                on_pause: Callable[[str, dict[str, Any]], None], marker: str) -> dict[str, Any]:
    argv = [*prefix, str(script), str(sandbox_root), marker, str(host_port), str(free_port())]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd="/")
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        for line in proc.stdout:
            message = json.loads(line)
            if "result" in message:
                return message["result"]
            on_pause(message["pause"], message)
            proc.stdin.write("\n")
            proc.stdin.flush()
        raise AssertionError(f"the session ended without a result:\n{proc.stderr.read()}")
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
        proc.stderr.close()


def assert_isolated(result: dict[str, Any], root: RootsView, uid: int, mode: str) -> None:
    record, holder, probe = result["record"], result["holder"], result["probe"]
    assert (record["mode"], record["outer_uid"], holder["mode"], holder["uid"]) == (mode, uid, mode, uid)
    assert probe["returncode"] == 0, probe["stderr"]
    assert probe["uid"] == probe["euid"] == uid
    assert probe["cap_eff"] == probe["cap_prm"] == NO_CAPABILITIES and probe["no_new_privs"] == "1"
    assert probe["interfaces"] == ["lo"] and probe["host_listener"] == "unreachable"
    assert probe["pid_ns"] == result["pid_ns"] != result["outside_pid_ns"]
    assert 1 in probe["pids"] and len(probe["pids"]) < 10
    assert probe["root_only"] == "denied"
    assert probe["ld_preload"] == root.marker  # the drill's env reaches the check
    assert result["fetched"] == "hello from the sandbox"
    assert result["service_from_outside"] == "unreachable"
    assert result["carriers"] and all(c["pid_ns"] == result["pid_ns"] for c in result["carriers"])
    # ...and nothing else: root sees every process of the host
    assert root.carriers and all(c["pid_ns"] == result["pid_ns"] for c in root.carriers), root.carriers
    assert all(c["uids"] == [uid] * 4 for c in root.carriers), root.carriers
    assert root.members and all(m["uids"] == [uid] * 4 for m in root.members), root.members
    assert result["left_behind"] == []


def _marker() -> str:
    return f"/nonexistent/drillbook-marker-{uuid.uuid4().hex}.so"


# -- the tests ------------------------------------------------------------------------

def test_as_root_the_sandbox_account_builds_and_enters_everything(shared, host_port):
    sandbox_root = shared / "root-sandboxes"
    sandbox_root.mkdir(mode=0o755)
    root = RootsView(_marker())
    result = run_session([sys.executable], SESSION, sandbox_root, host_port, root.on_pause, root.marker)
    account = pwd.getpwnam(SANDBOX_ACCOUNT)  # created on demand by the session if it was missing
    assert_isolated(result, root, account.pw_uid, "root")


def test_an_ordinary_account_builds_the_same_sandbox_without_root(shared, ordinary_account, foreign_python,
                                                                  host_port):
    sandbox_root = shared / "account-sandboxes"
    sandbox_root.mkdir(mode=0o755)
    os.chown(sandbox_root, ordinary_account.pw_uid, ordinary_account.pw_gid)
    script = shutil.copy(SESSION, shared / SESSION.name)
    os.chmod(script, 0o644)
    root = RootsView(_marker())
    prefix = ["runuser", "-u", ORDINARY_ACCOUNT, "--", *foreign_python]
    result = run_session(prefix, Path(script), sandbox_root, host_port, root.on_pause, root.marker)
    assert_isolated(result, root, ordinary_account.pw_uid, "rootless")
    assert result["record"]["user"].startswith(ORDINARY_ACCOUNT)
