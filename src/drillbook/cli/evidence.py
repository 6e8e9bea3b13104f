"""CLI for evidence: ``evidence verify|export|consistency|note|key`` and ``report --period``; parse, call,
print, exit."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from drillbook.cli import exitcodes, jsonout
from drillbook.cli.console import out, tell
from drillbook.drill import coverage
from drillbook.errors import BadInput
from drillbook.evidence import compliance, consistency, ledger, notes
from drillbook.evidence import verify as verifier
from drillbook.evidence.export import Selection, export
from drillbook.evidence.kms import KmsSigner
from drillbook.evidence.period import choose, current_quarter
from drillbook.evidence.signing import key_path, load_signer
from drillbook.settings import Settings
from drillbook.util.atomic import write_text_atomic

PERIOD_HELP = "2026Q4, 2026 or 2026-11"


@click.group("evidence")
def evidence_group() -> None:
    """Tamper-evident evidence: verify the signed ledger, export a bundle, show the key."""


@evidence_group.command("verify")
@click.argument("target", required=False, type=click.Path(path_type=Path))
@click.option("--key", "keys", multiple=True, type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Trusted public key PEM (repeatable); default: the keys published beside the ledger.")
@click.option("--anchor", "anchors", multiple=True,
              help="A head hash published earlier that must still be in the chain.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--consistency", "proof", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Check instead a consistency proof between two exports' signed heads (written by `evidence "
              "consistency`); keys: --key, else those published in TARGET (default: the reports folder).")
@click.option("--attestation", "run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Check instead one run folder's attestation.dsse.json against the --key given (a run folder "
              "alone carries no trusted key).")
@click.pass_obj
def verify_cmd(settings: Settings, target: Path | None, keys: tuple[Path, ...], anchors: tuple[str, ...],
               as_json: bool, proof: Path | None, run_dir: Path | None) -> None:
    """Verify the reports folder, or a bundle zip (TARGET), offline; exit 1 listing every problem."""
    pinned = []
    for path in keys:
        try:
            pinned.append(verifier.load_public_key(path.read_bytes()))
        except ValueError as exc:
            raise BadInput(f"--key {path}: {exc} (give the public-key.pem drillbook published)") from None
    where = target or settings.reports_dir
    if proof is not None:
        _verify_consistency(proof, pinned, where, as_json)
    if run_dir is not None:
        _verify_attestation(run_dir, pinned, as_json)
    if not where.exists():
        raise BadInput(f"{where} does not exist (give a reports folder or an exported .zip)")
    result = verifier.verify_path(where, pinned or None, list(anchors))
    if as_json:
        out.print(json.dumps(result.to_dict(), indent=2), markup=False)
    else:
        out.print(verifier.format_result(result), markup=False)
    sys.exit(0 if result.ok else 1)


def _verify_consistency(proof: Path, pinned: list[Any], keys_from: Path, as_json: bool) -> None:
    try:
        doc, problems = verifier.verify_consistency(proof, pinned or None, keys_from)
    except (OSError, ValueError) as exc:
        raise BadInput(f"--consistency {proof}: {exc} (give the proof `drillbook evidence consistency` wrote)"
                       ) from None
    if as_json:
        out.print(json.dumps(verifier.consistency_dict(doc, problems), indent=2), markup=False)
    else:
        out.print(verifier.format_consistency(doc, problems), markup=False)
    sys.exit(0 if not problems else exitcodes.FAILED)


def _verify_attestation(run_dir: Path, pinned: list[Any], as_json: bool) -> None:
    try:
        check = verifier.check_run_attestation(run_dir, pinned)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    out.print(json.dumps(check.to_dict(), indent=2) if as_json else check.format(), markup=False)
    sys.exit(0 if check.ok else exitcodes.FAILED)


@evidence_group.command("export")
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The zip to write.")
@click.option("--period", help=f"Runs started in this period: {PERIOD_HELP}.")
@click.option("--since", help="First day (YYYY-MM-DD), with --until.")
@click.option("--until", help="Last day, included.")
@click.option("--drill", "names", multiple=True, help="Only these drills or runbooks (repeatable).")
@click.pass_obj
def export_cmd(settings: Settings, out_path: Path, period: str | None, since: str | None,
               until: str | None, names: tuple[str, ...]) -> None:
    """Write one zip with the selected runs, the ledger, the public key, the period report and a verifier."""
    if out_path.suffix.lower() != ".zip":
        raise BadInput(f"--out {out_path}: name the bundle FILE.zip")
    selection = Selection(choose(period, since, until), names)
    result = export(settings, out_path, selection)
    out.print(f"exported {result.runs} run(s) to {result.path}", markup=False)
    out.print(f"ledger head in bundle: #{result.head_seq} {result.head}", markup=False)
    out.print(f"verify: drillbook evidence verify {result.path} --key PUBLIC.pem   (without drillbook: unzip "
              f"{result.path.name}, then in the folder {result.path.stem}/ it makes: python3 verify_evidence.py . "
              "--key PUBLIC.pem)", markup=False)


@evidence_group.command("consistency")
@click.argument("old_export", type=click.Path(path_type=Path, exists=True))
@click.argument("new_export", type=click.Path(path_type=Path, exists=True))
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The proof file to write (JSON), for the auditor's verifier (--consistency).")
@click.pass_obj
def consistency_cmd(settings: Settings, old_export: Path, new_export: Path, out_path: Path) -> None:
    """Prove the ledger behind NEW_EXPORT only appended to the one behind OLD_EXPORT; exit 1 if it was rewritten."""
    doc = consistency.prove(settings, old_export, new_export)
    write_text_atomic(out_path, json.dumps(doc, indent=2) + "\n")
    problems = verifier.check_consistency(doc, verifier.published_keys(settings.reports_dir))
    out.print(verifier.format_consistency(doc, problems), markup=False)
    out.print(f"proof: {out_path} (without drillbook: python3 verify_evidence.py --consistency {out_path.name} "
              "--key PUBLIC.pem)", markup=False)
    sys.exit(0 if not problems else exitcodes.FAILED)


@evidence_group.command("note")
@click.argument("run_id")
@click.option("--by", "by", required=True, help="Who writes the note (a participant's name).")
@click.option("--kind", "kind", required=True, type=click.Choice(notes.KINDS),
              help="review (results looked at), corrective-action (cause fixed) or exception (accepted as is).")
@click.option("--text", "text", required=True, help=f"What was reviewed, done or excepted (up to {notes.MAX_TEXT} "
              "characters; controls are removed).")
@click.pass_obj
def note_cmd(settings: Settings, run_id: str, by: str, kind: str, text: str) -> None:
    """Seal a signed note about a finished run in the ledger (the run itself is never edited)."""
    entry = notes.add(settings, run_id, by, kind, text)
    out.print(f"note sealed: ledger entry #{entry['seq']} ({kind} by {entry['by']}) about run {entry['run_id']} "
              f"(entry #{entry['about']})", markup=False)


@evidence_group.command("key")
@click.option("--out", "out_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the public key PEM to this file.")
@click.pass_obj
def key_cmd(settings: Settings, out_path: Path | None) -> None:
    """Print the public signing key and its fingerprint (the KMS key drillbook.yaml names, or the key
    file made on first use in the state folder)."""
    signer = load_signer(settings)
    pem = signer.public_pem().decode("ascii")
    published = ledger.publish_key(settings.reports_dir, signer)
    if out_path:
        write_text_atomic(out_path, pem)
    out.print(pem.rstrip(), markup=False)
    out.print(f"key id:      {signer.key_id} ({signer.key_type})", markup=False)
    out.print(f"fingerprint: {signer.fingerprint}", markup=False)
    out.print(f"published:   {published}", markup=False)
    if isinstance(signer, KmsSigner):
        out.print(f"private key: {signer.described} (it never leaves KMS)", markup=False)
    else:
        out.print(f"private key: {key_path(settings)} (never copy it under the reports folder)", markup=False)


@click.command("report")
@click.option("--period", help=f"{PERIOD_HELP}; default: the current quarter.")
@click.option("--since", help="First day (YYYY-MM-DD), with --until.")
@click.option("--until", help="Last day, included.")
@click.option("--strict", is_flag=True, help="Exit 1 when the ledger does not verify, a declared drill has no "
              "passing run in the period, or a backup of the drills' repositories was never drilled in it (or a "
              "repository could not be read to tell).")
@click.option("--json", "as_json", is_flag=True, help="Print what was written and found as JSON.")
@click.pass_obj
def report_cmd(settings: Settings, period: str | None, since: str | None, until: str | None, strict: bool,
               as_json: bool) -> None:
    """Write the period compliance report (compliance-<period>.html, .md, .json) in the reports folder."""
    chosen = choose(period, since, until) or current_quarter()
    never_drilled = coverage.measure_declared(settings, chosen.start, chosen.end)
    data = compliance.build(settings, chosen, never_drilled=never_drilled.record())
    paths = compliance.write(settings, data)
    lacking = [i["name"] for i in data["items"] if i["kind"] == "drill" and i["declared"] and not i["passed"]]
    gaps = strict_gaps(data, lacking, never_drilled) if strict else []
    if as_json:
        result = jsonout.period_report(data, paths, lacking, bool(gaps))
        jsonout.emit(result)
        sys.exit(result["exit_code"])
    ledger_state = "verified" if data["ledger"]["ok"] else f"FAILED ({len(data['ledger']['problems'])} problems)"
    out.print(f"ledger: {ledger_state}, head #{data['ledger']['head_seq']} {data['ledger']['head']}", markup=False)
    for item in data["attention"]:
        out.print(f"attention: {item['kind']} {item['name']}: {'; '.join(item['notes'])}", markup=False)
    for path in paths:
        out.print(f"report: {path}", markup=False)
    for gap in gaps:
        tell(f"--strict: {gap}", logging.ERROR)
    if gaps:
        sys.exit(exitcodes.FAILED)


def strict_gaps(data: dict[str, Any], lacking: list[str], never_drilled: coverage.Coverage) -> list[str]:
    """What ``--strict`` fails on, each as a sentence naming what to do: the same list for the text
    and the JSON output, so both exit alike."""
    label = data["period"]["label"]
    gaps = []
    if not data["ledger"]["ok"]:
        gaps.append("the evidence ledger did not verify; run `drillbook evidence verify`")
    if lacking:
        gaps.append(f"no passing run in {label} for: {', '.join(lacking)}")
    if never_drilled.uncovered:
        groups = [f"host {g['host'] or '-'} paths {', '.join(g['paths']) or '-'} in {g['repository']}"
                  for g in (group.record() for group in never_drilled.uncovered)]
        gaps.append(f"backups never drilled in {label}: {'; '.join(groups)} (add a drill that selects them; "
                    "see `drillbook coverage`)")
    unread = [r for r in never_drilled.repositories if r.error]
    if unread:
        gaps.append("repositories not read, so backups never drilled were not measured: "
                    + "; ".join(f"{r.repository}: {r.error}" for r in unread))
    return gaps
