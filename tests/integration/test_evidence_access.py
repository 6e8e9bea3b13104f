"""Who else may touch the evidence: another local account cannot block sealing; the reader group reads it all.

Real ``drillbook run`` as root with real restic; the other account is ``nobody`` (through
``runuser``), with Debian's /usr/bin/python3, which it can run (the project's interpreter may
live under /root).
"""

from __future__ import annotations

import grp
import json
import os
import stat
import subprocess
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from drillbook.sandbox.holder import remove_tree
from tests.integration.rootless_host import SYSTEM_PYTHON, readable_by_all
from tests.support import STANDARD_CHECKS, Repo, Workspace, write_drill

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="another account is played through runuser")
OTHER_ACCOUNT = "nobody"

#: Run as the other account: flock every file it can open under the folder, say which, then hold.
HOLD_LOCKS = textwrap.dedent("""\
    import fcntl, json, os, sys
    top, held, names = sys.argv[1], [], []
    for base, dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(base, name)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue
            held.append(fd)
            names.append(os.path.relpath(path, top))
    print(json.dumps(names), flush=True)
    sys.stdin.read()
    """)


@pytest.fixture
def reachable(tmp_path: Path) -> Iterator[Path]:
    """A folder every account may enter (pytest's own are root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="drillbook-test-evidence-"))
    base.chmod(0o755)
    yield base
    remove_tree(base)


@pytest.fixture
def open_workspace(reachable: Path) -> Workspace:
    ws = Workspace(reachable / "ws")
    for folder in (ws.drills, ws.reports, ws.sandboxes, ws.state):
        folder.mkdir(parents=True)
    ws.root.chmod(0o755)
    return ws


@pytest.fixture
def other_account_holding(reachable: Path) -> Iterator:
    """Start the other account flocking everything it can reach under a folder; stopped after."""
    if not SYSTEM_PYTHON.exists():
        pytest.skip(f"{SYSTEM_PYTHON} is missing")
    script = reachable / "hold_locks.py"
    script.write_text(HOLD_LOCKS)
    script.chmod(0o644)
    started: list[subprocess.Popen[str]] = []

    def hold(top: Path) -> list[str]:
        proc = subprocess.Popen(["runuser", "-u", OTHER_ACCOUNT, "--", str(SYSTEM_PYTHON), str(script), str(top)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        started.append(proc)
        assert proc.stdout is not None
        return json.loads(proc.stdout.readline())

    yield hold
    for proc in started:
        proc.communicate(timeout=10)  # closing stdin lets it exit, which releases its locks


def test_another_account_flocking_what_it_can_reach_under_reports_does_not_stop_sealing(
        open_workspace: Workspace, repo: Repo, other_account_holding) -> None:
    """reports/ opened to other accounts (a reader group, a copy made readable) gives them no hold."""
    ws = open_workspace
    write_drill(ws.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    first = ws.cli("run", "clinic")
    assert first.returncode == 0, first.stderr
    readable_by_all(ws.reports)
    held = other_account_holding(ws.reports)
    assert "evidence/ledger.jsonl" in held  # it really holds locks on the evidence

    second = ws.cli("run", "clinic", timeout=400)

    assert second.returncode == 0, second.stderr
    assert "evidence: ledger entry #2, head #2" in second.stdout, (second.stdout, second.stderr)
    verified = ws.cli("evidence", "verify")
    assert verified.returncode == 0, verified.stdout
    assert not (ws.reports / "evidence" / "ledger.lock").exists()


@pytest.fixture
def reader_group() -> Iterator[grp.struct_group]:
    """A group of its own for this test, removed after."""
    name = f"dbk-readers-{uuid.uuid4().hex[:8]}"
    subprocess.run(["groupadd", "--system", name], check=True, capture_output=True)
    try:
        yield grp.getgrnam(name)
    finally:
        subprocess.run(["groupdel", name], check=True, capture_output=True)


def test_the_reports_group_of_drillbook_yaml_owns_everything_a_real_run_writes(
        workspace: Workspace, repo: Repo, reader_group: grp.struct_group) -> None:
    """Compliance reads reports/ through that group: every file 0640 and every folder 2750, its group."""
    (workspace.drills / "drillbook.yaml").write_text(f"reports: {{group: {reader_group.gr_name}}}\n")
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    workspace.reports.rmdir()  # a new reports folder is made with the group; an existing one must have it
    result = workspace.cli("run", "clinic")
    assert result.returncode == 0, result.stderr
    assert "evidence: ledger entry #1" in result.stdout

    found = {".": _mode_and_group(workspace.reports)}
    for path in workspace.reports.rglob("*"):
        found[path.relative_to(workspace.reports).as_posix()] = _mode_and_group(path)
    folders = {rel: got for rel, got in found.items() if (workspace.reports / rel).is_dir()}
    files = {rel: got for rel, got in found.items() if rel not in folders}
    assert {"evidence/ledger.jsonl", "evidence/public-key.pem", "index.html"} <= set(files)
    assert any(rel.endswith("/run.json") for rel in files) and any(rel.endswith("/report.html") for rel in files)
    wrong = {rel: got for rel, got in files.items() if got != ("0640", reader_group.gr_name)}
    wrong |= {rel: got for rel, got in folders.items() if got != ("2750", reader_group.gr_name)}
    assert wrong == {}


def _mode_and_group(path: Path) -> tuple[str, str]:
    info = path.lstat()
    return f"{stat.S_IMODE(info.st_mode):04o}", grp.getgrgid(info.st_gid).gr_name
