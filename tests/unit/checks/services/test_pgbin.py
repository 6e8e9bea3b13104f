"""Choosing PostgreSQL binaries for a dump or data folder, and reading what a dump says."""

import os
from pathlib import Path

import pytest

from drillbook.checks.services import pgbin
from drillbook.util.restored import RestoredFileError, RestoredPath

B = [pgbin.PgBinaries(Path(f"/usr/lib/postgresql/{v}/bin"), v, "debian") for v in (13, 15, 16)]


def test_the_dumps_own_version_else_the_oldest_newer_one():
    assert pgbin.choose(B, declared=None, source_major=15, exact=False).major == 15
    assert pgbin.choose(B, declared=None, source_major=14, exact=False).major == 15
    assert pgbin.choose(B, declared=None, source_major=None, exact=False).major == 16


def test_newer_dump_missing_declared_and_data_dir_mismatch_fail_naming_the_package():
    with pytest.raises(pgbin.NoBinaries, match="install postgresql-17"):
        pgbin.choose(B, declared=None, source_major=17, exact=False)
    with pytest.raises(pgbin.NoBinaries, match="declared version"):
        pgbin.choose(B, declared=14, source_major=15, exact=False)
    with pytest.raises(pgbin.NoBinaries, match="PG_VERSION"):
        pgbin.choose(B, declared=None, source_major=14, exact=True)
    with pytest.raises(pgbin.NoBinaries, match="no PostgreSQL"):
        pgbin.choose([], declared=None, source_major=None, exact=False)


def test_dump_headers_and_formats(tmp_path):
    assert pgbin.dumped_from("-- Dumped from database version 15.4 (Debian 15.4-1)") == (15, "15.4")
    assert pgbin.dumped_from(";     Dumped from database version: 16.2") == (16, "16.2")
    assert pgbin.dumped_from("nothing here") == (None, None)
    custom = tmp_path / "a.dump"
    custom.write_bytes(b"PGDMP\x01\x0e\x00")
    plain = tmp_path / "a.sql"
    plain.write_text("--\n-- PostgreSQL database dump\n--\nCREATE DATABASE clinic WITH TEMPLATE = template0;\n"
                     "ALTER TABLE public.t OWNER TO clinic_app;\n"
                     "GRANT SELECT ON TABLE public.t TO \"Report Reader\";\n")
    gz = tmp_path / "a.sql.gz"
    gz.write_bytes(b"\x1f\x8b\x08")
    assert [pgbin.dump_format(p) for p in (custom, plain, gz)] == ["custom", "plain", "gzip"]
    assert pgbin.roles_in_plain_dump(plain) == ["Report Reader", "clinic_app"]
    assert pgbin.plain_creates_database(plain) == "clinic"


def test_installed_finds_debian_layout(tmp_path):
    for v in ("15", "not-a-version"):
        (tmp_path / v / "bin").mkdir(parents=True)
        (tmp_path / v / "bin" / "postgres").write_text("")
    found = [b for b in pgbin.installed(tmp_path) if str(b.bindir).startswith(str(tmp_path))]
    assert [b.major for b in found] == [15]


def test_a_fifo_or_a_link_to_the_host_is_refused_not_read(tmp_path):
    os.mkfifo(tmp_path / "clinic.dump")
    with pytest.raises(RestoredFileError, match=r"^clinic\.dump is a FIFO, not a regular file$"):
        pgbin.dump_format(RestoredPath(tmp_path, "clinic.dump"))
    (tmp_path / "host.sql").symlink_to("/etc/passwd")
    for reader in (pgbin.dump_format, pgbin.plain_header, pgbin.roles_in_plain_dump, pgbin.plain_creates_database):
        with pytest.raises(RestoredFileError, match="leads outside the restore"):
            reader(RestoredPath(tmp_path, "host.sql"))


def test_a_directory_dump_whose_toc_leads_out_is_refused(tmp_path):
    (tmp_path / "dir.dump").mkdir()
    assert pgbin.dump_format(RestoredPath(tmp_path, "dir.dump")) == "unknown"
    (tmp_path / "dir.dump" / "toc.dat").symlink_to("/etc/passwd")
    with pytest.raises(RestoredFileError, match="leads outside the restore"):
        pgbin.dump_format(RestoredPath(tmp_path, "dir.dump"))
