"""A moto S3 server process on loopback: the demo's stand-in for S3, and the tests' real S3 API.

One place starts it (a process of its own, so restic and boto3 talk real HTTP to it) and stops it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def moto_binary() -> str | None:
    local = Path(sys.executable).parent / "moto_server"
    return str(local) if local.exists() else shutil.which("moto_server")


def start_moto_server(port: int, log_path: Path, env: dict[str, str],
                      timeout: float = 30.0) -> subprocess.Popen[bytes]:
    """Start ``moto_server`` on 127.0.0.1:port and wait until it answers."""
    binary = moto_binary()
    if not binary:
        raise RuntimeError("moto_server is not installed (pip install 'moto[server]')")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, **env})
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited; see {log_path}")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    stop_moto_server(proc)
    raise RuntimeError(f"moto_server did not answer on {endpoint} within {timeout:.0f}s; see {log_path}")


def stop_moto_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
