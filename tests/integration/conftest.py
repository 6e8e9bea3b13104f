"""Fixtures shared by the integration tests of this folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.s3fixtures import Moto, start_moto, stop_moto


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    server = start_moto(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        stop_moto(server.process)
