"""restic 0.14 exits 1 for nearly everything: what its stderr says decides what a person reads."""

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from drillbook.backends import restic as restic_module
from drillbook.backends.restic import (
    READ_ONLY,
    Fault,
    Restic,
    ResticError,
    classify,
    missing_pack,
    only_unmakeable_devices,
)
from drillbook.backends.resticversion import VersionCache
from drillbook.sandbox.isolation import Account
from drillbook.util.procfs import alive, children


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
    known = VersionCache()
    known.put("/usr/bin/true", "0.14.0")  # read before, as a drill's plan does
    monkeypatch.setattr(restic_module, "VERSIONS", known)
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


# -- how much a restore writes ---------------------------------------------------------------

def fake_restic(tmp_path: Path, stdout: str, *, stderr: str = "", code: int = 0) -> Path:
    """A restic that logs its argv, prints ``stdout`` and ``stderr`` and exits with ``code``."""
    (tmp_path / "out").write_text(stdout)
    (tmp_path / "err").write_text(stderr)
    script = tmp_path / "restic"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/argv\ncat {tmp_path}/out\n'
                      f"cat {tmp_path}/err >&2\nexit {code}\n")
    script.chmod(0o755)
    return script


def stats_door(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stdout: str, **kwargs: object) -> Restic:
    monkeypatch.setenv("DRILLBOOK_RESTIC", str(fake_restic(tmp_path, stdout, **kwargs)))  # type: ignore[arg-type]
    return Restic("/srv/repo", "pw", cache_dir=tmp_path / "cache")


def test_stats_is_read_only_and_asked_for_one_snapshots_restore_size(tmp_path, monkeypatch) -> None:
    door = stats_door(tmp_path, monkeypatch, '{"total_size":100003,"total_file_count":4,"snapshots_count":1}\n')
    assert "stats" in READ_ONLY
    size = door.restore_size("abc123")
    assert (size.total_size, size.total_file_count) == (100003, 4)
    assert (tmp_path / "argv").read_text().split() == [
        "stats", "--no-lock", "--cache-dir", str(tmp_path / "cache"), "--mode", "restore-size", "--json", "abc123"]


def test_stats_of_restic_0_18_with_more_fields_is_read_the_same(tmp_path, monkeypatch) -> None:
    out = '{"total_size":5368709120,"total_file_count":120,"snapshots_count":1,"total_blob_count":0}\n'
    size = stats_door(tmp_path, monkeypatch, out).restore_size("abc123")
    assert (size.total_size, size.total_file_count) == (5 * 1024 ** 3, 120)


def test_stats_that_counted_no_snapshot_is_an_error_not_an_empty_restore(tmp_path, monkeypatch) -> None:
    """restic 0.14 prints zeros and exits 0 for an id it cannot find (it only says so on stderr)."""
    door = stats_door(tmp_path, monkeypatch, '{"total_size":0,"total_file_count":0,"snapshots_count":0}',
                      stderr='Ignoring "abc123": no matching ID found for prefix "abc123"\n')
    with pytest.raises(ResticError) as caught:
        door.restore_size("abc123")
    assert caught.value.kind == Fault.SNAPSHOT_NOT_FOUND and "counted 0 snapshots" in caught.value.message


@pytest.mark.parametrize("out", ["", "scanning...\n", '{"total_file_count": 3}', '{"total_size": "big"}',
                                 '{"total_size": -1}', "[1, 2]"])
def test_stats_output_without_a_size_is_an_error(tmp_path, monkeypatch, out) -> None:
    with pytest.raises(ResticError, match="restic stats printed no restore size"):
        stats_door(tmp_path, monkeypatch, out).restore_size("abc123")


def test_a_failing_stats_is_classified_like_any_restic_failure(tmp_path, monkeypatch) -> None:
    door = stats_door(tmp_path, monkeypatch, "", stderr="Fatal: wrong password or no key found\n", code=1)
    with pytest.raises(ResticError) as caught:
        door.restore_size("abc123")
    assert caught.value.kind == Fault.WRONG_PASSWORD


# -- a stopping drill waits for no restic ------------------------------------------------------

@pytest.fixture
def slow_restic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Restic:
    """A restic that lists nothing for 60 s, as a hung remote repository would."""
    script = tmp_path / "restic"
    script.write_text("#!/bin/sh\nexec sleep 60\n")
    script.chmod(0o755)
    monkeypatch.setenv("DRILLBOOK_RESTIC", str(script))
    return Restic("/srv/repo", "pw", timeout=120)


def test_stop_ends_a_restic_call_running_in_another_thread(slow_restic: Restic) -> None:
    failure: list[BaseException] = []

    def listing() -> None:
        try:
            list(slow_restic.ls("abc123"))
        except ResticError as exc:
            failure.append(exc)

    reader = threading.Thread(target=listing, daemon=True)
    started = time.monotonic()
    reader.start()
    while not _sleeping_children() and time.monotonic() - started < 10:
        time.sleep(0.01)
    assert _sleeping_children(), "the fake restic never started"
    slow_restic.stop()
    reader.join(timeout=10)
    assert not reader.is_alive() and time.monotonic() - started < 10
    assert len(failure) == 1 and "stopped: the drill is stopping" in str(failure[0])
    assert not _sleeping_children()


def _sleeping_children() -> list[int]:
    """The fake restic, while it runs: this process's children that are ``sleep`` (not zombies)."""
    return [pid for pid in children(os.getpid()) if _comm(pid) == "sleep" and alive(pid, None)]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:  # gone meanwhile
        return ""


def test_a_stopped_door_starts_no_restic(slow_restic: Restic) -> None:
    slow_restic.stop()
    started = time.monotonic()
    with pytest.raises(ResticError, match="stopping"):
        slow_restic.snapshots()
    assert time.monotonic() - started < 5


def test_keys_for_the_sandbox_account_reach_only_a_restic_run_as_it(monkeypatch) -> None:
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    door = Restic("s3:http://127.0.0.1:9/b/p", "pw", env={"AWS_PROFILE": "clinic"},
                  account_env={"AWS_SECRET_ACCESS_KEY": "file-secret"})
    assert "AWS_SECRET_ACCESS_KEY" not in door._env()
    assert door._env()["AWS_PROFILE"] == "clinic"
    assert door._env(Account("drillbook-sandbox", 999, 995))["AWS_SECRET_ACCESS_KEY"] == "file-secret"
    assert door.scrubber("file-secret") == "***"


# -- a listing visited as it comes ---------------------------------------------------------

LISTING = "".join([
    '{"time":"2026-11-24T03:00:00Z","paths":["/srv/clinic"],"struct_type":"snapshot"}\n',
    '{"name":"srv","type":"dir","path":"/srv","struct_type":"node"}\n',
    '{"name":"a","type":"file","path":"/srv/a","size":3,"struct_type":"node"}\n',
])


def test_each_node_visits_the_listing_line_by_line_and_keeps_none_of_it(tmp_path, monkeypatch) -> None:
    door = stats_door(tmp_path, monkeypatch, LISTING)
    seen: list[str] = []
    door.each_node("abc123", lambda node: seen.append(node["path"]))
    assert seen == ["/srv", "/srv/a"]
    argv = (tmp_path / "argv").read_text().split("\n")
    assert argv[:4] == ["ls", "--no-lock", "--cache-dir", str(tmp_path / "cache")]


def test_each_node_fails_like_any_restic_call(tmp_path, monkeypatch) -> None:
    door = stats_door(tmp_path, monkeypatch, "", stderr="Fatal: wrong password or no key found\n", code=1)
    with pytest.raises(ResticError) as failed:
        door.each_node("abc123", lambda node: None)
    assert failed.value.kind == Fault.WRONG_PASSWORD


def test_a_visitor_that_fails_stops_restic_and_its_error_is_raised(tmp_path, monkeypatch) -> None:
    door = stats_door(tmp_path, monkeypatch, LISTING)

    def refuse(node: dict) -> None:
        raise ValueError("enough")

    with pytest.raises(ValueError, match="enough"):
        door.each_node("abc123", refuse)


# -- the snapshot's listing is streamed --------------------------------------------------------

SNAPSHOT_LINE = ('{"time":"2026-01-02T03:04:05Z","hostname":"h","paths":["/srv"],"id":"' + "ab" * 32
                 + '","short_id":"abababab","struct_type":"snapshot"}')


def _lister(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> tuple[Restic, Path]:
    argv_file = tmp_path / "argv"
    script = tmp_path / "restic"
    script.write_text(f"#!/bin/sh\necho \"$@\" > {argv_file}\n{body}")
    script.chmod(0o755)
    monkeypatch.setenv("DRILLBOOK_RESTIC", str(script))
    return Restic("/srv/repo", "pw", timeout=120), argv_file


def test_the_listing_arrives_node_by_node_while_restic_still_runs(tmp_path, monkeypatch) -> None:
    """A listing of millions of nodes is never held whole: the first comes before restic ends."""
    node = '{"name":"a","type":"file","path":"/srv/a","size":3,"struct_type":"node"}'
    door, _ = _lister(tmp_path, monkeypatch, f"echo '{SNAPSHOT_LINE}'\necho '{node}'\nexec sleep 60\n")
    started = time.monotonic()
    listing = iter(door.ls("latest"))
    first, second = next(listing), next(listing)
    assert time.monotonic() - started < 30
    assert first["struct_type"] == "snapshot" and first["id"] == "ab" * 32
    assert second == {"name": "a", "type": "file", "path": "/srv/a", "size": 3, "struct_type": "node"}
    door.stop()
    with pytest.raises(ResticError):
        list(listing)


def test_the_listing_takes_restics_own_selection(tmp_path, monkeypatch) -> None:
    door, argv_file = _lister(tmp_path, monkeypatch, f"echo '{SNAPSHOT_LINE}'\n")
    assert [n["struct_type"] for n in door.ls("latest", selection=["--host=h", "--tag=a,b"])] == ["snapshot"]
    assert argv_file.read_text().split() == ["ls", "--no-lock", "--no-cache", "--json", "latest",
                                             "--host=h", "--tag=a,b"]


def test_a_failing_listing_is_classified_after_what_it_listed(tmp_path, monkeypatch) -> None:
    door, _ = _lister(tmp_path, monkeypatch, "echo 'Fatal: wrong password or no key found' >&2\nexit 1\n")
    with pytest.raises(ResticError) as caught:
        list(door.ls("latest"))
    assert caught.value.kind == Fault.WRONG_PASSWORD
