"""``postgres``: a throwaway server brought up from a restored dump or data folder, then queried.

The server runs inside the drill's isolation as the unprivileged account, listening only on a
unix socket in the sandbox's private /tmp (``listen_addresses=''``: no TCP listener at all), with
drillbook's own configuration files so nothing from the restored host's config (ports, paths,
archive commands) takes effect. Queries use the same expectation syntax as ``sqlite``.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drillbook.checks.base import CheckContext, default_name, outside_restore
from drillbook.checks.expectations import first_failure, parse_expectation, queries_met
from drillbook.checks.services import pgbin
from drillbook.checks.services.lifecycle import ServiceFailed
from drillbook.drill.record import CheckResult
from drillbook.sandbox.isolation import PRIVATE_TMP
from drillbook.sandbox.launcher import RunningService
from drillbook.spec.models import PostgresCheck
from drillbook.status import Status
from drillbook.util.process import Completed, tail

SUPERUSER = "postgres"
PORT = 5432
RESTORE_TIMEOUT = 6 * 3600.0
QUERY_TIMEOUT = 300.0
STEP_TIMEOUT = 120.0
SEP = "\x1f"


class PgFailed(ServiceFailed):
    """A step of bringing the server up failed; the message is the check's reason."""


@dataclass
class Throwaway:
    """One server's folders, binaries and process inside the sandbox."""

    ctx: CheckContext
    bins: pgbin.PgBinaries
    home: Path            # work/pg-<n>: config files and (for dumps) the new data folder
    socket_dir: str       # in the sandbox's private /tmp: short, and unreachable from the host
    data_dir: Path
    env: dict[str, str]
    service: RunningService | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def run(self, argv: list[str], what: str, timeout: float = STEP_TIMEOUT,
            stdin: str | None = None) -> Completed:
        done = self.ctx.launcher.run(argv, cwd=self.home, env=self.env, timeout=timeout,
                                     stdin_data=stdin)
        if done.timed_out:
            raise PgFailed(f"{what} timed out after {timeout:.0f} s", tail(done.stderr, 10))
        if done.returncode != 0:
            lines = tail(done.stderr or done.stdout, 10)
            raise PgFailed(f"{what} failed: {lines[-1] if lines else f'exit {done.returncode}'}", lines)
        return done

    def psql(self, database: str, *extra: str) -> list[str]:
        return [self.bins.tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.socket_dir,
                "-p", str(PORT), "-U", SUPERUSER, "-d", database, *extra]

    def write_config(self) -> None:
        """Our own postgresql.conf / pg_hba.conf: local trust over the socket, nothing else."""
        (self.home / "postgresql.conf").write_text(
            "listen_addresses = ''\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            "unix_socket_permissions = 0700\n"
            f"port = {PORT}\n"
            "fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n"
            "max_connections = 20\narchive_mode = off\nlogging_collector = off\n"
            f"hba_file = '{self.home / 'pg_hba.conf'}'\nident_file = '{self.home / 'pg_ident.conf'}'\n")
        (self.home / "pg_hba.conf").write_text("local all all trust\n")
        (self.home / "pg_ident.conf").write_text("")

    def start(self, timeout: float) -> float:
        started = time.monotonic()
        service = self.service = self.ctx.launcher.start(
            [self.bins.tool("postgres"), "-D", str(self.data_dir),
             "-c", f"config_file={self.home / 'postgresql.conf'}"],
            cwd=self.home, env=self.env)
        deadline = started + timeout
        while True:
            if service.poll() is not None:
                raise PgFailed(f"the server exited with code {service.poll()} while starting: "
                               f"{_last(service.output_tail())}", service.output_tail())
            done = self.ctx.launcher.run(
                [self.bins.tool("pg_isready"), "-q", "-h", self.socket_dir, "-p", str(PORT),
                 "-U", SUPERUSER, "-t", "2"], cwd=self.home, env=self.env, timeout=15)
            if done.returncode == 0:
                return round(time.monotonic() - started, 3)
            if time.monotonic() >= deadline:
                raise PgFailed(f"the server did not accept connections within {timeout:.0f} s",
                               service.output_tail())
            time.sleep(0.1)

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop(sig=signal.SIGINT, grace=15)  # SIGINT: fast shutdown
            self.data["server_log_tail"] = self.service.output_tail(10)
        self.ctx.launcher.sweep()


def check_postgres(spec: PostgresCheck, ctx: CheckContext) -> CheckResult:
    name = default_name(spec)
    data: dict[str, Any] = {}
    server: Throwaway | None = None
    try:
        server = _prepare(spec, ctx, data)
        _bring_up(spec, server, data)
        results = _queries(spec, server, data["database"])
    except (PgFailed, pgbin.NoBinaries) as exc:
        if isinstance(exc, PgFailed) and exc.output:
            data["output_tail"] = exc.output
        return CheckResult("postgres", name, Status.FAILED, getattr(exc, "reason", str(exc)), data=data)
    finally:
        if server is not None:
            server.stop()
    data["queries"] = results
    return _verdict(name, data, results)


# -- steps ----------------------------------------------------------------------------

def _prepare(spec: PostgresCheck, ctx: CheckContext, data: dict[str, Any]) -> Throwaway:
    rel = spec.dump or spec.data_dir or ""
    source = ctx.restore_root / rel
    if not source.exists():
        raise PgFailed(f"{rel} is not in the restore")
    escaped = outside_restore(ctx.restore_root, source)
    if escaped:  # pgbin reads the dump's header from here, outside the sandbox
        raise PgFailed(escaped)
    home = _new_home(ctx.work_dir)
    env = {**ctx.env, "DRILLBOOK_RESTORE_ROOT": str(ctx.restore_root), "PGCONNECT_TIMEOUT": "10"}
    socket_dir = f"{PRIVATE_TMP}/{home.name}"
    mkdir = ctx.launcher.run(["mkdir", "-p", "-m", "0700", socket_dir, str(home)], cwd=ctx.work_dir,
                             env=env, timeout=30)
    if mkdir.returncode != 0:
        raise PgFailed(f"cannot prepare the server's folders: {_last(tail(mkdir.stderr))}")
    available = pgbin.installed()
    if spec.dump:
        fmt = pgbin.dump_format(source)
        if fmt in ("gzip", "unknown"):
            why = "gzip-compressed; decompress it in the backup or use -Fc" if fmt == "gzip" else "no toc.dat"
            raise PgFailed(f"{rel} is not a pg_dump file (custom, directory, tar or plain): {why}")
        major, full, dbname = _inspect_dump(ctx, source, fmt, available, env)
        data["source"] = {"kind": "dump", "path": rel, "format": fmt, "dumped_from": full,
                          "dbname": dbname}
        bins = pgbin.choose(available, declared=spec.version, source_major=major, exact=False)
        data["database"] = spec.database or dbname or "restored"
        data_dir = home / "data"
    else:
        version_file = source / "PG_VERSION"
        if not version_file.is_file():
            raise PgFailed(f"{rel} is not a PostgreSQL data folder (no PG_VERSION)")
        major = int(version_file.read_text().strip().split(".")[0])
        data["source"] = {"kind": "data_dir", "path": rel, "pg_version": major}
        bins = pgbin.choose(available, declared=spec.version, source_major=major, exact=True)
        if spec.version and spec.version != major:
            raise PgFailed(f"{rel} holds PostgreSQL {major} data, but version: {spec.version} is declared")
        data["database"] = spec.database or "postgres"
        data_dir = source
    data["binaries"] = bins.describe()
    server = Throwaway(ctx, bins, home, socket_dir, data_dir, env, data=data)
    server.write_config()
    return server


def _bring_up(spec: PostgresCheck, server: Throwaway, data: dict[str, Any]) -> None:
    started = time.monotonic()
    if spec.dump:
        server.run([server.bins.tool("initdb"), "-D", str(server.data_dir), "-U", SUPERUSER,
                    "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
                   "initdb")
        data["init_seconds"] = round(time.monotonic() - started, 3)
    else:
        _adopt_data_dir(server.data_dir)
    data["ready_seconds"] = server.start(float(spec.ready_timeout))
    if spec.dump:
        restore_started = time.monotonic()
        _restore_dump(spec, server, data)
        data["restore_seconds"] = round(time.monotonic() - restore_started, 3)
    version = server.run(server.psql(data["database"], "-A", "-t", "-c", "show server_version"),
                         f"connecting to database {data['database']}")
    data["server_version"] = version.stdout.strip()
    data["up_seconds"] = round(time.monotonic() - started, 3)


def _adopt_data_dir(data_dir: Path) -> None:
    """A restored PGDATA: owned by the account already (the launcher chowned the restore)."""
    data_dir.chmod(0o700)
    (data_dir / "postmaster.pid").unlink(missing_ok=True)  # stale by definition in a restore


def _restore_dump(spec: PostgresCheck, server: Throwaway, data: dict[str, Any]) -> None:
    source = server.ctx.restore_root / (spec.dump or "")
    fmt = data["source"]["format"]
    database = data["database"]
    if fmt == "plain":
        roles = pgbin.roles_in_plain_dump(source)
        if roles:
            script = "".join(f"CREATE ROLE \"{r.replace(chr(34), chr(34) * 2)}\" NOLOGIN;\n" for r in roles)
            server.ctx.launcher.run(server.psql("postgres", "-v", "ON_ERROR_STOP=0"), cwd=server.home,
                                    env=server.env, timeout=STEP_TIMEOUT, stdin_data=script)
            data["roles_created"] = roles
        creates = pgbin.plain_creates_database(source)
        if creates:
            data["database"] = spec.database or creates
            server.run(server.psql("postgres", "-f", str(source)), "psql (restoring the dump)",
                       timeout=RESTORE_TIMEOUT)
            return
    _create_database(server, database)
    if fmt == "plain":
        server.run(server.psql(database, "-f", str(source)), "psql (restoring the dump)",
                   timeout=RESTORE_TIMEOUT)
    else:
        server.run([server.bins.tool("pg_restore"), "--no-owner", "--no-acl", "--exit-on-error",
                    "-h", server.socket_dir, "-p", str(PORT), "-U", SUPERUSER, "-d", database,
                    str(source)], "pg_restore", timeout=RESTORE_TIMEOUT)


def _create_database(server: Throwaway, database: str) -> None:
    if database == "postgres":
        return
    server.run(server.psql("postgres", "-v", f"dbname={database}"), f"creating database {database}",
               stdin='CREATE DATABASE :"dbname";\n')


def _inspect_dump(ctx: CheckContext, source: Path, fmt: str, available: list[pgbin.PgBinaries],
                  env: dict[str, str]) -> tuple[int | None, str | None, str | None]:
    """Major version, full version and database name the dump says it came from."""
    if fmt == "plain":
        header = pgbin.plain_header(source)
        major, full = pgbin.dumped_from(header)
        return major, full, None
    if not available:
        raise pgbin.NoBinaries("no PostgreSQL binaries found to read the dump (install postgresql-<version>)")
    done = ctx.launcher.run([available[-1].tool("pg_restore"), "-l", str(source)], cwd=ctx.work_dir,
                            env=env, timeout=STEP_TIMEOUT)
    if done.returncode != 0:
        raise PgFailed(f"pg_restore cannot read {source.name}: {_last(tail(done.stderr))}",
                       tail(done.stderr))
    major, full = pgbin.dumped_from(done.stdout)
    dbname = None
    for line in done.stdout.splitlines():
        if line.strip().lower().startswith(";") and "dbname:" in line.lower():
            dbname = line.split(":", 1)[1].strip() or None
            break
    return major, full, dbname


def _queries(spec: PostgresCheck, server: Throwaway, database: str) -> list[dict[str, Any]]:
    results = []
    for query in spec.queries:
        expectation = parse_expectation(query.expect)
        done = server.ctx.launcher.run(
            server.psql(database, "-A", "-t", "-F", SEP, "-P", "null=NULL", "-c", query.sql),
            cwd=server.home, env=server.env, timeout=QUERY_TIMEOUT)
        if done.returncode != 0 or done.timed_out:
            error = "timed out" if done.timed_out else _last(tail(done.stderr)) or f"exit {done.returncode}"
            results.append({"sql": query.sql, "expect": query.expect, "error": error, "passed": False})
            continue
        lines = done.stdout.splitlines()
        value = lines[0].split(SEP)[0] if lines else "NULL"
        results.append({"sql": query.sql, "expect": query.expect, "value": value,
                        "passed": expectation.check(value)})
    return results


def _verdict(name: str, data: dict[str, Any], results: list[dict[str, Any]]) -> CheckResult:
    failure = first_failure(results)
    if failure:
        return CheckResult("postgres", name, Status.FAILED, failure, data=data)
    how = (f"restored in {data['restore_seconds']} s" if "restore_seconds" in data
           else "started from the data folder")
    summary = ", ".join(f"{r['sql']} = {r['value']}" for r in results[:3])
    detail = (f"PostgreSQL {data.get('server_version', '?')} {how}; {queries_met(len(results))}"
              + (f" ({summary})" if summary else ""))
    return CheckResult("postgres", name, Status.PASSED, detail, data=data)


def _new_home(work: Path) -> Path:
    n = 1
    while (work / f"pg-{n}").exists():
        n += 1
    return work / f"pg-{n}"


def _last(lines: list[str]) -> str:
    return lines[-1] if lines else ""
