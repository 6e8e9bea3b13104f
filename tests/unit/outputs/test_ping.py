"""Healthchecks-style pings: URL/start, URL on a pass, URL/fail otherwise; short, never fatal."""

from __future__ import annotations

import json
import logging
import time
from types import SimpleNamespace

import pytest

from devtools.receiver import Receiver
from drillbook.outputs import ping, webhook
from drillbook.spec.models import ProjectConfig

TOKEN = "0f1e2d3c-aaaa-bbbb-cccc-123456789abc"


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(webhook, "BACKOFF_FACTOR", 0.0)


@pytest.mark.parametrize("base, event, expected", [
    ("https://hc-ping.com/uuid", "start", "https://hc-ping.com/uuid/start"),
    ("https://hc-ping.com/uuid/", "fail", "https://hc-ping.com/uuid/fail"),
    ("https://hc-ping.com/uuid", "success", "https://hc-ping.com/uuid"),
    ("https://hc-ping.com/key/clinic-drill?create=1", "start", "https://hc-ping.com/key/clinic-drill/start?create=1"),
])
def test_the_url_of_each_event(base, event, expected):
    assert ping.url_for(base, ping.PingEvent(event)) == expected


@pytest.mark.parametrize("status, event", [("passed", "success"), ("failed", "fail"), ("aborted", "fail")])
def test_a_finished_run_pings_success_or_fail(status, event):
    assert ping.event_of(status) == event


def test_the_drills_and_the_projects_urls_are_pinged_once_each():
    drill = SimpleNamespace(ping="https://a.example/1")
    assert ping.urls(drill, ProjectConfig(ping="https://a.example/1")) == ["https://a.example/1"]
    assert ping.urls(drill, ProjectConfig(ping="https://b.example/2")) == ["https://a.example/1", "https://b.example/2"]
    assert ping.urls(None, None) == []


def test_a_ping_posts_plain_text_to_the_events_path():
    with Receiver() as receiver:
        [entry] = ping.send([f"{receiver.url}/{TOKEN}"], ping.PingEvent.FAIL, "drill clinic failed: \x1b[2Jwhy")
    [post] = receiver.posts
    assert (post["method"], post["path"]) == ("POST", f"/{TOKEN}/fail")
    assert post["content_type"].startswith("text/plain") and post["text"] == "drill clinic failed: why"
    assert entry["status"] == "sent" and entry["event"] == "fail"
    assert entry["target"] == f"ping {receiver.url}/***" and TOKEN not in json.dumps(entry)


def test_a_dead_ping_receiver_is_recorded_and_logged_quickly_without_its_token(caplog, monkeypatch):
    monkeypatch.setattr(ping, "PING_TIMEOUT", 1.0)
    began = time.monotonic()
    with caplog.at_level(logging.WARNING):
        [entry] = ping.send([f"http://127.0.0.1:9/{TOKEN}"], ping.PingEvent.START, "started")
    assert time.monotonic() - began < 5
    assert entry["status"] == "failed" and "cannot reach" in entry["detail"]
    assert "ping to" in caplog.text and TOKEN not in caplog.text + json.dumps(entry)


def test_a_refused_ping_is_a_failed_entry():
    with Receiver(status=404) as receiver:
        [entry] = ping.send([f"{receiver.url}/x"], ping.PingEvent.SUCCESS, "passed")
    assert entry["status"] == "failed" and "HTTP 404" in entry["detail"]


def test_a_long_message_is_cut():
    with Receiver() as receiver:
        ping.send([f"{receiver.url}/x"], ping.PingEvent.FAIL, "x" * 100_000)
    assert len(receiver.posts[0]["text"]) <= ping.MESSAGE_MAX


def test_the_finish_message_says_what_happened():
    record = {"drill": "clinic", "kind": "drill", "status": "failed", "reason": "1 of 2 checks failed",
              "run_id": "20260506T030000Z-aaaaaa"}
    text = ping.finish_message(record)
    for piece in ("clinic", "failed", "1 of 2 checks failed", "20260506T030000Z-aaaaaa"):
        assert piece in text
