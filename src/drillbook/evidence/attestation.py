"""A standard attestation per run: an in-toto Statement v1 in a DSSE envelope, beside run.json.

The ledger proves a run to someone who runs drillbook's verifier; the attestation proves it to
tools auditors already have (in-toto, securesystemslib, sigstore's DSSE verifiers): its subject
is every file of the run folder with its SHA-256 and its predicate
(``https://drillbook.dev/drill-run/v1``) says what the run showed. DSSE signs the payload's bytes
(PAE), so checking it never depends on re-serialising JSON. It is written just before the run is
sealed, so the ledger covers it too. The format's one definition is in :mod:`verify`.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from drillbook.evidence import verify as fmt
from drillbook.evidence.signer import EvidenceSigner
from drillbook.util.atomic import write_text_atomic

ATTESTATION_FILE = fmt.ATTESTATION_FILE


def predicate(record: dict[str, Any], signer: EvidenceSigner) -> dict[str, Any]:
    """What the run showed, as run.json recorded it (restored names already filtered there)."""
    kind = str(record.get("kind") or "drill")
    return {
        "kind": kind,
        "drill": record.get("drill") or record.get("runbook"),
        "runId": record.get("run_id"),
        "status": record.get("status"),
        "reason": record.get("reason"),
        "startedAt": record.get("started_at"),
        "finishedAt": record.get("finished_at"),
        "snapshot": record.get("snapshot"),
        "objectives": _objectives(record.get("objectives")),
        "isolation": record.get("isolation"),
        "resticVersion": (record.get("versions") or {}).get("restic"),
        "drillbookVersion": (record.get("versions") or {}).get("drillbook"),
        "signer": {"keyId": signer.key_id, "keyType": signer.key_type},
    }


def _objectives(objectives: Any) -> dict[str, Any]:
    """Measured against target, per objective (rto, rpo)."""
    if not isinstance(objectives, dict):
        return {}
    return {name: {"target_seconds": o.get("target_seconds"), "measured_seconds": o.get("measured_seconds"),
                   "met": o.get("met")}
            for name, o in sorted(objectives.items()) if isinstance(o, dict)}


def statement(run_dir: Path, record: dict[str, Any], signer: EvidenceSigner) -> dict[str, Any]:
    return {"_type": fmt.STATEMENT_TYPE, "subject": fmt.subjects(run_dir),
            "predicateType": fmt.PREDICATE_TYPE, "predicate": predicate(record, signer)}


def envelope(payload: bytes, signer: EvidenceSigner) -> dict[str, Any]:
    signature = signer.sign_bytes(fmt.pae(fmt.PAYLOAD_TYPE, payload))
    return {"payloadType": fmt.PAYLOAD_TYPE,
            "payload": base64.b64encode(payload).decode("ascii"),
            "signatures": [{"keyid": signer.key_id, "sig": base64.b64encode(signature).decode("ascii")}]}


def attest(run_dir: Path, record: dict[str, Any], signer: EvidenceSigner) -> Path:
    """Write (or keep) ``attestation.dsse.json`` for a finished run.

    An attestation that already says the same thing, signed by the same key, is kept as it is:
    an ECDSA signature differs every time, and a rewritten file would make an unchanged run
    look changed to the ledger.
    """
    path = run_dir / ATTESTATION_FILE
    payload = fmt.canonical(statement(run_dir, record, signer))
    if _already(path, payload, signer.key_id, signer.public):
        return path
    write_text_atomic(path, json.dumps(envelope(payload, signer), indent=2) + "\n")
    return path


def _already(path: Path, payload: bytes, kid: str, public: Any) -> bool:
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
        same = base64.b64decode(current["payload"], validate=True) == payload
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return same and not fmt.verify_attestation(path.parent, {kid: public})
