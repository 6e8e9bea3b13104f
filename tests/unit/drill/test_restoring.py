"""Who runs restic's restore: the sandbox account whenever it can, drillbook's root only when not."""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.drill.restoring import choose, device_paths
from drillbook.sandbox.isolation import Account, Mode

ACCOUNT = Account("drillbook-sandbox", 999, 995)


def never(account: Account, path: Path) -> str | None:
    raise AssertionError("no local repository to try")


def test_an_ordinary_account_restores_as_itself() -> None:
    who = choose("/srv/repo", ACCOUNT, Mode.ROOTLESS, never)
    assert who.account is None and who.unprivileged and who.name == "drillbook-sandbox"
    assert who.record()["reason"] is None


def test_as_root_the_account_restores_a_repository_it_can_read() -> None:
    tried: list[tuple[Account, Path]] = []

    def readable(account: Account, path: Path) -> str | None:
        tried.append((account, path))
        return None

    for repository in ("/srv/repo", "local:/srv/repo"):
        who = choose(repository, ACCOUNT, Mode.ROOT, readable)
        assert who.account == ACCOUNT and who.unprivileged and not who.as_root
        assert who.record() == {"restore_as": "drillbook-sandbox", "account": ACCOUNT.describe(),
                                "unprivileged": True, "reason": None}
    assert tried == [(ACCOUNT, Path("/srv/repo"))] * 2


@pytest.mark.parametrize("repository", ["s3:http://127.0.0.1:9000/bucket/restic", "rest:https://u:p@h/r",
                                        "b2:bucket:restic", "azure:c:/r", "gs:b:/r", "swift:c:/r"])
def test_remote_repositories_need_no_local_file_and_are_always_restored_by_the_account(repository: str) -> None:
    who = choose(repository, ACCOUNT, Mode.ROOT, never)
    assert who.account == ACCOUNT and who.unprivileged


def test_a_local_repository_the_account_cannot_read_is_restored_as_root_and_says_why() -> None:
    who = choose("/root/repo", ACCOUNT, Mode.ROOT,
                 lambda account, path: "find: '/root/repo': Permission denied")
    assert who.account is None and who.as_root and not who.unprivileged and who.name == "root"
    record = who.record()
    assert record["restore_as"] == "root"
    assert record["reason"] == ("the sandbox account drillbook-sandbox (uid 999, gid 995) cannot read "
                                "the repository /root/repo (find: '/root/repo': Permission denied)")


@pytest.mark.parametrize("repository", ["sftp:backup@host:/srv/restic", "rclone:remote:restic"])
def test_backends_reached_with_drillbooks_own_files_are_restored_as_root(repository: str) -> None:
    who = choose(repository, ACCOUNT, Mode.ROOT, never)
    assert who.as_root and "cannot read" in (who.reason or "") and repository.split(":")[0] in (who.reason or "")


def test_device_paths_are_the_snapshots_block_and_character_devices() -> None:
    listing = [{"type": "chardev", "path": "/dev/null"}, {"type": "dev", "path": "/dev/sda"},
               {"type": "fifo", "path": "/p"}, {"type": "file", "path": "/f"}, {"type": "socket", "path": "/s"}]
    assert device_paths(listing) == ["/dev/null", "/dev/sda"]
