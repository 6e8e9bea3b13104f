"""restic through subprocess: the one door every restic call goes through.

Why one door: the argv is built, the child's environment set (the password never in argv), the
timeout applied, the command logged with secrets masked, and failures classified from stderr,
in exactly one place. Debian 12's restic 0.14 exits 1 for almost every error, so stderr decides;
from 0.17 on, restic's exit codes for a missing repository, a lock and a wrong password decide
first, and a restore reports its progress and counts as JSON (see ``resticversion.py``).
Read-only by construction: the door has no method that writes, and refuses any subcommand not on
:data:`READ_ONLY`. Making repositories (init, backup) is the demo's and the tests' business, done
with plain restic commands in ``devtools/repos.py``.

A restore writes what the backup chose onto this host, so it can run as the unprivileged sandbox
account instead of drillbook (see ``restore``): switched to with the same ``setpriv`` as the
sandbox's own helpers, without capabilities, and without drillbook's cache, which is not its.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum, auto
from pathlib import Path
from typing import IO, Any

from drillbook.backends.repository import local_path
from drillbook.backends.resticjson import RestoreCounts, plain_stderr_line, restore_message
from drillbook.backends.resticversion import VERSIONS, Features, version_in
from drillbook.sandbox.isolation import Account, Mode, switch_argv
from drillbook.util.clock import iso
from drillbook.util.process import kill_and_reap, kill_group, run_bounded, started
from drillbook.util.scrub import Scrubber

log = logging.getLogger("drillbook.backends.restic")

READ_ONLY = frozenset({"version", "snapshots", "ls", "stats", "restore"})


class Fault(StrEnum):
    """What went wrong, as far as restic's stderr tells."""

    WRONG_PASSWORD = auto()
    REPOSITORY_NOT_FOUND = auto()
    SNAPSHOT_NOT_FOUND = auto()
    CORRUPT_DATA = auto()
    UNREACHABLE = auto()
    ACCESS_DENIED = auto()
    TIMEOUT = auto()
    NOT_INSTALLED = auto()
    LOCKED = auto()
    UNKNOWN = auto()


# (kind, pattern, what a person should read). Order matters: first match wins.
_CLASSIFIERS: list[tuple[Fault, re.Pattern[str], str]] = [
    (Fault.WRONG_PASSWORD, re.compile(r"wrong password|no key found", re.I),
     "wrong repository password (restic found no key that opens with it)"),
    (Fault.ACCESS_DENIED, re.compile(
        r"AccessDenied|Access Denied|InvalidAccessKeyId|SignatureDoesNotMatch|403 Forbidden"
        r"|ExpiredToken|InvalidToken", re.I),
     "access denied by the storage backend (check the credentials and their permissions)"),
    (Fault.UNREACHABLE, re.compile(
        r"connection refused|no such host|dial tcp|i/o timeout|network is unreachable"
        r"|connection reset|TLS handshake|context deadline exceeded", re.I),
     "repository endpoint unreachable"),
    (Fault.REPOSITORY_NOT_FOUND, re.compile(
        r"unable to open config file|Is there a repository at the following location"
        r"|repository does not exist|NoSuchBucket|bucket .* does not exist", re.I),
     "repository not found"),
    (Fault.SNAPSHOT_NOT_FOUND, re.compile(r"no matching ID found|snapshot .* not found", re.I),
     "snapshot not found in the repository"),
    (Fault.CORRUPT_DATA, re.compile(
        r"ciphertext verification failed|checksum|hash does not match|pack .* (contains|not found)"
        r"|unexpected EOF|Load\(<data/|invalid data returned|blob .* not found"
        r"|no such file or directory.*data/|incomplete pack|decrypting blob", re.I),
     "repository data is corrupt or missing (a pack file failed verification)"),
    (Fault.LOCKED, re.compile(r"repository is already locked", re.I), "repository is locked"),
]


@dataclass
class ResticError(Exception):
    kind: Fault
    message: str
    stderr_tail: list[str] = field(default_factory=list)
    command: str = ""
    stderr: str = field(default="", repr=False)  # all of it, unscrubbed: read, never recorded

    def __str__(self) -> str:
        return self.message


@dataclass
class Snapshot:
    id: str
    short_id: str
    time: datetime
    host: str
    tags: list[str]
    paths: list[str]
    size: int | None = field(default=None, compare=False)  # bytes it backed up (restic >= 0.17 says)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "short_id": self.short_id,
            "time": iso(self.time),
            "host": self.host,
            "tags": self.tags,
            "paths": self.paths,
        }


# restic 0.14 retries every failed load with a backoff of about 45 s in all. A pack that the
# backend says does not exist will not appear on a retry (local files, S3 is strongly consistent),
# so the first such retry is final: stop restic there and say which pack is missing. restic 0.18
# does not retry it ("failed"), and goes on to the next file: it is stopped there the same way.
_MISSING_PACK = re.compile(
    r"Load\(<data/([0-9a-f]+)>.*(?:returned error, retrying|failed).*"
    r"(no such file or directory|NoSuchKey|The specified key does not exist|404 Not Found)", re.I)


def missing_pack(line: str) -> str | None:
    """The reason to stop at once when ``line`` says a data pack is gone, else None."""
    match = _MISSING_PACK.search(line)
    if not match:
        return None
    return (f"repository data is missing: pack data/{match.group(1)}... does not exist in the "
            "repository (restic would only retry it)")


class _StderrWatch:
    """Reads a restic child's stdout and stderr concurrently, stopping it on a hopeless retry.

    With ``on_line``, each line of stdout goes to it as it comes, and is kept as well unless
    ``keep`` is false (a listing of millions of nodes); when it raises, restic is stopped and
    the error kept in ``visit_error``.
    """

    def __init__(self, proc: subprocess.Popen[str], on_line: Callable[[str], None] | None = None,
                 keep: bool = True):
        if proc.stdout is None or proc.stderr is None:
            raise ValueError("restic must be started with stdout and stderr piped")
        self.proc = proc
        self.stdout: IO[str] = proc.stdout
        self.stderr_pipe: IO[str] = proc.stderr
        self.out: list[str] = []
        self.err: list[str] = []
        self.fatal: str | None = None
        self.timed_out = False
        self.on_line = on_line
        self.keep = keep
        self.visit_error: Exception | None = None

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def run(self, limit: float) -> str:
        readers = [threading.Thread(target=self._read_out, daemon=True),
                   threading.Thread(target=self._read_err, daemon=True)]
        for reader in readers:
            reader.start()
        try:
            self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.timed_out = True
            kill_group(self.proc.pid)
            self.proc.wait()
        for reader in readers:
            reader.join()
        return "".join(self.out)

    def lines(self, limit: float) -> Iterator[str]:
        """stdout line by line to the caller's own thread as restic prints it, nothing kept."""
        reader = threading.Thread(target=self._read_err, daemon=True)
        timer = threading.Timer(limit, self._time_out)
        timer.daemon = True
        reader.start()
        timer.start()
        try:
            yield from iter(self.stdout.readline, "")
            self.proc.wait()
        finally:
            timer.cancel()
        reader.join()

    def _time_out(self) -> None:
        self.timed_out = True
        kill_group(self.proc.pid)

    def _read_out(self) -> None:
        for line in iter(self.stdout.readline, ""):
            if self.keep:
                self.out.append(line)
            if self.on_line is None or self.visit_error is not None:
                continue  # after a failed visit: drained until restic has gone
            try:
                self.on_line(line)
            except Exception as exc:  # the caller's: raised again in its own thread
                self.visit_error = exc
                kill_group(self.proc.pid)

    def _read_err(self) -> None:
        for raw in iter(self.stderr_pipe.readline, ""):
            line = plain_stderr_line(raw)
            self.err.append(line)
            if self.fatal is None and (reason := missing_pack(line)):
                self.fatal = reason
                kill_group(self.proc.pid)


_AFFECTED = re.compile(r"ignoring error for (.+?): ")


# restic >= 0.17 (see resticversion.py): what these exit codes say needs no reading of stderr.
EXIT_CODES = {10: Fault.REPOSITORY_NOT_FOUND, 11: Fault.LOCKED, 12: Fault.WRONG_PASSWORD}


def classify(stderr: str, returncode: int | None, exit_codes: bool = False) -> tuple[Fault, str]:
    """What went wrong: by ``returncode`` when restic has ``exit_codes``, else by its stderr."""
    if exit_codes and returncode in EXIT_CODES:
        kind = EXIT_CODES[returncode]
        return kind, next(text for fault, _, text in _CLASSIFIERS if fault == kind)
    for kind, pattern, text in _CLASSIFIERS:
        if pattern.search(stderr):
            return kind, text + (_affected_files(stderr) if kind == Fault.CORRUPT_DATA else "")
    last = next((line for line in reversed(stderr.strip().splitlines()) if line.strip()), "")
    return Fault.UNKNOWN, f"restic failed (exit {returncode}): {last or 'no error output'}"


def _affected_files(stderr: str, shown: int = 3) -> str:
    """Which restored files the bad data belongs to: what on-call needs to judge the damage."""
    files = list(dict.fromkeys(_AFFECTED.findall(stderr)))
    if not files:
        return ""
    more = f" and {len(files) - shown} more" if len(files) > shown else ""
    return f"; affected: {', '.join(files[:shown])}{more}"


# restic reports every node it could not restore as one such line and ends with a count (0.14:
# "operation not permitted", 0.18: "mknod <where>: operation not permitted"); 0.14 then skips
# --verify altogether, so a tolerated error still means the restore must be repeated.
_NODE_ERROR = r"ignoring error for {path}: (?:mknod [^\n]*{path}: )?operation not permitted\n"
_ERROR_COUNT = re.compile(r"Fatal: There were (\d+) errors\s*\Z")


def only_unmakeable_devices(stderr: str, devices: Collection[str]) -> bool:
    """True when restic's only errors were ``mknod`` refused for ``devices`` (snapshot paths).

    An unprivileged restic cannot create a device node. Exactly "operation not permitted" on a path
    the snapshot lists as a device is that; anything else, or a count that does not add up, is not.
    """
    count = _ERROR_COUNT.search(stderr)
    if not count or not devices:
        return False
    rest, found = stderr[:count.start()], 0
    for path in sorted(set(devices), key=len, reverse=True):  # a name holding another is taken whole
        line = re.compile(_NODE_ERROR.format(path=re.escape(path)))
        rest, matched = line.subn("", rest)
        found += matched
    return found == int(count.group(1)) and "ignoring error for " not in rest


_PATTERN_SPECIAL = re.compile(r"([\\*?\[\]])")


def exclude_pattern(path: str) -> str:
    """A restic exclude pattern matching exactly this snapshot path: no wildcard of the name acts.

    restic's JSON shows each byte of a name that is not UTF-8 as U+FFFD; ``?`` matches one byte there.
    """
    return _PATTERN_SPECIAL.sub(r"\\\1", path).replace("\ufffd", "?")


@dataclass(frozen=True)
class RestoreSize:
    """What ``restic stats --mode restore-size`` counts for one snapshot: what its restore writes."""

    total_size: int
    total_file_count: int


def parse_restore_size(out: str, snapshot_id: str) -> RestoreSize:
    """restic 0.14 and 0.18 print one JSON object; 0.14 prints zeros for an id it cannot find."""
    try:
        data = json.loads(out.strip().splitlines()[-1]) if out.strip() else None
    except ValueError:
        data = None
    size = data.get("total_size") if isinstance(data, dict) else None
    if not isinstance(data, dict) or type(size) is not int or size < 0:
        raise ResticError(Fault.UNKNOWN, f"restic stats printed no restore size (got {out.strip()[:80]!r})")
    counted = data.get("snapshots_count", 1)
    if counted != 1:
        raise ResticError(Fault.SNAPSHOT_NOT_FOUND,
                          f"restic stats counted {counted} snapshots for {snapshot_id}, not one")
    files = data.get("total_file_count")
    return RestoreSize(size, files if type(files) is int else 0)


def find_restic() -> str | None:
    """``DRILLBOOK_RESTIC`` may point at a specific binary (tests wrap restic to log its argv)."""
    chosen = os.environ.get("DRILLBOOK_RESTIC")
    if chosen:
        return chosen if os.access(chosen, os.X_OK) else None
    return shutil.which("restic")


def installed_version() -> str | None:
    """The version of the restic drillbook would run (``drillbook_build_info``); None without one."""
    binary = find_restic()
    if binary is None:
        return None
    if known := VERSIONS.get(binary):
        return known
    try:
        done = run_bounded([binary, "version"], timeout=30)
    except OSError:
        return None
    found = version_in(done.stdout)
    if found:
        VERSIONS.put(binary, found)
    return found


def parse_time(text: str) -> datetime:
    """restic prints nanoseconds; Python keeps microseconds."""
    match = re.match(r"^(.*?T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if not match:
        return datetime.fromisoformat(text)
    base, frac, zone = match.groups()
    frac = (frac or ".0")[:7]
    zone = "+00:00" if zone == "Z" else zone
    return datetime.fromisoformat(f"{base}{frac}{zone}")


def _backed_up(snapshot: dict[str, Any]) -> int | None:
    """The bytes a snapshot backed up, from the summary restic >= 0.17 keeps in it; else None."""
    summary = snapshot.get("summary")
    size = summary.get("total_bytes_processed") if isinstance(summary, dict) else None
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None


def _node(line: str) -> dict[str, Any] | None:
    """One node of ``restic ls --json``; None for the snapshot line and blank lines."""
    if not line.strip():
        return None
    node = json.loads(line)
    return node if isinstance(node, dict) and node.get("struct_type") == "node" else None


class Restic:
    """A read-only handle on one repository; every call goes through :meth:`_run`."""

    def __init__(
        self,
        repository: str,
        password: str,
        *,
        env: Mapping[str, str] | None = None,
        account_env: Mapping[str, str] | None = None,
        cache_dir: Path | None = None,
        timeout: float = 3600.0,
        stuck_request_timeout: float | None = None,
    ):
        self.repository = repository
        self._password = password
        self.extra_env = dict(env or {})
        self.account_env = dict(account_env or {})  # only for a restic run as another account
        self.scrubber = Scrubber([password])
        self.scrubber.add_env(self.extra_env)
        self.scrubber.add_env(self.account_env)
        self.cache_dir = cache_dir
        self.timeout = timeout
        # for remote storage, where restic has the option: a request stuck longer is retried
        self.stuck_request_timeout = stuck_request_timeout if local_path(repository) is None else None
        self.binary = find_restic()
        self._lock = threading.Lock()  # calls may run in other threads (the snapshot's listing)
        self._live: set[subprocess.Popen[str]] = set()
        self._stopping = False

    # -- the one door -------------------------------------------------------------
    def _argv(self, subcommand: str, args: list[str], account: Account | None = None) -> list[str]:
        """restic's argv; with ``account``, behind the switch to it (drillbook is root then)."""
        if subcommand not in READ_ONLY:
            raise ResticError(Fault.UNKNOWN, f"restic {subcommand} is not allowed in a read-only drill")
        if not self.binary:
            raise ResticError(Fault.NOT_INSTALLED, "restic is not installed (apt-get install restic)")
        # The repository goes through RESTIC_REPOSITORY: rest:/sftp: URLs may hold credentials,
        # and argv is readable by every local user (ps).
        argv = [*(switch_argv(account, Mode.ROOT) if account else []), self.binary, subcommand]
        if subcommand != "version":
            argv.append("--no-lock")
        if self.cache_dir and not account:
            argv += ["--cache-dir", str(self.cache_dir)]
        else:
            argv.append("--no-cache")
        if subcommand != "version" and self.stuck_request_timeout and self.features.stuck_request_timeout:
            argv.append(f"--stuck-request-timeout={self.stuck_request_timeout:.0f}s")
        return argv + args

    def _env(self, account: Account | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        env.update(self.extra_env)
        if account:
            env.update(self.account_env)
        env["RESTIC_REPOSITORY"] = self.repository
        env["RESTIC_PASSWORD"] = self._password
        env.setdefault("RESTIC_PROGRESS_FPS", "0.2")
        return env

    def _run(self, subcommand: str, args: list[str], timeout: float | None = None,
             account: Account | None = None) -> str:
        return self._start(self._argv(subcommand, args, account), subcommand, timeout or self.timeout,
                           self._env(account))

    def _start(self, argv: list[str], subcommand: str, limit: float, env: dict[str, str],
               on_line: Callable[[str], None] | None = None, keep: bool = True) -> str:
        log.debug("%s", self._shown(argv))
        self._refuse_when_stopping(subcommand, argv)
        with started(lambda: self._popen(argv, env), stop=kill_and_reap) as proc:
            watch = self._watch(proc, subcommand, argv, _StderrWatch(proc, on_line, keep))
            try:
                out = watch.run(limit)
            finally:
                with self._lock:
                    self._live.discard(proc)
        self._judge(proc, watch, argv, subcommand, limit)
        return out

    def _stream(self, argv: list[str], subcommand: str, limit: float, env: dict[str, str]) -> Iterator[str]:
        """Like :meth:`_start`, but each line of stdout to the caller's thread as it comes; restic's
        failure is raised after its last line. A consumer that stops early stops restic too."""
        log.debug("%s", self._shown(argv))
        self._refuse_when_stopping(subcommand, argv)
        with started(lambda: self._popen(argv, env), stop=kill_and_reap) as proc:
            watch = self._watch(proc, subcommand, argv, _StderrWatch(proc))
            try:
                yield from watch.lines(limit)
            finally:
                with self._lock:
                    self._live.discard(proc)
        self._judge(proc, watch, argv, subcommand, limit)

    @staticmethod
    def _popen(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        return subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
            cwd="/",  # the sandbox account may not enter drillbook's own folder
        )

    def _watch(self, proc: subprocess.Popen[str], subcommand: str, argv: list[str],
               watch: _StderrWatch) -> _StderrWatch:
        with self._lock:  # a stop() either sees this restic or, after it, this refuses to go on
            if self._stopping:  # started just before the stop: ended by the caller's ``started``
                raise ResticError(Fault.UNKNOWN, f"restic {subcommand} was stopped: the drill is stopping",
                                  [], self._shown(argv))
            self._live.add(proc)
        return watch

    def _judge(self, proc: subprocess.Popen[str], watch: _StderrWatch, argv: list[str], subcommand: str,
               limit: float) -> None:
        """Raise the error for how this restic ended (a visitor's own first), unless it ended well."""
        if watch.visit_error is not None:
            raise watch.visit_error
        if self._stopping:
            raise ResticError(Fault.UNKNOWN, f"restic {subcommand} was stopped: the drill is stopping",
                              self.scrub_tail(watch.stderr), self._shown(argv), watch.stderr)
        err = watch.stderr
        if watch.timed_out:
            raise ResticError(
                Fault.TIMEOUT,
                f"restic {subcommand} did not finish within {limit:.0f}s and was killed",
                self.scrub_tail(err),
                self._shown(argv),
                err,
            )
        if watch.fatal:
            raise ResticError(Fault.CORRUPT_DATA, watch.fatal, self.scrub_tail(err), self._shown(argv), err)
        if proc.returncode != 0:
            codes = subcommand != "version" and self.features.exit_codes
            kind, text = classify(err, proc.returncode, exit_codes=codes)
            raise ResticError(kind, text, self.scrub_tail(err), self._shown(argv), err)

    def _refuse_when_stopping(self, subcommand: str, argv: list[str]) -> None:
        if self._stopping:
            raise ResticError(Fault.UNKNOWN, f"restic {subcommand} was not started: the drill is stopping",
                              [], self._shown(argv))

    def stop(self) -> None:
        """Kill every restic this door runs, in any thread, and start no other.

        A stopping drill (a signal, a failure) waits for none of them: the snapshot's listing runs
        beside the restore, and on a large or hung repository it could hold the teardown for hours.
        """
        with self._lock:
            self._stopping = True
            running = list(self._live)
        for proc in running:
            kill_group(proc.pid)

    def scrub_tail(self, text: str, lines: int = 15) -> list[str]:
        return self.scrubber.tail(text, lines)

    def _shown(self, argv: list[str]) -> str:
        """From restic on: who it runs as is recorded elsewhere."""
        restic = argv[argv.index(self.binary) + 1:] if self.binary in argv else argv[1:]
        return self.scrubber(" ".join(["restic", *restic]))

    # -- the read-only operations -------------------------------------------------
    def version(self) -> str:
        """Read once per process and binary (see resticversion.py)."""
        if self.binary and (known := VERSIONS.get(self.binary)):
            return known
        out = self._run("version", [], timeout=30)
        found = version_in(out)
        if found and self.binary:
            VERSIONS.put(self.binary, found)
        return found or out.strip()

    @property
    def features(self) -> Features:
        """What this restic understands; a version that cannot be read counts as 0.14's."""
        try:
            return Features.of(self.version())
        except ResticError:
            return Features.of(None)

    def snapshots(self) -> list[Snapshot]:
        data = json.loads(self._run("snapshots", ["--json"]) or "[]")
        return [
            Snapshot(
                id=s["id"],
                short_id=s.get("short_id", s["id"][:8]),
                time=parse_time(s["time"]),
                host=s.get("hostname", ""),
                tags=list(s.get("tags") or []),
                paths=list(s.get("paths") or []),
                size=_backed_up(s),
            )
            for s in data
        ]

    def ls(self, snapshot: str, selection: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
        """The snapshot restic chose (``struct_type`` "snapshot"), then every node of it (files,
        dirs, links), as restic prints them: streamed, never held whole.

        ``snapshot`` is an id or ``latest``; ``selection`` restic's filters for it (``--host=...``).
        """
        argv = self._argv("ls", ["--json", snapshot, *selection])
        for line in self._stream(argv, "ls", self.timeout, self._env()):
            if line.strip():
                node = json.loads(line)
                if isinstance(node, dict) and node.get("struct_type") in ("node", "snapshot"):
                    yield node

    def each_node(self, snapshot_id: str, visit: Callable[[dict[str, Any]], None]) -> None:
        """``ls``, each node handed to ``visit`` as restic prints it, none kept: for a caller that
        needs a few answers from a listing too large to hold. ``visit`` runs in another thread."""
        def on_line(line: str) -> None:
            node = _node(line)
            if node is not None:
                visit(node)

        self._start(self._argv("ls", ["--json", snapshot_id]), "ls", self.timeout, self._env(), on_line,
                    keep=False)

    def restore_size(self, snapshot_id: str) -> RestoreSize:
        """How many bytes restoring the snapshot writes (file contents; a hard link counted once)."""
        out = self._run("stats", ["--mode", "restore-size", "--json", snapshot_id])
        return parse_restore_size(out, snapshot_id)

    def restore_argv(self, snapshot_id: str, target: Path, verify: bool = True, *,
                     account: Account | None = None, leave_out: Sequence[str] = ()) -> list[str]:
        args = [snapshot_id, "--target", str(target)]
        if verify:
            args.append("--verify")
        if self.features.restore_json:
            args.append("--json")
        args += [f"--exclude={exclude_pattern(path)}" for path in leave_out]
        return self._argv("restore", args, account)

    def restore(self, snapshot_id: str, target: Path, verify: bool = True, *,
                account: Account | None = None, leave_out: Sequence[str] = (),
                progress: Callable[[RestoreCounts], None] | None = None) -> RestoreCounts | None:
        """Restore into ``target``: as ``account`` when given (drillbook is root), else as drillbook.

        ``leave_out``: snapshot paths not to restore (devices an unprivileged restic cannot make).
        With restic >= 0.17, ``progress`` gets each status and the summary's counts are returned;
        restic 0.14 tells neither, and None is returned.
        """
        argv = self.restore_argv(snapshot_id, target, verify, account=account, leave_out=leave_out)
        summary: list[RestoreCounts] = []

        def read(line: str) -> None:
            message = restore_message(line)
            if message is None:
                return
            kind, counts = message
            if kind == "summary":
                summary.append(counts)
            elif progress:
                try:
                    progress(counts)
                except Exception as exc:  # a reader that stops draining restic's stdout would hang it
                    log.error("restore progress display failed (%s); the restore goes on", type(exc).__name__)

        self._start(argv, "restore", self.timeout, self._env(account), on_line=read)
        return summary[-1] if summary else None
