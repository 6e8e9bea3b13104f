"""The evidence signing key: an AWS KMS key when drillbook.yaml names one (``evidence: {signer:
{kms_key_id: ...}}``), else the ed25519 key file from DRILLBOOK_SIGNING_KEY, or generated once in
the state folder, with a warning saying where (never silently).

The private key never lives under the reports folder (whoever can write reports could then
re-sign a forged chain); only the public key is published beside the ledger. It is a regular
file (not a symlink) that drillbook's account owns, mode 0600: a key another account owns or may
write is refused (that account could sign in drillbook's name), one others may read is narrowed.
"""

from __future__ import annotations

import errno
import logging
import os
import pwd
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from drillbook.errors import BadInput, CannotRun
from drillbook.evidence.kms import kms_signer
from drillbook.evidence.signer import EvidenceSigner
from drillbook.locations import PROJECT_CONFIG
from drillbook.settings import Settings
from drillbook.spec.loader import load_project
from drillbook.spec.models import ProjectConfig
from drillbook.util.atomic import make_folders
from drillbook.util.trust import account

KEY_ENV = "DRILLBOOK_SIGNING_KEY"
KEY_FILE = "signing-key.pem"
KEY_FOLDER_MODE = 0o700

log = logging.getLogger("drillbook.evidence")


@dataclass(frozen=True)
class Signer(EvidenceSigner):
    """The ed25519 key file."""

    private: Ed25519PrivateKey
    source: Path

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def described(self) -> str:
        return f"file {self.source}"

    def sign_bytes(self, message: bytes) -> bytes:
        return self.private.sign(message)


def key_path(settings: Settings) -> Path:
    given = os.environ.get(KEY_ENV)
    return Path(given) if given else settings.state_dir / KEY_FILE


def load_signer(settings: Settings, create: bool = True, project: ProjectConfig | None = None) -> EvidenceSigner:
    """The configured key: drillbook.yaml's KMS key (``project``, else read from the drills
    folder), else the key file; the default file key is generated on first use (mode 0600)."""
    declared = (project or _project(settings)).evidence
    if declared is not None and declared.signer is not None:
        return kms_signer(declared.signer)
    return load_file_signer(settings, create)


def _project(settings: Settings) -> ProjectConfig:
    """drillbook.yaml as it is now. One that cannot be read is an error here, not the defaults:
    its ``evidence.signer`` may name a KMS key, and evidence must not be signed by another key."""
    if not (settings.drills_dir / PROJECT_CONFIG).is_file():
        return ProjectConfig()
    config, problems = load_project(settings.drills_dir)
    if problems:
        raise BadInput(f"cannot tell which key signs the evidence: {problems[0]}"
                       + (f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""))
    return config


def load_file_signer(settings: Settings, create: bool = True) -> Signer:
    """The key file; the default one is generated on first use (mode 0600)."""
    path = key_path(settings)
    _refuse_under_reports(path, settings.reports_dir)
    if not path.exists():
        if os.environ.get(KEY_ENV):
            raise BadInput(f"{KEY_ENV}={path}: no such file (give the path of an ed25519 private key PEM, "
                           "or unset it to use a key generated in the state folder)")
        if not create:
            raise CannotRun(f"no signing key yet at {path} (it is made by the first finished run)")
        _generate(path)
    return Signer(_read_private(path), path)


def _refuse_under_reports(path: Path, reports: Path) -> None:
    try:
        inside = path.resolve().is_relative_to(reports.resolve())
    except OSError:
        inside = False
    if inside:
        raise BadInput(f"signing key {path} is inside the reports folder {reports}: move it elsewhere "
                       f"(e.g. the state folder) and point {KEY_ENV} at it; reports are published")


def _generate(path: Path) -> None:
    """Write the new key with mode 0600 (in folders made 0700); never replace one made meanwhile."""
    make_folders(path.parent, KEY_FOLDER_MODE)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd, tmp = tempfile.mkstemp(prefix=".tmp-key-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # fails if a concurrent first run already made the key: use theirs
            log.warning("generated a new evidence signing key at %s (keep it secret, back it up)", path)
        except FileExistsError:
            pass
    finally:
        Path(tmp).unlink(missing_ok=True)


def _read_private(path: Path) -> Ed25519PrivateKey:
    data = _read_key_file(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise BadInput(f"{path} is not an unencrypted PEM private key ({exc}); generate one with "
                       "`openssl genpkey -algorithm ed25519 -out key.pem`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BadInput(f"{path} is not an ed25519 key; generate one with "
                       "`openssl genpkey -algorithm ed25519 -out key.pem`")
    return key


def _read_key_file(path: Path) -> bytes:
    """The key's bytes, if it is a regular file drillbook's account owns that no one else may write.

    Opened without following a symlink and without blocking (a FIFO), then checked on the open
    descriptor, so what is checked is what is read. A key others may read (but not write) is
    narrowed to 0600 here: it is drillbook's own, and no other account, the sandbox's least,
    may read it.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CannotRun(f"signing key {path} is a symlink (to {_link_target(path)}): whoever can change "
                            f"the link chooses the key that signs the evidence; point {KEY_ENV} at the "
                            "real file, or put the real file in its place") from None
        raise CannotRun(f"cannot read signing key {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        _check_key_file(path, info)
        if info.st_mode & 0o077:
            os.fchmod(fd, 0o600)
            log.warning("signing key %s was readable by others (mode %o): narrowed to 0600; if another "
                        "account may have read it, make a new key", path, stat.S_IMODE(info.st_mode))
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise CannotRun(f"cannot read signing key {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _check_key_file(path: Path, info: os.stat_result) -> None:
    """Raise CannotRun unless drillbook alone may replace the key (whoever may, signs in its name)."""
    me = os.geteuid()
    if not stat.S_ISREG(info.st_mode):
        raise CannotRun(f"signing key {path} is not a regular file: remove it (a new key is made) or "
                        f"point {KEY_ENV} at an ed25519 private key PEM")
    if info.st_uid != me:
        raise CannotRun(f"signing key {path} is owned by {account(info.st_uid)}, not by drillbook's account "
                        f"{account(me)}: that account could replace it; check it is the key you made, "
                        f"then chown {_name(me)} {path} && chmod 600 {path}")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o022:
        raise CannotRun(f"signing key {path} may be written by others (mode {mode:o}): check it is "
                        f"the key you made, then chmod 600 {path}")


def _link_target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def _name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
