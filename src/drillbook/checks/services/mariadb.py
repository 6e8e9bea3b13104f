"""A stack's MariaDB: a server brought up in the sandbox from a ``mysqldump`` file or a data folder.

The server and every client run inside the drill's isolation as the unprivileged account, each
with ``--no-defaults`` first: no option file of the host (``/etc/mysql``) or of the backup (a
restored ``my.cnf``) is read, and everything that matters is on drillbook's command line
(:func:`server_argv`): the data folder in the sandbox, the socket in the sandbox's private /tmp,
TCP only on 127.0.0.1 of the sandbox's own network namespace (else ``--skip-networking``).

A dump (plain SQL, or gzip-compressed: told by its first bytes, not its name) is restored with the
``mariadb`` client into a data folder ``mariadb-install-db`` made fresh. A restored data folder is
started as it is, with ``--skip-grant-tables``: its accounts' passwords are the backup's, which
drillbook does not know; only processes inside the sandbox reach the server.

Query values are read from the client's ``--xml`` output, which tells SQL NULL (``xsi:nil``) from
the text ``NULL`` and keeps a value with a line break whole.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drillbook.checks.base import CheckContext
from drillbook.checks.expectations import parse_expectation, show_value
from drillbook.checks.services.lifecycle import ServiceFailed, checked_step, stopped_on_failure, wait_until_ready
from drillbook.sandbox.isolation import PRIVATE_TMP
from drillbook.sandbox.launcher import RunningService
from drillbook.spec.models import MariadbService, Query
from drillbook.util.process import Completed, tail

SERVER = "/usr/sbin/mariadbd"
CLIENT = "/usr/bin/mariadb"
INSTALL_DB = "/usr/bin/mariadb-install-db"
PORT = 3306
STEP_TIMEOUT = 120.0
RESTORE_TIMEOUT = 6 * 3600.0
QUERY_TIMEOUT = 300.0
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"

#: Reads the dump's first two bytes inside the sandbox: gzip, plain, or why it cannot be used.
SNIFF = r'''f=$1
if [ -h "$f" ] || [ ! -f "$f" ]; then echo "not a regular file"; exit 0; fi
magic=$(head -c 2 -- "$f" | od -An -tx1 | tr -d ' \n')
if [ "$magic" = 1f8b ]; then echo gzip; else echo plain; fi'''

#: Feeds the dump to the client; pipefail: a truncated gzip fails the restore, not half-loads it.
FEED = r'''f=$1; fmt=$2; shift 2
if [ "$fmt" = gzip ]; then gzip -dc -- "$f" | "$@"; else "$@" < "$f"; fi'''


class MariaFailed(ServiceFailed):
    """A step of bringing the server up failed; the message says which and why."""


@dataclass
class MariaServer:
    """One MariaDB server's folders and process inside the sandbox."""

    ctx: CheckContext
    home: Path            # work/mariadb-<n>: the server's working folder (and a dump's data folder)
    data_dir: Path
    socket: str           # in the sandbox's private /tmp: unreachable from the host
    env: dict[str, str]
    port: int | None
    skip_grants: bool
    database: str | None = None
    service: RunningService | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def run(self, argv: list[str], what: str, timeout: float = STEP_TIMEOUT) -> Completed:
        done = self.ctx.launcher.run(argv, cwd=self.home, env=self.env, timeout=timeout)
        return checked_step(done, what, timeout, MariaFailed)

    def client(self, *extra: str) -> list[str]:
        return [CLIENT, "--no-defaults", f"--socket={self.socket}", "--user=root", *extra]

    def server_argv(self) -> list[str]:
        return server_argv(self.data_dir, self.socket, self.home, self.port, self.skip_grants)

    def start(self, timeout: float) -> float:
        started = time.monotonic()
        service = self.service = self.ctx.launcher.start(self.server_argv(), cwd=self.home, env=self.env)

        def probe(window: float) -> dict[str, Any]:
            done = self.ctx.launcher.run(self.client("--connect-timeout=2", "-e", "select 1"),
                                         cwd=self.home, env=self.env, timeout=15)
            if done.returncode != 0:
                time.sleep(0.1)
                return {"answered": False, "error": (tail(done.stderr, 1) or [f"exit {done.returncode}"])[0]}
            return {"answered": True}

        wait_until_ready(service, probe, timeout, lambda a: bool(a.get("answered")), "MariaDB")
        return round(time.monotonic() - started, 3)

    def stop(self, sweep: bool = False) -> None:
        """Stop the server (SIGTERM: a clean shutdown); the stack's other services keep running
        unless ``sweep``."""
        if self.service is not None:
            self.service.stop(grace=30)
            self.data["server_log_tail"] = self.service.output_tail(10)
        if sweep:
            self.ctx.launcher.sweep()

    def queries(self, database: str | None, queries: list[Query]) -> list[dict[str, Any]]:
        """Each query's value and whether it met its expectation (a query that errs does not)."""
        results = []
        for query in queries:
            expectation = parse_expectation(query.shown, exact=query.exact)
            target = [name] if (name := database or self.database) else []
            done = self.ctx.launcher.run(self.client("--batch", "--xml", "-e", query.sql, *target),
                                         cwd=self.home, env=self.env, timeout=QUERY_TIMEOUT)
            if done.returncode != 0 or done.timed_out:
                error = "timed out" if done.timed_out else (tail(done.stderr, 1) or [f"exit {done.returncode}"])[0]
                results.append({"sql": query.sql, "expect": query.shown, "error": error, "passed": False})
                continue
            value = first_value(done.stdout)
            results.append({"sql": query.sql, "expect": query.shown, "value": show_value(value),
                            "passed": expectation.check(value)})
        return results


def server_argv(data_dir: Path, socket: str, home: Path, port: int | None, skip_grants: bool) -> list[str]:
    """mariadbd with drillbook's options only (``--no-defaults`` must come first)."""
    argv = [SERVER, "--no-defaults", f"--datadir={data_dir}", f"--socket={socket}",
            f"--pid-file={home}/mariadbd.pid", f"--tmpdir={PRIVATE_TMP}", "--skip-name-resolve",
            "--skip-log-bin", "--skip-slave-start", "--log-error=", f"--secure-file-priv={home}",
            "--innodb-buffer-pool-size=32M", "--max-connections=20", "--event-scheduler=OFF"]
    argv += [f"--port={port}", "--bind-address=127.0.0.1"] if port else ["--skip-networking"]
    return argv + (["--skip-grant-tables"] if skip_grants else [])


def first_value(xml_text: str) -> str | None:
    """The first field of the first row of ``mariadb --xml``; None for NULL and for no row."""
    if not xml_text.strip():
        return None
    # the mariadb client's own output, without a DTD: a value is escaped text, never markup
    root = ET.fromstring(xml_text)  # noqa: S314 (the client's output, see above: no entities to expand)
    row = root.find("row")
    cell = row.find("field") if row is not None else None
    if cell is None or cell.get(XSI_NIL) == "true":
        return None
    return cell.text or ""


def start_service(spec: MariadbService, ctx: CheckContext, data: dict[str, Any]) -> MariaServer:
    """Prepare, start and (for a dump) restore; a server that got as far as starting is stopped
    before MariaFailed is raised. The caller stops the one returned."""
    server = _prepare(spec, ctx, data)
    with stopped_on_failure(server):
        _bring_up(spec, server, data)
    return server


def _prepare(spec: MariadbService, ctx: CheckContext, data: dict[str, Any]) -> MariaServer:
    for tool in (SERVER, CLIENT, INSTALL_DB):
        if not Path(tool).is_file():
            raise MariaFailed(f"{tool} not found: install mariadb-server and mariadb-client")
    n = 1
    while (ctx.work_dir / f"mariadb-{n}").exists():
        n += 1
    home = ctx.work_dir / f"mariadb-{n}"
    env = {**ctx.env, "DRILLBOOK_RESTORE_ROOT": str(ctx.restore_root)}
    socket = f"{PRIVATE_TMP}/{home.name}.sock"
    mkdir = ctx.launcher.run(["mkdir", "-p", "-m", "0700", str(home)], cwd=ctx.work_dir, env=env, timeout=30)
    if mkdir.returncode != 0:
        raise MariaFailed(f"cannot prepare the server's folder: {(tail(mkdir.stderr, 1) or ['?'])[0]}")
    rel = spec.dump or spec.data_dir or ""
    if spec.dump:
        data["source"] = {"kind": "dump", "path": rel}
        data_dir = home / "data"
    else:
        data["source"] = {"kind": "data_dir", "path": rel}
        data_dir = ctx.restore_root / rel
    data["database"] = spec.database
    return MariaServer(ctx, home, data_dir, socket, env, spec.port, skip_grants=bool(spec.data_dir),
                       database=spec.database, data=data)


def _bring_up(spec: MariadbService, server: MariaServer, data: dict[str, Any]) -> None:
    started = time.monotonic()
    dump = str(server.ctx.restore_root / spec.dump) if spec.dump else None
    if dump:
        fmt = server.run(["sh", "-c", SNIFF, "sniff", dump], "reading the dump").stdout.strip()
        if fmt not in ("gzip", "plain"):
            raise MariaFailed(f"{spec.dump}: {fmt or 'unreadable'}")
        data["source"]["format"] = "mysqldump" + (" (gzip)" if fmt == "gzip" else "")
        server.run([INSTALL_DB, "--no-defaults", f"--datadir={server.data_dir}", "--skip-test-db",
                    "--auth-root-authentication-method=normal", "--skip-name-resolve"],
                   "mariadb-install-db")
        data["init_seconds"] = round(time.monotonic() - started, 3)
    data["ready_seconds"] = server.start(float(spec.ready.timeout))
    if dump:
        restore_started = time.monotonic()
        if spec.database:  # a dump of one database (no --databases) names none: it goes here
            quoted = spec.database.replace("`", "``")
            create = "CREATE DATABASE IF NOT EXISTS `" + quoted + "`"  # quoted as an identifier
            server.run(server.client("-e", create),
                       f"creating database {spec.database}")
        server.run(["bash", "-o", "pipefail", "-c", FEED, "feed", dump, fmt, *server.client(
            *([spec.database] if spec.database else []))], "mariadb (restoring the dump)",
                   timeout=RESTORE_TIMEOUT)
        data["restore_seconds"] = round(time.monotonic() - restore_started, 3)
    version = server.run(server.client("--batch", "--skip-column-names", "-e", "select version()"),
                         "connecting to the server")
    data["server_version"] = version.stdout.strip()
    data["up_seconds"] = round(time.monotonic() - started, 3)
