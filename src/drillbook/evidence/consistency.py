"""A consistency proof between two exports' signed heads: the later ledger only grew.

Each export carries a signed head (tree size and Merkle root of the whole ledger at export
time). An auditor who kept an earlier export asks for a proof that the ledger behind the later
one holds the earlier ledger unchanged as its beginning; drillbook builds it from the live
ledger (RFC 6962 2.1.2) and the standalone verifier checks it (``--consistency``). A ledger
rewritten since the earlier export yields a proof that does not verify: that is the finding.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from drillbook.errors import BadInput
from drillbook.evidence import ledger, merkle
from drillbook.evidence import verify as fmt
from drillbook.settings import Settings
from drillbook.util.clock import iso, utc_now


def head_of(export: Path) -> dict[str, Any]:
    """The signed head of an export zip (or of the folder it unzipped to)."""
    try:
        if export.is_file():
            with zipfile.ZipFile(export) as zf:
                name = next((n for n in zf.namelist() if n.endswith(f"{fmt.LEDGER_DIR}/{fmt.PROOFS_FILE}")), None)
                data = zf.read(name) if name else None
        else:
            path = fmt.bundle_root(export) / fmt.LEDGER_DIR / fmt.PROOFS_FILE
            data = path.read_bytes() if path.exists() else None
        head = json.loads(data)["head"] if data else None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise BadInput(f"{export}: cannot read its signed head ({exc})") from None
    if not isinstance(head, dict) or "tree_size" not in head:
        raise BadInput(f"{export} has no signed ledger head ({fmt.LEDGER_DIR}/{fmt.PROOFS_FILE}): give exports "
                       "made by `drillbook evidence export` with inclusion proofs")
    return head


def prove(settings: Settings, old_export: Path, new_export: Path) -> dict[str, Any]:
    """The proof document for the two exports' heads, built from the live ledger."""
    old, new = head_of(old_export), head_of(new_export)
    if int(old["tree_size"]) > int(new["tree_size"]):
        raise BadInput(f"{old_export} ({old['tree_size']} entries) is later than {new_export} "
                       f"({new['tree_size']} entries): give the earlier export first")
    with ledger.locked(settings):
        entries = ledger.read_entries(settings.reports_dir)
    if int(new["tree_size"]) > len(entries):
        raise BadInput(f"{new_export} describes {new['tree_size']} ledger entries, the ledger in "
                       f"{ledger.evidence_dir(settings.reports_dir)} holds {len(entries)}: it is not this ledger "
                       "(or entries were removed)")
    tree = merkle.Tree.of_entries(entries)
    proof = tree.consistency_proof(int(old["tree_size"]), int(new["tree_size"]))
    return {"format": fmt.CONSISTENCY_FORMAT, "created_at": iso(utc_now()), "old": old, "new": new,
            "proof": [h.hex() for h in proof]}
