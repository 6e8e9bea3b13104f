"""A reports folder with three sealed runs, shared by the ledger and verifier tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.evidence import ledger, signing
from drillbook.settings import Settings
from tests.unit.evidence.ledgers import fake_run, make_settings


@pytest.fixture
def sealed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, list[Path]]:
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    settings = make_settings(tmp_path)
    folders = [fake_run(settings.reports_dir, "clinic", f"20261102T0{i}0000Z-00000{i}") for i in range(1, 4)]
    for folder in folders:
        ledger.seal(folder, settings)
    return settings, folders
