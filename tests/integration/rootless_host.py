"""What a root test needs to run drillbook as an ordinary account: the account, a Python, a dump.

The ordinary account cannot read the project's virtualenv (root's) nor pyenv's interpreter under
/root, so it gets a virtualenv of its own, built from Debian's /usr/bin/python3 (package
python3-venv, which ``make setup`` installs) in a world-readable folder, with the project really
installed into it (``pip install`` of a copy of the tree: the ``drillbook`` console script an
operator would run, and exactly the code under test). The same approach as
test_sandbox_accounts.py, which only needs the library on PYTHONPATH.

The PostgreSQL dump comes from a real server of its own, as in test_postgres.py: a plain dump is
what ``pg_dump -Fp`` writes, header and all, not something written by hand.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from devtools.repos import readable_by_all
from drillbook.sandbox.holder import remove_tree
from drillbook.util.procfs import all_pids

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
#: What ``pip install`` needs of the tree; a copy, so no build folder lands in the checkout.
PROJECT_FILES = ("src", "pyproject.toml", "README.md")


def ensure_account(name: str, comment: str) -> pwd.struct_passwd:
    """The account, created like drillbook creates its sandbox account when it is missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        checked(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                 "--shell", "/usr/sbin/nologin", "--comment", comment, name])
        return pwd.getpwnam(name)


def system_python_problem() -> str | None:
    """Why no virtualenv can be built from Debian's Python here, if it cannot."""
    if not SYSTEM_PYTHON.exists():
        return f"{SYSTEM_PYTHON} is missing (apt-get install python3 python3-venv)"
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import ensurepip, venv"], capture_output=True)
    if probe.returncode != 0:
        return f"{SYSTEM_PYTHON} has no venv module (apt-get install python3-venv)"
    return None


def install_drillbook(folder: Path) -> Path:
    """A virtualenv under ``folder`` with drillbook installed; returns its ``drillbook`` script.

    ``folder`` and everything in it end up readable (and, where the owner may, runnable) by
    every account.
    """
    project, venv = folder / "project", folder / "venv"
    project.mkdir()
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(source, project / name)
    checked([str(SYSTEM_PYTHON), "-m", "venv", str(venv)])
    checked([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             str(project)])
    remove_tree(project)
    readable_by_all(folder)
    return venv / "bin" / "drillbook"



def chown_tree(top: Path, account: pwd.struct_passwd) -> None:
    """Hands a tree (a restic repository, the drill's folders) to the account."""
    os.chown(top, account.pw_uid, account.pw_gid)
    for base, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            os.chown(Path(base) / name, account.pw_uid, account.pw_gid, follow_symlinks=False)


def pids_of(uid: int) -> list[int]:
    """Every process whose real uid is ``uid``, with its command line: what a run left behind."""
    found = []
    for pid in all_pids():
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                line = next(row for row in fh if row.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if int(line.split()[1]) == uid:
            found.append(pid)
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "(gone)"


def plain_dump(rows: int) -> bytes:
    """``pg_dump -Fp`` of a database ``clinic`` whose ``appointments`` table has ``rows`` rows."""
    base = Path(tempfile.mkdtemp(prefix="drillbook-pg-rootless-"))
    postgres = pwd.getpwnam("postgres")
    os.chown(base, postgres.pw_uid, postgres.pw_gid)
    data, sock = base / "data", base / "sock"
    try:
        _as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"])
        _as_postgres(["mkdir", str(sock)])
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o",
                      f"-c listen_addresses='' -c unix_socket_directories={sock}", "start"])
        try:
            psql = [str(PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(sock), "-U", "postgres"]
            _as_postgres([*psql, "-d", "postgres", "-c", "CREATE DATABASE clinic"])
            _as_postgres([*psql, "-d", "clinic", "-c",
                          "CREATE TABLE appointments (id serial primary key, patient text, at date);"
                          "INSERT INTO appointments (patient, at) SELECT 'patient-' || i, "
                          f"date '2026-11-01' + (i % 28) FROM generate_series(1, {rows}) i;"])
            return _as_postgres([str(PG_BIN / "pg_dump"), "-Fp", "-h", str(sock), "-U", "postgres", "clinic"])
        finally:
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"])
    finally:
        remove_tree(base)


def _as_postgres(argv: list[str]) -> bytes:
    done = subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{done.stderr.decode(errors='replace')}"
    return done.stdout


def checked(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}"
