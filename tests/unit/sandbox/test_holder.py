"""Sandbox creation's fail-closed paths and bubblewrap's error hints, without starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.sandbox import holder
from drillbook.sandbox import isolation as iso
from drillbook.spec.models import Isolation

ACCOUNT = iso.Account("drillbook-sandbox", 999, 995)


def test_no_user_namespaces_fails_closed_before_any_folder_exists(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iso, "current_mode", lambda: iso.Mode.ROOTLESS)
    monkeypatch.setattr(iso, "user_namespace_problem",
                        lambda: "user.max_user_namespaces is 0 on this host; " + iso.USERNS_HINT)
    with pytest.raises(iso.IsolationError, match=r"user\.max_user_namespaces") as raised:
        holder.Sandbox.create(tmp_path / "sandboxes", "run1", Isolation(), {})
    assert "kernel.apparmor_restrict_unprivileged_userns" in str(raised.value)
    assert not (tmp_path / "sandboxes").exists()


def test_bubblewrap_refusing_a_user_namespace_names_the_sysctls() -> None:
    for reason in ("bwrap: No permissions to create a new namespace, likely because the kernel does "
                   "not allow non-privileged user namespaces.",
                   "bwrap: setting up uid map: Permission denied"):
        assert "user.max_user_namespaces" in holder._hint(reason, ACCOUNT)


def test_an_unreachable_sandbox_folder_says_which_account_must_reach_it() -> None:
    hint = holder._hint("bwrap: Can't find source path /root/sb/run1: Permission denied", ACCOUNT)
    assert "drillbook-sandbox must be able to reach the sandbox folder" in hint
    assert "max_user_namespaces" not in hint


def test_other_bubblewrap_failures_get_no_hint() -> None:
    assert holder._hint("bwrap: execvp sleep: No such file or directory", ACCOUNT) == ""
