"""Every AWS call of drillbook: S3 repositories, the Object Lock audit, secrets, WORM evidence.

Why one module: credentials, endpoints, timeouts and the wording of AWS errors are decided in one
place, and the rest of drillbook (and its tests) never need boto3. Every client here has short
connect/read timeouts and few retries, so an unreachable endpoint costs seconds, never minutes.
Messages name endpoints, buckets, keys and missing permissions; they never contain a secret.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
    ReadTimeoutError,
)

from drillbook.backends import immutability
from drillbook.backends.credentials import ResticCredentials
from drillbook.errors import PasswordError
from drillbook.spec.models import EvidenceTarget, Immutability
from drillbook.util.lazy import lazy_module

AUDIT_WORKERS = 16
boto3 = lazy_module("boto3")  # about 250 ms with botocore's configuration: only AWS drills pay it
botocore_config = lazy_module("botocore.config")

# client settings: (connect timeout, read timeout, attempts)
FAST, PROBE, UPLOAD = (3, 15, 2), (3, 5, 2), (5, 60, 3)

BAD_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
                   "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
                   "TokenRefreshRequired"}
DENIED = {"AccessDenied", "AccessDeniedException", "403", "Forbidden", "AllAccessDisabled"}
UNREACHABLE = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)


class AwsError(Exception):
    """An AWS call failed; the message is for people and never holds a secret."""


@dataclass(frozen=True)
class S3Location:
    """Where a restic ``s3:`` repository lives."""

    endpoint_url: str | None  # None: AWS's own endpoint for the configured region
    bucket: str
    prefix: str  # no leading or trailing slash; "" for the bucket's root

    @property
    def endpoint(self) -> str:
        return self.endpoint_url or "AWS S3"

    @property
    def list_prefix(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def key(self, name: str) -> str:
        return f"{self.list_prefix}{name}"


def parse_repository(repository: str) -> S3Location:
    """Read a restic s3 repository string the way restic does.

    ``s3:https://host/bucket/prefix``, ``s3:http://host/...`` (custom endpoints such as MinIO),
    ``s3:host/bucket/prefix`` and ``s3://host/bucket/prefix`` (https).
    """
    if not repository.startswith("s3:"):
        raise AwsError(f"{repository!r} is not an s3: repository")
    rest = repository[3:]
    scheme = "https"
    match = re.match(r"^(https?)://(.*)$", rest)
    if match:
        scheme, rest = match.groups()
    elif rest.startswith("//"):
        rest = rest[2:]
    host, _, path = rest.partition("/")
    bucket, _, prefix = path.strip("/").partition("/")
    if not host or not bucket:
        raise AwsError(f"{repository!r} names no bucket: write s3:https://host/bucket/prefix")
    endpoint = None if host == "s3.amazonaws.com" else f"{scheme}://{host}"
    return S3Location(endpoint, bucket, re.sub(r"/+", "/", prefix).strip("/"))


# -- sessions, clients and error wording --------------------------------------------------
Timeouts = tuple[int, int, int]


def _config(timeouts: Timeouts, **extra: Any) -> Any:
    connect, read, attempts = timeouts
    return botocore_config.Config(connect_timeout=connect, read_timeout=read,
                                  retries={"total_max_attempts": attempts, "mode": "standard"}, **extra)


def _session() -> Any:
    try:
        return boto3.Session()
    except ProfileNotFound as exc:
        raise AwsError(f"AWS profile {exc.kwargs.get('profile')!r} is not in the AWS config "
                       "(check AWS_PROFILE)") from None


def _s3_client(endpoint_url: str | None, config: Timeouts = FAST, pool: int = 10) -> Any:
    """An S3 client; custom endpoints (MinIO, moto, Ceph) get path-style addressing."""
    session = _session()
    settings = _config(config, max_pool_connections=pool,
                       s3={"addressing_style": "path"} if endpoint_url else {})
    return session.client("s3", endpoint_url=endpoint_url,
                          region_name=session.region_name or "us-east-1", config=settings)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or
               exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or "")


def describe(exc: Exception, endpoint: str, what: str) -> str:
    """One sentence a person understands for a failed AWS call (``what``: what we tried)."""
    if isinstance(exc, AwsError):
        return str(exc)
    if isinstance(exc, NoCredentialsError):
        return (f"no AWS credentials found while {what} (set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an instance role)")
    if isinstance(exc, NoRegionError):
        return (f"no AWS region configured while {what} (set AWS_REGION or the region "
                "in the AWS config)")
    if isinstance(exc, UNREACHABLE):
        timed_out = isinstance(exc, (ConnectTimeoutError, ReadTimeoutError))
        kind = "timed out" if timed_out else "refused or closed the connection"
        return f"endpoint {endpoint} unreachable ({kind}) while {what}"
    if isinstance(exc, ClientError):
        code = _code(exc)
        if code in BAD_CREDENTIALS:
            return f"bad AWS credentials: {endpoint} answered {code} while {what}"
        if code in DENIED:
            return f"access denied by {endpoint} while {what} (check the credentials' permissions)"
        return f"{endpoint} answered {code or 'an error'} while {what}"
    if isinstance(exc, BotoCoreError):
        return f"AWS call failed while {what}: {exc}"
    return f"{type(exc).__name__} while {what}: {exc}"


# -- restic's credentials and the preflight ------------------------------------------------
#: boto3's credential methods whose source restic reads itself (minio-go's chain, restic 0.14 and
#: later: the AWS variables, the shared credentials file with AWS_PROFILE, the EC2 instance role,
#: the ECS container role, web identity from AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN), and
#: refreshes when a session expires. The record's words for each.
RESTIC_READS = {
    "env": "env",
    "shared-credentials-file": "shared credentials file",
    "iam-role": "instance role",
    "container-role": "container role",
    "assume-role-with-web-identity": "web identity",
}
WEB_IDENTITY_ENV = ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")


def _keys(frozen: Any) -> dict[str, str]:
    if not (frozen and frozen.access_key and frozen.secret_key):
        return {}
    keys = {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key}
    if frozen.token:
        keys["AWS_SESSION_TOKEN"] = frozen.token
    return keys


def plan_credentials(method: str | None, frozen: Any, expires: datetime | None,
                     environ: Mapping[str, str], profile: str | None = None) -> ResticCredentials:
    """Let restic resolve (and refresh) its credentials wherever it can; freeze boto3's otherwise.

    A frozen session stops working when it expires, perhaps in the middle of a long restore: only
    sources restic cannot read (SSO, credential_process, assume-role profiles, keys in the AWS
    config file) are frozen, and the record says until when they hold.
    """
    if method is None or not _keys(frozen):
        return ResticCredentials(described="none found")
    web_identity_in_config = (method == "assume-role-with-web-identity"
                              and not all(environ.get(name) for name in WEB_IDENTITY_ENV))
    if method in RESTIC_READS and not web_identity_in_config:
        described = f"restic's own chain ({RESTIC_READS[method]})"
        if method != "shared-credentials-file":
            return ResticCredentials(described=described)
        named = {"AWS_PROFILE": profile} if profile and profile != "default" else {}
        return ResticCredentials(env=named, account_env=_keys(frozen),
                                 described=f"{described}; a restore as the sandbox account gets "
                                 "the file's keys, as it cannot read the file")
    until = f"expires {expires.astimezone(UTC).isoformat().replace('+00:00', 'Z')}" if expires else "no expiry"
    return ResticCredentials(env=_keys(frozen), described=f"frozen from boto3 ({method}), {until}")


def _expiry(creds: Any) -> datetime | None:
    """botocore keeps a refreshable session's expiry only as ``_expiry_time``; static keys have none."""
    expiry = getattr(creds, "_expiry_time", None)
    return expiry if isinstance(expiry, datetime) else None


def restic_environment(repository: str) -> ResticCredentials:
    """How restic reaches an S3 repository: its own credential chain, or boto3's keys frozen.

    Never raises: a missing credential is reported by the preflight.
    """
    try:
        session = boto3.Session()
        creds = session.get_credentials()
        frozen = creds.get_frozen_credentials() if creds is not None else None
    except Exception:
        return ResticCredentials()
    plan = plan_credentials(getattr(creds, "method", None), frozen, _expiry(creds), os.environ,
                            session.profile_name)
    if session.region_name:
        region = {"AWS_DEFAULT_REGION": session.region_name, "AWS_REGION": session.region_name}
        plan = ResticCredentials({**plan.env, **region}, plan.account_env, plan.described)
    return plan


def probe_repository(repository: str) -> str | None:
    """A few seconds' preflight: endpoint up, credentials good, bucket and repository present.

    restic 0.14 retries a refused connection for many seconds and a silent one for minutes; this
    answers first, with a reason naming the endpoint. None when the repository looks reachable.
    """
    try:
        loc = parse_repository(repository)
        client = _s3_client(loc.endpoint_url, config=PROBE)
    except AwsError as exc:
        return str(exc)
    return probe_location(client, loc, repository)


def probe_location(client: Any, loc: S3Location, repository: str) -> str | None:
    where = f"repository {repository}"
    try:
        client.head_bucket(Bucket=loc.bucket)
    except ClientError as exc:
        code = _code(exc)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return f"bucket {loc.bucket} does not exist at {loc.endpoint} ({where})"
        if code in DENIED:
            return _explain_denied(client, loc, where)
        return describe(exc, loc.endpoint, f"opening bucket {loc.bucket} of {where}")
    except Exception as exc:
        return describe(exc, loc.endpoint, f"opening bucket {loc.bucket} of {where}")
    try:
        client.head_object(Bucket=loc.bucket, Key=loc.key("config"))
    except ClientError as exc:
        if _code(exc) in ("404", "NoSuchKey", "NotFound"):
            return (f"no restic repository at {where}: bucket {loc.bucket} has no "
                    f"{loc.key('config')} at {loc.endpoint}")
        if _code(exc) in DENIED:
            return (f"access denied reading {loc.key('config')} in bucket {loc.bucket} at "
                    f"{loc.endpoint}: the credentials need s3:GetObject ({where})")
        return describe(exc, loc.endpoint, f"reading the repository config of {where}")
    except Exception as exc:
        return describe(exc, loc.endpoint, f"reading the repository config of {where}")
    return None


def _explain_denied(client: Any, loc: S3Location, where: str) -> str:
    """HEAD answers a bare 403; a GET tells bad credentials from missing permissions."""
    try:
        client.list_objects_v2(Bucket=loc.bucket, Prefix=loc.list_prefix, MaxKeys=1)
    except ClientError as exc:
        if _code(exc) in BAD_CREDENTIALS:
            return f"bad AWS credentials: {loc.endpoint} answered {_code(exc)} ({where})"
    except Exception:  # the GET is only a hint; without it the plain denial below stands
        return _denied(loc, where)
    return _denied(loc, where)


def _denied(loc: S3Location, where: str) -> str:
    return (f"access denied to bucket {loc.bucket} at {loc.endpoint}: the credentials need "
            f"s3:ListBucket and s3:GetObject ({where})")


# -- the immutability audit -----------------------------------------------------------------
def audit_repository(repository: str, wanted: Immutability) -> dict[str, Any]:
    """Bucket versioning and Object Lock configuration, then every object's lock."""
    try:
        loc = parse_repository(repository)
    except AwsError as exc:
        return immutability.failed(wanted, "", str(exc))
    try:
        client = _s3_client(loc.endpoint_url, pool=AUDIT_WORKERS)
    except AwsError as exc:
        return immutability.failed(wanted, loc.list_prefix, str(exc))
    return audit_location(client, loc, wanted)


def audit_location(client: Any, loc: S3Location, wanted: Immutability,
                   now: datetime | None = None) -> dict[str, Any]:
    """The audit on a given client (tests pass a stubbed one)."""
    now = now or datetime.now(UTC)
    try:
        bucket = bucket_facts(client, loc)
        current, markers, listing_note = list_prefix(client, loc)
        objects = object_facts(client, loc, current, bucket)
    except AwsError as exc:
        return immutability.failed(wanted, loc.list_prefix, str(exc))
    return immutability.evaluate(wanted, loc.list_prefix, bucket, objects, markers, now,
                                 notes=[listing_note] if listing_note else [])


def bucket_facts(client: Any, loc: S3Location) -> immutability.BucketFacts:
    facts = immutability.BucketFacts(name=loc.bucket, endpoint=loc.endpoint)
    try:
        facts.versioning = client.get_bucket_versioning(Bucket=loc.bucket).get("Status") or "disabled"
    except ClientError as exc:
        facts.versioning = _unknown_or_raise(exc, loc, facts, "s3:GetBucketVersioning",
                                             "reading the bucket's versioning")
    except Exception as exc:
        raise AwsError(describe(exc, loc.endpoint, f"reading bucket {loc.bucket}")) from None
    try:
        config = client.get_object_lock_configuration(Bucket=loc.bucket)["ObjectLockConfiguration"]
    except ClientError as exc:
        if _code(exc) in ("ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration"):
            facts.object_lock = "disabled"
            return facts
        facts.object_lock = _unknown_or_raise(exc, loc, facts, "s3:GetBucketObjectLockConfiguration",
                                              "reading the bucket's Object Lock configuration")
        return facts
    facts.object_lock = config.get("ObjectLockEnabled") or "disabled"
    retention = (config.get("Rule") or {}).get("DefaultRetention") or {}
    facts.default_mode = retention.get("Mode")
    days, years = retention.get("Days") or 0, retention.get("Years") or 0
    if facts.default_mode and (days or years):
        facts.default_retention_seconds = float(days * 86400 + years * 365 * 86400)
        facts.default_retention = f"{years} years" if years else f"{days} days"
    return facts


def _unknown_or_raise(exc: ClientError, loc: S3Location, facts: immutability.BucketFacts,
                      permission: str, what: str) -> str:
    if _code(exc) in DENIED:
        facts.missing_permissions.append(permission)
        return "unknown"
    raise AwsError(describe(exc, loc.endpoint, f"{what} of {loc.bucket}")) from None


def list_prefix(client: Any, loc: S3Location) -> tuple[list[str], list[str], str | None]:
    """Current keys and delete markers under the prefix; falls back to a plain listing."""
    current: list[str] = []
    markers: list[str] = []
    try:
        pages = client.get_paginator("list_object_versions").paginate(
            Bucket=loc.bucket, Prefix=loc.list_prefix)
        for page in pages:
            current += [v["Key"] for v in page.get("Versions", []) if v.get("IsLatest")]
            markers += [m["Key"] for m in page.get("DeleteMarkers", [])]
        return sorted(current), sorted(set(markers)), None
    except ClientError as exc:
        if _code(exc) not in DENIED:
            raise AwsError(describe(exc, loc.endpoint, f"listing {loc.bucket}/{loc.list_prefix}")) from None
    except Exception as exc:
        raise AwsError(describe(exc, loc.endpoint, f"listing {loc.bucket}/{loc.list_prefix}")) from None
    try:
        for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=loc.bucket, Prefix=loc.list_prefix):
            current += [o["Key"] for o in page.get("Contents", [])]
    except Exception as exc:
        if isinstance(exc, ClientError) and _code(exc) in DENIED:
            raise AwsError(f"access denied listing bucket {loc.bucket} at {loc.endpoint}: the "
                           "audit needs s3:ListBucketVersions (or at least s3:ListBucket)") from None
        raise AwsError(describe(exc, loc.endpoint, f"listing {loc.bucket}/{loc.list_prefix}")) from None
    return sorted(current), [], ("delete markers not checked: the credentials lack "
                                 "s3:ListBucketVersions")


def object_facts(client: Any, loc: S3Location, keys: list[str],
                 bucket: immutability.BucketFacts) -> list[immutability.ObjectFact]:
    """Every object's lock from head_object, concurrently in a bounded pool.

    head_object returns ObjectLockMode/ObjectLockRetainUntilDate only to callers allowed
    s3:GetObjectRetention; when they are absent in a lock-enabled bucket one get_object_retention
    tells "not locked" from "not allowed to see" (moto's server answers 500 there: not locked).
    """
    def head(key: str) -> immutability.ObjectFact:
        try:
            meta = client.head_object(Bucket=loc.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in DENIED:
                return immutability.ObjectFact(key, state="unknown", permission="s3:GetObject")
            return immutability.ObjectFact(key, state="error", error=describe(exc, loc.endpoint, f"reading {key}"))
        except Exception as exc:
            return immutability.ObjectFact(key, state="error", error=describe(exc, loc.endpoint, f"reading {key}"))
        until = meta.get("ObjectLockRetainUntilDate")
        return immutability.ObjectFact(
            key, mode=meta.get("ObjectLockMode"),
            retain_until=until.astimezone(UTC) if until else None,
            state="read")

    if not keys:
        return []
    with ThreadPoolExecutor(max_workers=min(AUDIT_WORKERS, len(keys))) as pool:
        facts = list(pool.map(head, keys))
    bare = [f for f in facts if f.state == "read" and not (f.mode and f.retain_until)]
    if bare and bucket.object_lock != "disabled" and _retention_hidden(client, loc, bare[0].key):
        for fact in bare:
            fact.state, fact.permission = "unknown", "s3:GetObjectRetention"
    return facts


def _retention_hidden(client: Any, loc: S3Location, key: str) -> bool:
    try:
        client.get_object_retention(Bucket=loc.bucket, Key=key)
    except ClientError as exc:
        return _code(exc) in DENIED
    except Exception:
        return False
    return False


# -- secrets --------------------------------------------------------------------------------
def _service_client(service: str) -> Any:
    """A client honouring AWS_ENDPOINT_URL(_<SERVICE>) and the configured region (botocore does)."""
    try:
        session = _session()
    except AwsError as exc:
        raise PasswordError(str(exc)) from None
    if not session.region_name:
        raise PasswordError(f"no AWS region configured for {service} (set AWS_REGION or the "
                            "region in the AWS config)")
    return session.client(service, config=_config(FAST))


def _endpoint_of(client: Any) -> str:
    return str(getattr(client.meta, "endpoint_url", "") or "AWS")


def secret_value(name: str, key: str | None = None) -> str:
    """A Secrets Manager secret (a field of a JSON secret with ``key``), never logged."""
    client = _service_client("secretsmanager")
    response = _read_secret(client, lambda: client.get_secret_value(SecretId=name),
                            what=f"AWS secret {name}", missing="ResourceNotFoundException",
                            needs="secretsmanager:GetSecretValue (and kms:Decrypt for its key)")
    value = response.get("SecretString")
    if value is None and response.get("SecretBinary") is not None:
        try:
            value = bytes(response["SecretBinary"]).decode("utf-8")
        except UnicodeDecodeError:
            raise PasswordError(f"AWS secret {name} is binary, not text") from None
    if key is not None:
        value = _json_field(value or "", name, key)
    if not value:
        raise PasswordError(f"AWS secret {name}{f' field {key}' if key else ''} is empty")
    return value


def _read_secret(client: Any, call: Any, *, what: str, missing: str, needs: str) -> Any:
    """One secret read; every failure becomes a PasswordError that names what, never its value."""
    try:
        return call()
    except ClientError as exc:
        code = _code(exc)
        if code == missing:
            raise PasswordError(f"{what} not found at {_endpoint_of(client)}") from None
        if code in DENIED:
            raise PasswordError(f"access denied reading {what}: the credentials need {needs}") from None
        raise PasswordError(describe(exc, _endpoint_of(client), f"reading {what}")) from None
    except Exception as exc:
        raise PasswordError(describe(exc, _endpoint_of(client), f"reading {what}")) from None


def _json_field(text: str, name: str, key: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        raise PasswordError(f"AWS secret {name} is not JSON, so it has no field {key!r} "
                            "(drop key: to use the whole secret)") from None
    if not isinstance(data, dict):
        raise PasswordError(f"AWS secret {name} is JSON but not an object with fields")
    if key not in data:
        fields = ", ".join(sorted(map(str, data))) or "none"
        raise PasswordError(f"AWS secret {name} has no field {key!r} (its fields: {fields})")
    value = data[key]
    if not isinstance(value, str):
        raise PasswordError(f"field {key!r} of AWS secret {name} is not text")
    return value


def ssm_parameter(name: str) -> str:
    """An SSM Parameter Store value, decrypted (SecureString), never logged."""
    client = _service_client("ssm")
    response = _read_secret(client, lambda: client.get_parameter(Name=name, WithDecryption=True),
                            what=f"SSM parameter {name}", missing="ParameterNotFound",
                            needs="ssm:GetParameter (and kms:Decrypt for a SecureString)")
    value = (response.get("Parameter") or {}).get("Value")
    if not value:
        raise PasswordError(f"SSM parameter {name} is empty")
    return value


# -- WORM evidence ----------------------------------------------------------------------------
def parse_target(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix without slashes)."""
    match = re.match(r"^s3://([^/]+)/?(.*)$", url)
    if not match:
        raise AwsError(f"{url!r} is not s3://bucket/prefix")
    return match.group(1), match.group(2).strip("/")


def upload_run(run_dir: Path, target: EvidenceTarget, now: datetime | None = None) -> dict[str, Any]:
    """Upload every file of a finished run folder under an Object Lock retention.

    Keys are ``<prefix>/<drill>/<run id>/<file>``; each PUT carries Content-MD5 (S3 requires an
    integrity header for object-locked writes). Raises AwsError naming the endpoint and key.
    """
    bucket, prefix = parse_target(target.s3)
    now = now or datetime.now(UTC)
    until = (now + timedelta(seconds=float(target.retain))).replace(microsecond=0)
    base = "/".join(p for p in (prefix, run_dir.parent.name, run_dir.name) if p)
    client = _s3_client(target.endpoint_url, config=UPLOAD)
    endpoint = target.endpoint_url or _endpoint_of(client)
    uploaded = []
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")):
        body = path.read_bytes()
        key = f"{base}/{path.relative_to(run_dir).as_posix()}"
        try:
            response = client.put_object(
                Bucket=bucket, Key=key, Body=body,
                ContentMD5=base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode("ascii"),
                ObjectLockMode=target.mode.upper(), ObjectLockRetainUntilDate=until)
        except Exception as exc:
            raise AwsError(describe(exc, endpoint, f"uploading s3://{bucket}/{key}")) from None
        uploaded.append({"key": key, "version_id": response.get("VersionId"),
                         "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)})
    return {"bucket": bucket, "endpoint": endpoint, "mode": target.mode.upper(),
            "retain_until": until.isoformat().replace("+00:00", "Z"), "objects": uploaded}


# -- notifications (drillbook.outputs.notify) ---------------------------------------------------------
def publish_sns(topic_arn: str, message: str, subject: str | None = None) -> str:
    """Publish one notification to an SNS topic; returns the MessageId, raises AwsError.

    The region comes from the topic ARN (arn:aws:sns:<region>:<account>:<name>), the endpoint
    from botocore's usual settings (AWS_ENDPOINT_URL_SNS / AWS_ENDPOINT_URL for moto or LocalStack).
    """
    parts = topic_arn.split(":")
    region = parts[3] if len(parts) >= 6 and parts[2] == "sns" and parts[3] else None
    session = _session()
    client = session.client("sns", region_name=region or session.region_name or "us-east-1",
                            config=_config(FAST))
    request: dict[str, Any] = {"TopicArn": topic_arn, "Message": message}
    if subject:  # SNS subjects: printable ASCII, one line, under 100 characters
        request["Subject"] = re.sub(r"[^\x20-\x7e]", "?", subject)[:99]
    try:
        return str(client.publish(**request).get("MessageId", ""))
    except Exception as exc:
        raise AwsError(describe(exc, _endpoint_of(client), f"publishing to {topic_arn}")) from None


# -- evidence signing with KMS ----------------------------------------------------------------
#: KMS key specs drillbook signs with, and the signing algorithm of each (the verifier knows both).
KMS_SIGNING = {"ECC_NIST_P256": "ECDSA_SHA_256", "ECC_NIST_EDWARDS25519": "ED25519_SHA_512"}
KMS_RAW_LIMIT = 4096  # bytes KMS signs as a whole message; a longer one is sent as its SHA-256


@dataclass(frozen=True)
class KmsKey:
    """An asymmetric KMS key as the signer uses it: its public half (DER) and what it is."""

    key_id: str  # as configured: id, ARN or alias
    arn: str
    spec: str
    public_der: bytes
    region: str | None
    endpoint_url: str | None


def _kms_client(region: str | None, endpoint_url: str | None) -> Any:
    session = _session()
    chosen = region or session.region_name
    if not chosen:
        raise AwsError("no AWS region configured for the KMS signing key (set region: under evidence.signer, "
                       "AWS_REGION, or the region in the AWS config)")
    return session.client("kms", region_name=chosen, endpoint_url=endpoint_url, config=_config(FAST))


def kms_key(key_id: str, region: str | None = None, endpoint_url: str | None = None) -> KmsKey:
    """The key's public half; refused unless KMS can sign with it in a way the verifier checks."""
    client = _kms_client(region, endpoint_url)
    what = f"reading the public key of KMS key {key_id}"
    try:
        found = client.get_public_key(KeyId=key_id)
    except ClientError as exc:
        if _code(exc) in {"NotFoundException", "InvalidArnException"}:
            raise AwsError(f"KMS key {key_id} not found at {_endpoint_of(client)} (check evidence.signer."
                           "kms_key_id and the region)") from None
        if _code(exc) in DENIED:
            raise AwsError(f"access denied {what}: the credentials need kms:GetPublicKey and kms:Sign "
                           "on it") from None
        raise AwsError(describe(exc, _endpoint_of(client), what)) from None
    except Exception as exc:
        raise AwsError(describe(exc, _endpoint_of(client), what)) from None
    spec = str(found.get("KeySpec") or found.get("CustomerMasterKeySpec") or "")
    if found.get("KeyUsage") != "SIGN_VERIFY" or spec not in KMS_SIGNING:
        raise AwsError(f"KMS key {key_id} is {spec or 'of an unknown spec'} for {found.get('KeyUsage')}: "
                       "the evidence needs an asymmetric SIGN_VERIFY key, ECC_NIST_P256 or ECC_NIST_EDWARDS25519")
    return KmsKey(key_id, str(found.get("KeyId") or key_id), spec, bytes(found["PublicKey"]), region, endpoint_url)


def kms_sign(key: KmsKey, message: bytes) -> bytes:
    """KMS's signature of ``message``: ECDSA with SHA-256 (DER) or plain ed25519.

    ECDSA over a message longer than KMS takes whole is the same signature over its SHA-256
    sent as a digest; an ed25519 key signs whole messages only (its pre-hashed variant is a
    different signature), so a longer one is refused with the fix.
    """
    algorithm = KMS_SIGNING[key.spec]
    raw = len(message) <= KMS_RAW_LIMIT
    if not raw and key.spec != "ECC_NIST_P256":
        raise AwsError(f"KMS key {key.key_id} ({key.spec}) signs messages up to {KMS_RAW_LIMIT} bytes, this one "
                       f"is {len(message)}: use an ECC_NIST_P256 key for evidence.signer")
    body = message if raw else hashlib.sha256(message).digest()
    client = _kms_client(key.region, key.endpoint_url)
    try:
        answer = client.sign(KeyId=key.arn, Message=body, MessageType="RAW" if raw else "DIGEST",
                             SigningAlgorithm=algorithm)
    except Exception as exc:
        raise AwsError(describe(exc, _endpoint_of(client), f"signing evidence with KMS key {key.key_id}")) from None
    return bytes(answer["Signature"])
