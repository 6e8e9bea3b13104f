"""The private signing key and the folders around it are drillbook's account's alone."""

from __future__ import annotations

import os
import pwd
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


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644], ids=["group", "world", "both"])
def test_a_key_others_may_read_is_narrowed_to_0600_with_a_warning(settings: Settings, mode: int,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """drillbook's own key, only too open: it is narrowed (drillbook owns it), and the warning says
    it may already have been read."""
    path = signing.load_signer(settings).source
    path.chmod(mode)
    assert signing.load_signer(settings).source == path
    assert oct(mode_of(path)) == oct(0o600)
    assert f"signing key {path} was readable by others (mode {mode:o}): narrowed to 0600" in caplog.text


def test_a_key_only_its_owner_may_read_is_left_as_it_is(settings: Settings,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    path = signing.load_signer(settings).source
    path.chmod(0o400)
    caplog.clear()
    assert signing.load_signer(settings).source == path
    assert oct(mode_of(path)) == oct(0o400) and caplog.text == ""


@pytest.mark.skipif(os.geteuid() != 0, reason="handing a file to another account needs root")
def test_a_key_owned_by_another_account_is_refused_naming_it_and_the_fix(settings: Settings) -> None:
    """That account could replace the key, and sign the evidence in drillbook's name."""
    path = signing.load_signer(settings).source
    os.chown(path, pwd.getpwnam("nobody").pw_uid, -1)
    with pytest.raises(CannotRun) as caught:
        signing.load_signer(settings)
    message = str(caught.value)
    assert f"signing key {path} is owned by nobody" in message
    assert f"chown {pwd.getpwuid(os.geteuid()).pw_name} {path} && chmod 600 {path}" in message
    assert oct(mode_of(path)) == oct(0o600) and path.stat().st_uid != os.geteuid()  # left as found


@pytest.mark.parametrize("given", [False, True], ids=["state folder", "DRILLBOOK_SIGNING_KEY"])
def test_a_symlinked_key_is_refused_naming_it_and_the_fix(settings: Settings, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch, given: bool) -> None:
    """Whoever can change the link chooses the key; the real file is named instead."""
    real = signing.load_signer(settings).source
    link = tmp_path / "elsewhere" / "key.pem"
    link.parent.mkdir()
    if given:
        link.symlink_to(real)
        monkeypatch.setenv(signing.KEY_ENV, str(link))
    else:
        moved = real.rename(link)
        real.symlink_to(moved)
        link = real
    with pytest.raises(CannotRun) as caught:
        signing.load_signer(settings)
    message = str(caught.value)
    assert f"signing key {link} is a symlink" in message and "the real file" in message


def test_a_key_that_is_not_a_regular_file_is_refused_without_waiting(settings: Settings) -> None:
    """A FIFO at the key's path would block the open for ever."""
    path = settings.state_dir / signing.KEY_FILE
    path.parent.mkdir(parents=True, mode=0o700)
    os.mkfifo(path, 0o600)
    with pytest.raises(CannotRun, match=f"signing key {path} is not a regular file"):
        signing.load_signer(settings)
