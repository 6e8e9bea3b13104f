"""What may be shown of a URL (util/scrub.mask_url): scheme, host and port name the receiver."""

from __future__ import annotations

import pytest

from drillbook.util.scrub import mask_url


@pytest.mark.parametrize("url, shown", [
    ("https://hooks.slack.com/services/T0000AAAA/B0000BBBB/abcdEFGH1234ijklMNOP5678",
     "https://hooks.slack.com/***/***/***/***"),
    ("https://alerts.example.org/hook?token=s3cr3t&team=dr", "https://alerts.example.org/***?***"),
    ("https://bot:hunter22@alerts.example.org:8443/x", "https://***@alerts.example.org:8443/***"),
    ("http://127.0.0.1:8080/notify", "http://127.0.0.1:8080/***"),
])
def test_webhook_urls_are_redacted(url, shown):
    assert mask_url(url) == shown


@pytest.mark.parametrize("url, shown", [
    ("https://hooks.example.org/services/T00/B00/abcdef", "https://hooks.example.org/***/***/***/***"),
    ("https://hooks.example.org/hook/secret", "https://hooks.example.org/***/***"),
    ("https://hooks.example.org/hook/secret/", "https://hooks.example.org/***/***/"),
    ("https://hooks.example.org/?k", "https://hooks.example.org/?***"),
    ("https://hooks.example.org", "https://hooks.example.org"),
    ("https://hooks.example.org/hook#frag", "https://hooks.example.org/***#***"),
    ("https://user@hooks.example.org/", "https://***@hooks.example.org/"),
    ("http://[::1]:8080/hook/secret", "http://[::1]:8080/***/***"),
    ("hooks.example.org/hook/secret", "***"),
    ("http://hooks.example.org:99999/hook/secret", "***"),
])
def test_every_path_segment_query_and_userinfo_is_masked(url, shown):
    """Short or letters-only tokens are tokens too: only scheme, host and port identify the receiver."""
    assert mask_url(url) == shown
