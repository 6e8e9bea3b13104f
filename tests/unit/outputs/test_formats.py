"""Bodies per target format: Slack, Teams, drillbook's JSON and a project's Jinja2 template."""

from __future__ import annotations

import json

import pytest

from drillbook.outputs import formats
from drillbook.spec.models import NotifyTarget

HOSTILE = "restore said \x1b[2J\x1b]0;owned\x07<!channel> & <https://evil.example|click> \u202eexe.txt"


def payload(**extra):
    base = {"drill": "clinic", "kind": "drill", "event": "failure", "status": "failed",
            "reason": "1 of 2 checks failed", "run_id": "20260506T030000Z-aaaaaa", "trigger": "schedule",
            "started_at": "2026-05-06T03:00:00.000Z", "finished_at": "2026-05-06T03:01:00.000Z",
            "objectives": {"rto": {"measured_seconds": 60.0, "target_seconds": 600.0, "target": "10m",
                                   "met": True},
                           "rpo": {"measured_seconds": 90000.0, "target_seconds": 86400.0, "target": "1d",
                                   "met": False}},
            "owner": "clinic-oncall@example.org", "host": "drill-host",
            "report": "/srv/reports/clinic/20260506T030000Z-aaaaaa/report.html"}
    base.update(extra)
    return base


def all_text(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def test_json_is_todays_body_unchanged():
    body = formats.render(NotifyTarget(webhook="http://127.0.0.1:9/x"), payload(), folder=None)
    assert body == json.dumps(payload(), sort_keys=True)


def test_slack_body_has_text_and_blocks_with_what_on_call_needs():
    body = json.loads(formats.render(NotifyTarget(webhook="http://h/x", format="slack"), payload(), folder=None))
    assert "clinic" in body["text"] and "failed" in body["text"]
    shown = all_text(body["blocks"])
    for piece in ("clinic", "failed", "1 of 2 checks failed", "RTO", "10m", "RPO", "1d", "not met",
                  "report.html", "20260506T030000Z-aaaaaa"):
        assert piece in shown, piece
    assert {b["type"] for b in body["blocks"]} <= {"header", "section", "context", "divider"}


def test_slack_escapes_its_control_characters_and_drops_terminal_controls():
    body = json.loads(formats.render(NotifyTarget(webhook="http://h/x", format="slack"),
                                     payload(reason=HOSTILE), folder=None))
    shown = all_text(body)
    assert "<!channel>" not in shown and "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in shown
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown


def test_teams_body_is_an_adaptive_card_message():
    body = json.loads(formats.render(NotifyTarget(webhook="http://h/x", format="teams"), payload(), folder=None))
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    shown = all_text(card["body"])
    for piece in ("clinic", "failed", "1 of 2 checks failed", "RTO", "10m", "RPO", "not met", "report.html"):
        assert piece in shown, piece


def test_teams_keeps_record_text_out_of_markdown_and_free_of_controls():
    body = formats.render(NotifyTarget(webhook="http://h/x", format="teams"), payload(reason=HOSTILE), folder=None)
    assert "\x1b" not in body and "\u202e" not in json.loads(body)["attachments"][0]["content"].__repr__()
    card = json.loads(body)["attachments"][0]["content"]
    # the reason is a TextRun (never parsed as markdown): a link in it stays text
    runs = [i for b in card["body"] if b["type"] == "RichTextBlock" for i in b["inlines"]]
    assert any("<https://evil.example|click>" in r["text"] for r in runs)
    assert not any("evil.example" in b.get("text", "") for b in card["body"] if b["type"] == "TextBlock")


def write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def test_a_template_renders_json_with_every_value_encoded(tmp_path):
    write(tmp_path, "pager.json.j2", '{"summary": {{ ("DR drill " ~ drill ~ " " ~ status) | tojson }},\n'
                                     ' "reason": {{ reason }}, "rto_met": {{ objectives.rto.met }}}\n')
    target = NotifyTarget(webhook="http://h/x", template="pager.json.j2")
    body = json.loads(formats.render(target, payload(reason='said "hi"\n</script>'), folder=tmp_path))
    assert body == {"summary": "DR drill clinic failed", "reason": 'said "hi"\n</script>', "rto_met": True}


def test_a_template_gets_plain_text_only(tmp_path):
    write(tmp_path, "t.j2", '{"reason": {{ reason }}}')
    body = formats.render(NotifyTarget(webhook="http://h/x", template="t.j2"), payload(reason=HOSTILE), folder=tmp_path)
    assert "\x1b" not in json.loads(body)["reason"] and "\u202e" not in json.loads(body)["reason"]


def test_string_pasting_is_caught_as_invalid_json_naming_the_template(tmp_path):
    path = write(tmp_path, "pasted.j2", '{\n "text": "drill {{ drill }} failed"\n}')
    with pytest.raises(formats.BodyError) as err:
        formats.render(NotifyTarget(webhook="http://h/x", template="pasted.j2"), payload(), folder=tmp_path)
    assert f"template {path}" in str(err.value) and "not JSON" in str(err.value) and "line 2" in str(err.value)


def test_an_undefined_name_is_an_error_with_the_templates_line(tmp_path):
    path = write(tmp_path, "typo.j2", '{\n"a": {{ drill }},\n"b": {{ stauts }}\n}')
    with pytest.raises(formats.BodyError) as err:
        formats.render(NotifyTarget(webhook="http://h/x", template="typo.j2"), payload(), folder=tmp_path)
    assert f"template {path}:3" in str(err.value) and "stauts" in str(err.value)


def test_a_template_cannot_reach_outside_the_drills_folder(tmp_path):
    secret = write(tmp_path / "elsewhere", "secret.txt", "hunter2")
    drills = tmp_path / "drills"
    drills.mkdir()
    (drills / "leak.j2").symlink_to(secret)
    write(drills, "incl.j2", '{% include "../elsewhere/secret.txt" %}')
    for name in ("leak.j2", "incl.j2"):
        with pytest.raises(formats.BodyError) as err:
            formats.render(NotifyTarget(webhook="http://h/x", template=name), payload(), folder=drills)
        assert "hunter2" not in str(err.value)


def test_a_template_runs_sandboxed(tmp_path):
    write(tmp_path, "evil.j2", "{{ ''.__class__.__mro__[1].__subclasses__() | tojson }}")
    with pytest.raises(formats.BodyError):
        formats.render(NotifyTarget(webhook="http://h/x", template="evil.j2"), payload(), folder=tmp_path)


@pytest.mark.parametrize("fields, message", [
    ({"sns": "arn:aws:sns:eu-west-1:1:t", "format": "slack"}, "use it with a webhook target"),
    ({"webhook": "http://h/x", "format": "teams", "template": "t.j2"}, "format or template, not both"),
    ({"webhook": "http://h/x", "template": "../t.j2"}, "relative to the drills folder"),
    ({"webhook": "http://h/x", "template": "/etc/shadow"}, "relative to the drills folder"),
])
def test_target_declarations_are_checked(fields, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        NotifyTarget(**fields)
