"""The one rule for what a secret is, and the one way to keep secrets out of what we write.

Secrets are values, not names: a password read from a file, a token in an environment variable
whose name says it is secret, AWS credentials handed to restic. Anything that reaches a record,
a report, a log or a notification passes through :class:`Scrubber` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

MASK = "***"
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_KEY", re.I)
MIN_NAMED_SECRET = 4  # shorter values of secret-named variables would mask ordinary words
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>\]]+")


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of variables whose names say they are secret."""
    return [v for k, v in env.items() if is_secret_name(k) and len(v) >= MIN_NAMED_SECRET]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``; longest first, so masks never nest wrong."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class Scrubber:
    """The secrets of one run, collected as they become known, applied to everything written."""

    def __init__(self, secrets: Iterable[str] = ()):
        self.secrets: list[str] = [s for s in secrets if s]

    def add(self, *secrets: str) -> None:
        self.secrets += [s for s in secrets if s and s not in self.secrets]

    def add_env(self, env: Mapping[str, str]) -> None:
        self.add(*secret_values(env))

    def __call__(self, text: str) -> str:
        return scrub(text, self.secrets)

    def tail(self, text: str, lines: int = 15, width: int = 400) -> list[str]:
        """The last non-empty ``lines`` of ``text``, scrubbed and cut to ``width``."""
        kept = [line.rstrip() for line in text.splitlines() if line.strip()]
        return [self(line)[:width] for line in kept[-lines:]]


def mask_url(url: str) -> str:
    """Scheme, host and port name the receiver; userinfo, every path segment, the query and the
    fragment may each be a key (``/services/T00/B00/abcdef``, ``/hook/secret``): each is ``***``.

    Anything that does not parse as scheme://host is masked whole.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return MASK
    if not parts.scheme or not host:
        return MASK
    host = f"[{host}]" if ":" in host else host
    userinfo = f"{MASK}@" if "@" in parts.netloc else ""
    path = "/".join(MASK if segment else "" for segment in parts.path.split("/"))
    query = f"?{MASK}" if parts.query else ""
    fragment = f"#{MASK}" if parts.fragment else ""
    return f"{parts.scheme}://{userinfo}{host}{port}{path}{query}{fragment}"


def mask_urls(text: str) -> str:
    """``text`` with every URL in it masked by :func:`mask_url`."""
    return URL.sub(lambda match: mask_url(match.group(0)), text)


def url_secrets(url: str) -> list[str]:
    """What of ``url`` must not appear in text that quotes it whole or in part (an error message
    may quote only the path): the part after the host, its path, query and fragment, the userinfo,
    and each segment, query key and value long enough not to mask ordinary words."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    userinfo = parts.netloc.rpartition("@")[0]
    host_at = url.find(parts.netloc, url.find("//") + 2) if parts.netloc else -1
    rest = url[host_at + len(parts.netloc):] if host_at >= 0 else url
    pieces = [rest, parts.path, parts.query, parts.fragment, userinfo, *userinfo.split(":"),
              *parts.path.split("/")]
    pieces += re.split(r"[&;=]", parts.query)
    pieces += [item for pair in parse_qsl(parts.query, keep_blank_values=True) for item in pair]
    found = {p for p in pieces if len(p) >= MIN_NAMED_SECRET and p.strip("/")}
    return sorted(found | {unquote(p) for p in found}, key=len, reverse=True)
