"""The private signing key and the folders around it are drillbook's account's alone."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from drillbook.errors import CannotRun
from drillbook.evidence import signing
from drillbook.settings import Settings


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    return Settings(reports_dir=tmp_path / "reports", state_dir=tmp_path / "srv" / "drillbook" / "state")


def test_a_new_key_is_0600_in_folders_made_0700_at_every_level(settings: Settings, tmp_path: Path) -> None:
    signer = signing.load_signer(settings)
    assert oct(mode_of(signer.source)) == oct(0o600)
    for folder in (tmp_path / "srv", tmp_path / "srv" / "drillbook", settings.state_dir):
        assert oct(mode_of(folder)) == oct(0o700), folder


@pytest.mark.parametrize("mode", [0o620, 0o602], ids=["group", "world"])
def test_a_key_others_may_write_is_refused(settings: Settings, mode: int) -> None:
    """Whoever may replace the key signs the evidence in drillbook's name."""
    path = signing.load_signer(settings).source
    path.chmod(mode)
    with pytest.raises(CannotRun, match=f"chmod 600 {path}"):
        signing.load_signer(settings)


def test_a_key_others_may_read_still_loads_with_a_warning(settings: Settings,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    path = signing.load_signer(settings).source
    path.chmod(0o644)
    assert signing.load_signer(settings).source == path
    assert "readable by others" in caplog.text
