"""One sandbox account per run at the same time, as root: numbered slots, each held by a lock.

Every process of a sandbox runs as its account, so two runs sharing one account could signal each
other's processes and, through that account's permissions, read each other's restored data. As
root, each run takes the first free slot and uses that slot's account (see
:func:`~drillbook.sandbox.isolation.slot_account`; created on demand like the first one).

A slot is held by an flock on ``<state>/sandbox-slots/<n>.lock`` (owner-only) for the run's
lifetime. The kernel releases it when drillbook dies, however it dies, so a crash never leaves a
slot taken. A slot whose account still has a sandbox left behind under the sandbox root (kept with
``--keep-sandbox``, or one its teardown or a crash left) is passed over: its restored data is still
open to that account. Slots are numbered per state folder; drillbooks sharing a host share one.
A drill declaring ``isolation.user`` keeps that account, and an ordinary (rootless) drillbook has
only its own; neither takes a slot, and the record says the account may be shared.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from drillbook.sandbox.isolation import Account, IsolationError
from drillbook.util.atomic import make_folders
from drillbook.util.locks import LockBusy, file_lock

FOLDER = "sandbox-slots"
#: Most runs at the same time as root; each slot is an account of its own.
MAX_SLOTS = 64


@dataclass
class Slot:
    """A taken slot; ``release`` gives it back (closing the lock's descriptor)."""

    number: int
    held: contextlib.ExitStack = field(repr=False)

    def release(self) -> None:
        self.held.close()


def take(folder: Path, resolve: Callable[[int], Account], left_behind: Callable[[Account], bool],
         limit: int = MAX_SLOTS) -> tuple[Slot, Account]:
    """The first slot nobody holds whose account has nothing left behind, and that account.

    ``resolve`` finds (or creates) the slot's account; an account that cannot be had fails the
    sandbox, and the slot is given back.
    """
    try:
        make_folders(folder, 0o700)
    except OSError as exc:
        raise IsolationError(f"cannot keep sandbox slots in {folder}: {exc.strerror or exc}") from None
    passed_over: list[str] = []
    for number in range(limit):
        held = contextlib.ExitStack()
        try:
            held.enter_context(file_lock(folder / f"{number}.lock", timeout=0))
            account = resolve(number)
        except LockBusy:
            continue
        except BaseException:
            held.close()
            raise
        if not left_behind(account):
            return Slot(number, held), account
        held.close()
        passed_over.append(account.name)
    left = (f"; {', '.join(passed_over[:3])} still own sandboxes left behind (drillbook cleanup "
            "removes them)") if passed_over else ""
    raise IsolationError(f"all {limit} sandbox slots are taken by runs going on now{left}")


def left_behind(root: Path, account: Account) -> bool:
    """Whether a run folder under the sandbox root still belongs to, or is open to, the account."""
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return False
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        mine = info.st_uid == account.uid or info.st_gid == account.gid
        if mine and entry.is_dir(follow_symlinks=False):
            return True
    return False
