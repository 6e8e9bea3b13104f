"""restic 0.14 exits 1 for nearly everything: what its stderr says decides what a person reads."""

import subprocess
from pathlib import Path

import pytest

from drillbook.backends.restic import Fault, Restic, classify, missing_pack, only_unmakeable_devices
from drillbook.sandbox.isolation import Account


@pytest.mark.parametrize("stderr,kind", [
    ("Fatal: wrong password or no key found\n", Fault.WRONG_PASSWORD),
    ("Fatal: unable to open config file: stat /x/config: no such file or directory\n"
     "Is there a repository at the following location?\n/x\n", Fault.REPOSITORY_NOT_FOUND),
    ('invalid id "deadbeef": no matching ID found for prefix "deadbeef"\n', Fault.SNAPSHOT_NOT_FOUND),
    ("ignoring error for /data/big: ciphertext verification failed\nFatal: There were 1 errors\n", Fault.CORRUPT_DATA),
    ("Fatal: unable to open config file: Stat: Get \"http://127.0.0.1:9/b/config\": dial tcp "
     "127.0.0.1:9: connect: connection refused\n", Fault.UNREACHABLE),
    ("Fatal: unable to open config file: Stat: Access Denied.\n", Fault.ACCESS_DENIED),
    ("something nobody has seen before\n", Fault.UNKNOWN),
])
def test_classify(stderr, kind):
    assert classify(stderr, 1)[0] == kind


def test_unknown_errors_keep_restic_last_words():
    assert classify("first\nFatal: odd thing\n", 1)[1] == "restic failed (exit 1): Fatal: odd thing"


def test_a_missing_pack_retry_is_final_but_other_retries_are_not():

    local = ("Load(<data/dd1a560dd0>, 3153836, 0) returned error, retrying after 552ms: open "
             "r2/data/dd/dd1a560dd01a: no such file or directory")
    s3 = "Load(<data/0a1b2c3d4e>, 17, 0) returned error, retrying after 1s: The specified key does not exist."
    flaky = "Load(<data/0a1b2c3d4e>, 17, 0) returned error, retrying after 1s: connection reset by peer"
    assert "pack data/dd1a560dd0" in missing_pack(local)
    assert "pack data/0a1b2c3d4e" in missing_pack(s3)
    assert missing_pack(flaky) is None
    assert missing_pack("Load(<index/abc>) returned error, retrying: no such file or directory") is None


def test_corruption_names_the_affected_files():
    stderr = ("ignoring error for /srv/a.txt: ciphertext verification failed\n"
              "ignoring error for /srv/b.txt: ciphertext verification failed\n"
              "ignoring error for /srv/a.txt: ciphertext verification failed\nFatal: There were 3 errors\n")
    kind, text = classify(stderr, 1)
    assert kind == Fault.CORRUPT_DATA and text.endswith("; affected: /srv/a.txt, /srv/b.txt")


# -- who runs the restore --------------------------------------------------------------------

ACCOUNT = Account("drillbook-sandbox", 999, 995)
SWITCH = ["--reuid=999", "--regid=995", "--clear-groups", "--no-new-privs", "--inh-caps=-all",
          "--ambient-caps=-all", "--bounding-set=-all", "--"]


@pytest.fixture
def door(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Restic:
    def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError("building an argv must start no process")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    monkeypatch.setattr(subprocess, "run", no_process)
    monkeypatch.setenv("DRILLBOOK_RESTIC", "/usr/bin/true")
    return Restic("/srv/repo", "pw", cache_dir=tmp_path / "cache")


def test_as_root_the_restore_runs_as_the_sandbox_account_without_any_privilege(door: Restic) -> None:
    argv = door.restore_argv("abc123", Path("/sb/run/restore"), account=ACCOUNT)
    assert argv[0].endswith("/setpriv") and argv[1:9] == SWITCH
    assert argv[9:] == ["/usr/bin/true", "restore", "--no-lock", "--no-cache", "abc123",
                        "--target", "/sb/run/restore", "--verify"]


def test_as_drillbook_itself_the_restore_needs_no_switch(door: Restic, tmp_path: Path) -> None:
    argv = door.restore_argv("abc123", Path("/sb/run/restore"))
    assert argv == ["/usr/bin/true", "restore", "--no-lock", "--cache-dir", str(tmp_path / "cache"),
                    "abc123", "--target", "/sb/run/restore", "--verify"]


def test_devices_are_left_out_by_patterns_that_match_only_their_own_name(door: Restic) -> None:
    argv = door.restore_argv("abc123", Path("/t"), account=ACCOUNT,
                             leave_out=["/dev/null", "/odd/a*[b]?\\c", "/bytes/\ufffd\ufffdx"])
    assert [a for a in argv if a.startswith("--exclude")] == [
        "--exclude=/dev/null", "--exclude=/odd/a\\*\\[b\\]\\?\\\\c", "--exclude=/bytes/??x"]


def test_only_devices_an_unprivileged_restore_cannot_make_are_tolerated() -> None:
    devices = ["/srv/dev/null", "/srv/dev/sda"]
    ok = ("restoring <Snapshot 6c2561f5 of [/srv] at 2026-12-03 by root@vm> to /t\n"
          "ignoring error for /srv/dev/null: operation not permitted\n"
          "ignoring error for /srv/dev/sda: operation not permitted\n"
          "Fatal: There were 2 errors\n\n")
    assert only_unmakeable_devices(ok, devices)
    another = ok.replace("There were 2", "There were 3").replace(
        "Fatal:", "ignoring error for /srv/data.db: ciphertext verification failed\nFatal:")
    assert not only_unmakeable_devices(another, devices)
    not_a_device = ok.replace("/srv/dev/sda:", "/srv/etc/passwd:")
    assert not only_unmakeable_devices(not_a_device, devices)
    other_reason = ok.replace("/srv/dev/sda: operation not permitted", "/srv/dev/sda: no space left on device")
    assert not only_unmakeable_devices(other_reason, devices)
    assert not only_unmakeable_devices("Fatal: wrong password or no key found\n", devices)
    assert not only_unmakeable_devices(ok.replace("There were 2", "There were 1"), devices)
