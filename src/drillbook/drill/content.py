"""The always-on content check: the restore is complete and byte-correct against the snapshot.

The reference is the snapshot's own listing (``restic ls``) and the repository's hashes
(``restore --verify`` re-reads every restored file and compares each blob's SHA-256), never
the live source, which has changed since the backup and would raise false alarms. The restored
tree is compared with the listing inside the sandbox (checks/reading/tree.py); this module turns
that comparison into the record's verdict.

Device nodes, FIFOs and sockets in a snapshot are no broken backup: they are listed under
``special_files`` and never counted missing. A device is never left in the restore (an unprivileged
restic cannot make one; after a root restore it is removed), FIFOs stay, and restic restores no
socket at all.
"""

from __future__ import annotations

from typing import Any

from drillbook.status import Status

#: What the comparison inside the sandbox answers (checks/reading/tree.py), each a count.
COUNTS = ("files_expected", "dirs_expected", "symlinks_expected", "bytes_expected", "bytes_present",
          "missing_count", "wrong_size_count")

METHOD = ("restic restore --verify (every restored file re-read and each blob's SHA-256 compared "
          "with the repository) + presence and size of every node of restic ls against the restored tree")


def verify_restore(compared: dict[str, Any], snapshot_id: str,
                   short_id: str) -> tuple[dict[str, Any], str | None]:
    """The record's ``content`` section from the tree's comparison with the listing, and why the
    restore is not a recovery (None when it is); ValueError when the comparison is malformed."""
    if not all(isinstance(compared.get(key), int) for key in COUNTS):
        raise ValueError("the comparison of the restored tree answered no counts")
    content = dict(compared)
    content.update({
        "method": METHOD,
        "reference": f"snapshot {snapshot_id}",
        "files_verified": content["files_expected"] - content["missing_count"],
        "bytes_verified": content["bytes_present"],
    })
    problem = _problem(content, short_id)
    content["status"] = Status.FAILED if problem else Status.PASSED
    return content, problem


def _problem(content: dict[str, Any], short_id: str) -> str | None:
    parts = []
    if content["missing_count"]:
        parts.append(f"{content['missing_count']} missing (first: {content['missing'][0]})")
    if content["wrong_size_count"]:
        parts.append(f"{content['wrong_size_count']} with wrong size (first: {content['wrong_size'][0]})")
    if parts:
        return "restored tree is incomplete: " + "; ".join(parts)
    if not content["files_expected"]:  # e.g. a backup of an unmounted volume: nothing to recover
        return (f"snapshot {short_id} holds no files: nothing was recovered (was the source empty "
                "or unmounted when it was taken?)")
    return None
