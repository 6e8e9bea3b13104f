"""A run folder on its way from a worker to the central side: packed there, checked here.

The folder travels as an uncompressed tar (no decompression bomb to guard against) inside the
task's result. What arrives is untrusted: a worker can be compromised, and a restore's hostile
names could reach a file name. :func:`check_folder` is a pure function over the bytes: every
member must be a regular file (no links, devices, fifos), named by plain relative parts (no
``..``, no absolute name, no control characters, nothing but letters, digits, ``._-``), at most
:data:`MAX_DEPTH` deep; sizes are capped per file and in total; ``run.json`` must be a finished
drill record of exactly the drill and run id that were dispatched. Only then is it written, by
:func:`write_received`, into that run's own folder and nowhere else.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drillbook.outputs.runstore import RUN_FILE, RunKind, run_dir
from drillbook.status import Status
from drillbook.util.atomic import FOLDER_MODE, make_folders, write_bytes_atomic

MAX_TOTAL = 32 * 1024 * 1024   # bytes of one run folder: records and reports are far smaller
MAX_FILE = 16 * 1024 * 1024
MAX_FILES = 200
MAX_DEPTH = 3
PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
FINISHED = {Status.PASSED, Status.FAILED, Status.ABORTED, Status.ERROR}


class Refused(Exception):
    """A folder that is not written: the reason names what was wrong, never the content."""


@dataclass(frozen=True)
class Received:
    drill: str
    run_id: str
    files: dict[str, bytes]  # relative posix name -> content
    record: dict[str, Any]


def pack_folder(folder: Path, limit: int = MAX_TOTAL) -> bytes:
    """The worker's side: every regular file under ``folder`` (links and the rest left out)."""
    buffer = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            total += len(data)
            if total > limit:
                raise Refused(f"the run folder {folder} holds more than {limit} bytes")
            info = tarfile.TarInfo(path.relative_to(folder).as_posix())
            info.size, info.mode = len(data), 0o640
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def check_folder(data: bytes, drill: str, run_id: str, limit: int = MAX_TOTAL) -> Received:
    """The files of a run folder that came back, once each rule holds; :class:`Refused` otherwise."""
    if len(data) > limit + 512 * (MAX_FILES + 4):
        raise Refused(f"the folder is {len(data)} bytes, more than the {limit} allowed")
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in _members(tar):
                body = _content(tar, member)
                total += len(body)
                if total > limit:
                    raise Refused(f"the folder holds more than the {limit} bytes allowed")
                files[member.name] = body
    except tarfile.TarError as exc:
        raise Refused(f"not a whole tar archive: {exc}") from None
    return Received(drill, run_id, files, _record(files, drill, run_id))


def _members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members: list[tarfile.TarInfo] = []
    seen: set[str] = set()
    for member in tar:
        if len(members) >= MAX_FILES:
            raise Refused(f"more than {MAX_FILES} files")
        check_name(member.name)
        if member.isdir():
            continue
        if not member.isreg():
            raise Refused(f"{member.name!r} is not a regular file (links, devices and fifos are refused)")
        if member.size > MAX_FILE:
            raise Refused(f"{member.name!r} is {member.size} bytes, more than the {MAX_FILE} allowed")
        if member.name in seen:
            raise Refused(f"{member.name!r} is in the folder twice")
        seen.add(member.name)
        members.append(member)
    return members


def check_name(name: str) -> None:
    """A name inside the run folder: relative, plain parts only, not too deep."""
    parts = name.split("/")
    if name.startswith("/") or not name or len(parts) > MAX_DEPTH:
        raise Refused(f"{name!r} is not a name inside the run folder")
    for part in parts:
        if not PART.fullmatch(part) or part in (".", ".."):
            raise Refused(f"{name!r} is not a name inside the run folder (plain letters, digits, . _ - only)")


def _content(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    stream = tar.extractfile(member)
    if stream is None:
        raise Refused(f"{member.name!r} has no content")
    body = stream.read(member.size + 1)
    if len(body) != member.size:
        raise Refused(f"{member.name!r} is not the size it claims")
    return body


def _record(files: dict[str, bytes], drill: str, run_id: str) -> dict[str, Any]:
    if RUN_FILE not in files:
        raise Refused(f"the folder has no {RUN_FILE}")
    try:
        record = json.loads(files[RUN_FILE])
    except ValueError:
        raise Refused(f"{RUN_FILE} is not JSON") from None
    if not isinstance(record, dict):
        raise Refused(f"{RUN_FILE} is not a record")
    if record.get("run_id") != run_id or record.get("drill") != drill:
        raise Refused(f"{RUN_FILE} is not the run dispatched (drill {drill}, run {run_id})")
    if record.get("kind", RunKind.DRILL) != RunKind.DRILL:
        raise Refused(f"{RUN_FILE} is not a drill run")
    if record.get("status") not in FINISHED:
        raise Refused(f"{RUN_FILE} is not finished (status {str(record.get('status'))[:20]!r})")
    return record


def write_received(reports: Path, received: Received, record: dict[str, Any]) -> Path:
    """The checked files into ``reports/<drill>/<run_id>/`` (``record`` as its run.json), once:
    a folder already there is a run already received, and is never overwritten."""
    folder = run_dir(reports, received.drill, received.run_id)
    if folder.exists():
        raise Refused(f"{folder} exists already: the run was received before")
    make_folders(folder, FOLDER_MODE)
    for name, body in sorted(received.files.items()):
        if name == RUN_FILE:
            continue
        target = folder / name
        if len(name.split("/")) > 1:
            make_folders(target.parent, FOLDER_MODE)
        write_bytes_atomic(target, body)
    write_bytes_atomic(folder / RUN_FILE, json.dumps(record, indent=2, sort_keys=True).encode())
    return folder
