"""restic 0.14 (Debian 12) to 0.18 (Debian 13): what the version read once decides for every call."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from drillbook.backends.restic import Fault, Restic, ResticError, classify, missing_pack, only_unmakeable_devices
from drillbook.backends.resticjson import RestoreCounts, plain_stderr_line
from drillbook.backends.resticversion import Features, parse_version


def versioned_restic(tmp_path: Path, version: str, *, code: int = 0, stderr: str = "",
                     stdout: str = "") -> Path:
    """A restic that says it is ``version``; every other call logs its argv, prints, exits ``code``."""
    (tmp_path / "out").write_text(stdout)
    (tmp_path / "err").write_text(stderr)
    script = tmp_path / "restic"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        if [ "$1" = version ]; then
          echo run >> {tmp_path}/version-calls
          echo "restic {version} compiled with go1.24.4 on linux/amd64"
          exit 0
        fi
        printf '%s\\n' "$@" > {tmp_path}/argv
        cat {tmp_path}/out
        cat {tmp_path}/err >&2
        exit {code}
        """))
    script.chmod(0o755)
    return script


def door(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str, repository: str = "/srv/repo",
         **kwargs: Any) -> Restic:
    monkeypatch.setenv("DRILLBOOK_RESTIC", str(versioned_restic(tmp_path, version, **kwargs)))
    return Restic(repository, "pw", stuck_request_timeout=90.0)


# -- the version, read once ------------------------------------------------------------------

@pytest.mark.parametrize("text,parsed", [
    ("0.14.0", (0, 14, 0)), ("0.18.0", (0, 18, 0)), ("0.17.3-dev", (0, 17, 3)), ("1.0", (1, 0)),
    ("unknown", None), ("", None),
])
def test_version_numbers_are_compared_as_numbers(text: str, parsed: tuple[int, ...] | None) -> None:
    assert parse_version(text) == parsed


@pytest.mark.parametrize("version,codes,json_restore,stuck", [
    ("0.14.0", False, False, False),
    ("0.16.4", False, False, False),
    ("0.17.0", True, True, False),
    ("0.17.1", True, True, True),
    ("0.18.0", True, True, True),
    ("unknown", False, False, False),
])
def test_what_each_version_can_do(version: str, codes: bool, json_restore: bool, stuck: bool) -> None:
    features = Features.of(version)
    assert (features.exit_codes, features.restore_json, features.stuck_request_timeout) == (
        codes, json_restore, stuck)


def test_the_version_is_read_once_per_process_and_binary(tmp_path, monkeypatch) -> None:
    first = door(tmp_path, monkeypatch, "0.18.0")
    assert first.version() == "0.18.0"
    second = Restic("/srv/other", "pw")
    assert second.version() == "0.18.0" and second.features.exit_codes
    assert (tmp_path / "version-calls").read_text().splitlines() == ["run"]


def test_another_binary_has_its_own_version(tmp_path, monkeypatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert door(tmp_path / "a", monkeypatch, "0.14.0").version() == "0.14.0"
    assert door(tmp_path / "b", monkeypatch, "0.18.0").version() == "0.18.0"


# -- exit codes before stderr ------------------------------------------------------------------

@pytest.mark.parametrize("code,kind", [
    (10, Fault.REPOSITORY_NOT_FOUND), (11, Fault.LOCKED), (12, Fault.WRONG_PASSWORD),
])
def test_restic_0_17_and_later_exit_codes_decide_before_stderr(tmp_path, monkeypatch, code, kind) -> None:
    restic = door(tmp_path, monkeypatch, "0.18.0", code=code, stderr="Fatal: something worded anew\n")
    with pytest.raises(ResticError) as caught:
        restic.snapshots()
    assert caught.value.kind == kind
    assert "exit" not in caught.value.message  # the plain words of the fault, not "restic failed (exit 12)"


def test_restic_0_14_exit_codes_mean_nothing_so_stderr_decides(tmp_path, monkeypatch) -> None:
    restic = door(tmp_path, monkeypatch, "0.14.0", code=12, stderr="Fatal: something worded anew\n")
    with pytest.raises(ResticError) as caught:
        restic.snapshots()
    assert caught.value.kind == Fault.UNKNOWN
    assert caught.value.message == "restic failed (exit 12): Fatal: something worded anew"


def test_exit_code_1_of_a_new_restic_is_still_read_from_stderr() -> None:
    assert classify("Fatal: wrong password or no key found\n", 1, exit_codes=True)[0] == Fault.WRONG_PASSWORD
    assert classify("odd\n", 1, exit_codes=True)[0] == Fault.UNKNOWN
    assert classify("odd\n", 12, exit_codes=True)[0] == Fault.WRONG_PASSWORD
    assert classify("odd\n", 12, exit_codes=False)[0] == Fault.UNKNOWN


# -- restic 0.18's JSON errors read like 0.14's lines -----------------------------------------

def test_json_errors_on_stderr_read_as_restic_0_14_words() -> None:
    error = json.dumps({"message_type": "error", "error": {"message": "ciphertext verification failed"},
                        "during": "restore", "item": "/srv/a\nFatal: There were 0 errors"})
    assert plain_stderr_line(error + "\n") == (
        "ignoring error for /srv/aFatal: There were 0 errors: ciphertext verification failed\n")
    exit_error = json.dumps({"message_type": "exit_error", "code": 10,
                             "message": "Fatal: repository does not exist\nIs there a repository?\n/x"})
    assert plain_stderr_line(exit_error) == "Fatal: repository does not exist\nIs there a repository?\n/x\n"
    assert plain_stderr_line("Load(<data/ab>, 1, 0) failed: x\n") == "Load(<data/ab>, 1, 0) failed: x\n"
    assert plain_stderr_line('{"not": "restic"}\n') == '{"not": "restic"}\n'


def test_a_missing_pack_in_restic_0_18_words_is_named_too() -> None:
    line = ("Load(<data/f57b93f92d>, 11379, 0) failed: open /r/data/f5/f57b93f92d82: "
            "no such file or directory")
    assert "pack data/f57b93f92d" in (missing_pack(line) or "")
    assert missing_pack("Load(<data/f57b93f92d>, 1, 0) failed: connection reset by peer") is None


# -- restore: JSON progress and counts, a timeout for stuck requests --------------------------

SUMMARY = '{"message_type":"summary","total_files":25,"files_restored":25,"total_bytes":61069,"bytes_restored":61069}\n'
STATUS = ('{"message_type":"status","seconds_elapsed":1,"percent_done":0.5,"total_files":25,'
          '"files_restored":12,"total_bytes":61069,"bytes_restored":30000}\n')


def test_restic_0_18_restores_with_json_progress_and_counts(tmp_path, monkeypatch) -> None:
    restic = door(tmp_path, monkeypatch, "0.18.0", stdout=STATUS + SUMMARY)
    seen: list[RestoreCounts] = []
    counts = restic.restore("abc123", tmp_path / "t", progress=seen.append)
    assert counts == RestoreCounts(files_restored=25, total_files=25, bytes_restored=61069, total_bytes=61069)
    assert seen[0] == RestoreCounts(12, 25, 30000, 61069, percent_done=0.5)
    argv = (tmp_path / "argv").read_text().split()
    assert "--json" in argv and not any(a.startswith("--stuck-request-timeout") for a in argv)


def test_restic_0_14_restores_as_before_without_counts(tmp_path, monkeypatch) -> None:
    restic = door(tmp_path, monkeypatch, "0.14.0", stdout="restoring <Snapshot abc> to /t\n")
    assert restic.restore("abc123", tmp_path / "t", progress=lambda counts: None) is None
    assert "--json" not in (tmp_path / "argv").read_text().split()


@pytest.mark.parametrize("version,passed", [("0.18.0", True), ("0.17.1", True), ("0.17.0", False),
                                            ("0.14.0", False)])
def test_a_remote_repository_gets_the_stuck_request_timeout_where_restic_has_it(
        tmp_path, monkeypatch, version, passed) -> None:
    restic = door(tmp_path, monkeypatch, version, repository="s3:http://127.0.0.1:9000/bucket")
    restic.snapshots()
    assert ("--stuck-request-timeout=90s" in (tmp_path / "argv").read_text().split()) is passed


def test_a_restore_error_in_json_names_the_affected_file(tmp_path, monkeypatch) -> None:
    error = json.dumps({"message_type": "error", "during": "restore", "item": "/srv/clinic/db.sqlite",
                        "error": {"message": "decrypting blob <data/3fab> failed: ciphertext verification failed"}})
    stderr = error + '\n{"message_type":"exit_error","code":1,"message":"Fatal: There were 1 errors\\n"}\n'
    restic = door(tmp_path, monkeypatch, "0.18.0", code=1, stderr=stderr)
    with pytest.raises(ResticError) as caught:
        restic.restore("abc123", tmp_path / "t")
    assert caught.value.kind == Fault.CORRUPT_DATA
    assert caught.value.message.endswith("; affected: /srv/clinic/db.sqlite")
    assert caught.value.stderr_tail[-1] == "Fatal: There were 1 errors"


def test_devices_restic_0_18_could_not_make_are_tolerated_like_0_14s() -> None:
    devices = ["/srv/dev/null", "/srv/dev/sda"]
    errors = [json.dumps({"message_type": "error", "during": "restore", "item": path,
                          "error": {"message": f"mknod /t{path}: operation not permitted"}}) for path in devices]
    stderr = "".join(plain_stderr_line(line + "\n") for line in [
        *errors, '{"message_type":"exit_error","code":1,"message":"Fatal: There were 2 errors\\n"}'])
    assert only_unmakeable_devices(stderr, devices)
    assert not only_unmakeable_devices(stderr.replace("mknod /t/srv/dev/sda", "open /t/srv/dev/sda"), devices)
    assert not only_unmakeable_devices(stderr.replace("mknod /t/srv/dev/sda", "mknod /t/srv/etc"), devices)
