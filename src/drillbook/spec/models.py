"""The drill spec as data: one declaration drives validation, docs and the sample drill.

Every model forbids unknown keys (a typo in a DR objective must never be ignored, unlike barman's
INI). Durations keep the text the user wrote so reports show ``15m`` rather than ``900.0``.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from drillbook.checks.expectations import COMPARISON_HINT, comparison_problem
from drillbook.serve.schedules import check_jitter, check_timezone, parse_schedule  # ScheduleError: a ValueError
from drillbook.spec.envnames import ENV_NAME, check_env_name, check_env_value
from drillbook.spec.stackorder import order_problems
from drillbook.util.durations import parse_duration


class Duration(float):
    """Seconds, remembering how the user wrote them."""

    text: str

    def __new__(cls, text: str) -> Duration:
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
DEFAULT_SITE = "default"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _relative_inside(value: str) -> str:
    """Paths in checks are relative to the restore root and may not climb out of it."""
    if value.startswith("/"):  # what PurePosixPath calls absolute, without building one per path
        raise ValueError(f'"{value}" must be relative to the restore root (drop the leading /)')
    if ".." in value.split("/"):
        raise ValueError(f'"{value}" may not contain ".." (paths stay inside the restore)')
    return value


RelPath = Annotated[str, PlainValidator(lambda v: _relative_inside(_require_str(v))),
                    WithJsonSchema({"type": "string"})]


def _require_str(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{value!r} is not a path (write it as text, e.g. srv/portal)")
    return value


EnvName = Annotated[str, AfterValidator(check_env_name)]
EnvValue = Annotated[str, AfterValidator(check_env_value)]
Env = Annotated[dict[EnvName, EnvValue], WithJsonSchema({
    "type": "object", "propertyNames": {"pattern": ENV_NAME}, "additionalProperties": {"type": "string"}})]
"""An ``env:`` mapping: variable names only, none that makes a loader or interpreter run code
(see :mod:`drillbook.spec.envnames`), values without NUL."""


class Objectives(Strict):
    rto: DurationValue = Field(description="Recovery time objective: longest acceptable restore.")
    rpo: DurationValue = Field(description="Recovery point objective: oldest acceptable backup.")


PASSWORD_KINDS = ("env", "file", "aws_secret", "ssm", "command", "credential")
CREDENTIAL_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.@-]*$"
COMMAND_TIMEOUT = "30s"  # of a password command


def _credential_name(value: str) -> str:
    if not re.match(CREDENTIAL_NAME, value) or value in (".", ".."):
        raise ValueError(f'"{value}" is not a credential name (letters, digits, _ . @ - and no /: '
                         "the name given to LoadCredential= in the unit)")
    return value


CredentialName = Annotated[str, AfterValidator(_credential_name),
                           WithJsonSchema({"type": "string", "pattern": CREDENTIAL_NAME})]


class PasswordSource(Strict):
    """Where the repository password comes from; the value itself is never in the spec."""

    env: str | None = Field(None, description="Name of an environment variable.")
    file: str | None = Field(None, description="Path of a file holding the password.")
    aws_secret: str | None = Field(None, description="AWS Secrets Manager secret name or ARN.")
    key: str | None = Field(None, description="Field of a JSON secret (with aws_secret).")
    ssm: str | None = Field(None, description="SSM Parameter Store name (decrypted).")
    command: list[str] | None = Field(None, min_length=1, description=(
        "Program whose first line of output is the password (argv, never a shell; like restic's "
        "--password-command). argv[0] must be an absolute path to a program no other account can "
        "change, and drillbook.yaml must list the same argv under password_commands."))
    credential: CredentialName | None = Field(None, description=(
        "Name of a systemd credential: read from $CREDENTIALS_DIRECTORY/<name> "
        "(LoadCredential=/LoadCredentialEncrypted= of the unit)."))
    timeout: DurationValue | None = Field(None, description=(
        f"With command: killed after this long (default {COMMAND_TIMEOUT})."))

    @model_validator(mode="after")
    def _exactly_one(self) -> PasswordSource:
        given = [k for k in PASSWORD_KINDS if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(PASSWORD_KINDS)}")
        if self.key and not self.aws_secret:
            raise ValueError("key: only goes with aws_secret")
        if self.timeout is not None and not self.command:
            raise ValueError("timeout: only goes with command")
        if self.command and not PurePosixPath(self.command[0]).is_absolute():
            raise ValueError(f'command: "{self.command[0]}" must be an absolute path (e.g. '
                             f"/usr/bin/{PurePosixPath(self.command[0]).name}): a program found on "
                             "PATH is whichever comes first there")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in PASSWORD_KINDS if getattr(self, k))

    @property
    def command_timeout(self) -> float:
        return float(self.timeout if self.timeout is not None else Duration(COMMAND_TIMEOUT))


class SnapshotSelector(Strict):
    id: str | None = Field(None, description="One snapshot by id (short or long).")
    host: str | None = Field(None, description="Hostname the snapshot was taken on.")
    tags: list[str] = Field(default_factory=list, description="Every listed tag must be present.")
    path: str | None = Field(None, description="A path the snapshot was taken of.")

    @model_validator(mode="after")
    def _id_alone(self) -> SnapshotSelector:
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
    mode: Literal["compliance", "governance"] = Field(
        description="compliance accepts only COMPLIANCE locks; governance accepts either.")
    min_retention: DurationValue = Field(
        description="Shortest default retention the bucket may have, e.g. 30d.")


class Source(Strict):
    repository: str = Field(description="Any restic repository string (path, s3:, sftp:, rest:).")
    password: PasswordSource = Field(description="Where the repository password comes from.")
    snapshot: SnapshotSelector = Field(default_factory=SnapshotSelector,
                                       description="Which snapshot: the newest that matches all.")
    immutability: Immutability | None = Field(
        None, description="S3 Object Lock audit before the restore; absent = not audited.")
    stuck_request_timeout: DurationValue = Field(
        default_factory=lambda: Duration("5m"),
        description="Remote repositories, restic >= 0.17.1: a request to the storage that takes "
                    "longer is retried (restic's --stuck-request-timeout).")

    @field_validator("stuck_request_timeout")
    @classmethod
    def _at_least_a_second(cls, value: Duration) -> Duration:
        if value < 1:
            raise ValueError(f"stuck_request_timeout {value.text} is too short: give at least 1s, e.g. 5m")
        return value


class ExactValue(Strict):
    text: str = Field(description="The exact value, compared as text; NULL is SQL NULL only, "
                                  "'NULL' the text NULL.")

    @field_validator("text", mode="before")
    @classmethod
    def _numbers_as_written(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


class Query(Strict):
    sql: str = Field(description="A query whose first column of the first row is compared.")
    expect: str | ExactValue = Field(
        description="A comparison (= N, != N, >= N, > N, <= N, < N; a plain number means = N) or "
                    "{text: ...} for an exact value.")

    @field_validator("expect", mode="before")
    @classmethod
    def _comparisons_parse(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"a yes/no value is not an expectation: {COMPARISON_HINT}")
        if isinstance(value, (int, float)):
            return f"= {value}"
        if isinstance(value, str) and (problem := comparison_problem(value)):
            raise ValueError(problem)
        return value

    @property
    def shown(self) -> str:
        """The expectation as records and reports show it."""
        return self.expect.text if isinstance(self.expect, ExactValue) else self.expect

    @property
    def exact(self) -> bool:
        return isinstance(self.expect, ExactValue)


class CheckBase(Strict):
    name: str | None = Field(None, description="Shown in reports; defaults to type and path.")


class FilesCheck(CheckBase):
    type: Literal["files"] = Field(description="Selects this kind of check.")
    path: RelPath = Field(".", description="Folder relative to the restore root.")
    min_count: int = Field(0, ge=0, description="Fewest files (recursively) under path.")
    required: list[RelPath] = Field(default_factory=list,
                                    description="Paths relative to path that must exist.")


class SqliteCheck(CheckBase):
    type: Literal["sqlite"] = Field(description="Selects this kind of check.")
    path: RelPath = Field(description="Database file relative to the restore root (opened read-only).")
    queries: list[Query] = Field(default_factory=list,
                                 description="{sql, expect}; PRAGMA integrity_check always runs.")


class CommandCheck(CheckBase):
    type: Literal["command"] = Field(description="Selects this kind of check.")
    run: list[str] = Field(min_length=1, description="Argument list; never run through a shell.")
    timeout: DurationValue = Field(default_factory=lambda: Duration("5m"),
                                   description="Killed with its process group after this.")
    env: Env = Field(default_factory=dict, description="Extra environment variables (see env: below).")


class HttpCheck(CheckBase):
    type: Literal["http"] = Field(description="Selects this kind of check.")
    start: list[str] | None = Field(None, min_length=1,
                                    description="Service to start from the restore root (argv).")
    url: str = Field(description="What to probe, inside the sandbox's network.")
    expect_status: int = Field(200, description="HTTP status the probe must get.")
    expect_body: str | None = Field(None, description="Substring the body must contain.")
    expect_regex: str | None = Field(None, description="Regular expression the body must match.")
    ready_timeout: DurationValue = Field(default_factory=lambda: Duration("30s"),
                                         description="How long the service may take to answer.")
    env: Env = Field(default_factory=dict, description="Extra environment variables (see env: below).")

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
    type: Literal["tcp"] = Field(description="Selects this kind of check.")
    start: list[str] | None = Field(None, min_length=1,
                                    description="Service to start from the restore root (argv).")
    host: str = Field("127.0.0.1", description="Address to connect to, inside the sandbox.")
    port: int = Field(ge=1, le=65535, description="Port that must accept a connection.")
    ready_timeout: DurationValue = Field(default_factory=lambda: Duration("30s"),
                                         description="How long the service may take to listen.")
    send: str | None = Field(None, description="Bytes to send once connected.")
    expect: str | None = Field(None, description="Substring the answer must contain.")
    env: Env = Field(default_factory=dict, description="Extra environment variables (see env: below).")


class PostgresCheck(CheckBase):
    type: Literal["postgres"] = Field(description="Selects this kind of check.")
    dump: RelPath | None = Field(None, description="pg_dump file (custom or plain format).")
    data_dir: RelPath | None = Field(None, description="A restored PGDATA folder.")
    database: str | None = Field(None, description="Database to query; defaults to the dump's.")
    version: int | None = Field(None, description="PostgreSQL major version to use.")
    queries: list[Query] = Field(default_factory=list, description="{sql, expect}, as for sqlite.")
    ready_timeout: DurationValue = Field(default_factory=lambda: Duration("60s"),
                                         description="How long the server may take to start.")

    @model_validator(mode="after")
    def _one_source(self) -> PostgresCheck:
        if bool(self.dump) == bool(self.data_dir):
            raise ValueError("give exactly one of dump or data_dir")
        return self


class SqlCheck(CheckBase):
    type: Literal["sql"] = Field(description="Selects this kind of check.")
    service: str = Field(description="A postgres or mariadb service of this drill's services:, queried "
                                     "while the stack runs.")
    database: str | None = Field(None, description="Database to query; defaults to the service's.")
    queries: list[Query] = Field(min_length=1, description="{sql, expect}, as for sqlite.")


CHECK_MODELS: dict[str, type[CheckBase]] = {
    "files": FilesCheck,
    "sqlite": SqliteCheck,
    "command": CommandCheck,
    "http": HttpCheck,
    "tcp": TcpCheck,
    "postgres": PostgresCheck,
    "sql": SqlCheck,
}

Check = Annotated[
    FilesCheck | SqliteCheck | CommandCheck | HttpCheck | TcpCheck | PostgresCheck | SqlCheck,
    Field(discriminator="type"),
]


class ServiceReady(Strict):
    """When a service counts as ready; a database is ready when it answers a query."""

    tcp: int | None = Field(None, ge=1, le=65535, description="Port that must accept a connection.")
    http: str | None = Field(None, description="URL that must answer expect_status.")
    expect_status: int = Field(200, description="With http: the status that means ready.")
    timeout: DurationValue = Field(default_factory=lambda: Duration("2m"),
                                   description="How long it may take; then the drill fails naming it.")

    @model_validator(mode="after")
    def _one_probe(self) -> ServiceReady:
        if self.tcp is not None and self.http is not None:
            raise ValueError("give tcp or http, not both")
        if "expect_status" in self.model_fields_set and self.http is None:
            raise ValueError("expect_status only goes with http")
        return self


class ServiceBase(Strict):
    after: list[str] = Field(default_factory=list, description="Services that must be ready first.")
    env: Env = Field(default_factory=dict, description="Extra environment variables (see env: below).")
    port: int | None = Field(None, ge=1, le=65535, description=(
        "TCP port on 127.0.0.1 inside the sandbox (databases: listened on for the other services)."))
    ready: ServiceReady = Field(default_factory=lambda: ServiceReady(),
                                description="{tcp: PORT} or {http: URL, expect_status}, and timeout.")


class DatabaseService(ServiceBase):
    dump: RelPath | None = Field(None, description="A dump to restore into a fresh server.")
    data_dir: RelPath | None = Field(None, description="A restored data folder to start the server on.")
    database: str | None = Field(None, description="Database the sql checks query by default.")

    @model_validator(mode="after")
    def _one_source_and_query_ready(self) -> DatabaseService:
        if bool(self.dump) == bool(self.data_dir):
            raise ValueError("give exactly one of dump or data_dir")
        if self.ready.tcp is not None or self.ready.http is not None:
            raise ValueError("a database is ready when it answers a query: give ready: only a timeout")
        return self


class PostgresService(DatabaseService):
    type: Literal["postgres"] = Field(description="PostgreSQL from a pg_dump or a data folder.")
    version: int | None = Field(None, description="PostgreSQL major version to use.")
    port: int = Field(5432, ge=1, le=65535, description=(
        "TCP port on the sandbox's 127.0.0.1 the other services reach it on."))


class MariadbService(DatabaseService):
    type: Literal["mariadb"] = Field(description=(
        "MariaDB from a mysqldump SQL file (optionally .gz) or a data folder."))


class ProcessService(ServiceBase):
    type: Literal["process"] = Field(description="A program run from the restore root.")
    run: list[str] = Field(min_length=1, description="Argument list; never run through a shell.")

    @model_validator(mode="after")
    def _knows_when_ready(self) -> ProcessService:
        if self.ready.tcp is None and self.ready.http is None and self.port is None:
            raise ValueError("say when it is ready: give ready: {tcp: PORT} or {http: URL}, or port:")
        return self


SERVICE_MODELS: dict[str, type[ServiceBase]] = {
    "postgres": PostgresService,
    "mariadb": MariadbService,
    "process": ProcessService,
}

Service = Annotated[PostgresService | MariadbService | ProcessService, Field(discriminator="type")]
ServiceName = Annotated[str, Field(pattern=NAME_PATTERN)]


def stack_errors(services: dict[str, ServiceBase], verify: list[Any]) -> list[InitErrorDetails]:
    """Each after: that cannot be followed and each sql check naming no database service, at its key."""
    errors = []
    for problem in order_problems({name: s.after for name, s in services.items()}):
        loc: tuple[str | int, ...] = ("services", problem.service, "after")
        errors.append(InitErrorDetails(type=PydanticCustomError("service_order", problem.message),
                                       loc=loc, input=services[problem.service].after))
    taken: dict[int, str] = {}
    for name, service in services.items():
        if service.port is None:
            continue
        if service.port in taken:
            why = f"port {service.port} is {taken[service.port]}'s too: give each service a port of its own"
            errors.append(InitErrorDetails(type=PydanticCustomError("service_port", why),
                                           loc=("services", name, "port"), input=service.port))
        taken.setdefault(service.port, name)
    for i, check in enumerate(verify):
        if isinstance(check, SqlCheck):
            target = services.get(check.service)
            if target is None:
                why = (f'no service "{check.service}" in this drill (declared: '
                       f"{', '.join(services) or 'none'})")
            elif not isinstance(target, DatabaseService):
                why = f'"{check.service}" is not a database service (sql queries postgres or mariadb)'
            else:
                continue
            errors.append(InitErrorDetails(type=PydanticCustomError("service_name", why),
                                           loc=("verify", i, "service"), input=check.service))
    return errors


class Limits(Strict):
    """Resource limits of every sandboxed process; each one left out keeps drillbook's default."""

    memory: str = Field("4G", pattern=r"^\d+[KMG]?$", description=(
        "Address space per process (RLIMIT_AS), e.g. 512M. A PostgreSQL 15 server as drillbook "
        "runs it needs about 224M; raise it for a JVM or Node.js service, which reserve more."))
    processes: int = Field(512, ge=1, description=(
        "Processes of the sandbox account (RLIMIT_NPROC): on Linux 5.14 and later those in the "
        "sandbox, on older kernels every process of the account on the host."))
    open_files: int = Field(1024, ge=16, description="Open files per process (RLIMIT_NOFILE).")


class Isolation(Strict):
    network: Literal["none", "host"] = Field(
        "none", description="none: own loopback only; host must be written and is flagged.")
    user: str | None = Field(None, description=(
        "Unprivileged account for checks and services; without it, as root, each run at the same "
        "time gets a drillbook-sandbox account of its own."))
    limits: Limits = Field(default_factory=Limits,
                           description="prlimit limits for every child; defaults apply unless raised or lowered.")
    restore_in_memory: str | None = Field(None, pattern=r"^\d+[KMG]?$", description=(
        "Restore into a memory filesystem (tmpfs) of at most this size, e.g. 2G, in the sandbox's "
        "own mount namespace, when the snapshot's files fit in it: the restored data is never "
        "written to a disk (unless the host swaps) and teardown is an unmount. A larger restore, "
        "or one restic must run as root for, goes to disk, and the record says why. Off unless set."))


NotifyEvent = Literal["failure", "success", "recovery", "always"]


def _failures_only() -> list[NotifyEvent]:
    return ["failure"]


NotifyFormat = Literal["json", "slack", "teams"]


def _template_path(value: Any) -> str:
    """A template is read from the drills folder: a drill file may not name any other file."""
    path = PurePosixPath(_require_str(value))
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f'"{value}" must be a path relative to the drills folder, without ".." '
                         "(a template's text is sent to the target: it may only come from there)")
    return str(value)


TemplatePath = Annotated[str, PlainValidator(_template_path), WithJsonSchema({"type": "string"})]


class NotifyTarget(Strict):
    """A target of ``drillbook.yaml``'s ``notify:``: a webhook, an SNS topic or a local command."""

    webhook: str | None = Field(None, description="URL that gets the JSON by POST.")
    sns: str | None = Field(None, description="SNS topic ARN.")
    command: list[str] | None = Field(None, min_length=1, description=(
        "Program given the JSON on stdin, with only PATH, LANG, TZ and HOME set."))
    on: list[NotifyEvent] = Field(default_factory=lambda: _failures_only(),
                                  description="failure, success, recovery, always.")
    timeout: DurationValue = Field(default_factory=lambda: Duration("10s"),
                                   description="Per attempt.")
    format: NotifyFormat = Field("json", description=(
        "json: drillbook's own body; slack: a Slack incoming-webhook message; teams: an Adaptive "
        "Card for a Teams Workflows webhook (slack and teams: webhook targets only)."))
    template: TemplatePath | None = Field(None, description=(
        "Jinja2 template of the JSON body instead of format, relative to the drills folder "
        "(see 'Notification bodies, templates and pings')."))

    @model_validator(mode="after")
    def _one_target(self) -> NotifyTarget:
        if sum(x is not None for x in (self.webhook, self.sns, self.command)) != 1:
            raise ValueError("give exactly one of webhook, sns, command")
        if self.template is not None and "format" in self.model_fields_set:
            raise ValueError("give format or template, not both")
        if self.format in ("slack", "teams") and not self.webhook:
            raise ValueError(f"format {self.format} is a webhook body: use it with a webhook target")
        return self


COMMAND_ONLY_IN_PROJECT = (
    "command targets may only be declared in drillbook.yaml: a drill file may come from a less "
    "trusted colleague, and the command would run on this host outside any sandbox (move the "
    "target to drillbook.yaml, or use a webhook or sns target here)")


class DrillNotifyTarget(NotifyTarget):
    """A target of a drill's own ``notify:``: webhook or SNS; commands only in ``drillbook.yaml``."""

    command: list[str] | None = Field(None, description="Not here: only in drillbook.yaml.")

    @field_validator("command")
    @classmethod
    def _not_in_a_drill(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            raise ValueError(COMMAND_ONLY_IN_PROJECT)
        return value


PingUrl = Annotated[str, Field(pattern=r"^https?://[^\s/]+")]
S3_TARGET = r"^s3://[^/]+(/.*)?$"


class EvidenceTarget(Strict):
    s3: str = Field(pattern=S3_TARGET, description="s3://bucket/prefix")
    mode: Literal["compliance", "governance"] = Field("compliance", description="Object Lock mode.")
    retain: DurationValue = Field(default_factory=lambda: Duration("7y"),
                                  description="Retention of each uploaded file.")
    endpoint_url: str | None = Field(None, description="S3 endpoint other than AWS's.")


class SignerSettings(Strict):
    """A signing key the drill host may use but cannot read: an AWS KMS asymmetric key."""

    kms_key_id: str = Field(min_length=1, pattern=r"^\S+$", description=(
        "KMS key id, ARN or alias/NAME of an asymmetric SIGN_VERIFY key: ECC_NIST_P256 "
        "(ECDSA_SHA_256) or ECC_NIST_EDWARDS25519."))
    region: str | None = Field(None, description="AWS region of the key (default: the AWS config's).")
    endpoint_url: str | None = Field(None, description="KMS endpoint other than AWS's.")


class ProjectEvidence(Strict):
    """drillbook.yaml's ``evidence:``: the WORM copy (``s3``), the signing key (``signer``), or both."""

    s3: str | None = Field(None, pattern=S3_TARGET,
                           description="s3://bucket/prefix for drills that declare no evidence: of their own.")
    mode: Literal["compliance", "governance"] = Field("compliance", description="Object Lock mode.")
    retain: DurationValue = Field(default_factory=lambda: Duration("7y"),
                                  description="Retention of each uploaded file.")
    endpoint_url: str | None = Field(None, description="S3 endpoint other than AWS's.")
    signer: SignerSettings | None = Field(None, description=(
        "Sign the ledger and attestations with a KMS key instead of the key file in the state folder."))

    def target(self) -> EvidenceTarget | None:
        """The WORM target this declares, if any."""
        if self.s3 is None:
            return None
        return EvidenceTarget.model_construct(s3=self.s3, mode=self.mode, retain=self.retain,
                                              endpoint_url=self.endpoint_url)


class Drill(Strict):
    """One declared recovery drill (``drills/<name>.yaml``)."""

    name: str = Field(pattern=NAME_PATTERN, description="Defaults to the file's stem.")
    description: str = Field("", description="What is being proven, for people.")
    owner: str = Field("", description="Who answers for this recovery (a team address).")
    schedule: str | None = Field(None, description="cron (5 fields), an alias, or 'every 6h'.")
    timezone: str = Field("UTC", description="IANA zone the schedule is read in.")
    jitter: DurationValue | None = Field(None, description="Random delay added to each run.")
    objectives: Objectives = Field(description="RTO and RPO targets; missing either fails the drill.")
    source: Source = Field(description="The restic repository and which snapshot to restore.")
    verify: list[Check] = Field(default_factory=list, description="Checks run on the restore.")
    control: bool = Field(False, description=(
        "Negative controls: after the checks pass, run each on damaged copies of the restore (empty; "
        "a file removed; a database cut short); a check that still passes fails the drill."))
    services: dict[ServiceName, Service] = Field(default_factory=dict, description=(
        "A stack started after the data checks, in after: order, inside the sandbox; sql checks and "
        "http/tcp checks without start: run while it is up."))
    isolation: Isolation = Field(default_factory=Isolation,
                                 description="Sandbox of checks and services.")
    env: Env = Field(default_factory=dict,
                     description="Environment for every check and service (see env: below).")
    notify: list[DrillNotifyTarget] = Field(
        default_factory=list, description="Who hears of the result (command targets: drillbook.yaml only).")
    evidence: EvidenceTarget | None = Field(None, description="WORM upload of each finished run.")
    ping: PingUrl | None = Field(None, description=(
        "Healthchecks-style URL: URL/start when a run starts, URL when it passes, URL/fail when "
        "it fails or is aborted."))
    site: str = Field(DEFAULT_SITE, pattern=NAME_PATTERN, description=(
        "Where the drill runs when drillbook.yaml declares workers: the site's worker "
        "(drillbook worker --site NAME) restores it near its repository."))

    @model_validator(mode="after")
    def _stack_in_order(self) -> Drill:
        errors = stack_errors(dict(self.services), list(self.verify))
        if errors:
            raise ValidationError.from_exception_data("Drill", errors)
        return self

    @field_validator("schedule")
    @classmethod
    def _schedule_parses(cls, value: str | None) -> str | None:

        if value is not None:
            parse_schedule(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_known(cls, value: str) -> str:

        check_timezone(value)
        return value

    @field_validator("jitter")
    @classmethod
    def _jitter_fits(cls, value: Duration | None, info: Any) -> Duration | None:

        schedule = info.data.get("schedule")
        if value is not None and schedule:
            check_jitter(schedule, float(value))
        return value


BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps")
TLS_SCHEMES = ("rediss", "amqps")
RESULT_SCHEMES = ("redis", "rediss")
# TLS options, in the URL's query (kombu's names for rediss://; drillbook maps them for amqps://)
TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")
CERT_REQUIRED = ("required", "CERT_REQUIRED")


def _broker_url(value: Any) -> str:
    """A broker URL as written on disk: a known scheme, and never a password (it would sit in
    drillbook.yaml, readable by whoever reads the drills)."""
    url = urlsplit(_require_str(value))
    if url.scheme not in BROKER_SCHEMES:
        raise ValueError(f'"{url.scheme}" is not a broker drillbook uses: give a redis://, rediss:// or amqp:// '
                         "URL, or amqps:// (TLS)")
    _tls_options(url.scheme, url.query)
    if url.password:
        raise ValueError("the URL holds a password: drop it from the URL and give "
                         "password: {env: VARIABLE} or password: {file: PATH} beside broker")
    if not url.hostname:
        raise ValueError("the URL names no host (e.g. redis://broker.example.org:6379/0)")
    return str(value)


def _tls_options(scheme: str, query: str) -> None:
    """Certificates are always checked; options only where TLS is used, and only those drillbook passes on."""
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = sorted(set(options) - set(TLS_OPTIONS))
    if unknown:
        raise ValueError(f"unknown URL option {unknown[0]}: drillbook takes {', '.join(TLS_OPTIONS)} (TLS only)")
    if options and scheme not in TLS_SCHEMES:
        raise ValueError(f"{', '.join(options)} are TLS options: use rediss:// or amqps://")
    if options.get("ssl_cert_reqs", "required") not in CERT_REQUIRED:
        raise ValueError("ssl_cert_reqs must be required (the default): the broker's certificate is always "
                         "checked; give its CA with ssl_ca_certs=/path/to/ca.pem")
    if scheme == "amqps" and not options.get("ssl_ca_certs"):
        raise ValueError("name the CA that signed the broker's certificate: "
                         "amqps://host:5671/vhost?ssl_ca_certs=/etc/drillbook/broker-ca.pem")


BrokerUrl = Annotated[str, PlainValidator(_broker_url), WithJsonSchema({"type": "string"})]


class WorkersConfig(Strict):
    """Site workers: drills run on ``drillbook worker --site NAME`` near their repositories."""

    broker: BrokerUrl = Field(description=(
        "redis://, rediss:// (TLS), amqp:// or amqps:// (TLS) URL, without a password; TLS options in its "
        "query: ssl_ca_certs, ssl_certfile, ssl_keyfile (amqps:// needs ssl_ca_certs)."))
    password: PasswordSource | None = Field(None, description=(
        "The broker's password: {env: VARIABLE} or {file: PATH}; used for results: too."))
    results: BrokerUrl | None = Field(None, description=(
        "Where finished runs come back (a Redis URL); defaults to the broker when it is Redis, "
        "and must be given with amqp:// and amqps://."))
    heartbeat: DurationValue = Field(default_factory=lambda: Duration("10s"), description=(
        "How often a worker says a run is still going; a run silent for 3 beats is recorded "
        "aborted, naming its worker."))
    republish_after: DurationValue = Field(default_factory=lambda: Duration("1m"), description=(
        "A run no worker started within this, whose message is in no queue and held by no "
        "worker (a broker restarted without persistence lost it), is published again."))
    keep_staged: DurationValue = Field(default_factory=lambda: Duration("7d"), description=(
        "A worker's own copy of a run folder is removed once the central side has received it; "
        "any copy older than this goes too (a run killed mid-way is kept until then)."))

    @field_validator("password")
    @classmethod
    def _env_or_file(cls, value: PasswordSource | None) -> PasswordSource | None:
        if value is not None and value.kind not in ("env", "file"):
            raise ValueError("the broker password comes from env or file: give {env: VARIABLE} or {file: PATH}")
        return value

    @model_validator(mode="after")
    def _result_channel(self) -> WorkersConfig:
        if self.results is None and urlsplit(self.broker).scheme not in RESULT_SCHEMES:
            raise ValueError(f"with an {urlsplit(self.broker).scheme}:// broker give results: a redis:// or "
                             "rediss:// URL where finished runs come back")
        if self.results is not None and urlsplit(self.results).scheme not in RESULT_SCHEMES:
            raise ValueError("results: must be a redis:// or rediss:// URL")
        return self

    @property
    def result_url(self) -> str:
        return self.results or self.broker


class ReportsSettings(Strict):
    group: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9._-]*$",
                              description="Group that may read run records and reports (files 0640, "
                                          "folders 2750); without it only drillbook's account can.")


class ProjectConfig(Strict):
    """``drillbook.yaml`` beside the drills: defaults shared by every drill."""

    notify: list[NotifyTarget] = Field(default_factory=list,
                                       description="Targets added to every drill's own notify.")
    evidence: ProjectEvidence | None = Field(None, description=(
        "WORM upload for drills that declare none of their own, and the key that signs the evidence."))
    reports: ReportsSettings = Field(default_factory=ReportsSettings,
                                     description="Who may read the reports folder.")
    ping: PingUrl | None = Field(None, description=(
        "Pinged like a drill's ping: by every drill run, besides the drill's own."))
    password_commands: list[Annotated[list[str], Field(min_length=1)]] = Field(
        default_factory=list, description=(
            "The password commands drill files may use, each its whole argv: a drill's "
            "password: {command: [...]} runs only when the same argv is listed here."))
    failed_run_review_days: int = Field(14, ge=1, le=3650, description=(
        "The period report flags a failed run with no review or corrective-action note "
        "(drillbook evidence note) this many days after it finished."))
    workers: WorkersConfig | None = Field(None, description=(
        "Site workers: each drill runs on a worker of its site: (see 'Sites and workers'); "
        "absent = every drill runs on this machine."))

    @field_validator("evidence", mode="before")
    @classmethod
    def _evidence_target_as_is(cls, value: Any) -> Any:
        """A drill's kind of target given in code is the project's WORM target, as validated."""
        if isinstance(value, EvidenceTarget):
            return ProjectEvidence.model_construct(**dict(value), signer=None)
        return value
