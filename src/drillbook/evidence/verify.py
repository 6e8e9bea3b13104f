#!/usr/bin/env python3
"""Verify drillbook evidence offline: the ledger's hash chain, its signatures, every file, attestations.

This module is deliberately self-contained (Python 3.9+ standard library and ``cryptography``
only, no drillbook import): it is the one definition of the ledger format, drillbook's own
``evidence verify`` runs it, and export bundles ship it unchanged as ``verify_evidence.py`` so an
auditor who does not run drillbook checks the evidence with exactly the same code.

Usage::

    python3 verify_evidence.py [FOLDER | BUNDLE.zip] [--key PUBLIC.pem]... [--anchor HASH]...
    python3 verify_evidence.py --attestation RUN_FOLDER --key PUBLIC.pem

Exit 0 when everything holds, 1 listing every problem, 2 for bad arguments.

Format (``evidence/ledger.jsonl``, one JSON object per line):
``hash`` is the SHA-256 of the entry without ``hash`` and ``sig``, serialised canonically
(keys sorted, no whitespace, UTF-8); ``prev`` is the previous entry's ``hash`` (64 zeros for the
first); ``sig`` is the base64 signature of the 32-byte digest ``hash`` by key ``key_id`` (the
first 16 hex digits of the SHA-256 of the raw public key: the 32 bytes of an ed25519 key, the
uncompressed point of an ECDSA P-256 key); ``key_type`` is ``ed25519`` (signs the digest) or
``ecdsa-p256`` (ECDSA with SHA-256 over the digest, DER), absent in entries older than it
(ed25519); ``files`` maps every file of the run's folder ``path`` (relative to the reports
folder) to its SHA-256.

Attestation (``<run>/attestation.dsse.json``): a DSSE envelope (payloadType
``application/vnd.in-toto+json``) holding an in-toto Statement v1 whose subject is every other
file of the run folder with its SHA-256 and whose predicate (type :data:`PREDICATE_TYPE`) says
what the run proved; the signature is over the DSSE pre-authentication encoding (PAE) of the
payload's bytes, with the same keys and key ids as the ledger, so no JSON is re-serialised to
check it and any DSSE implementation verifies it.

Every document and entry names its ``format``; one this verifier does not know is reported by
name (``unknown-format``), never read as if it were one it knows. Bundles: ``drillbook-bundle/1``
(the whole ledger, or since inclusion proofs the exported entries with ``evidence/proofs.json``)
and ``drillbook-bundle/2`` (always ``proofs.json``; the ledger may hold signed notes, entries of
kind ``note`` that seal no files, which a verifier older than notes misreads as runs).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import stat
import sys
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "drillbook-ledger/1"
BUNDLE_FORMAT = "drillbook-bundle/2"
BUNDLE_FORMATS = ("drillbook-bundle/1", BUNDLE_FORMAT)  # what this verifier reads
GENESIS = "0" * 64
LEDGER_DIR = "evidence"
LEDGER_FILE = "ledger.jsonl"
PUBLIC_KEY_FILE = "public-key.pem"
KEYS_DIR = "keys"
BUNDLE_FILE = "bundle.json"
HEAD_FORMAT = "drillbook-head/1"
PROOFS_FORMAT = "drillbook-proofs/1"
CONSISTENCY_FORMAT = "drillbook-consistency/1"
PROOFS_FILE = "proofs.json"
NOTE_FORMAT = "drillbook-note/1"
NOTE_KIND = "note"  # an entry's kind: a signed note about a sealed run (review, corrective action, exception)
RUN_FILE = "run.json"
TEMP_PREFIX = ".tmp-"  # leftovers of atomic writes: never evidence
RESERVED_TOPS = {"evidence", "runbooks", "assets"}
MIN_ANCHOR = 12
ED25519 = "ed25519"
ECDSA_P256 = "ecdsa-p256"
ATTESTATION_FILE = "attestation.dsse.json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://drillbook.dev/drill-run/v1"


# -- the format: one definition shared by the writer and every verifier -----------------------
def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k not in ("hash", "sig")}
    return hashlib.sha256(canonical(body)).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_files(run_dir: Path) -> Iterator[Path]:
    """Every regular file of a run folder, recursively, sorted; temp files of writers excluded."""
    for root, dirs, files in os.walk(run_dir):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if name.startswith(TEMP_PREFIX) or path.is_symlink() or not path.is_file():
                continue
            yield path


def manifest(run_dir: Path) -> dict[str, str]:
    return {p.relative_to(run_dir).as_posix(): file_sha256(p) for p in run_files(run_dir)}


def is_note(entry: dict[str, Any]) -> bool:
    """A note names its run's folder (``path``) but seals no files: it never stands for the run."""
    return entry.get("kind") == NOTE_KIND


def run_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if not is_note(e)]


def key_type(key: Any) -> str:
    """``ed25519`` or ``ecdsa-p256``: the two kinds of key drillbook signs with."""
    if isinstance(key, Ed25519PublicKey):
        return ED25519
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return ECDSA_P256
    raise ValueError("not an ed25519 or ECDSA P-256 public key")


def raw_public(key: Any) -> bytes:
    if key_type(key) == ECDSA_P256:
        return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Any) -> str:
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def fingerprint(key: Any) -> str:
    digest = hashlib.sha256(raw_public(key)).hexdigest()
    return ":".join(digest[i:i + 4] for i in range(0, 64, 4))


def load_public_key(pem: bytes) -> Any:
    key = serialization.load_pem_public_key(pem)
    key_type(key)  # raises ValueError for any other kind of key
    return key


def bytes_signed(key: Any, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is ``key``'s over ``message`` (ECDSA P-256: with SHA-256, DER)."""
    try:
        if key_type(key) == ECDSA_P256:
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            key.verify(signature, message)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def signature_ok(key: Any, digest_hex: str, sig_b64: str) -> bool:
    try:
        return bytes_signed(key, base64.b64decode(sig_b64, validate=True), bytes.fromhex(digest_hex))
    except (ValueError, TypeError):
        return False


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what an envelope's signatures sign."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def subjects(run_dir: Path) -> list[dict[str, Any]]:
    """An in-toto subject for every file of the run folder but the attestation itself."""
    return [{"name": name, "digest": {"sha256": digest}}
            for name, digest in manifest(run_dir).items() if name != ATTESTATION_FILE]


def iter_run_dirs(root: Path) -> Iterator[Path]:
    """Run folders as drillbook lays them out: <drill>/<run_id>/ and runbooks/<name>/<run_id>/."""
    if not root.is_dir():
        return
    for top in sorted(root.iterdir()):
        if not top.is_dir() or top.name.startswith("."):
            continue
        pattern = f"*/*/{RUN_FILE}" if top.name == "runbooks" else f"*/{RUN_FILE}"
        if top.name in RESERVED_TOPS and top.name != "runbooks":
            continue
        for run_json in sorted(top.glob(pattern)):
            yield run_json.parent


# -- the Merkle tree over ledger entries (RFC 9162, section 2.1) ----------------------------------
#: Each ledger entry is a leaf: SHA-256(0x00 || the entry's line without its newline, which is its
#: canonical JSON); an inner node is SHA-256(0x01 || left || right). An export ships only its own
#: entries, each with an inclusion proof against a signed head (tree size and root); two heads
#: with a consistency proof show the later ledger only appended to the earlier one.
def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def entry_leaf(entry: dict[str, Any]) -> bytes:
    return leaf_hash(canonical({k: v for k, v in entry.items() if not k.startswith("_")}))


def _shift_to_set(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def inclusion_ok(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2: does ``proof`` lead from leaf ``index`` of a ``size``-leaf tree to ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_to_set(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def consistency_ok(old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 2.1.4.2: is the ``new``-leaf tree the ``old``-leaf tree with leaves appended?"""
    if not 0 < old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    path = ([old_root] if old & (old - 1) == 0 else []) + list(proof)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_to_set(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


# -- results ------------------------------------------------------------------------------------
#: Problems that concern one run's folder only; any other problem concerns the whole ledger.
RUN_SCOPED = frozenset({"file-added", "file-changed", "file-missing", "run-missing", "unrecorded",
                        "attestation-signature", "attestation-mismatch"})


@dataclass
class Problem:
    code: str
    message: str
    run_id: str = ""
    file: str = ""

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


@dataclass
class Result:
    root: str
    problems: list[Problem] = field(default_factory=list)
    entries: int = 0
    runs_checked: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    first: str | None = None
    last: str | None = None
    head_seq: int = 0
    head: str = GENESIS
    keys: dict[str, str] = field(default_factory=dict)  # key id -> fingerprint
    anchors_found: list[str] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)
    outside_bundle: int = 0
    bundle: dict[str, Any] | None = None
    folders: int = 0  # run folders the ledger names
    resealed: int = 0  # entries a later seal of the same folder superseded (a resumed runbook run)
    resealed_kept: int = 0  # of those, whose files the later seal keeps under attempts/<n>/
    pinned: bool = False  # checked against keys given with --key, not the folder's own
    tree_size: int = 0  # a bundle with proofs: the size of the ledger its signed head describes
    merkle_root: str = ""  # and that ledger's Merkle root
    proven: int = 0  # entries whose inclusion proof leads to the signed head
    notes: int = 0  # signed notes about runs (reviews, corrective actions, exceptions)
    attested: int = 0  # run folders whose attestation verified
    key_types: dict[str, str] = field(default_factory=dict)  # key id -> ed25519 | ecdsa-p256

    @property
    def ok(self) -> bool:
        return not self.problems

    def doubted_runs(self) -> set[str] | None:
        """The run ids this verification cannot vouch for; None when it can vouch for none
        (a problem with the chain, a signature, the ledger file or the bundle puts every entry
        in doubt, and so does a folder problem that names no run)."""
        doubted = set()
        for problem in self.problems:
            if problem.code not in RUN_SCOPED or not problem.run_id:
                return None
            doubted.add(problem.run_id)
        return doubted

    def add(self, code: str, message: str, run_id: str = "", file: str = "") -> None:
        self.problems.append(Problem(code, message, run_id, file))

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "problems"}
        data["ok"] = self.ok
        data["problems"] = [p.__dict__ for p in self.problems]
        return data


# -- reading the ledger -------------------------------------------------------------------------
def read_ledger(path: Path, result: Result) -> list[dict[str, Any]]:
    """Valid entries in file order; every unreadable line becomes a problem, none is skipped silently."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        result.add("no-ledger", f"no ledger at {path}")
        return []
    entries = []
    lines = data.split(b"\n")
    torn_tail = lines[-1] != b""
    for number, raw in enumerate(lines if torn_tail else lines[:-1], start=1):
        last = number == len(lines)
        entry = _parse_line(raw)
        if entry is None:
            what = "torn (cut off mid-write)" if last and torn_tail else "not a valid ledger entry"
            result.add("torn-line" if last and torn_tail else "bad-line",
                       f"ledger line {number} is {what}: {raw[:60]!r}", file=f"{LEDGER_DIR}/{LEDGER_FILE}")
            continue
        if raw != canonical(entry) or any(str(k).startswith("_") for k in entry):
            result.add("entry-edited", f"ledger line {number} (run {entry.get('run_id', '?')}) is not in "
                       "the canonical form drillbook writes (duplicate or extra keys, spacing): it was "
                       "edited", str(entry.get("run_id", "")), f"{LEDGER_DIR}/{LEDGER_FILE}")
        entry["_line"] = number
        entries.append(entry)
    return entries


def _parse_line(raw: bytes) -> dict[str, Any] | None:
    try:
        entry = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    needed = ("seq", "run_id", "path", "files", "prev", "hash", "sig", "key_id")
    if not isinstance(entry, dict) or any(k not in entry for k in needed):
        return None
    return entry


def published_keys(root: Path) -> dict[str, Any]:
    keys = {}
    candidates = [root / LEDGER_DIR / PUBLIC_KEY_FILE, *sorted((root / LEDGER_DIR / KEYS_DIR).glob("*.pem"))]
    for path in candidates:
        try:
            key = load_public_key(path.read_bytes())
        except (OSError, ValueError):
            continue
        keys[key_id(key)] = key
    return keys


# -- checks ---------------------------------------------------------------------------------------
def check_format(found: Any, known: tuple[str, ...], what: str, result: Result,
                 run_id: str = "", file: str = "") -> bool:
    """Whether ``found`` is a format this verifier reads; if not, a problem naming it, so that
    evidence written by a later drillbook is neither misread as valid nor as tampered."""
    if found in known:
        return True
    result.add("unknown-format", f"{what} is {found}, a format this verifier does not know (it reads "
               f"{', '.join(known)}): verify with the verify_evidence.py shipped with it, or a newer drillbook",
               run_id, file)
    return False


def check_hashes(entries: list[dict[str, Any]], result: Result) -> None:
    for entry in entries:
        seq, run = entry.get("seq"), entry.get("run_id", "?")
        check_format(entry.get("format"), (NOTE_FORMAT,) if is_note(entry) else (FORMAT,),
                     f"ledger entry #{seq} (run {run})", result, str(run), f"{LEDGER_DIR}/{LEDGER_FILE}")
        actual = entry_hash({k: v for k, v in entry.items() if k != "_line"})
        if actual != entry.get("hash"):
            result.add("entry-edited", f"ledger entry #{seq} (run {run}, line {entry['_line']}) was "
                       "edited: its hash does not match its content", run_id=run)


def check_chain(entries: list[dict[str, Any]], result: Result) -> None:
    prev_hash, prev_seq = GENESIS, 0
    for entry in entries:
        seq, run = entry.get("seq"), entry.get("run_id", "?")
        if seq != prev_seq + 1 or entry.get("prev") != prev_hash:
            result.add("chain-break", f"chain break at sequence {seq} (run {run}, line {entry['_line']}): "
                       f"expected sequence {prev_seq + 1} linked to {prev_hash[:16]}..., found "
                       f"link to {str(entry.get('prev'))[:16]}... (an entry was removed, reordered or inserted)",
                       run_id=run)
        prev_hash = entry.get("hash", "")
        prev_seq = seq if isinstance(seq, int) else prev_seq + 1


def check_signatures(entries: list[dict[str, Any]], keys: dict[str, Any], pinned: bool,
                     result: Result) -> None:
    for entry in entries:
        seq, run, kid = entry.get("seq"), entry.get("run_id", "?"), str(entry.get("key_id"))
        key = keys.get(kid)
        if key is None:
            where = "the given key(s) " + ", ".join(sorted(keys)) if pinned else "no published key"
            result.add("wrong-key", f"ledger entry #{seq} (run {run}) is signed by key {kid}, "
                       f"which is not {where}", run_id=run)
            continue
        if not signature_ok(key, str(entry.get("hash")), str(entry.get("sig"))):
            result.add("bad-signature", f"ledger entry #{seq} (run {run}): signature does not verify "
                       f"with key {kid}", run_id=run)
        result.keys[kid] = fingerprint(key)
        result.key_types[kid] = key_type(key)
        if entry.get("key_type", ED25519) != key_type(key):
            result.add("wrong-key", f"ledger entry #{seq} (run {run}) says it was signed by an "
                       f"{entry.get('key_type', ED25519)} key, but key {kid} is {key_type(key)}", run_id=run)


def check_runs(root: Path, entries: list[dict[str, Any]], wanted: set | None, result: Result) -> None:
    """Re-hash every file of every sealed run (the latest entry of a run folder wins)."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in run_entries(entries):
        latest[str(entry.get("path"))] = entry
    for rel, entry in latest.items():
        run = entry.get("run_id", "?")
        if wanted is not None and rel not in wanted:
            result.outside_bundle += 1
            continue
        if not _safe_rel(rel):
            result.add("bad-path", f"ledger entry #{entry.get('seq')} names an unsafe run path {rel!r}", run)
            continue
        folder = root / rel
        if not folder.is_dir():
            result.add("run-missing", f"run {run}: run folder {rel}/ is missing", run, rel)
            continue
        result.runs_checked += 1
        _compare_files(folder, rel, run, entry.get("files") or {}, result)


def _compare_files(folder: Path, rel: str, run: str, recorded: dict[str, str], result: Result) -> None:
    present = manifest(folder)
    for name, digest in sorted(recorded.items()):
        if name not in present:
            result.add("file-missing", f"run {run}: {rel}/{name} was removed", run, f"{rel}/{name}")
        elif present[name] != digest:
            result.add("file-changed", f"run {run}: {rel}/{name} was changed after sealing "
                       f"(sha256 {present[name][:16]}..., recorded {digest[:16]}...)", run, f"{rel}/{name}")
    for name in sorted(set(present) - set(recorded)):
        result.add("file-added", f"run {run}: {rel}/{name} was added after sealing", run, f"{rel}/{name}")
    for name, what in _unsealable(folder):  # the manifest holds regular files only
        result.add("file-added", f"run {run}: {rel}/{name} is {what} added after sealing", run, f"{rel}/{name}")


def _unsealable(folder: Path) -> list[tuple[str, str]]:
    """Entries no manifest holds, so any of them in a sealed folder was added after sealing:
    symlinks, special files (FIFOs, sockets, devices) and files named like a writer's temp file."""
    found = []
    for root, dirs, files in os.walk(folder):
        for name in sorted(dirs + files):
            path = Path(root) / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                what = "a symlink"
            elif stat.S_ISDIR(mode):
                continue
            elif not stat.S_ISREG(mode):
                what = "a special file"
            elif name.startswith(TEMP_PREFIX):
                what = "a hidden temp file"
            else:
                continue
            found.append((path.relative_to(folder).as_posix(), what))
    return sorted(found)


def check_attestations(root: Path, entries: list[dict[str, Any]], wanted: set | None, keys: dict[str, Any],
                       result: Result) -> None:
    """Each sealed attestation against its own signature and the files the ledger sealed with it.

    Only where the ledger vouches for the attestation's bytes: a changed file, a changed
    attestation or a ledger entry that does not verify is reported once, by the ledger's checks.
    Runs sealed before attestations existed have none (their entries do not list one).
    """
    latest = {str(e.get("path")): e for e in run_entries(entries)}
    for rel, entry in latest.items():
        files: dict[str, str] = entry["files"] if isinstance(entry.get("files"), dict) else {}
        folder = root / rel
        if (wanted is not None and rel not in wanted) or not _safe_rel(rel) or ATTESTATION_FILE not in files:
            continue
        key = keys.get(str(entry.get("key_id")))
        if key is None or not signature_ok(key, str(entry.get("hash")), str(entry.get("sig"))):
            continue
        path = folder / ATTESTATION_FILE
        if not path.is_file() or path.is_symlink() or file_sha256(path) != files[ATTESTATION_FILE]:
            continue
        sealed = {name: digest for name, digest in files.items() if name != ATTESTATION_FILE}
        found = verify_attestation(folder, keys, str(entry.get("run_id", "?")), rel, sealed)
        result.problems += found
        result.attested += not found


def _safe_rel(rel: str) -> bool:
    pure = PurePosixPath(rel)
    return bool(pure.parts) and not pure.is_absolute() and ".." not in pure.parts


def verify_attestation(run_dir: Path, keys: dict[str, Any], run: str = "", rel: str = "",
                       expected: dict[str, str] | None = None) -> list[Problem]:
    """Problems with one run folder's DSSE attestation: its signature first, then its subjects
    against ``expected`` (name -> sha256; default: the files in the folder now)."""
    run, rel = run or run_dir.name, rel or run_dir.name
    where = f"{rel}/{ATTESTATION_FILE}"
    try:
        envelope = json.loads((run_dir / ATTESTATION_FILE).read_text(encoding="utf-8"))
        payload = base64.b64decode(envelope["payload"], validate=True)
        payload_type, signatures = str(envelope["payloadType"]), list(envelope["signatures"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [Problem("attestation-signature", f"run {run}: {where} is not a readable DSSE envelope ({exc})",
                        run, where)]
    if not _envelope_signed(payload_type, payload, signatures, keys):
        return [Problem("attestation-signature", f"run {run}: the signature of {where} does not verify with "
                        f"key(s) {', '.join(sorted(keys)) or 'none'} (the envelope was edited or another "
                        "key signed it)", run, where)]
    try:
        statement = json.loads(payload)
        recorded = {str(s["name"]): str(s["digest"]["sha256"]) for s in statement["subject"]}
        typed = (payload_type == PAYLOAD_TYPE and statement.get("_type") == STATEMENT_TYPE
                 and statement.get("predicateType") == PREDICATE_TYPE)
    except (ValueError, KeyError, TypeError, AttributeError):
        typed, recorded = False, {}
    if not typed:
        return [Problem("attestation-mismatch", f"run {run}: {where} is signed but is not a drillbook "
                        f"in-toto statement ({PREDICATE_TYPE})", run, where)]
    if expected is None:
        expected = {s["name"]: s["digest"]["sha256"] for s in subjects(run_dir)}
    return _subject_problems(expected, recorded, run, rel)


def _envelope_signed(payload_type: str, payload: bytes, signatures: list[Any], keys: dict[str, Any]) -> bool:
    message = pae(payload_type, payload)
    for signature in signatures:
        if not isinstance(signature, dict):
            continue
        kid = signature.get("keyid")
        candidates = [keys[kid]] if kid in keys else ([] if kid else list(keys.values()))
        try:
            sig = base64.b64decode(str(signature.get("sig")), validate=True)
        except ValueError:
            continue
        if any(bytes_signed(key, sig, message) for key in candidates):
            return True
    return False


def _subject_problems(present: dict[str, str], recorded: dict[str, str], run: str, rel: str) -> list[Problem]:
    found = []
    for name in sorted(set(recorded) | set(present)):
        if name not in present:
            what = "is missing"
        elif name not in recorded:
            what = "is not a subject of the attestation (added after it was signed)"
        elif present[name] != recorded[name]:
            what = f"has sha256 {present[name][:16]}..., the attestation says {recorded[name][:16]}..."
        else:
            continue
        found.append(Problem("attestation-mismatch", f"run {run}: {rel}/{name} {what}", run, f"{rel}/{name}"))
    return found


def check_notes(entries: list[dict[str, Any]], where: str, result: Result) -> None:
    """Each note must name its own run's entry among ``entries``: a note seals no files, so a note
    whose run entry is missing would stand for a run nothing checked."""
    runs = {e.get("seq"): e for e in run_entries(entries)}
    for note in filter(is_note, entries):
        about = runs.get(note.get("about"))
        if about is None or (about.get("run_id"), about.get("path")) != (note.get("run_id"), note.get("path")):
            result.add("note-orphan", f"note #{note.get('seq')} is about run {note.get('run_id')}, ledger entry "
                       f"#{note.get('about')}, which is not in {where}: the note cannot be checked against the "
                       "run it describes", str(note.get("run_id", "")), f"{LEDGER_DIR}/{LEDGER_FILE}")


def check_unrecorded(root: Path, entries: list[dict[str, Any]], result: Result) -> None:
    sealed = {str(e.get("path")) for e in run_entries(entries)}
    for folder in iter_run_dirs(root):
        rel = folder.relative_to(root).as_posix()
        if rel in sealed:
            continue
        status, run = _peek_status(folder / RUN_FILE)
        if status == "running":
            result.in_progress.append(rel)
            continue
        result.add("unrecorded", f"run {run or rel}: run folder {rel}/ has no ledger entry "
                   f"(unrecorded evidence, status {status or 'unreadable'})", run or "", rel)


def _peek_status(path: Path) -> tuple:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data.get("status"), data.get("run_id")
    except (OSError, ValueError, AttributeError):
        return None, None


def read_proofs(root: Path, result: Result) -> dict[str, Any] | None:
    """``evidence/proofs.json`` of a bundle that ships some entries only; None when absent."""
    path = root / LEDGER_DIR / PROOFS_FILE
    if not path.exists():
        return None
    try:
        proofs = json.loads(path.read_text(encoding="utf-8"))
        _proof_index(proofs)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        result.add("bad-proofs", f"{LEDGER_DIR}/{PROOFS_FILE} is unreadable", file=f"{LEDGER_DIR}/{PROOFS_FILE}")
        return {}
    return proofs


def _proof_index(proofs: dict[str, Any]) -> tuple[int, bytes, dict[int, tuple[int, list[bytes]]]]:
    """Tree size, root and each entry's (leaf index, audit path) by sequence number."""
    head = proofs["head"]
    by_seq = {int(p["seq"]): (int(p["index"]), [bytes.fromhex(h) for h in p["proof"]]) for p in proofs["entries"]}
    return int(head["tree_size"]), bytes.fromhex(head["root"]), by_seq


def check_head(head: dict[str, Any], keys: dict[str, Any], result: Result) -> bool:
    """A signed head (tree size, Merkle root, chain head) verifies with one of the keys."""
    key = keys.get(str(head.get("key_id")))
    if key is None or not signature_ok(key, entry_hash(head), str(head.get("sig"))):
        result.add("bad-head", f"the signed ledger head (size {head.get('tree_size')}) does not verify with "
                   f"key {head.get('key_id')}: no proof against it counts")
        return False
    return True


def check_proofs(entries: list[dict[str, Any]], proofs: dict[str, Any], keys: dict[str, Any],
                 result: Result) -> None:
    """Each shipped entry must be proven (RFC 9162 inclusion proof) in the signed head's tree."""
    if not proofs:
        return
    head = proofs["head"]
    size, root, by_seq = _proof_index(proofs)
    where = f"{LEDGER_DIR}/{PROOFS_FILE}"
    check_format(proofs.get("format"), (PROOFS_FORMAT,), where, result, file=where)
    check_format(head.get("format"), (HEAD_FORMAT,), f"the signed ledger head in {where}", result, file=where)
    result.tree_size, result.merkle_root = size, head["root"]
    if not check_head(head, keys, result):
        return
    for entry in entries:
        seq, run = entry.get("seq"), str(entry.get("run_id", "?"))
        found = by_seq.get(seq) if isinstance(seq, int) else None
        if found is None or not inclusion_ok(found[0], size, entry_leaf(entry), found[1], root):
            result.add("not-in-head", f"ledger entry #{seq} (run {run}) is not proven to be in the signed "
                       f"ledger of {size} entries (root {head['root'][:16]}...): it was edited or does not "
                       "belong to that ledger", run_id=run)
            continue
        result.proven += 1
    if entries and size == len(entries):  # the whole ledger is shipped: its links hold too
        check_chain(entries, result)


def check_anchors(entries: list[dict[str, Any]], anchors: list[str], result: Result) -> None:
    """Each anchor must be an entry's hash (or the signed head's chain head, for a bundle)."""
    hashes = [str(e.get("hash") or e.get("head")) for e in entries]
    for anchor in anchors:
        anchor = anchor.strip().lower()
        found = len(anchor) >= MIN_ANCHOR and any(h.startswith(anchor) for h in hashes)
        if found:
            result.anchors_found.append(anchor)
        else:
            result.add("anchor-missing", f"anchor {anchor} is not in the chain: the ledger was rewritten "
                       "or is not the one whose head was published")


def check_bundle(root: Path, entries: list[dict[str, Any]], keys: dict[str, Any],
                 result: Result, proofs: dict[str, Any] | None = None) -> set | None:
    """A bundle names the runs it carries; its manifest is signed like a ledger entry."""
    path = root / BUNDLE_FILE
    if not path.exists():
        return None
    try:
        bundle = json.loads(path.read_text(encoding="utf-8"))
        runs = {str(r["path"]) for r in bundle["runs"]}
    except (OSError, ValueError, KeyError, TypeError):
        result.add("bad-bundle", f"{BUNDLE_FILE} is unreadable", file=BUNDLE_FILE)
        return set()
    result.bundle = {k: bundle.get(k) for k in ("created_at", "format", "selection", "head", "head_seq")}
    check_format(bundle.get("format"), BUNDLE_FORMATS, BUNDLE_FILE, result, file=BUNDLE_FILE)
    key = keys.get(bundle.get("key_id"))
    if key is None or not signature_ok(key, entry_hash(bundle), str(bundle.get("sig"))):
        result.add("bad-bundle", f"{BUNDLE_FILE} signature does not verify (key {bundle.get('key_id')})",
                   file=BUNDLE_FILE)
    if ("root" in bundle or bundle.get("format") != BUNDLE_FORMATS[0]) and proofs is None:
        result.add("bad-bundle", f"the bundle ({bundle.get('format')}) was exported with inclusion proofs, but "
                   f"{LEDGER_DIR}/{PROOFS_FILE} is missing", file=BUNDLE_FILE)
    if proofs:
        head = proofs["head"]
        if (head.get("head"), head.get("root")) != (bundle.get("head"), bundle.get("root")):
            result.add("bad-bundle", f"the proofs lead to head {str(head.get('head'))[:16]}..., not to the head "
                       f"{str(bundle.get('head'))[:16]}... the bundle was exported with", file=BUNDLE_FILE)
    elif entries and entries[-1].get("hash") != bundle.get("head"):
        result.add("bad-bundle", f"the bundle's ledger ends at {str(entries[-1].get('hash'))[:16]}..., "
                   f"not at the head {str(bundle.get('head'))[:16]}... it was exported with", file=BUNDLE_FILE)
    sealed = {str(e.get("path")) for e in run_entries(entries)}  # a note seals no folder
    for rel in sorted(runs - sealed):
        result.add("unrecorded", f"bundle lists run folder {rel}/ that has no ledger entry", file=rel)
    return runs


def summarise(entries: list[dict[str, Any]], result: Result) -> None:
    result.entries = len(entries)
    result.notes = len(entries) - len(run_entries(entries))
    latest: dict[str, dict[str, Any]] = {}
    for entry in run_entries(entries):
        earlier = latest.get(str(entry.get("path")))
        if earlier is not None:
            result.resealed += 1
            result.resealed_kept += _kept_in(earlier.get("files") or {}, entry.get("files") or {})
        latest[str(entry.get("path"))] = entry
    result.folders = len(latest)
    result.statuses = dict(Counter(str(e.get("status")) for e in latest.values()))
    times = sorted(str(e.get("finished_at")) for e in latest.values() if e.get("finished_at"))
    result.first, result.last = (times[0], times[-1]) if times else (None, None)
    if entries:
        result.head, result.head_seq = str(entries[-1].get("hash")), int(entries[-1].get("seq") or 0)


def _kept_in(earlier: dict[str, str], later: dict[str, str]) -> bool:
    """Whether a later seal of a folder holds the earlier seal's files unchanged: its own files
    under one ``attempts/<n>/`` and the attempts kept before it where they were."""
    own = {name: digest for name, digest in earlier.items() if "/" not in name}
    kept = {name: digest for name, digest in earlier.items() if "/" in name}
    if any(later.get(name) != digest for name, digest in kept.items()):
        return False
    prefixes = {name.rsplit("/", 1)[0] for name in later if name.startswith("attempts/") and name.count("/") == 2}
    return bool(own) and any(all(later.get(f"{p}/{n}") == d for n, d in own.items()) for p in prefixes)


def verify_folder(root: Path, pinned_keys: list[Any] | None = None,
                  anchors: list[str] | None = None) -> Result:
    """Verify a reports folder (or an extracted bundle); every problem found is listed."""
    result = Result(root=str(root))
    entries = read_ledger(root / LEDGER_DIR / LEDGER_FILE, result)
    keys = {key_id(k): k for k in pinned_keys} if pinned_keys else published_keys(root)
    result.pinned = bool(pinned_keys)
    proofs = read_proofs(root, result)
    check_hashes(entries, result)
    if proofs is None:
        check_chain(entries, result)
    else:
        check_proofs(entries, proofs, keys, result)
    check_signatures(entries, keys, bool(pinned_keys), result)
    wanted = check_bundle(root, entries, keys, result, proofs)
    check_runs(root, entries, wanted, result)
    check_attestations(root, entries, wanted, keys, result)
    check_unrecorded(root, entries, result)
    check_notes(entries, "this bundle" if wanted is not None or proofs is not None else "the ledger", result)
    check_anchors(entries + ([proofs["head"]] if proofs else []), anchors or [], result)
    summarise(entries, result)
    if proofs:
        result.head, result.head_seq = str(proofs["head"].get("head")), int(proofs["head"].get("head_seq") or 0)
    return result


# -- consistency between two signed heads ---------------------------------------------------------
def check_consistency(doc: dict[str, Any], keys: dict[str, Any]) -> list[str]:
    """Problems with a consistency proof between two signed heads (none: the later ledger is the
    earlier one with entries appended, nothing before them changed)."""
    try:
        old, new = doc["old"], doc["new"]
        proof = [bytes.fromhex(h) for h in doc["proof"]]
        sizes = int(old["tree_size"]), int(new["tree_size"])
        roots = bytes.fromhex(old["root"]), bytes.fromhex(new["root"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return ["the consistency proof is unreadable"]
    problems = []
    if doc.get("format") != CONSISTENCY_FORMAT:
        problems.append(f"the proof is {doc.get('format')}, a format this verifier does not know (it reads "
                        f"{CONSISTENCY_FORMAT}): verify with a newer drillbook")
    for name, head in (("earlier", old), ("later", new)):
        key = keys.get(str(head.get("key_id")))
        if key is None or not signature_ok(key, entry_hash(head), str(head.get("sig"))):
            problems.append(f"the {name} head (size {head.get('tree_size')}) is not signed by a trusted key")
    if not consistency_ok(sizes[0], sizes[1], roots[0], roots[1], proof):
        problems.append(f"the ledger of {sizes[1]} entries does not extend the ledger of {sizes[0]} entries "
                        f"(root {old['root'][:16]}...): entries up to #{sizes[0]} were changed, removed or "
                        "reordered since the earlier head was signed (history was rewritten)")
    return problems


def load_consistency(path: Path) -> dict[str, Any]:
    """The consistency proof document in ``path``; OSError or ValueError saying why it is not one."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:  # UnicodeDecodeError included
        raise ValueError(f"not a consistency proof (not JSON: {exc})") from None
    if not isinstance(doc, dict):
        raise ValueError("not a consistency proof (not a JSON object)")
    return doc


def verify_consistency(path: Path, pinned_keys: list[Any] | None, keys_from: Path) -> tuple[dict[str, Any], list[str]]:
    """The proof in ``path`` and its problems, checked against the pinned keys or else the keys
    published in ``keys_from`` (a reports folder or an extracted bundle)."""
    doc = load_consistency(path)
    trusted = {key_id(k): k for k in pinned_keys} if pinned_keys else published_keys(keys_from)
    return doc, check_consistency(doc, trusted)


def consistency_dict(doc: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    return {"ok": not problems, "problems": problems, "old": doc.get("old"), "new": doc.get("new")}


def format_consistency(doc: dict[str, Any], problems: list[str]) -> str:
    old, new = doc.get("old") or {}, doc.get("new") or {}
    lines = ["Consistency: OK, the later ledger only appended to the earlier one" if not problems
             else f"Consistency FAILED: {len(problems)} problem(s)"]
    lines += [f"  - {p}" for p in problems]
    for name, head in (("earlier", old), ("later", new)):
        lines.append(f"  {name}:  {head.get('tree_size')} entries, Merkle root {head.get('root')} "
                     f"(head #{head.get('head_seq')}, signed {head.get('signed_at')})")
    return "\n".join(lines)


# -- bundles ---------------------------------------------------------------------------------------
def extract_bundle(zip_path: Path, into: Path, result: Result) -> Path:
    """Extract member by member: a damaged member is a problem naming it, not a crash."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as exc:
        result.add("bad-zip", f"{zip_path} is not a readable zip: {exc}", file=str(zip_path))
        return into
    with archive:
        for info in archive.infolist():
            name = PurePosixPath(info.filename)
            if name.is_absolute() or ".." in name.parts:
                result.add("bad-zip", f"zip member {info.filename!r} points outside the bundle", file=info.filename)
                continue
            try:
                archive.extract(info, into)
            except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError) as exc:  # zlib: a bad deflate stream
                result.add("file-changed", f"{_member_run(info.filename)}zip member {info.filename} is "
                           f"damaged ({exc})", file=info.filename)
    return bundle_root(into)


def _member_run(name: str) -> str:
    parts = PurePosixPath(name).parts
    for part in parts:
        if len(part) > 16 and part[:8].isdigit() and "T" in part:
            return f"run {part}: "
    return ""


def bundle_root(folder: Path) -> Path:
    """Bundles hold one top folder; accept a flat zip too."""
    if (folder / LEDGER_DIR).is_dir() or (folder / BUNDLE_FILE).exists():
        return folder
    children = [c for c in folder.iterdir() if c.is_dir()] if folder.is_dir() else []
    return children[0] if len(children) == 1 else folder


def verify_path(target: Path, pinned_keys: list[Any] | None = None,
                anchors: list[str] | None = None) -> Result:
    if target.is_file():
        with tempfile.TemporaryDirectory(prefix="drillbook-verify-") as tmp:
            pre = Result(root=str(target))
            root = extract_bundle(target, Path(tmp), pre)
            result = verify_folder(root, pinned_keys, anchors)
            if not (root / BUNDLE_FILE).is_file():  # its signed head is what shows a truncated ledger
                pre.add("bad-bundle", f"{target} has no {BUNDLE_FILE}: the bundle's signed manifest was "
                        "removed (or this zip is not a drillbook export)", file=BUNDLE_FILE)
            result.root = str(target)
            result.problems = pre.problems + result.problems
            return result
    return verify_folder(target, pinned_keys, anchors)


# -- output ----------------------------------------------------------------------------------------
def _resealed_line(result: Result) -> str:
    entries = f"{result.resealed} {'entry' if result.resealed == 1 else 'entries'}"
    text = f"  resealed: {entries} sealed an earlier attempt of a resumed run; "
    if result.resealed_kept == result.resealed:
        return text + f"its files are kept in the run's attempts/ folder ({result.resealed_kept} of {result.resealed})"
    return text + (f"{result.resealed_kept} of {result.resealed} kept in the run's attempts/ folder, the others "
                   "were overwritten by the next attempt (their hashes stay in the ledger)")


def format_result(result: Result) -> str:
    lines = []
    if result.ok:
        lines.append(f"Evidence verified: OK ({result.root})")
    else:
        lines.append(f"Evidence verification FAILED: {len(result.problems)} problem(s) in {result.root}")
        lines += [f"  - {p}" for p in result.problems]
        lines.append("")
        lines.append("  The counts below are read from evidence that did not verify: they are not evidence.")
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(result.statuses.items())) or "none"
    lines.append(f"  entries:  {result.entries} in the ledger, for {result.folders} run folder(s); "
                 f"{result.runs_checked} run folder(s) re-hashed")
    if result.resealed:
        lines.append(_resealed_line(result))
    if result.notes:
        lines.append(f"  notes:    {result.notes} signed note(s) about runs (reviews, corrective actions, exceptions)")
    lines.append(f"  runs:     {statuses}")
    if result.tree_size:
        lines.append(f"  proofs:   {result.proven} of {result.entries} entries proven in the signed ledger head "
                     f"({result.tree_size} entries, Merkle root {result.merkle_root})")
    if result.outside_bundle:
        lines.append(f"  outside:  {result.outside_bundle} earlier run(s) not in this bundle (chain links only)")
    if result.in_progress:
        lines.append(f"  running:  {len(result.in_progress)} run(s) still in progress, not sealed yet")
    lines.append(f"  period:   {result.first or '-'} .. {result.last or '-'}")
    lines.append(f"  attested: {result.attested} run folder(s) carry an in-toto attestation that verified")
    trust = ("pinned with --key" if result.pinned else
             "published beside the ledger: pin it with --key to rule out a replaced key")
    for kid, fp in sorted(result.keys.items()):
        lines.append(f"  key:      {result.key_types.get(kid, ED25519)} {kid} (fingerprint {fp}), {trust}")
    for anchor in result.anchors_found:
        lines.append(f"  anchor:   {anchor} found in the chain")
    lines.append(f"  head:     #{result.head_seq} {result.head}")
    return "\n".join(lines)


@dataclass
class AttestationCheck:
    """One run folder's attestation checked on its own: what both verifier front ends print."""

    root: Path
    problems: list[Problem]
    files: int

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "ok": self.ok, "problems": [p.__dict__ for p in self.problems]}

    def format(self) -> str:
        if self.ok:
            return f"Attestation verified: OK ({self.root}, {self.files} file(s))"
        return "\n".join([f"Attestation verification FAILED: {len(self.problems)} problem(s) in {self.root}",
                          *(f"  - {p}" for p in self.problems)])


def check_run_attestation(run_dir: Path, keys: list[Any]) -> AttestationCheck:
    """One run folder's attestation against keys the auditor was given (a lone folder publishes
    none, so it never trusts one it carries). ValueError when there is nothing to check with."""
    if not keys:
        raise ValueError("--attestation needs --key PUBLIC.pem: a run folder alone carries no trusted key")
    if not (run_dir / ATTESTATION_FILE).is_file():
        raise ValueError(f"{run_dir} has no {ATTESTATION_FILE}")
    problems = verify_attestation(run_dir, {key_id(k): k for k in keys})
    return AttestationCheck(run_dir, problems, len(subjects(run_dir)))


def attestation_main(run_dir: Path, keys: list[Any], as_json: bool) -> int:
    try:
        check = check_run_attestation(run_dir, keys)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(json.dumps(check.to_dict(), indent=2) if as_json else check.format())
    return 0 if check.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify drillbook evidence (a reports folder or a bundle zip).")
    parser.add_argument("target", nargs="?", default=".", help="reports folder, extracted bundle or bundle .zip")
    parser.add_argument("--attestation", metavar="RUN_FOLDER",
                        help="verify only this run folder's attestation.dsse.json (needs --key)")
    parser.add_argument("--key", action="append", default=[], help="trusted public key PEM (repeatable)")
    parser.add_argument("--anchor", action="append", default=[], help="head hash published earlier (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--consistency", metavar="PROOF.json",
                        help="check a consistency proof between two exports' signed heads instead")
    args = parser.parse_args(argv)
    try:
        keys = [load_public_key(Path(k).read_bytes()) for k in args.key]
    except (OSError, ValueError) as exc:
        print(f"cannot read --key: {exc}", file=sys.stderr)
        return 2
    if args.consistency:
        return _main_consistency(Path(args.consistency), keys, Path(args.target), args.json)
    if args.attestation:
        return attestation_main(Path(args.attestation), keys, args.json)
    target = Path(args.target)
    if not target.exists():
        print(f"{target} does not exist", file=sys.stderr)
        return 2
    result = verify_path(target, keys or None, args.anchor)
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_result(result))
    return 0 if result.ok else 1


def _main_consistency(path: Path, keys: list[Any], target: Path, as_json: bool) -> int:
    try:
        doc, problems = verify_consistency(path, keys or None, target)
    except (OSError, ValueError) as exc:
        print(f"--consistency {path}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(consistency_dict(doc, problems), indent=2) if as_json else format_consistency(doc, problems))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
