"""What the engine's and the plan's tests share: the repository password set, and a harness of fakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.drill.fakes import Harness, password_env


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in password_env().items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path)
