"""The probes' own programs against real loopback servers, run here instead of in a sandbox."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

from drillbook.checks.services.probe import HTTP_PROBE, MAX_BODY, PYTHON, TCP_PROBE, run_probe
from tests.support import free_port
from tests.unit.checks.fakes import LocalLauncher, ScriptedLauncher, completed
from tests.unit.checks.services.loopback import http_server, pong_server


def _http(tmp_path: Path, url: str, window: float = 2.0, expect_status: int = 200) -> dict:
    params = {"url": url, "expect_status": expect_status, "window": window, "max_body": MAX_BODY}
    return run_probe(LocalLauncher(tmp_path), HTTP_PROBE, params, cwd=tmp_path, env={})


def _tcp(tmp_path: Path, port: int, window: float = 2.0, **extra: object) -> dict:
    params = {"host": "127.0.0.1", "port": port, "window": window, "send": None, "expect": None,
              "read_timeout": 2.0, **extra}
    return run_probe(LocalLauncher(tmp_path), TCP_PROBE, params, cwd=tmp_path, env={})


def test_http_probe_reports_status_body_and_latency(tmp_path: Path) -> None:
    with http_server() as port:
        answer = _http(tmp_path, f"http://127.0.0.1:{port}/")
    assert answer["answered"] is True and answer["status"] == 200
    assert base64.b64decode(answer["body"]) == b"clinic portal ok" and answer["latency"] >= 0


def test_http_probe_keeps_trying_a_wrong_status_until_its_window_ends(tmp_path: Path) -> None:
    with http_server() as port:
        started = time.monotonic()
        answer = _http(tmp_path, f"http://127.0.0.1:{port}/status", window=0.6)
    assert answer["answered"] is True and answer["status"] == 503
    assert base64.b64decode(answer["body"]) == b"maintenance"
    assert time.monotonic() - started >= 0.5


def test_http_probe_on_a_closed_port_says_why(tmp_path: Path) -> None:
    answer = _http(tmp_path, f"http://127.0.0.1:{free_port()}/", window=0.3)
    assert answer == {"answered": False, "error": "ConnectionRefusedError: [Errno 111] Connection refused"}


def test_tcp_probe_converses(tmp_path: Path) -> None:
    with pong_server() as port:
        answer = _tcp(tmp_path, port, send="PING\r\n", expect="PONG")
    assert answer["answered"] is True and base64.b64decode(answer["body"]) == b"+PONG\r\n"


def test_tcp_probe_without_a_conversation_only_connects(tmp_path: Path) -> None:
    with pong_server() as port:
        answer = _tcp(tmp_path, port)
    assert answer["answered"] is True and answer["body"] == ""


def test_tcp_probe_on_a_closed_port_says_why(tmp_path: Path) -> None:
    answer = _tcp(tmp_path, free_port(), window=0.3)
    assert answer["answered"] is False and answer["error"].startswith("ConnectionRefusedError")


def test_run_probe_runs_the_system_python_with_the_parameters(tmp_path: Path) -> None:
    launcher = ScriptedLauncher([completed(0, 'noise\n{"answered": true, "status": 200}\n')])
    answer = run_probe(launcher, HTTP_PROBE, {"window": 2.0}, cwd=tmp_path, env={"A": "1"})
    assert answer == {"answered": True, "status": 200}
    call = launcher.calls[0]
    assert call.argv == [PYTHON, "-c", HTTP_PROBE, json.dumps({"window": 2.0})]
    assert (call.cwd, call.env, call.timeout) == (tmp_path, {"A": "1"}, 17.0)


def test_a_probe_that_cannot_run_never_passes(tmp_path: Path) -> None:
    broken = ScriptedLauncher([completed(1, "", "Traceback\nSyntaxError: invalid syntax\n")])
    assert run_probe(broken, TCP_PROBE, {"window": 1}, cwd=tmp_path, env={}) == {
        "answered": False, "error": "probe could not run: Traceback SyntaxError: invalid syntax"}
    silent = ScriptedLauncher([completed(137)])
    assert run_probe(silent, TCP_PROBE, {"window": 1}, cwd=tmp_path, env={})["error"] == (
        "probe could not run: exit 137")
    hung = ScriptedLauncher([completed(None, timed_out=True)])
    assert run_probe(hung, TCP_PROBE, {"window": 1}, cwd=tmp_path, env={}) == {
        "answered": False, "error": "the probe itself hung and was killed"}
