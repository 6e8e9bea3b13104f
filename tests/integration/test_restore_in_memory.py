"""isolation.restore_in_memory: the restore lands in a size-capped tmpfs that only the sandbox's
mount namespace has, every byte is still verified, and a restore too big for it goes to disk."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drillbook.sandbox.removal import remove_tree
from tests.integration.rootless_host import readable_by_all
from tests.support import PASSWORD, PASSWORD_ENV, STANDARD_CHECKS, Workspace, make_repo, write_drill

pytestmark = pytest.mark.restic_versions

#: Run inside the sandbox: what the checks see at the restore root (statfs and mountinfo).
SEES_TMPFS = """
  - type: command
    name: restore root as the sandbox sees it
    run:
      - python3
      - -c
      - |
        import os
        root = os.environ["DRILLBOOK_RESTORE_ROOT"]
        mounts = [line.split() for line in open("/proc/self/mountinfo")]
        fstype = {m[4]: m[m.index("-") + 1] for m in mounts}.get(root, "no mount of its own")
        print(f"{root}: {fstype}")
        raise SystemExit(0 if fstype == "{expected}" else 1)
"""


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, dict[str, Any]]]:
    """Two drills of one repository, one run of both: one fits its tmpfs, one does not.

    The repository is where the sandbox account can read it (pytest's folders are root's alone),
    so that restic restores as that account: a restore as root goes to disk (see drill/storage.py).
    """
    tmp = Path(tempfile.mkdtemp(prefix="drillbook-test-in-memory-"))
    tmp.chmod(0o755)
    try:
        yield _run_both(tmp)
    finally:
        remove_tree(tmp)


def _run_both(tmp: Path) -> dict[str, dict[str, Any]]:
    repo = make_repo(tmp)
    repo.backup()
    readable_by_all(repo.path)
    workspace = Workspace(tmp / "ws")
    for folder in (workspace.drills, workspace.reports, workspace.sandboxes, workspace.state):
        folder.mkdir(parents=True)
    write_drill(workspace.drills, "fits", repo.path, body="isolation: {restore_in_memory: 64M}\n"
                + STANDARD_CHECKS + SEES_TMPFS.replace("{expected}", "tmpfs"))
    write_drill(workspace.drills, "too-big", repo.path, body="isolation: {restore_in_memory: 8K}\n"
                + STANDARD_CHECKS)
    done = workspace.cli("run", "--all", "--plain", **{PASSWORD_ENV: PASSWORD})
    assert done.returncode == 0, done.stdout + done.stderr
    return {"fits": workspace.last_run("fits"), "too-big": workspace.last_run("too-big"),
            "report": {kind: next((workspace.reports / "fits").glob(f"*/report.{kind}")).read_text()
                       for kind in ("md", "html")},
            "sandboxes": {"left": sorted(p.name for p in workspace.sandboxes.iterdir())}}


def test_a_restore_that_fits_is_in_the_sandboxs_tmpfs_and_verified_byte_for_byte(runs: dict[str, Any]) -> None:
    record = runs["fits"]
    assert record["status"] == "passed", record["reason"]
    storage = record["restore"]["storage"]
    assert storage["kind"] == "tmpfs" and storage["shown"] == "tmpfs, 64.0 MiB cap"
    assert storage["cap_bytes"] == 64 * 1024 * 1024 and storage["reason"] is None
    phases = {p["name"]: p for p in record["phases"]}
    assert "into tmpfs, 64.0 MiB cap with --verify" in phases["restore"]["detail"]
    assert phases["verify content"]["status"] == "passed"
    assert phases["teardown"]["detail"] == "sandbox removed; its tmpfs unmounted with the namespace"
    checks = {c["name"]: c for c in record["checks"]}
    assert checks["restore root as the sandbox sees it"]["status"] == "passed"
    assert runs["sandboxes"]["left"] == []  # teardown left nothing on disk


def test_a_restore_bigger_than_the_budget_goes_to_disk_and_says_why(runs: dict[str, Any]) -> None:
    record = runs["too-big"]
    assert record["status"] == "passed", record["reason"]
    storage = record["restore"]["storage"]
    assert storage["kind"] == "disk" and storage["shown"] == "disk"
    assert "more than the 8.0 KiB of isolation.restore_in_memory; restored to disk" in storage["reason"]
    assert {p["name"]: p["status"] for p in record["phases"]}["verify content"] == "passed"


def test_the_report_says_where_the_restore_was_written(runs: dict[str, Any]) -> None:
    assert "Restored into tmpfs, 64.0 MiB cap" in runs["report"]["md"]
    assert "Restored into</div><div>tmpfs, 64.0 MiB cap" in runs["report"]["html"]
