"""The patient portal stack of the demo and the tests: what a backup of a whole application holds.

* ``srv/portal/db/clinic.sql``: the clinic's appointments as a plain-format ``pg_dump``;
* ``srv/portal/app/portal.py``: a small web application (stdlib only, run with the sandbox's
  python3) that answers ``GET /appointments/count`` from that database, reached on 127.0.0.1 with
  ``psql`` (the sandbox has no database driver for Python, but has PostgreSQL's client);
* ``srv/portal/db/patients.sql`` and ``patients.sql.gz``: a ``mysqldump`` of a patients table.

The dumps are written as the dump tools write them (header, DDL, data), so no live server is
needed to make them; drillbook restores them with the real servers.
"""

from __future__ import annotations

import gzip
from pathlib import Path

PORTAL_PORT = 8080

APP = r'''"""Patient portal: answers from the clinic's PostgreSQL, reached on 127.0.0.1."""
import glob, http.server, os, subprocess

PSQL = (sorted(glob.glob("/usr/lib/postgresql/*/bin/psql")) or ["psql"])[-1]
DB = ["-h", "127.0.0.1", "-p", os.environ.get("PORTAL_DB_PORT", "5432"), "-U", "postgres",
      "-d", os.environ.get("PORTAL_DB_NAME", "clinic")]


def value(sql):
    done = subprocess.run([PSQL, "-X", "-tA", *DB, "-c", sql], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or "psql failed")
    return done.stdout.strip()


class Portal(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            if self.path == "/health":
                body = "ok " + value("select 1")
            elif self.path == "/appointments/count":
                body = value("select count(*) from appointments")
            else:
                return self.answer(404, "not found")
        except Exception as exc:
            return self.answer(503, f"database unavailable: {exc}")
        self.answer(200, body)

    def answer(self, status, body):
        data = (body + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


print("portal listening on", os.environ.get("PORTAL_PORT", "8080"), flush=True)
http.server.HTTPServer(("127.0.0.1", int(os.environ.get("PORTAL_PORT", "8080"))), Portal).serve_forever()
'''


def pg_dump_text(rows: int) -> str:
    """A plain-format pg_dump of the clinic's appointments table with ``rows`` rows."""
    data = "".join(f"{i}\tpatient-{i}\t2026-11-{1 + i % 28:02d}\n" for i in range(1, rows + 1))
    return f"""--
-- PostgreSQL database dump
--

-- Dumped from database version 15.8
-- Dumped by pg_dump version 15.8

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;

CREATE TABLE public.appointments (
    id integer NOT NULL,
    patient text,
    at date
);

COPY public.appointments (id, patient, at) FROM stdin;
{data}\\.

ALTER TABLE ONLY public.appointments ADD CONSTRAINT appointments_pkey PRIMARY KEY (id);

--
-- PostgreSQL database dump complete
--
"""


def mysqldump_text(rows: int) -> str:
    """A mysqldump of one database's patients table with ``rows`` rows."""
    values = ",".join(f"({i},'patient-{i}','19{50 + i % 50}-01-01')" for i in range(1, rows + 1))
    return "\n".join([
        "-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)",
        "--",
        "-- Host: localhost    Database: clinic",
        "-- ------------------------------------------------------",
        "/*!40101 SET NAMES utf8mb4 */;",
        "DROP TABLE IF EXISTS `patients`;",
        "CREATE TABLE `patients` (",
        "  `id` int(11) NOT NULL,",
        "  `name` varchar(100) NOT NULL,",
        "  `born` date DEFAULT NULL,",
        "  PRIMARY KEY (`id`)",
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;",
        "LOCK TABLES `patients` WRITE;",
        "INSERT INTO `patients` VALUES " + values + ";",  # noqa: S608 (fixture data: numbers and fixed words)
        "UNLOCK TABLES;",
        "-- Dump completed",
        "",
    ])


def add_portal_stack(root: Path, appointments: int = 240, patients: int = 57) -> Path:
    """The portal's backup under ``root``: ``srv/portal`` with its dumps and its application."""
    portal = root / "srv" / "portal"
    (portal / "db").mkdir(parents=True, exist_ok=True)
    (portal / "app").mkdir(parents=True, exist_ok=True)
    (portal / "app" / "portal.py").write_text(APP)
    (portal / "db" / "clinic.sql").write_text(pg_dump_text(appointments))
    (portal / "db" / "patients.sql").write_text(mysqldump_text(patients))
    (portal / "db" / "patients.sql.gz").write_bytes(gzip.compress(mysqldump_text(patients).encode(), mtime=0))
    (portal / "my.cnf").write_text("[mysqld]\nskip-networking=0\nbind-address=0.0.0.0\nport=3399\n"
                                   "init-file=/srv/portal/evil.sql\n")
    return portal
