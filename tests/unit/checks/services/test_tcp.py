"""``tcp`` end to end on the host's loopback: a launcher without namespaces, a real server."""

from __future__ import annotations

from pathlib import Path

from drillbook.checks.base import CheckContext
from drillbook.checks.services.tcp import check_tcp
from drillbook.spec.models import TcpCheck
from drillbook.status import Status
from tests.support import free_port
from tests.unit.checks.fakes import LocalLauncher
from tests.unit.checks.services.loopback import pong_server


def _check(tmp_path: Path, **fields: object) -> tuple[str, str, dict]:
    ctx = CheckContext(tmp_path, tmp_path, LocalLauncher(tmp_path))
    result = check_tcp(TcpCheck.model_validate({"type": "tcp", "ready_timeout": "2s", **fields}), ctx)
    return result.status, result.detail, result.data


def test_the_expected_reply_passes(tmp_path: Path) -> None:
    with pong_server() as port:
        status, detail, data = _check(tmp_path, port=port, send="PING\r\n", expect="PONG")
    assert status == Status.PASSED, detail
    assert detail.startswith(f"127.0.0.1:{port} accepted after ") and detail.endswith(", replied with 'PONG'")
    assert data["received_head"] == "+PONG\r\n"


def test_another_reply_fails(tmp_path: Path) -> None:
    with pong_server() as port:
        status, detail, _ = _check(tmp_path, port=port, send="PING\r\n", expect="OK")
    assert status == Status.FAILED
    assert detail == f"127.0.0.1:{port} accepted, but the reply does not contain 'OK' (got '+PONG\\r\\n')"


def test_nothing_listening_fails(tmp_path: Path) -> None:
    port = free_port()
    status, detail, _ = _check(tmp_path, port=port, ready_timeout="1s")
    assert status == Status.FAILED
    assert detail.startswith(f"no answer from 127.0.0.1:{port} within ")
    assert "ConnectionRefusedError" in detail
