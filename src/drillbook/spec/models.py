"""The drill spec as data: one declaration drives validation, docs and the sample drill.

Every model forbids unknown keys (a typo in a DR objective must never be ignored, unlike barman's
INI). Durations keep the text the user wrote so reports show ``15m`` rather than ``900.0``.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from drillbook.durations import parse_duration


class Duration(float):
    """Seconds, remembering how the user wrote them."""

    text: str

    def __new__(cls, text: str) -> "Duration":
        value = super().__new__(cls, parse_duration(text))
        value.text = text.strip()
        return value

    def __repr__(self) -> str:
        return f"Duration({self.text!r})"


def _to_duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    return Duration(value)  # DurationError is a ValueError: pydantic reports it at its field


DurationValue = Annotated[
    Duration,
    PlainValidator(_to_duration),
    PlainSerializer(lambda d: d.text, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^(\d+[smhdwy])+$", "examples": ["15m", "26h"]}),
]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _relative_inside(value: str) -> str:
    """Paths in checks are relative to the restore root and may not climb out of it."""
    path = PurePosixPath(value)
    if path.is_absolute():
        raise ValueError(f'"{value}" must be relative to the restore root (drop the leading /)')
    if ".." in path.parts:
        raise ValueError(f'"{value}" may not contain ".." (paths stay inside the restore)')
    return value


RelPath = Annotated[str, PlainValidator(lambda v: _relative_inside(_require_str(v)))]


def _require_str(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{value!r} is not a path (write it as text, e.g. srv/portal)")
    return value


class Objectives(Strict):
    rto: DurationValue = Field(description="Recovery time objective: longest acceptable restore.")
    rpo: DurationValue = Field(description="Recovery point objective: oldest acceptable backup.")


class PasswordSource(Strict):
    """Where the repository password comes from; the value itself is never in the spec."""

    env: str | None = Field(None, description="Name of an environment variable.")
    file: str | None = Field(None, description="Path of a file holding the password.")
    aws_secret: str | None = Field(None, description="AWS Secrets Manager secret name or ARN.")
    key: str | None = Field(None, description="Field of a JSON secret (with aws_secret).")
    ssm: str | None = Field(None, description="SSM Parameter Store name (decrypted).")

    @model_validator(mode="after")
    def _exactly_one(self) -> "PasswordSource":
        given = [k for k in ("env", "file", "aws_secret", "ssm") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of env, file, aws_secret, ssm")
        if self.key and not self.aws_secret:
            raise ValueError("key: only goes with aws_secret")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("env", "file", "aws_secret", "ssm") if getattr(self, k))


class SnapshotSelector(Strict):
    id: str | None = Field(None, description="One snapshot by id (short or long).")
    host: str | None = None
    tags: list[str] = Field(default_factory=list, description="Every listed tag must be present.")
    path: str | None = Field(None, description="A path the snapshot was taken of.")

    @model_validator(mode="after")
    def _id_alone(self) -> "SnapshotSelector":
        if self.id and (self.host or self.tags or self.path):
            raise ValueError("id selects one snapshot: drop host/tags/path, or drop id")
        return self

    def describe(self) -> str:
        if self.id:
            return f"id {self.id}"
        parts = [f"host={self.host}"] if self.host else []
        parts += [f"tags={','.join(self.tags)}"] if self.tags else []
        parts += [f"path={self.path}"] if self.path else []
        return " ".join(parts) or "any snapshot"


class Immutability(Strict):
    mode: Literal["compliance", "governance"]
    min_retention: DurationValue


class Source(Strict):
    repository: str = Field(description="Any restic repository string (path, s3:, sftp:, rest:).")
    password: PasswordSource
    snapshot: SnapshotSelector = Field(default_factory=SnapshotSelector)
    immutability: Immutability | None = None


class Query(Strict):
    sql: str
    expect: str

    @field_validator("expect", mode="before")
    @classmethod
    def _numbers_are_equality(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("expect must be text such as '>= 1000' or an exact value")
        if isinstance(value, (int, float)):
            return f"= {value}"
        return value


class CheckBase(Strict):
    name: str | None = Field(None, description="Shown in reports; defaults to type and path.")


class FilesCheck(CheckBase):
    type: Literal["files"]
    path: RelPath = "."
    min_count: int = Field(0, ge=0)
    required: list[str] = Field(default_factory=list)


class SqliteCheck(CheckBase):
    type: Literal["sqlite"]
    path: RelPath
    queries: list[Query] = Field(default_factory=list)


class CommandCheck(CheckBase):
    type: Literal["command"]
    run: list[str] = Field(min_length=1, description="Argument list; never run through a shell.")
    timeout: DurationValue = Field(default_factory=lambda: Duration("5m"))
    env: dict[str, str] = Field(default_factory=dict)


class HttpCheck(CheckBase):
    type: Literal["http"]
    start: list[str] | None = Field(None, min_length=1)
    url: str
    expect_status: int = 200
    expect_body: str | None = None
    expect_regex: str | None = None
    ready_timeout: DurationValue = Field(default_factory=lambda: Duration("30s"))
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("expect_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class TcpCheck(CheckBase):
    type: Literal["tcp"]
    start: list[str] | None = Field(None, min_length=1)
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    ready_timeout: DurationValue = Field(default_factory=lambda: Duration("30s"))
    send: str | None = None
    expect: str | None = None
    env: dict[str, str] = Field(default_factory=dict)


class PostgresCheck(CheckBase):
    type: Literal["postgres"]
    dump: RelPath | None = Field(None, description="pg_dump file (custom or plain format).")
    data_dir: RelPath | None = Field(None, description="A restored PGDATA folder.")
    database: str | None = Field(None, description="Database to query; defaults to the dump's.")
    version: int | None = Field(None, description="PostgreSQL major version to use.")
    queries: list[Query] = Field(default_factory=list)
    ready_timeout: DurationValue = Field(default_factory=lambda: Duration("60s"))

    @model_validator(mode="after")
    def _one_source(self) -> "PostgresCheck":
        if bool(self.dump) == bool(self.data_dir):
            raise ValueError("give exactly one of dump or data_dir")
        return self


CHECK_MODELS: dict[str, type[CheckBase]] = {
    "files": FilesCheck,
    "sqlite": SqliteCheck,
    "command": CommandCheck,
    "http": HttpCheck,
    "tcp": TcpCheck,
    "postgres": PostgresCheck,
}

Check = Annotated[
    Union[FilesCheck, SqliteCheck, CommandCheck, HttpCheck, TcpCheck, PostgresCheck],
    Field(discriminator="type"),
]


class Limits(Strict):
    memory: str | None = Field(None, pattern=r"^\d+[KMG]?$", description="e.g. 512M")
    processes: int | None = Field(None, ge=1)
    open_files: int | None = Field(None, ge=16)


class Isolation(Strict):
    network: Literal["none", "host"] = "none"
    user: str | None = Field(None, description="Unprivileged account for checks and services.")
    limits: Limits = Field(default_factory=Limits)


NotifyEvent = Literal["failure", "success", "recovery", "always"]


class NotifyTarget(Strict):
    webhook: str | None = None
    sns: str | None = None
    command: list[str] | None = Field(None, min_length=1)
    on: list[NotifyEvent] = Field(default_factory=lambda: ["failure"])
    timeout: DurationValue = Field(default_factory=lambda: Duration("10s"))

    @model_validator(mode="after")
    def _one_target(self) -> "NotifyTarget":
        if sum(x is not None for x in (self.webhook, self.sns, self.command)) != 1:
            raise ValueError("give exactly one of webhook, sns, command")
        return self


class EvidenceTarget(Strict):
    s3: str = Field(pattern=r"^s3://[^/]+(/.*)?$", description="s3://bucket/prefix")
    mode: Literal["compliance", "governance"] = "compliance"
    retain: DurationValue = Field(default_factory=lambda: Duration("7y"))
    endpoint_url: str | None = None


class Drill(Strict):
    """One declared recovery drill (``drills/<name>.yaml``)."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    owner: str = ""
    schedule: str | None = Field(None, description="cron (5 fields), an alias, or 'every 6h'.")
    timezone: str = "UTC"
    jitter: DurationValue | None = None
    objectives: Objectives
    source: Source
    verify: list[Check] = Field(default_factory=list)
    isolation: Isolation = Field(default_factory=Isolation)
    env: dict[str, str] = Field(default_factory=dict)
    notify: list[NotifyTarget] = Field(default_factory=list)
    evidence: EvidenceTarget | None = None

    @field_validator("schedule")
    @classmethod
    def _schedule_parses(cls, value: str | None) -> str | None:
        from drillbook.schedules import parse_schedule  # ScheduleError is a ValueError

        if value is not None:
            parse_schedule(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_known(cls, value: str) -> str:
        from drillbook.schedules import check_timezone

        check_timezone(value)
        return value

    @field_validator("jitter")
    @classmethod
    def _jitter_fits(cls, value: Duration | None, info: Any) -> Duration | None:
        from drillbook.schedules import check_jitter

        schedule = info.data.get("schedule")
        if value is not None and schedule:
            check_jitter(schedule, float(value))
        return value


class ProjectConfig(Strict):
    """``drillbook.yaml`` beside the drills: defaults shared by every drill."""

    notify: list[NotifyTarget] = Field(default_factory=list)
    evidence: EvidenceTarget | None = None
