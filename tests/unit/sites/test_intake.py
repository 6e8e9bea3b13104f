"""The check of a run folder coming back from a worker: hostile tarballs are refused, whole."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from drillbook.sites import intake
from drillbook.sites.intake import Refused, check_folder, pack_folder, write_received

DRILL, RUN_ID = "clinic-east", "20260506T030000Z-aaaaaa"
RECORD = {"run_id": RUN_ID, "drill": DRILL, "kind": "drill", "status": "passed"}


def tarball(*members: tarfile.TarInfo | tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                tar.addfile(info, io.BytesIO(member[1]))
    return buffer.getvalue()


def record(**changes: str) -> tuple[str, bytes]:
    return ("run.json", json.dumps({**RECORD, **changes}).encode())


def special(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def test_a_worker_folder_packs_and_checks_back_whole(tmp_path):
    folder = tmp_path / "run"
    (folder / "sub").mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(RECORD))
    (folder / "report.html").write_text("<html>")
    (folder / "sub" / "part.txt").write_text("x")
    (folder / "link").symlink_to("/etc/passwd")
    received = check_folder(pack_folder(folder), DRILL, RUN_ID)
    assert sorted(received.files) == ["report.html", "run.json", "sub/part.txt"]
    assert received.record["status"] == "passed"

    written = write_received(tmp_path / "reports", received, received.record)
    assert written == tmp_path / "reports" / DRILL / RUN_ID
    assert (written / "sub" / "part.txt").read_text() == "x"
    with pytest.raises(Refused, match="received before"):
        write_received(tmp_path / "reports", received, received.record)


@pytest.mark.parametrize(("members", "why"), [
    ([record(), ("../escape", b"x")], "not a name inside"),
    ([record(), ("/etc/cron.d/x", b"x")], "not a name inside"),
    ([record(), ("a/../../b", b"x")], "not a name inside"),
    ([record(), ("bad\x1b[2Jname", b"x")], "not a name inside"),
    ([record(), ("a/b/c/d", b"x")], "not a name inside"),
    ([record(), special("link", tarfile.SYMTYPE, "/etc/passwd")], "not a regular file"),
    ([record(), special("hard", tarfile.LNKTYPE, "run.json")], "not a regular file"),
    ([record(), special("dev", tarfile.CHRTYPE)], "not a regular file"),
    ([record(), special("fifo", tarfile.FIFOTYPE)], "not a regular file"),
    ([record(), ("run.json", b"{}")], "twice"),
    ([("report.html", b"x")], "no run.json"),
    ([("run.json", b"not json")], "not JSON"),
    ([record(run_id="20260506T030000Z-bbbbbb")], "not the run dispatched"),
    ([record(drill="other")], "not the run dispatched"),
    ([record(status="running")], "not finished"),
    ([record(kind="runbook")], "not a drill run"),
])
def test_hostile_folders_are_refused(members, why):
    with pytest.raises(Refused, match=why):
        check_folder(tarball(*members), DRILL, RUN_ID)


def test_oversize_files_and_folders_are_refused(monkeypatch):
    monkeypatch.setattr(intake, "MAX_FILE", 100)
    with pytest.raises(Refused, match="more than the 100 allowed"):
        check_folder(tarball(record(), ("big", b"x" * 101)), DRILL, RUN_ID)
    monkeypatch.setattr(intake, "MAX_FILE", 10_000)
    with pytest.raises(Refused, match="bytes allowed"):
        check_folder(tarball(record(), ("a", b"x" * 600), ("b", b"x" * 600)), DRILL, RUN_ID, limit=1000)
    with pytest.raises(Refused, match="more than the 10 allowed"):
        check_folder(b"x" * 200_000, DRILL, RUN_ID, limit=10)


def test_a_size_the_header_lies_about_is_refused():
    data = tarball(("a", b"x" * 4000), record())
    with pytest.raises(Refused):
        check_folder(data[:512 + 1000], DRILL, RUN_ID)


def test_not_a_tar_is_refused():
    with pytest.raises(Refused, match="tar archive"):
        check_folder(b"\x00garbage" * 10, DRILL, RUN_ID)


def test_a_file_written_only_inside_its_run_folder(tmp_path: Path):
    received = check_folder(tarball(record(), ("report.md", b"# ok")), DRILL, RUN_ID)
    write_received(tmp_path, received, received.record)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        f"{DRILL}/{RUN_ID}/report.md", f"{DRILL}/{RUN_ID}/run.json"]
