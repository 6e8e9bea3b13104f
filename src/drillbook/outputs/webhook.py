"""POST a notification's JSON to a webhook, with urllib3.

Rules:
- a redirect is never followed: a client that follows a 302 turns the POST into a GET without
  the body, and the receiver's answer to that GET would make a notification nobody got look sent;
  a 3xx is a failure that names where the receiver pointed (masked);
- 429 and 5xx, connection errors and timeouts are retried, the POST included (a notification
  received twice is better than none); ``Retry-After`` is honoured up to ``RETRY_AFTER_MAX``
  seconds, other retries back off exponentially up to ``BACKOFF_MAX``; at most
  ``WEBHOOK_ATTEMPTS`` attempts, each with the target's own ``timeout``;
- another 4xx is the receiver refusing the request: not retried; the start of its answer is
  quoted (Slack's ``invalid_payload`` says what was wrong);
- the URL may carry tokens: urllib3's own log lines quote its path, so while a webhook is being
  sent they are scrubbed of the URL's secret parts; callers mask what they record.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from drillbook.util.lazy import lazy_module
from drillbook.util.plain import strip_controls
from drillbook.util.scrub import mask_url, scrub, url_secrets

if TYPE_CHECKING:
    import urllib3
else:
    urllib3 = lazy_module("urllib3")  # ~60 ms (its URL patterns): only a run that sends something pays it

WEBHOOK_ATTEMPTS = 3
WEBHOOK_HEADERS = {"Content-Type": "application/json", "User-Agent": "drillbook-notify"}
RETRY_STATUSES = frozenset({429, *range(500, 600)})
BACKOFF_FACTOR = 0.5  # seconds before the second retry; urllib3 retries the first at once
BACKOFF_MAX = 10.0
ANSWER_MAX = 200  # characters of a refusal's body quoted in the detail
RETRY_AFTER_MAX = 30  # a receiver asking for more is retried after this many seconds

URLLIB3_LOGGERS = ("urllib3", "urllib3.connectionpool", "urllib3.poolmanager", "urllib3.connection",
                   "urllib3.response", "urllib3.util.retry", "urllib3.http2.connection")
_secrets: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("webhook_secrets", default=())


class ScrubSending(logging.Filter):
    """Removes the secret parts of the URL being sent from urllib3's log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _secrets.get()
        if secrets:
            record.msg, record.args = scrub(record.getMessage(), secrets), None
        return True


_filter = ScrubSending()
for _name in URLLIB3_LOGGERS:
    logging.getLogger(_name).addFilter(_filter)


@contextmanager
def scrubbing(url: str) -> Iterator[None]:
    token = _secrets.set(tuple(url_secrets(url)))
    try:
        yield
    finally:
        _secrets.reset(token)


def retry_policy(attempts: int = WEBHOOK_ATTEMPTS) -> urllib3.Retry:
    return urllib3.Retry(
        total=attempts - 1, redirect=0, raise_on_redirect=False,
        status_forcelist=RETRY_STATUSES, allowed_methods=frozenset({"POST"}), raise_on_status=False,
        respect_retry_after_header=True, retry_after_max=RETRY_AFTER_MAX,
        backoff_factor=BACKOFF_FACTOR, backoff_max=BACKOFF_MAX)


def answer_of(response: urllib3.BaseHTTPResponse) -> str:
    """The start of a refusal's body (Slack says ``invalid_payload``, ``no_text``), plain text."""
    text = strip_controls(response.data[:ANSWER_MAX].decode("utf-8", "replace"), keep="").strip()
    return f": {text}" if text else ""


def post_webhook(url: str, body: str, timeout: float, *, attempts: int = WEBHOOK_ATTEMPTS,
                 content_type: str = "application/json") -> tuple[str, str]:
    """POST ``body``; returns ("sent" or "failed", why), the values of notify's ``Delivery``.

    The detail may quote ``url``: the caller masks it. Pings (:mod:`drillbook.outputs.ping`)
    go the same way, with fewer attempts and a text body.
    """
    headers = {**WEBHOOK_HEADERS, "Content-Type": content_type}
    with scrubbing(url), urllib3.PoolManager(retries=retry_policy(attempts)) as pool:
        try:
            response = pool.request("POST", url, body=body.encode("utf-8"), headers=headers,
                                    timeout=timeout, redirect=False)
        except urllib3.exceptions.MaxRetryError as exc:
            return "failed", f"cannot reach the receiver: {exc.reason} (after {attempts} attempts)"
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return "failed", f"cannot reach the receiver: {exc}"
    attempts = len(response.retries.history) + 1 if response.retries else 1
    status = response.status
    if 300 <= status < 400:
        where = response.headers.get("Location")
        target = mask_url(urljoin(url, where)) if where else "nowhere (no Location)"
        return "failed", f"answered {status} redirect to {target}; webhooks are not redirected"
    if status < 300:
        return "sent", f"HTTP {status} after {attempts} attempt(s)"
    problem = f"HTTP {status} {response.reason or ''}".rstrip() + answer_of(response)
    if status in RETRY_STATUSES:
        return "failed", f"{problem} (after {attempts} attempts)"
    return "failed", f"{problem} (not retried: the receiver refused the request)"
