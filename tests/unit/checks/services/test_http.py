"""``http`` end to end on the host's loopback: a launcher without namespaces, real servers."""

from __future__ import annotations

import socket
from pathlib import Path

from drillbook.checks.base import CheckContext
from drillbook.checks.services.http import check_http
from drillbook.spec.models import HttpCheck
from drillbook.status import Status
from tests.support import free_port
from tests.unit.checks.fakes import LocalLauncher
from tests.unit.checks.services.loopback import http_server


def _ctx(tmp_path: Path) -> CheckContext:
    for name in ("restore", "work", "logs"):
        (tmp_path / name).mkdir(exist_ok=True)
    return CheckContext(tmp_path / "restore", tmp_path / "work", LocalLauncher(tmp_path / "logs"))


def _spec(**fields: object) -> HttpCheck:
    return HttpCheck.model_validate({"type": "http", "ready_timeout": "5s", **fields})


def test_a_running_service_with_the_expected_body_passes(tmp_path: Path) -> None:
    with http_server() as port:
        result = check_http(_spec(url=f"http://127.0.0.1:{port}/", expect_body="portal ok",
                                  expect_regex=r"^clinic"), _ctx(tmp_path))
    assert result.status == Status.PASSED, result.detail
    assert result.detail.startswith(f"http://127.0.0.1:{port}/ answered 200 in ")
    assert result.data["body_head"] == "clinic portal ok" and result.data["body_bytes"] == 16


def test_wrong_status_and_body_fail_with_both_reasons(tmp_path: Path) -> None:
    with http_server() as port:
        result = check_http(_spec(url=f"http://127.0.0.1:{port}/status", ready_timeout="1s",
                                  expect_body="portal ok"), _ctx(tmp_path))
    assert result.status == Status.FAILED
    assert result.detail == "status 503, expected 200; body does not contain 'portal ok' (starts with 'maintenance')"


def test_a_service_started_from_the_restore_is_probed_and_stopped(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    launcher = ctx.launcher
    assert isinstance(launcher, LocalLauncher)
    (ctx.restore_root / "index.html").write_text("restored portal\n")
    with socket.create_server(("127.0.0.1", 0)) as spare:
        port = spare.getsockname()[1]
    start = ["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    result = check_http(_spec(url=f"http://127.0.0.1:{port}/index.html", start=start,
                              expect_body="restored portal"), ctx)
    assert result.status == Status.PASSED, result.detail
    assert [s.poll() is not None for s in launcher.services] == [True]


def test_a_service_that_dies_fails_with_its_output(tmp_path: Path) -> None:
    start = ["python3", "-c", "import sys; print('config missing'); sys.exit(3)"]
    result = check_http(_spec(url=f"http://127.0.0.1:{free_port()}/", start=start), _ctx(tmp_path))
    assert result.status == Status.FAILED
    assert result.detail.startswith("the service exited with code 3 before http://127.0.0.1:")
    assert result.data["service_output_tail"] == ["config missing"]
