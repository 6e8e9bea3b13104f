"""A hostile snapshot restored with real restic: a setuid-root shell, a file of another account,
a world-writable /dev/mem-like device and a FIFO must not reach the checks as they were backed up.

Two ways in: a repository the sandbox account can read (restic restores as that account, and
leaves the devices it cannot make out), and one only root can read (restic restores as root, the
record says why, and the tree is made safe before anything reads it). Either way the first check,
running in the sandbox, finds no setuid or setgid bit, no device node and nothing owned by anyone
but the sandbox account; the drill passes; and an ordinary local account cannot enter the run folder.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.repos import readable_by_all
from drillbook.sandbox.holder import remove_tree
from drillbook.sandbox.isolation import SANDBOX_ACCOUNT
from tests.support import PASSWORD, Repo, Workspace, write_drill

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("restic"),
                                reason="needs root (makes devices, a setuid file) and restic")

NOBODY = 65534
ODD_DEVICE = "odd[1]*?"  # a name full of restic pattern characters: left out as itself, nothing else

#: The first check: what the sandbox account finds in the restore, as it finds it.
PROBE = """\
verify:
  - type: command
    name: restore is harmless
    run:
      - python3
      - -c
      - |
        import json, os, stat, sys
        problems = []
        def look(path):
            info = os.lstat(path)
            if info.st_mode & (stat.S_ISUID | stat.S_ISGID):
                problems.append("setid " + path)
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                problems.append("device " + path)
            if (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
                problems.append("owner %d:%d %s" % (info.st_uid, info.st_gid, path))
        look(".")
        for base, dirs, files in os.walk("."):
            for name in dirs + files:
                look(os.path.join(base, name))
        print(json.dumps({"uid": os.getuid(), "problems": problems}))
        sys.exit(1 if problems else 0)
  - type: files
    path: srv/clinic/docs
    min_count: 10
    required: [letter-0001.txt]
"""


def hostile_source(root: Path) -> Path:
    """The review's tree: setuid-root sh, a file of uid 65534, ``c 1 5`` 0666, a FIFO."""
    clinic = root / "srv" / "clinic"
    docs = clinic / "docs"
    docs.mkdir(parents=True)
    for i in range(12):
        (docs / f"letter-{i:04d}.txt").write_text(f"Patient letter {i}\n")
    (docs / "theirs.txt").write_text("whoever owns uid 65534 could edit this after --verify\n")
    os.chown(docs / "theirs.txt", NOBODY, NOBODY)
    (clinic / "bin").mkdir()
    shell = clinic / "bin" / "sh"
    shutil.copy(Path("/bin/sh").resolve(), shell)
    os.chown(shell, 0, 0)
    shell.chmod(0o4755)
    (clinic / "dev").mkdir()
    for name in ("null", ODD_DEVICE):
        os.mknod(clinic / "dev" / name, 0o666 | stat.S_IFCHR, os.makedev(1, 5))
        (clinic / "dev" / name).chmod(0o666)
    os.mkfifo(clinic / "run-pipe")
    return root


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder the sandbox account can search (pytest's own are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="drillbook-hostile-"))
    folder.chmod(0o755)
    yield folder
    remove_tree(folder)


def _repo(where: Path, source_root: Path) -> Repo:
    repo = Repo(where / "repo", PASSWORD, hostile_source(source_root))
    repo.init()
    repo.backup()
    return repo


def _run_kept(workspace: Workspace, repo: Repo) -> tuple[dict[str, Any], Path]:
    write_drill(workspace.drills, "hostile", repo.path, body=PROBE)
    done = workspace.cli("run", "hostile", "--keep-sandbox", "--plain")
    run = workspace.last_run("hostile")
    assert done.returncode == 0 and run["status"] == "passed", (run["reason"], run["checks"], done.stderr)
    kept = list(workspace.sandboxes.iterdir())
    assert len(kept) == 1
    return run, kept[0]


def _assert_harmless(run: dict[str, Any], folder: Path) -> None:
    account = pwd.getpwnam(SANDBOX_ACCOUNT)
    first = run["checks"][0]
    assert first["status"] == "passed", first
    assert json.loads(first["data"]["output_tail"][-1]) == {"uid": account.pw_uid, "problems": []}
    restore = folder / "restore"
    for base, dirs, files in os.walk(restore):
        for name in [base, *(os.path.join(base, n) for n in dirs + files)]:
            info = os.lstat(name)
            assert not info.st_mode & (stat.S_ISUID | stat.S_ISGID), name
            assert not (stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)), name
            assert (info.st_uid, info.st_gid) == (account.pw_uid, account.pw_gid), name
    assert stat.S_ISFIFO((restore / "srv/clinic/run-pipe").lstat().st_mode), "a FIFO stays"
    assert stat.S_IMODE((restore / "srv/clinic/bin/sh").stat().st_mode) == 0o755
    special = run["content"]["special_files"]
    assert special["count"] == 3 and special["by_type"] == {"character device": 2, "FIFO": 1}
    assert {"path": "srv/clinic/dev/null", "type": "character device"} in special["examples"]
    assert {"path": "srv/clinic/run-pipe", "type": "FIFO"} in special["examples"]
    assert run["content"]["missing_count"] == 0


def _ordinary_account_cannot_enter(folder: Path) -> None:
    info = folder.lstat()
    assert stat.S_IMODE(info.st_mode) & 0o007 == 0
    for target in (folder, folder / "restore"):
        tried = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                                "--", "ls", str(target)], capture_output=True, text=True)
        assert tried.returncode != 0 and "Permission denied" in tried.stderr, (target, tried)


@pytest.mark.restic_versions
def test_a_repository_the_account_can_read_is_restored_by_it(workspace: Workspace, shared: Path) -> None:
    repo = _repo(shared, shared / "source")
    readable_by_all(repo.path)
    try:
        run, folder = _run_kept(workspace, repo)
        restore = run["restore"]
        assert restore["restore_as"] == SANDBOX_ACCOUNT and restore["unprivileged"] and restore["reason"] is None
        assert restore["devices_left_out"] == 2
        assert "2 device nodes left out" in next(p["detail"] for p in run["phases"] if p["name"] == "restore")
        _assert_harmless(run, folder)
        _ordinary_account_cannot_enter(folder)
    finally:
        remove_tree(workspace.sandboxes)


def test_a_repository_only_root_can_read_is_restored_as_root_and_made_safe(workspace: Workspace,
                                                                           tmp_path: Path) -> None:
    repo = _repo(tmp_path, tmp_path / "source")
    try:
        run, folder = _run_kept(workspace, repo)
        restore = run["restore"]
        assert restore["restore_as"] == "root" and not restore["unprivileged"]
        assert f"cannot read the repository {repo.path}" in restore["reason"]
        made = restore["made_safe"]
        assert made["devices_removed"] == 2 and made["setid_cleared"] == 1 and made["owners_changed"] > 0
        report = next(p for p in (workspace.reports / "hostile").iterdir() if p.is_dir())
        for name in ("report.html", "report.md"):
            text = (report / name).read_text()
            assert "restic restored as root" in text and "srv/clinic/dev/null" in text, name
        _assert_harmless(run, folder)
        _ordinary_account_cannot_enter(folder)
    finally:
        remove_tree(workspace.sandboxes)
