"""Webhook delivery against a loopback receiver: redirects refused, 429/5xx retried with
Retry-After honoured and bounded, the URL's secret parts never recorded or logged."""

from __future__ import annotations

import json
import logging

import pytest

from devtools.receiver import Receiver
from drillbook.outputs import notify, webhook
from drillbook.spec.models import NotifyTarget

TOKEN = "s3cr3t-t0ken"


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    """Retry-After is what these tests time; the exponential backoff between plain retries is not."""
    monkeypatch.setattr(webhook, "BACKOFF_FACTOR", 0.0)


def deliver(url: str, timeout: str = "5s") -> dict:
    return notify.deliver(NotifyTarget(webhook=url, timeout=timeout), '{"status": "failed"}')


def test_a_normal_200_is_sent_once_with_the_json_body():
    with Receiver() as receiver:
        result = deliver(f"{receiver.url}/hook/{TOKEN}")
    [post] = receiver.posts
    assert result["status"] == "sent" and "HTTP 200 after 1 attempt(s)" in result["detail"]
    assert (post["method"], post["body"], post["content_type"]) == ("POST", {"status": "failed"},
                                                                    "application/json")


def test_a_302_is_a_failure_and_is_not_followed(caplog):
    caplog.set_level(logging.DEBUG)
    with Receiver(answers=[(302, {"Location": f"/moved/{TOKEN}?key=other-s3cr3t"})]) as receiver:
        result = deliver(f"{receiver.url}/alerts/{TOKEN}")
    assert [p["method"] for p in receiver.posts] == ["POST"]  # no GET to the new place
    assert result["status"] == "failed"
    assert result["detail"] == (f"answered 302 redirect to {receiver.url}/***/***?***; "
                                "webhooks are not redirected")
    shown = json.dumps(result) + caplog.text
    assert TOKEN not in shown and "other-s3cr3t" not in shown


def test_a_429_is_retried_after_its_retry_after():
    with Receiver(answers=[(429, {"Retry-After": "1"})]) as receiver:
        result = deliver(f"{receiver.url}/hook")
    first, second = receiver.posts
    assert second["at"] - first["at"] >= 0.9
    assert second["body"] == {"status": "failed"} and second["method"] == "POST"
    assert result["status"] == "sent" and "HTTP 200 after 2 attempt(s)" in result["detail"]


def test_a_retry_after_beyond_the_bound_is_waited_only_up_to_the_bound(monkeypatch):
    monkeypatch.setattr(webhook, "RETRY_AFTER_MAX", 1)
    with Receiver(answers=[(503, {"Retry-After": "3600"})]) as receiver:
        result = deliver(f"{receiver.url}/hook")
    first, second = receiver.posts
    assert second["at"] - first["at"] < 5
    assert result["status"] == "sent"


def test_503_three_times_fails_after_three_attempts(caplog):
    caplog.set_level(logging.DEBUG)
    with Receiver(status=503) as receiver:
        result = deliver(f"{receiver.url}/hook/{TOKEN}")
    assert len(receiver.posts) == 3
    assert result["status"] == "failed"
    assert "HTTP 503" in result["detail"] and "after 3 attempts" in result["detail"]
    assert TOKEN not in json.dumps(result) + caplog.text


def test_another_4xx_is_not_retried():
    with Receiver(status=404) as receiver:
        result = deliver(f"{receiver.url}/hook")
    assert len(receiver.posts) == 1
    assert result["status"] == "failed" and "HTTP 404" in result["detail"] and "not retried" in result["detail"]


def test_an_unreachable_receiver_is_retried_and_its_url_never_logged(caplog):
    caplog.set_level(logging.DEBUG)
    result = deliver(f"http://127.0.0.1:9/hook/{TOKEN}?token={TOKEN}", timeout="1s")
    assert result["status"] == "failed" and "after 3 attempts" in result["detail"]
    assert "cannot reach the receiver" in result["detail"]
    assert TOKEN not in json.dumps(result) + caplog.text


@pytest.mark.parametrize("service, fmt", [("slack", "slack"), ("teams", "teams"), ("json", "json")])
def test_each_service_accepts_the_body_of_its_format(service, fmt):
    with Receiver(service=service) as receiver:
        result = notify.deliver(NotifyTarget(webhook=f"{receiver.url}/hook", format=fmt),
                                notify_body(fmt))
    assert result["status"] == "sent", result["detail"]


@pytest.mark.parametrize("service, body, answer", [
    ("slack", '{"status": "failed"}', "invalid_payload"),
    ("slack", "not json", "invalid_payload"),
    ("teams", '{"status": "failed"}', "AdaptiveCard"),
    ("teams", '{"type": "message", "attachments": [{"content": {"type": "MessageCard"}}]}', "AdaptiveCard"),
])
def test_a_body_the_service_refuses_is_a_failure_quoting_its_answer(service, body, answer):
    with Receiver(service=service) as receiver:
        result = notify.deliver(NotifyTarget(webhook=f"{receiver.url}/hook/{TOKEN}"), body)
    assert len(receiver.posts) == 1  # a 400 is not retried
    assert result["status"] == "failed" and "HTTP 400" in result["detail"] and answer in result["detail"]
    assert TOKEN not in json.dumps(result)


def notify_body(fmt: str) -> str:
    return notify.body_for(NotifyTarget(webhook="http://127.0.0.1:9/x", format=fmt),
                           {"drill": "clinic", "status": "failed", "reason": "why", "objectives": {}},
                           folder=None)
