"""A local webhook receiver on 127.0.0.1 that records every request.

One receiver for everything that needs to watch notifications arrive: the ``serve`` demo (its alert
receiver on loopback) and the notification and scheduler tests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str]]


class Receiver:
    """Answers ``status`` to every request: ``Receiver(status=503)`` tests retries.

    ``answers`` are given first, one per request and in order, each a status and its headers:
    ``Receiver(answers=[(429, {"Retry-After": "1"})])`` throttles once, then answers ``status``.
    Each request is kept in ``posts`` as its method, path, JSON body (None when the body is not
    JSON), body as text, Content-Type and arrival time (a GET is kept too: it is what a client that
    follows a redirect sends; a PUT is what a Pushgateway client sends).
    """

    def __init__(self, status: int = 200, answers: Iterable[Answer] = ()) -> None:
        self.status = status
        self.answers = list(answers)
        self.posts: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.posts.append({"method": self.command, "path": self.path,
                                    "body": _json(body), "text": body.decode("utf-8", "replace"),
                                    "content_type": self.headers.get("Content-Type"),
                                    "at": time.monotonic()})
                status, headers = owner.answers.pop(0) if owner.answers else (owner.status, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST  # noqa: N815 (http.server dispatches on this name)
            do_PUT = do_POST  # noqa: N815 (http.server dispatches on this name)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int = 1, timeout: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.posts


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        return None
