"""Resolve a repository password from its declared source without ever logging it."""

from __future__ import annotations

import os
from pathlib import Path

from drillbook.backends import aws
from drillbook.errors import PasswordError
from drillbook.spec.models import PasswordSource


def resolve_password(source: PasswordSource, base_dir: Path) -> str:
    if source.env:
        value = os.environ.get(source.env)
        if not value:
            raise PasswordError(f"password variable {source.env} is not set")
        return value
    if source.file:
        path = Path(os.path.expanduser(source.file))
        path = path if path.is_absolute() else base_dir / path
        try:
            value = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise PasswordError(f"cannot read password file {path}: {exc.strerror}") from None
        if not value:
            raise PasswordError(f"password file {path} is empty")
        return value
    if source.aws_secret:
        return aws.secret_value(source.aws_secret, source.key)
    if source.ssm:
        return aws.ssm_parameter(source.ssm)
    raise PasswordError("no password source given")
