"""A local webhook receiver on 127.0.0.1 that records every request.

One receiver for everything that needs to watch notifications arrive: the ``serve`` demo (its alert
receiver on loopback) and the notification, ping, metrics and scheduler tests. ``service`` makes it judge
bodies the way the real service does, so a body the service would refuse fails here too:

- ``slack``: an incoming webhook takes a JSON object with ``text``; anything else is answered
  400 ``invalid_payload``;
- ``teams``: a Workflows webhook takes ``{"type": "message", "attachments": [...]}`` whose every
  attachment's ``content.type`` is ``AdaptiveCard``; anything else is answered 400;
- ``json`` (the default): any body.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Answer = tuple[int, dict[str, str]]
Service = Literal["json", "slack", "teams"]


def parsed(raw: bytes) -> Any:
    """The body as JSON, or None when it is not JSON (a ping's text, a broken body)."""
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None


def slack_refusal(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("text"), str) and body["text"]:
        return None
    return "invalid_payload"


def teams_refusal(body: Any) -> str | None:
    attachments = body.get("attachments") if isinstance(body, dict) else None
    if (isinstance(body, dict) and body.get("type") == "message" and isinstance(attachments, list) and attachments
            and all(isinstance(a, dict) and isinstance(a.get("content"), dict)
                    and a["content"].get("type") == "AdaptiveCard" for a in attachments)):
        return None
    return "Bad Request: attachments[].content.type must be AdaptiveCard"


REFUSALS: dict[str, Callable[[Any], str | None]] = {
    "slack": slack_refusal, "teams": teams_refusal, "json": lambda body: None}


class Receiver:
    """Answers ``status`` to every request: ``Receiver(status=503)`` tests retries.

    ``answers`` are given first, one per request and in order, each a status and its headers:
    ``Receiver(answers=[(429, {"Retry-After": "1"})])`` throttles once, then answers ``status``.
    Each request is kept in ``posts`` as its method, path, body (JSON, or None when it is not),
    raw ``text``, Content-Type and arrival time (a GET is kept too: it is what a client that
    follows a redirect sends, and what a ping may be; a PUT is what a Pushgateway client
    sends). ``paths`` lists the paths in order.
    """

    def __init__(self, status: int = 200, answers: Iterable[Answer] = (), service: Service = "json") -> None:
        self.status = status
        self.answers = list(answers)
        self.refusal = REFUSALS[service]
        self.posts: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = parsed(raw)
                owner.posts.append({"method": self.command, "path": self.path, "body": body,
                                    "text": raw.decode("utf-8", "replace"),
                                    "content_type": self.headers.get("Content-Type"),
                                    "at": time.monotonic()})
                status, headers = owner.answers.pop(0) if owner.answers else (owner.status, {})
                refused = owner.refusal(body) if self.command == "POST" and status < 300 else None
                answer = refused.encode() if refused else b""
                self.send_response(400 if refused else status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST  # noqa: N815 (http.server dispatches on this name)
            do_PUT = do_POST  # noqa: N815 (http.server dispatches on this name)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def paths(self) -> list[str]:
        return [p["path"] for p in self.posts]

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

