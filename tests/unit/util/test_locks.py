"""The one file lock: bounded waits, a file nobody else can open, never unlinked."""

from __future__ import annotations

import errno
import multiprocessing
import os
import re
import time
from pathlib import Path

import pytest

from drillbook.util.locks import LockBusy, file_lock, say_holder


def _hold(path: str, seconds: float, ready: multiprocessing.synchronize.Event) -> None:
    with file_lock(Path(path), timeout=1):
        ready.set()
        time.sleep(seconds)


def test_a_busy_lock_times_out_and_is_free_after_its_holder_ends(tmp_path: Path) -> None:
    path = tmp_path / "ledger.lock"
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(str(path), 1.5, ready))
    holder.start()
    assert ready.wait(10)
    started = time.monotonic()
    with pytest.raises(LockBusy), file_lock(path, timeout=0.3):
        pass
    assert 0.25 < time.monotonic() - started < 1.2
    holder.join()
    with file_lock(path, timeout=0):
        pass
    assert path.exists(), "a lock file is never unlinked (two holders could exist)"


def test_lock_file_is_owner_only_even_if_it_was_readable_before(tmp_path: Path) -> None:
    """flock works on a read-only descriptor: a readable lock file lets anyone block sealing."""
    path = tmp_path / "ledger.lock"
    path.write_text("")
    os.chmod(path, 0o644)
    with file_lock(path, timeout=0):
        assert path.stat().st_mode & 0o777 == 0o600


def test_a_symlinked_lock_file_is_refused(tmp_path: Path) -> None:
    """Whoever planted the link must not get drillbook to lock, create or chmod the file it names."""
    target = tmp_path / "elsewhere"
    target.write_text("not a lock")
    target.chmod(0o644)
    link = tmp_path / "ledger.lock"
    os.symlink(target, link)
    with pytest.raises(OSError) as caught, file_lock(link, timeout=0):
        pytest.fail("the lock was taken through the symlink")
    assert caught.value.errno == errno.ELOOP
    assert oct(target.stat().st_mode & 0o777) == oct(0o644) and target.read_text() == "not a lock"
    assert link.is_symlink() and os.readlink(link) == str(target)


def test_a_dangling_symlinked_lock_file_creates_nothing_where_it_points(tmp_path: Path) -> None:
    missing = tmp_path / "would-be-created"
    link = tmp_path / "ledger.lock"
    os.symlink(missing, link)
    with pytest.raises(OSError), file_lock(link, timeout=0):
        pytest.fail("the lock was taken through the symlink")
    assert not os.path.lexists(missing)


def test_every_file_lock_in_drillbook_goes_through_this_helper() -> None:
    """One helper, so every lock has a timeout and no lock file is unlinked: no module flocks alone."""
    src = Path(__file__).resolve().parents[3] / "src" / "drillbook"
    helper = src / "util" / "locks.py"
    calls = re.compile(r"\bimport fcntl\b|\bfcntl\.|\bflock\(|\blockf\(|LOCK_(?:EX|SH|NB)\b")
    unlinks = re.compile(r"unlink\(.*lock|lock.*\.unlink\(")
    found = [f"{path.relative_to(src)}:{number}: {line.strip()}"
             for path in sorted(src.rglob("*.py")) if path != helper
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if calls.search(line) or unlinks.search(line)]
    assert found == [], "take file locks with drillbook.util.locks.file_lock"


def test_a_holder_names_itself_and_whoever_finds_the_lock_busy_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "drill.lock"
    with file_lock(path, timeout=0) as fd:
        say_holder(fd, "pid 42")
        with pytest.raises(LockBusy) as busy, file_lock(path, timeout=0):
            pass
    assert busy.value.holder == "pid 42"
    with file_lock(path, timeout=0) as fd:
        say_holder(fd, "")
    assert path.read_text() == ""
