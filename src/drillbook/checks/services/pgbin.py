"""Which PostgreSQL binaries restore a given dump or data folder, and what the source is.

Binaries come from ``/usr/lib/postgresql/<major>/bin`` (Debian/Ubuntu layout) or from
``pg_config --bindir``; only folders under /usr qualify, because that is what the sandbox sees.
A dump is restored with its own major version when installed, else with the oldest newer one
(pg_restore and psql load dumps of older servers); a data folder needs exactly its major version.
What a dump says about itself is read through :class:`~drillbook.util.restored.RestoredPath`.
"""

from __future__ import annotations

import io
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from drillbook.util.restored import NotInRestore, RestoredPath

DEBIAN_ROOT = Path("/usr/lib/postgresql")
HEADER_BYTES = 64 * 1024
LINE_LIMIT = 1024 * 1024
_DUMPED_FROM = re.compile(r"Dumped from database version:?\s*(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class PgBinaries:
    bindir: Path
    major: int
    found_via: str

    def tool(self, name: str) -> str:
        return str(self.bindir / name)

    def describe(self) -> dict[str, object]:
        return {"bindir": str(self.bindir), "major": self.major, "found_via": self.found_via}


class NoBinaries(Exception):
    """No suitable PostgreSQL is installed; the message says which to install."""


def installed(debian_root: Path = DEBIAN_ROOT) -> list[PgBinaries]:
    found: dict[int, PgBinaries] = {}
    if debian_root.is_dir():
        for entry in debian_root.iterdir():
            if entry.name.isdigit() and (entry / "bin" / "postgres").is_file():
                found[int(entry.name)] = PgBinaries(entry / "bin", int(entry.name), str(entry / "bin"))
    config = shutil.which("pg_config")
    if config:
        via_config = _from_pg_config(config)
        if via_config and via_config.major not in found:
            found[via_config.major] = via_config
    return [found[k] for k in sorted(found)]


def _from_pg_config(config: str) -> PgBinaries | None:
    try:
        bindir = subprocess.run([config, "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
        version = subprocess.run([config, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"(\d+)", version)
    path = Path(bindir)
    if not match or not (path / "postgres").is_file() or not path.is_relative_to("/usr"):
        return None
    return PgBinaries(path, int(match.group(1)), f"pg_config ({config})")


def choose(available: list[PgBinaries], *, declared: int | None, source_major: int | None,
           exact: bool) -> PgBinaries:
    """Pick binaries; ``exact`` for data folders, whose on-disk format is per major version."""
    if not available:
        raise NoBinaries("no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin "
                         "and pg_config): install postgresql-<version>")
    majors = ", ".join(str(b.major) for b in available)
    wanted = declared or source_major
    if wanted is None:
        return available[-1]
    same = [b for b in available if b.major == wanted]
    if same:
        return same[0]
    if declared is not None or exact:
        what = "declared version" if declared is not None else "data folder's PG_VERSION"
        raise NoBinaries(f"PostgreSQL {wanted} ({what}) is not installed (found {majors}): "
                         f"install postgresql-{wanted}")
    newer = [b for b in available if b.major > wanted]
    if not newer:
        raise NoBinaries(f"the dump comes from PostgreSQL {wanted}, newer than any installed "
                         f"({majors}): install postgresql-{wanted}")
    return newer[0]


def dumped_from(text: str) -> tuple[int | None, str | None]:
    """Major version and full version from a plain dump's header or ``pg_restore -l`` output."""
    match = _DUMPED_FROM.search(text)
    if not match:
        return None, None
    full = match.group(1) + (f".{match.group(2)}" if match.group(2) else "")
    return int(match.group(1)), full


def dump_format(path: Path | RestoredPath) -> str:
    """custom, directory, tar or plain (pg_dump -F c/d/t/p); gzip-compressed plain is refused.

    Read through RestoredPath: a restored FIFO or a symlink out of the restore raises
    RestoredFileError rather than blocking or reading the host.
    """
    source = RestoredPath.of(path)
    if source.is_folder():
        try:
            toc = source.child("toc.dat").stat()
        except NotInRestore:
            return "unknown"
        return "directory" if stat.S_ISREG(toc.st_mode) else "unknown"
    head = source.head(512)
    if head.startswith(b"PGDMP"):
        return "custom"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    return "plain"


def plain_header(path: Path | RestoredPath, lines: int = 40) -> str:
    text = RestoredPath.of(path).head(HEADER_BYTES).decode("utf-8", errors="replace")
    return "".join(text.splitlines(keepends=True)[:lines])


def _lines(path: Path | RestoredPath) -> Iterator[str]:
    """The plain dump's lines, none longer than LINE_LIMIT characters (a dump without newlines)."""
    with RestoredPath.of(path).open() as raw, io.TextIOWrapper(raw, encoding="utf-8", errors="replace") as fh:
        while line := fh.readline(LINE_LIMIT):
            yield line


_ROLE_PATTERNS = (
    re.compile(r"\bOWNER TO\s+(\"[^\"]+\"|[A-Za-z_][\w$]*)"),
    re.compile(r"^GRANT\b.*\bTO\s+(\"[^\"]+\"|[A-Za-z_][\w$]*)", re.M),
    re.compile(r"^SET (?:SESSION AUTHORIZATION|ROLE)\s+'?(\"[^\"]+\"|[A-Za-z_][\w$]*)'?", re.M),
)


def roles_in_plain_dump(path: Path | RestoredPath, limit_bytes: int = 512 * 1024 * 1024) -> list[str]:
    """Roles a plain dump assigns ownership or grants to: created (NOLOGIN) before restoring it."""
    roles: set[str] = set()
    read = 0
    for line in _lines(path):
        read += len(line)
        if read > limit_bytes:
            break
        if "OWNER TO" in line or line.startswith(("GRANT", "SET SESSION", "SET ROLE")):
            for pattern in _ROLE_PATTERNS:
                for found in pattern.findall(line):
                    roles.add(found.strip('"'))
    return sorted(roles - {"PUBLIC", "public", "postgres", "CURRENT_USER", "SESSION_USER"})


def plain_creates_database(path: Path | RestoredPath) -> str | None:
    """A ``pg_dump --create`` dump makes and connects to its own database: its name, else None."""
    for number, line in enumerate(_lines(path)):
        if number > 200:
            return None
        match = re.match(r"CREATE DATABASE\s+(\"[^\"]+\"|\w+)", line)
        if match:
            return match.group(1).strip('"')
    return None
