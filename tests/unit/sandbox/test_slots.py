"""Sandbox slots: the first free one, held by a lock for the run's lifetime, one account each."""

from __future__ import annotations

import multiprocessing
import os
import signal
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from drillbook.sandbox import holder, slots
from drillbook.sandbox import isolation as iso
from drillbook.spec.models import Isolation

ROOT, ROOTLESS = iso.Mode.ROOT, iso.Mode.ROOTLESS


def accounts() -> Callable[[int], iso.Account]:
    return lambda number: iso.Account(iso.slot_account(number), 5000 + number, 6000 + number)


def nothing_left(account: iso.Account) -> bool:
    return False


def test_slot_zero_is_the_dedicated_account_and_each_other_slot_has_its_own() -> None:
    assert iso.slot_account(0) == "drillbook-sandbox"
    assert iso.slot_account(1) == "drillbook-sandbox-1" and iso.slot_account(12) == "drillbook-sandbox-12"


def test_each_run_takes_the_first_free_slot_and_gives_it_back(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "sandbox-slots"
    first, first_account = slots.take(folder, accounts(), nothing_left)
    second, second_account = slots.take(folder, accounts(), nothing_left)
    assert (first.number, second.number) == (0, 1)
    assert (first_account.name, second_account.name) == ("drillbook-sandbox", "drillbook-sandbox-1")
    first.release()
    first.release()  # idempotent
    again, _ = slots.take(folder, accounts(), nothing_left)
    assert again.number == 0
    second.release()
    again.release()


def test_slot_locks_are_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "sandbox-slots"
    slot, _ = slots.take(folder, accounts(), nothing_left)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "0.lock").stat().st_mode) == 0o600
    slot.release()


def _hold_slot(folder: str, ready: multiprocessing.synchronize.Event) -> None:
    slot, _ = slots.take(Path(folder), accounts(), nothing_left)
    ready.set()
    signal.pause()
    slot.release()


def test_a_slot_is_free_again_when_its_drillbook_dies(tmp_path: Path) -> None:
    folder = tmp_path / "sandbox-slots"
    ready = multiprocessing.Event()
    child = multiprocessing.Process(target=_hold_slot, args=(str(folder), ready), daemon=True)
    child.start()
    try:
        assert ready.wait(10)
        busy, _ = slots.take(folder, accounts(), nothing_left)
        assert busy.number == 1
    finally:
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join(10)
    free, _ = slots.take(folder, accounts(), nothing_left)
    assert free.number == 0
    busy.release()
    free.release()


def test_a_slot_whose_account_still_owns_a_sandbox_left_behind_is_passed_over(tmp_path: Path) -> None:
    folder = tmp_path / "sandbox-slots"
    slot, account = slots.take(folder, accounts(), lambda a: a.name == "drillbook-sandbox")
    assert (slot.number, account.name) == (1, "drillbook-sandbox-1")
    passed_over, _ = slots.take(folder, accounts(), nothing_left)
    assert passed_over.number == 0  # not held: only a sandbox left behind keeps it from being used
    slot.release()
    passed_over.release()


def test_left_behind_sees_a_run_folder_open_to_the_accounts_group(tmp_path: Path) -> None:
    root = tmp_path / "sandboxes"
    assert not slots.left_behind(root, iso.Account("x", 5000, 6000))  # no sandbox root yet
    (root / "run-1").mkdir(parents=True)
    me = iso.Account("me", os.getuid(), os.getgid())
    assert slots.left_behind(root, me)
    assert not slots.left_behind(root, iso.Account("x", os.getuid() + 7, os.getgid() + 7))


def test_when_every_slot_is_taken_the_sandbox_cannot_be_isolated(tmp_path: Path) -> None:
    folder = tmp_path / "sandbox-slots"
    held = [slots.take(folder, accounts(), nothing_left, limit=2)[0] for _ in range(2)]
    with pytest.raises(iso.IsolationError, match="all 2 sandbox slots are taken"):
        slots.take(folder, accounts(), nothing_left, limit=2)
    for slot in held:
        slot.release()


def test_an_account_that_cannot_be_made_gives_its_slot_back(tmp_path: Path) -> None:
    def broken(number: int) -> iso.Account:
        raise iso.IsolationError("cannot create the unprivileged account drillbook-sandbox")

    folder = tmp_path / "sandbox-slots"
    with pytest.raises(iso.IsolationError, match="cannot create"):
        slots.take(folder, broken, nothing_left)
    slot, _ = slots.take(folder, accounts(), nothing_left)
    assert slot.number == 0
    slot.release()


# -- which account a sandbox gets -------------------------------------------------------------

def test_as_root_a_slot_names_the_account_to_use_or_create(monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[str] = []

    def getpwnam(name: str):
        raise KeyError(name)

    def create(name: str):
        created.append(name)
        return type("Entry", (), {"pw_name": name, "pw_uid": 5003, "pw_gid": 6003})()

    monkeypatch.setattr(iso.pwd, "getpwnam", getpwnam)
    monkeypatch.setattr(iso, "_create_account", create)
    assert iso.resolve_account(Isolation(), ROOT, slot=3) == iso.Account("drillbook-sandbox-3", 5003, 6003)
    assert created == ["drillbook-sandbox-3"]


def test_who_shares_the_account_is_recorded() -> None:
    account = iso.Account("drillbook-sandbox-2", 5002, 6002)
    record = iso.isolation_record("none", account, Isolation().limits, ROOT, slot=2)
    assert record["user_slot"] == 2 and "no other run of this drillbook uses it" in record["user_sharing"]
    rootless = iso.isolation_record("none", account, Isolation().limits, ROOTLESS)
    assert rootless["user_slot"] is None and "cannot switch uids" in rootless["user_sharing"]
    declared = iso.isolation_record("none", account, Isolation().limits, ROOT, declared=True)
    assert "isolation.user" in declared["user_sharing"]


def test_a_declared_user_or_rootless_drillbook_takes_no_slot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_slot(*args: object, **kwargs: object) -> None:
        raise AssertionError("no slot may be taken")

    monkeypatch.setattr(slots, "take", no_slot)
    monkeypatch.setattr(iso, "resolve_account", lambda isolation, mode, slot=0: iso.Account("app", 5000, 6000))
    folder = tmp_path / "sandbox-slots"
    assert holder.account_for(tmp_path, Isolation(user="app"), ROOT, folder) == (None, iso.Account("app", 5000, 6000))
    assert holder.account_for(tmp_path, Isolation(), ROOTLESS, folder)[0] is None
    assert holder.account_for(tmp_path, Isolation(), ROOT, None)[0] is None
