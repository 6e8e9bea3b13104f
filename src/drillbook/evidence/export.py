"""Export an evidence bundle for an auditor: selected runs, their ledger entries with Merkle
inclusion proofs against a signed head, key, report, verifier.

The zip mirrors the reports folder (``<drill>/<run_id>/``, ``runbooks/<name>/<run_id>/``,
``evidence/``) under one top folder, so the same verification runs on it as on the live folder,
in an empty directory, without drillbook installed (``verify_evidence.py`` needs only Python and
``cryptography``). The bundle carries only the chosen runs' entries (not every other drill's):
``evidence/proofs.json`` proves each is in the ledger whose head (tree size and root) drillbook
signed at export time, and two exports' heads can later be shown consistent
(``drillbook evidence consistency``).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drillbook.errors import BadInput
from drillbook.evidence import compliance, ledger, merkle
from drillbook.evidence import verify as fmt
from drillbook.evidence.period import Period, between
from drillbook.evidence.signing import load_signer
from drillbook.settings import Settings
from drillbook.util.clock import iso, parse_iso, utc_now

VERIFIER_NAME = "verify_evidence.py"


@dataclass
class Selection:
    period: Period | None = None
    names: tuple[str, ...] = ()

    def wants(self, entry: dict[str, Any]) -> bool:
        if self.names and entry.get("name") not in self.names:
            return False
        if self.period is None:
            return True
        try:
            return self.period.contains(parse_iso(str(entry.get("started_at") or entry.get("finished_at"))))
        except ValueError:
            return False

    def describe(self) -> dict[str, Any]:
        return {"period": self.period.label if self.period else "all",
                "since": iso(self.period.start) if self.period else None,
                "until": iso(self.period.end) if self.period else None,
                "names": list(self.names)}


@dataclass
class ExportResult:
    path: Path
    runs: int
    head: str
    head_seq: int
    report: str


def export(settings: Settings, out: Path, selection: Selection) -> ExportResult:
    reports = settings.reports_dir
    with ledger.locked(settings):  # a consistent ledger snapshot, even while drills finish
        entries = ledger.read_entries(reports)
    latest: dict[str, dict[str, Any]] = {}
    for entry in fmt.run_entries(entries):
        latest[str(entry["path"])] = entry
    chosen = [e for e in latest.values() if selection.wants(e)]
    if not chosen:
        raise BadInput(f"no sealed run matches the selection ({_describe(selection)}); "
                       "`drillbook evidence verify` lists what the ledger holds")
    shipped = shipped_entries(entries, chosen)
    signer = load_signer(settings)
    tree = merkle.Tree.of_entries(entries)
    head = signed_head(entries, tree, signer)
    proofs = _proofs(entries, tree, shipped, head)
    top = out.stem
    with tempfile.TemporaryDirectory(prefix="drillbook-export-") as tmp:
        report_files = _period_report(settings, selection, chosen, Path(tmp))
        bundle = _bundle_manifest(chosen, head, selection, signer)
        _write_zip(out, top, reports, chosen, shipped, proofs, bundle, report_files, signer)
    return ExportResult(out, len(chosen), head["head"], int(head["head_seq"]), report_files[0].name)


def shipped_entries(entries: list[dict[str, Any]], chosen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ledger entries a bundle carries, in ledger order: the chosen runs' latest seals, the
    notes about those runs and the run entries the notes name (an earlier seal of a run resealed
    since), so that the verifier finds each note's run entry in the bundle."""
    runs = {e.get("run_id") for e in chosen}
    notes = [e for e in entries if fmt.is_note(e) and e.get("run_id") in runs]
    wanted, about = {id(e) for e in chosen + notes}, {n.get("about") for n in notes}
    return [e for e in entries if id(e) in wanted or (not fmt.is_note(e) and e.get("seq") in about)]


def signed_head(entries: list[dict[str, Any]], tree: merkle.Tree, signer: Any) -> dict[str, Any]:
    """The whole ledger's Merkle head (size, root) and chain head, signed like a ledger entry."""
    head: dict[str, Any] = {
        "format": fmt.HEAD_FORMAT,
        "tree_size": len(entries),
        "root": tree.root().hex(),
        "head": entries[-1]["hash"],
        "head_seq": entries[-1]["seq"],
        "signed_at": iso(utc_now()),
        "key_id": signer.key_id,
    }
    head["sig"] = signer.sign(fmt.entry_hash(head))
    return head


def _proofs(entries: list[dict[str, Any]], tree: merkle.Tree, shipped: list[dict[str, Any]],
            head: dict[str, Any]) -> dict[str, Any]:
    index = {id(e): i for i, e in enumerate(entries)}
    return {"format": fmt.PROOFS_FORMAT, "head": head,
            "entries": [{"seq": e["seq"], "index": index[id(e)],
                         "proof": [h.hex() for h in tree.inclusion_proof(index[id(e)], len(entries))]}
                        for e in shipped]}


def _describe(selection: Selection) -> str:
    parts = [f"period {selection.period.label}"] if selection.period else ["all periods"]
    if selection.names:
        parts.append("names " + ", ".join(selection.names))
    return "; ".join(parts)


def _period_report(settings: Settings, selection: Selection, chosen: list[dict[str, Any]],
                   folder: Path) -> list[Path]:
    period = selection.period or _span(chosen)
    report = compliance.build(settings, period, list(selection.names) or None)
    return compliance.write(settings, report, folder)


def _span(entries: list[dict[str, Any]]) -> Period:
    days = sorted(str(e.get("started_at") or e.get("finished_at"))[:10] for e in entries)
    return between(days[0], max(days[-1], datetime.now(UTC).date().isoformat()))


def _bundle_manifest(chosen: list[dict[str, Any]], head: dict[str, Any], selection: Selection,
                     signer: Any) -> dict[str, Any]:
    """What the bundle holds; ``head`` is the signed Merkle head its proofs lead to."""
    bundle: dict[str, Any] = {
        "format": fmt.BUNDLE_FORMAT,
        "created_at": iso(utc_now()),
        "selection": selection.describe(),
        "runs": [{"path": e["path"], "run_id": e["run_id"], "seq": e["seq"]}
                 for e in sorted(chosen, key=lambda e: int(e["seq"]))],
        "head": head["head"],
        "head_seq": head["head_seq"],
        "tree_size": head["tree_size"],
        "root": head["root"],
        "key_id": signer.key_id,
    }
    bundle["sig"] = signer.sign(fmt.entry_hash(bundle))
    return bundle


def _write_zip(out: Path, top: str, reports: Path, chosen: list[dict[str, Any]],
               kept: list[dict[str, Any]], proofs: dict[str, Any], bundle: dict[str, Any],
               report_files: list[Path], signer: Any) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".zip", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for entry in chosen:
                folder = reports / entry["path"]
                for path in fmt.run_files(folder):
                    zf.write(path, f"{top}/{entry['path']}/{path.relative_to(folder).as_posix()}")
            ledger_text = "".join(_line(e) for e in kept)
            zf.writestr(f"{top}/{fmt.LEDGER_DIR}/{fmt.LEDGER_FILE}", ledger_text)
            zf.writestr(f"{top}/{fmt.LEDGER_DIR}/{fmt.PROOFS_FILE}", json.dumps(proofs, indent=2) + "\n")
            _write_keys(zf, top, reports, kept, signer)
            for path in report_files:
                zf.write(path, f"{top}/{path.name}")
            zf.writestr(f"{top}/{fmt.BUNDLE_FILE}", json.dumps(bundle, indent=2) + "\n")
            zf.write(fmt.__file__, f"{top}/{VERIFIER_NAME}")
            zf.writestr(f"{top}/README.txt", _readme(bundle, signer, report_files[0].name))
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _line(entry: dict[str, Any]) -> str:
    clean = {k: v for k, v in entry.items() if not k.startswith("_")}
    return json.dumps(clean, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def _write_keys(zf: zipfile.ZipFile, top: str, reports: Path, kept: list[dict[str, Any]], signer: Any) -> None:
    zf.writestr(f"{top}/{fmt.LEDGER_DIR}/{fmt.PUBLIC_KEY_FILE}", signer.public_pem().decode("ascii"))
    used = {str(e.get("key_id")) for e in kept}
    for kid in sorted(used):
        path = reports / fmt.LEDGER_DIR / fmt.KEYS_DIR / f"{kid}.pem"
        if path.exists():
            zf.write(path, f"{top}/{fmt.LEDGER_DIR}/{fmt.KEYS_DIR}/{kid}.pem")


def _readme(bundle: dict[str, Any], signer: Any, report_name: str) -> str:
    return f"""drillbook evidence bundle
=========================

Format:    {bundle['format']} (verify with the verify_evidence.py inside, or drillbook as recent)
Selection: {bundle['selection']['period']} {' '.join(bundle['selection']['names'])}
Runs:      {len(bundle['runs'])}
Created:   {bundle['created_at']}
Head:      #{bundle['head_seq']} {bundle['head']}
Key:       {signer.key_type} {signer.key_id}
           fingerprint {signer.fingerprint}

What is inside
  {report_name} (.md, .json)  the period report: what ran, what it proved, the gaps
  <drill>/<run_id>/           each run's files (run.json is the source of truth)
  runbooks/<name>/<run_id>/   runbook runs
  evidence/ledger.jsonl       the signed ledger entries of the exported runs (only theirs)
  evidence/proofs.json        a Merkle inclusion proof per entry against the ledger's head
                              (size and root) signed at export time
  evidence/public-key.pem     the public key that signed it
  bundle.json                 what this bundle holds, signed with the same key
  {VERIFIER_NAME}          a standalone verifier (Python 3.9+ and the `cryptography` package)

How to verify (no drillbook needed)
  1. Compare the key fingerprint above with the one published to you separately
     (drillbook evidence key prints it). Do not trust a key that came only inside this zip.
  2. pip install cryptography
  3. in this folder (unzip made it): python3 {VERIFIER_NAME} . --key /path/to/the/published/public-key.pem
     (or, with drillbook installed: drillbook evidence verify THIS.zip --key PUBLIC.pem)
  4. Optionally add --anchor HASH for head hashes published earlier (reports, tickets, WORM
     storage): they must still be in the chain.

Exit 0 means: every file of every exported run has the SHA-256 recorded when the run finished,
every exported ledger entry is signed by the key and is proven (RFC 6962 Merkle inclusion proof)
to be in the ledger of {bundle['tree_size']} entries whose signed head is in proofs.json. Exit 1
lists every problem, naming the run and the file. The other drills' entries are not shipped: the
proofs show these entries are part of the ledger without revealing the rest.

Threat model: the proofs show any edit of an exported entry made without the private key.
Someone holding the private key could sign a different ledger; keep the heads of earlier
exports: `drillbook evidence consistency OLD.zip NEW.zip` proves the later ledger only appended
to the earlier one, and anchors (head hashes published outside drillbook's reach) detect a
rewrite too.
"""
