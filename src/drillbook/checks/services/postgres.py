"""``postgres``: a throwaway server brought up from a restored dump or data folder, then queried.

The server runs inside the drill's isolation as the unprivileged account, listening only on a
unix socket in the sandbox's private /tmp (``listen_addresses=''``: no TCP listener at all); as a
service of a drill's stack (:func:`start_service`) also on 127.0.0.1 of the sandbox's own network
namespace, where the restored application reaches it and nothing outside the sandbox can.
Nothing from the restored host's configuration takes effect, in three layers:

* every network, authentication, archive, recovery and library setting is given with ``-c`` on
  the server's command line (:func:`server_settings`), which outranks every configuration file,
  ``postgresql.auto.conf`` included;
* a restored data folder's ``postgresql.auto.conf`` and recovery signals are set aside (renamed,
  inside the sandbox, through a descriptor of the folder) before the server starts, see
  :data:`drillbook.checks.reading.postgres.SET_ASIDE`;
* drillbook's own ``postgresql.conf``, ``pg_hba.conf`` and ``pg_ident.conf`` are created fresh in
  ``<sandbox>/config/pg-<n>``, a folder only drillbook can write (the sandbox account owns
  ``work/``, so a process it left running could swap anything there).

What the source says about itself (``PG_VERSION``, a dump's format, header and roles) is read
inside the sandbox by the reader (checks/reading/postgres.py). Queries use the same expectation syntax as ``sqlite``;
their values are read as :mod:`drillbook.checks.services.psqlvalue` explains.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drillbook.checks.base import CheckContext, answer_list, default_name, read_restore
from drillbook.checks.expectations import first_failure, parse_expectation, queries_met, show_value
from drillbook.checks.services import pgbin, psqlvalue
from drillbook.checks.services.lifecycle import ServiceFailed, checked_step, stopped_on_failure
from drillbook.drill.record import CheckResult
from drillbook.sandbox.inside import ReaderFailed
from drillbook.sandbox.isolation import PRIVATE_TMP
from drillbook.sandbox.launcher import RunningService
from drillbook.spec.models import PostgresCheck, PostgresService, Query
from drillbook.status import Status
from drillbook.util.process import Completed, tail
from drillbook.util.restored import private_folder, write_new_files

SUPERUSER = "postgres"
PORT = 5432
RESTORE_TIMEOUT = 6 * 3600.0
QUERY_TIMEOUT = 300.0
STEP_TIMEOUT = 120.0
#: Reading a plain dump to its end for the roles it grants to.
SOURCE_TIMEOUT = 600.0


class PgFailed(ServiceFailed):
    """A step of bringing the server up failed; the message is the check's reason."""


@dataclass
class Throwaway:
    """One server's folders, binaries and process inside the sandbox."""

    ctx: CheckContext
    bins: pgbin.PgBinaries
    home: Path            # work/pg-<n>: the server's working folder and (for dumps) its data folder
    conf: Path            # <sandbox>/config/pg-<n>: drillbook's configuration files, only drillbook writes
    socket_dir: str       # in the sandbox's private /tmp: short, and unreachable from the host
    data_dir: Path
    env: dict[str, str]
    service: RunningService | None = None
    data: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)  # what the reader said of the dump
    port: int = PORT
    tcp: bool = False     # a service of a stack: also listens on 127.0.0.1:port inside the sandbox

    def run(self, argv: list[str], what: str, timeout: float = STEP_TIMEOUT,
            stdin: str | None = None) -> Completed:
        done = self.ctx.launcher.run(argv, cwd=self.home, env=self.env, timeout=timeout,
                                     stdin_data=stdin)
        return checked_step(done, what, timeout, PgFailed)

    def psql(self, database: str, *extra: str) -> list[str]:
        return [self.bins.tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.socket_dir,
                "-p", str(self.port), "-U", SUPERUSER, "-d", database, *extra]

    def write_config(self) -> None:
        """Our own postgresql.conf / pg_hba.conf: local trust over the socket, nothing else.

        The settings that matter are on the command line too (server_settings); the file holds
        them so that a person reading it sees the server's configuration in one place.
        """
        settings = {k: v for k, v in server_settings(self.conf, self.socket_dir, self.bins.major,
                                                     self.port, self.tcp).items()
                    if k != "config_file"}
        text = "".join(f"{k} = '{v}'\n" for k, v in settings.items())
        write_new_files(self.conf, {
            "postgresql.conf": text + "fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n"
                               "max_connections = 20\n",
            "pg_hba.conf": "local all all trust\n" + ("host all all 127.0.0.1/32 trust\n" if self.tcp else ""),
            "pg_ident.conf": "",
        })

    def start(self, timeout: float) -> float:
        started = time.monotonic()
        service = self.service = self.ctx.launcher.start(
            server_argv(self.bins, self.data_dir, self.conf, self.socket_dir, self.port, self.tcp),
            cwd=self.home, env=self.env)
        deadline = started + timeout
        while True:
            if service.poll() is not None:
                raise PgFailed(f"the server exited with code {service.poll()} while starting: "
                               f"{_last(service.output_tail())}", service.output_tail())
            done = self.ctx.launcher.run(
                [self.bins.tool("pg_isready"), "-q", "-h", self.socket_dir, "-p", str(self.port),
                 "-U", SUPERUSER, "-t", "2"], cwd=self.home, env=self.env, timeout=15)
            if done.returncode == 0:
                return round(time.monotonic() - started, 3)
            if time.monotonic() >= deadline:
                raise PgFailed(f"the server did not accept connections within {timeout:.0f} s",
                               service.output_tail())
            time.sleep(0.1)

    def stop(self, sweep: bool = True) -> None:
        """Stop the server; ``sweep`` also kills whatever else runs in the sandbox (not in a
        stack, whose other services keep running until their own turn)."""
        if self.service is not None:
            self.service.stop(sig=signal.SIGINT, grace=15)  # SIGINT: fast shutdown
            self.data["server_log_tail"] = self.service.output_tail(10)
        if sweep:
            self.ctx.launcher.sweep()


def server_settings(conf: Path, socket_dir: str, major: int, port: int = PORT,
                    tcp: bool = False) -> dict[str, str]:
    """What the server is started with (``-c``), outranking every file in the data folder.

    ``tcp``: a service of a stack, which its application reaches on the sandbox's own loopback
    (the sandbox has a network namespace of its own: nothing outside it reaches that address).
    """
    settings = {
        "config_file": str(conf / "postgresql.conf"),
        "hba_file": str(conf / "pg_hba.conf"),
        "ident_file": str(conf / "pg_ident.conf"),
        "listen_addresses": "127.0.0.1" if tcp else "",
        "port": str(port),
        "unix_socket_directories": socket_dir,
        "unix_socket_permissions": "0700",
        "unix_socket_group": "",
        "ssl": "off",
        "shared_preload_libraries": "",
        "local_preload_libraries": "",
        "session_preload_libraries": "",
        "dynamic_library_path": "$libdir",
        "archive_mode": "off",
        "archive_command": "",
        "external_pid_file": "",
        "logging_collector": "off",
        "log_destination": "stderr",
    }
    if major >= 12:  # recovery settings became server settings (recovery.conf before)
        settings.update({name: "" for name in ("restore_command", "archive_cleanup_command",
                                               "recovery_end_command", "primary_conninfo",
                                               "primary_slot_name")})
    if major >= 15:
        settings["archive_library"] = ""
    return settings


def server_argv(bins: pgbin.PgBinaries, data_dir: Path, conf: Path, socket_dir: str, port: int = PORT,
                tcp: bool = False) -> list[str]:
    argv = [bins.tool("postgres"), "-D", str(data_dir)]
    for name, value in server_settings(conf, socket_dir, bins.major, port, tcp).items():
        argv += ["-c", f"{name}={value}"]
    return argv


def check_postgres(spec: PostgresCheck, ctx: CheckContext) -> CheckResult:
    name = default_name(spec)
    data: dict[str, Any] = {}
    server: Throwaway | None = None
    try:
        server = _prepare(spec, ctx, data)
        _bring_up(spec, server, data, float(spec.ready_timeout))
        results = run_queries(server, data["database"], spec.queries)
    except (PgFailed, pgbin.NoBinaries) as exc:
        if isinstance(exc, PgFailed) and exc.output:
            data["output_tail"] = exc.output
        return CheckResult("postgres", name, Status.FAILED, getattr(exc, "reason", str(exc)), data=data)
    finally:
        if server is not None:
            server.stop()
    data["queries"] = results
    return _verdict(name, data, results)


def start_service(spec: PostgresService, ctx: CheckContext, data: dict[str, Any]) -> Throwaway:
    """A stack's PostgreSQL, as the check brings its server up, also on 127.0.0.1:``port``.

    Raises PgFailed (or NoBinaries) with the reason; a server that got as far as starting is
    stopped first. The caller stops the one returned.
    """
    server = _prepare(spec, ctx, data, spec.port or PORT)
    with stopped_on_failure(server):
        _bring_up(spec, server, data, float(spec.ready.timeout))
    return server


# -- steps ----------------------------------------------------------------------------

Source = PostgresCheck | PostgresService


def _prepare(spec: Source, ctx: CheckContext, data: dict[str, Any], tcp_port: int | None = None) -> Throwaway:
    rel = spec.dump or spec.data_dir or ""
    available = pgbin.installed()
    # before anything is started, inside the sandbox: a FIFO or a link to the host fails at once
    source = _ask(ctx, "pg_source", SOURCE_TIMEOUT, path=rel, dump=bool(spec.dump))
    n, conf = _new_config_folder(ctx)
    home = ctx.work_dir / f"pg-{n}"
    env = {**ctx.env, "DRILLBOOK_RESTORE_ROOT": str(ctx.restore_root), "PGCONNECT_TIMEOUT": "10"}
    socket_dir = f"{PRIVATE_TMP}/{home.name}"
    mkdir = ctx.launcher.run(["mkdir", "-p", "-m", "0700", socket_dir, str(home)], cwd=ctx.work_dir,
                             env=env, timeout=30)
    if mkdir.returncode != 0:
        raise PgFailed(f"cannot prepare the server's folders: {_last(tail(mkdir.stderr))}")
    if spec.dump:
        fmt = _text(source, "format")
        major, full, dbname = _inspect_dump(ctx, rel, source, available, env)
        data["source"] = {"kind": "dump", "path": rel, "format": fmt, "dumped_from": full,
                          "dbname": dbname}
        bins = pgbin.choose(available, declared=spec.version, source_major=major, exact=False)
        data["database"] = spec.database or dbname or "restored"
        data_dir = home / "data"
    else:
        pg_version = source.get("pg_version")
        if not isinstance(pg_version, int):
            raise ReaderFailed("the reader inside the sandbox answered no PostgreSQL version")
        data["source"] = {"kind": "data_dir", "path": rel, "pg_version": pg_version}
        bins = pgbin.choose(available, declared=spec.version, source_major=pg_version, exact=True)
        if spec.version and spec.version != pg_version:
            raise PgFailed(f"{rel} holds PostgreSQL {pg_version} data, but version: {spec.version} "
                           "is declared")
        data["database"] = spec.database or "postgres"
        data_dir = ctx.restore_root / rel
    data["binaries"] = bins.describe()
    server = Throwaway(ctx, bins, home, conf, socket_dir, data_dir, env, data=data, source=source,
                       port=tcp_port or PORT, tcp=tcp_port is not None)
    server.write_config()
    return server


def _ask(ctx: CheckContext, op: str, timeout: float, **request: Any) -> dict[str, Any]:
    """The reader's answer; the reason it gives for an unusable source fails the check."""
    try:
        answer = read_restore(ctx, op, timeout, **request)
    except ReaderFailed as exc:
        raise PgFailed(str(exc)) from None
    if "error" in answer:
        raise PgFailed(str(answer["error"]))
    return answer


def _text(answer: dict[str, Any], key: str) -> str | None:
    value = answer.get(key)
    if value is not None and not isinstance(value, str):
        raise ReaderFailed(f"the reader inside the sandbox answered a malformed {key!r}")
    return value


def _new_config_folder(ctx: CheckContext) -> tuple[int, Path]:
    """The next free ``pg-<n>`` in drillbook's own folder of the sandbox, created empty."""
    n = 1
    while True:
        try:
            return n, private_folder(ctx.own_dir, f"pg-{n}")
        except FileExistsError:
            n += 1
        except OSError as exc:
            raise PgFailed(f"cannot prepare the server's configuration: {exc.strerror or exc}") from None


def _bring_up(spec: Source, server: Throwaway, data: dict[str, Any], timeout: float) -> None:
    started = time.monotonic()
    if spec.dump:
        server.run([server.bins.tool("initdb"), "-D", str(server.data_dir), "-U", SUPERUSER,
                    "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
                   "initdb")
        data["init_seconds"] = round(time.monotonic() - started, 3)
    else:
        set_aside = answer_list(_ask(server.ctx, "pg_adopt", STEP_TIMEOUT, path=spec.data_dir or ""),
                                "set_aside")
        if set_aside:
            data["set_aside"] = set_aside
    data["ready_seconds"] = server.start(timeout)
    if spec.dump:
        restore_started = time.monotonic()
        _restore_dump(spec, server, data)
        data["restore_seconds"] = round(time.monotonic() - restore_started, 3)
    version = server.run(server.psql(data["database"], "-A", "-t", "-c", "show server_version"),
                         f"connecting to database {data['database']}")
    data["server_version"] = version.stdout.strip()
    data["up_seconds"] = round(time.monotonic() - started, 3)


def _restore_dump(spec: Source, server: Throwaway, data: dict[str, Any]) -> None:
    source = server.ctx.restore_root / (spec.dump or "")  # what the sandboxed tools open
    fmt = data["source"]["format"]
    database = data["database"]
    if fmt == "plain":
        roles = answer_list(server.source, "roles")
        if roles:
            script = "".join(f"CREATE ROLE \"{r.replace(chr(34), chr(34) * 2)}\" NOLOGIN;\n" for r in roles)
            server.ctx.launcher.run(server.psql("postgres", "-v", "ON_ERROR_STOP=0"), cwd=server.home,
                                    env=server.env, timeout=STEP_TIMEOUT, stdin_data=script)
            data["roles_created"] = roles
        creates = _text(server.source, "creates")
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
                    "-h", server.socket_dir, "-p", str(server.port), "-U", SUPERUSER, "-d", database,
                    str(source)], "pg_restore", timeout=RESTORE_TIMEOUT)


def _create_database(server: Throwaway, database: str) -> None:
    if database == "postgres":
        return
    server.run(server.psql("postgres", "-v", f"dbname={database}"), f"creating database {database}",
               stdin='CREATE DATABASE :"dbname";\n')


def _inspect_dump(ctx: CheckContext, rel: str, source: dict[str, Any], available: list[pgbin.PgBinaries],
                  env: dict[str, str]) -> tuple[int | None, str | None, str | None]:
    """Major version, full version and database name the dump says it came from."""
    if source.get("format") == "plain":
        major, full = answer_list(source, "dumped_from", object) or [None, None]
        if not (major is None or isinstance(major, int)) or not (full is None or isinstance(full, str)):
            raise ReaderFailed("the reader inside the sandbox answered a malformed 'dumped_from'")
        return major, full, None
    if not available:
        raise pgbin.NoBinaries("no PostgreSQL binaries found to read the dump (install postgresql-<version>)")
    done = ctx.launcher.run([available[-1].tool("pg_restore"), "-l", str(ctx.restore_root / rel)],
                            cwd=ctx.work_dir, env=env, timeout=STEP_TIMEOUT)
    if done.returncode != 0:
        raise PgFailed(f"pg_restore cannot read {Path(rel).name}: {_last(tail(done.stderr))}",
                       tail(done.stderr))
    major, full = pgbin.dumped_from(done.stdout)
    dbname = None
    for line in done.stdout.splitlines():
        if line.strip().lower().startswith(";") and "dbname:" in line.lower():
            dbname = line.split(":", 1)[1].strip() or None
            break
    return major, full, dbname


def run_queries(server: Throwaway, database: str, queries: list[Query]) -> list[dict[str, Any]]:
    """Each query's value and whether it met its expectation (a query that errs does not)."""
    results = []
    for query in queries:
        expectation = parse_expectation(query.shown, exact=query.exact)
        marker = psqlvalue.null_marker()
        done = server.ctx.launcher.run(
            server.psql(database, *psqlvalue.csv_options(marker), "-c", query.sql),
            cwd=server.home, env=server.env, timeout=QUERY_TIMEOUT)
        if done.returncode != 0 or done.timed_out:
            error = "timed out" if done.timed_out else _last(tail(done.stderr)) or f"exit {done.returncode}"
            results.append({"sql": query.sql, "expect": query.shown, "error": error, "passed": False})
            continue
        value = psqlvalue.first_value(done.stdout, marker)
        results.append({"sql": query.sql, "expect": query.shown, "value": show_value(value),
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


def _last(lines: list[str]) -> str:
    return lines[-1] if lines else ""
