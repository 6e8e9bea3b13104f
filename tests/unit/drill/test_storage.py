"""Whether a restore goes into the sandbox's tmpfs: it must fit, counted as tmpfs charges it."""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.drill import storage
from drillbook.sandbox.isolation import Account, Mode, holder_argv

MIB = 1024 * 1024


def test_no_budget_means_disk_without_a_reason() -> None:
    chosen = storage.decide(None, 10, 1, as_root=False)
    assert chosen.record() == {"kind": "disk", "shown": "disk", "cap_bytes": None, "reason": None, "swap_on": None}


def test_a_restore_that_fits_goes_to_tmpfs_and_says_whether_the_host_swaps(monkeypatch, tmp_path: Path) -> None:
    swaps = tmp_path / "swaps"
    swaps.write_text("Filename\tType\tSize\tUsed\tPriority\n/swapfile file 1048572 0 -2\n")
    monkeypatch.setattr(storage, "SWAPS", str(swaps))
    chosen = storage.decide(512 * MIB, 500 * MIB, 1000, as_root=False)
    assert chosen.record() == {"kind": "tmpfs", "shown": "tmpfs, 512.0 MiB cap", "cap_bytes": 512 * MIB,
                               "reason": None, "swap_on": True}


def test_each_file_is_charged_a_whole_last_page() -> None:
    """A thousand one-byte files may take about 4 MB of tmpfs, not 1 KB."""
    needed = 1000 + 1000 * 4096
    assert storage.decide(needed - 1, 1000, 1000, as_root=False).tmpfs_bytes is None
    assert storage.decide(needed, 1000, 1000, as_root=False).tmpfs_bytes == needed


@pytest.mark.parametrize(("as_root", "said"), [(True, "restic restores as root"), (False, "more than the 1.0 MiB")])
def test_a_restore_that_cannot_go_to_tmpfs_goes_to_disk_and_says_why(as_root: bool, said: str) -> None:
    chosen = storage.decide(MIB, 2 * MIB if not as_root else 10, 5, as_root=as_root)
    assert chosen.tmpfs_bytes is None and said in (chosen.reason or "") and chosen.shown == "disk"


def test_the_namespace_mounts_a_capped_tmpfs_on_restore_instead_of_binding_the_disk(tmp_path: Path) -> None:
    account = Account("drillbook-sandbox", 999, 995)
    on_disk = holder_argv(tmp_path, "none", 3, account, Mode.ROOTLESS)
    in_memory = holder_argv(tmp_path, "none", 3, account, Mode.ROOTLESS, restore_tmpfs=64 * MIB)
    restore = str(tmp_path / "restore")
    assert ["--bind", restore, restore] == on_disk[on_disk.index(restore) - 1:on_disk.index(restore) + 2]
    assert restore not in [a for i, a in enumerate(in_memory) if in_memory[i - 1] == "--bind"]
    at = in_memory.index(restore)
    assert in_memory[at - 5:at + 1] == ["--size", str(64 * MIB), "--perms", "0700", "--tmpfs", restore]
