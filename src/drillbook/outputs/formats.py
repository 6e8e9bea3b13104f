"""The body each notification target gets: drillbook's JSON, a Slack or Teams message, or a
project's template (:mod:`drillbook.outputs.templates`).

Every text taken from a record is filtered again here (util/plain.strip_controls: the record is
already plain, a caller's dict may not be), then escaped for where it lands:
- Slack reads ``&``, ``<`` and ``>`` in ``mrkdwn`` as markup (``<!channel>`` pages everyone,
  ``<url|text>`` is a link), so they become ``&amp;``, ``&lt;``, ``&gt;``;
- Teams (an Adaptive Card, the only card a Workflows webhook posts) parses markdown in a
  TextBlock, so text from a record goes into a RichTextBlock's TextRun, which it does not parse.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drillbook.outputs import templates
from drillbook.spec.models import NotifyTarget
from drillbook.util.durations import format_duration
from drillbook.util.plain import strip_controls_in

SLACK_SECTION_MAX = 2900  # Slack refuses a section text over 3000 characters
SLACK_HEADER_MAX = 150
ADAPTIVE_CARD_VERSION = "1.4"  # what Teams renders on every client
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


class BodyError(Exception):
    """The target's body could not be made: the notification fails with this reason."""


def render(target: NotifyTarget, payload: dict[str, Any], folder: Path | None) -> str:
    """The body for ``target``; ``folder`` is the drills folder templates are read from."""
    plain = strip_controls_in(payload)
    if target.template:
        if folder is None:
            raise BodyError(f"template {target.template}: no drills folder to read it from")
        try:
            return templates.render_json(folder, target.template, plain)
        except templates.TemplateProblem as exc:
            raise BodyError(str(exc)) from None
    if target.format == "slack":
        return json.dumps(slack(plain))
    if target.format == "teams":
        return json.dumps(teams(plain))
    return json.dumps(plain, sort_keys=True)


# -- the facts every format shows -------------------------------------------------------------
def title(p: dict[str, Any]) -> str:
    return f"{'Runbook' if p.get('kind') == 'runbook' else 'Drill'} {p.get('drill')} {p.get('status')}"


def objective(o: dict[str, Any] | None) -> str:
    if not o:
        return "none declared"
    if o.get("measured_seconds") is None:
        return f"target {o.get('target')}, not measured"
    met = "met" if o.get("met") else "not met"
    return f"{format_duration(o['measured_seconds'])} of {o.get('target')}: {met}"


def facts(p: dict[str, Any]) -> list[tuple[str, str]]:
    objectives = p.get("objectives") or {}
    rows = [("Status", str(p.get("status"))), ("RTO", objective(objectives.get("rto"))),
            ("RPO", objective(objectives.get("rpo"))), ("Run", str(p.get("run_id"))),
            ("Trigger", str(p.get("trigger") or "")), ("Host", str(p.get("host") or "")),
            ("Owner", str(p.get("owner") or ""))]
    return [(k, v) for k, v in rows if v]


# -- Slack ------------------------------------------------------------------------------------
def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(p: dict[str, Any]) -> dict[str, Any]:
    """An incoming-webhook message: ``text`` (the notification's own line) and Block Kit blocks."""
    reason = p.get("reason") or ""
    headline = f"drillbook: {title(p)}" + (f": {reason}" if reason else "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(p)[:SLACK_HEADER_MAX]}},
    ]
    if reason:
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": "*Reason:* " + slack_escape(reason)[:SLACK_SECTION_MAX]}})
    blocks.append({"type": "section", "fields": [
        {"type": "mrkdwn", "text": f"*{k}*\n{slack_escape(v)}"} for k, v in facts(p)[:10]]})
    if p.get("report"):
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"Report: {slack_escape(str(p['report']))}"}]})
    return {"text": slack_escape(headline)[:SLACK_SECTION_MAX], "blocks": blocks}


# -- Teams ------------------------------------------------------------------------------------
def teams(p: dict[str, Any]) -> dict[str, Any]:
    """A message with one Adaptive Card, the body a Teams Workflows webhook posts to a channel."""
    good = p.get("status") == "passed"
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": f"drillbook: {title(p)}", "weight": "Bolder", "size": "Large",
         "wrap": True, "color": "Good" if good else "Attention"},
    ]
    for label in ("reason", "owner"):  # text a drill file or a restore wrote: never markdown
        if p.get(label):
            body.append({"type": "RichTextBlock", "inlines": [
                {"type": "TextRun", "text": f"{label.capitalize()}: ", "weight": "Bolder"},
                {"type": "TextRun", "text": str(p[label])}]})
    rows = [(k, v) for k, v in facts(p) if k != "Owner"] + ([("Report", str(p["report"]))] if p.get("report") else [])
    body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in rows]})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": ADAPTIVE_CARD_VERSION, "body": body, "msteams": {"width": "Full"}}
    return {"type": "message", "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}]}
