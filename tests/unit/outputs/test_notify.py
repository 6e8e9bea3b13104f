"""Notification rules: which events fire, which targets apply, what is masked, what is sent."""

from __future__ import annotations

import json
import os
import pwd
import sys
from types import SimpleNamespace

import pytest

from devtools.receiver import Receiver
from drillbook.outputs import notify, webhook
from drillbook.spec.models import NotifyTarget, ProjectConfig
from drillbook.util.atomic import write_json_atomic


def record(status="failed", run_id="20260506T030000Z-aaaaaa", started="2026-05-06T03:00:00.000Z", **extra):
    base = {"drill": "clinic", "kind": "drill", "run_id": run_id, "status": status,
            "reason": "1 of 2 checks failed" if status != "passed" else None,
            "started_at": started, "finished_at": started, "trigger": "schedule",
            "objectives": {"rto": {"target": "10m", "target_seconds": 600.0,
                                   "measured_seconds": 12.5, "met": True},
                           "rpo": {"target": "1d", "target_seconds": 86400.0,
                                   "measured_seconds": 3600.0, "met": True}},
            "versions": {"host": "drill-host"}}
    base.update(extra)
    return base


@pytest.mark.parametrize("status, previous, expected", [
    ("failed", None, {"always", "failure"}),
    ("aborted", "passed", {"always", "failure"}),
    ("passed", None, {"always", "success"}),
    ("passed", "passed", {"always", "success"}),
    ("passed", "failed", {"always", "success", "recovery"}),
    ("passed", "aborted", {"always", "success", "recovery"}),
])
def test_events(status, previous, expected):
    assert notify.events_for(status, previous) == expected


def test_a_webhook_is_described_through_the_one_url_mask():
    """util/scrub.mask_url is the one rule for what may be shown of a URL; notify has no other."""
    url = "https://hooks.slack.com/services/T0000AAAA/B0000BBBB/abcdEFGH1234ijklMNOP5678"
    assert notify.describe_target(NotifyTarget(webhook=url)) == "webhook https://hooks.slack.com/***/***/***/***"
    assert not hasattr(notify, "redact_url")


def test_scrub_removes_secret_pieces_from_error_text():
    url = "https://bot:hunter22@example.org/hook?token=s3cr3t"
    text = f"cannot reach {url}: token s3cr3t refused for hunter22"
    scrubbed = notify.redact(text, url)
    assert "s3cr3t" not in scrubbed and "hunter22" not in scrubbed
    assert "example.org" in scrubbed


def test_error_text_quoting_part_of_the_url_keeps_none_of_its_tokens():
    url = "https://hooks.example.org/services/T00/B00/abcdef?k=v"
    text = (f"URL can't contain control characters. '/services/T00/B00/abcdef?k=v' (found at least ' '); "
            f"unknown url type: {url!r}; path /services/T00/B00/abcdef")
    scrubbed = notify.redact(text, url)
    for piece in ("abcdef", "T00", "B00", "services", "k=v"):
        assert piece not in scrubbed
    assert "hooks.example.org" in scrubbed


def test_the_record_and_the_log_of_a_failed_webhook_keep_no_path_token(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(webhook, "BACKOFF_FACTOR", 0.0)
    url = "http://127.0.0.1:9/hook/abcdef"
    drill = SimpleNamespace(notify=[NotifyTarget(webhook=url, timeout="1s")])
    settings = SimpleNamespace(reports_dir=tmp_path / "reports")
    [entry] = notify.notify_run(record("failed"), drill, settings)
    assert entry["status"] == "failed" and entry["target"] == "webhook http://127.0.0.1:9/***/***"
    assert "abcdef" not in json.dumps(entry) and "/hook" not in json.dumps(entry)
    assert "notification to webhook" in caplog.text and "abcdef" not in caplog.text


def test_project_targets_add_to_the_drills_own_and_are_used_once():
    ops = NotifyTarget(webhook="https://ops.example.org/hook")
    own = NotifyTarget(command=["notify-owner"], on=["always"])
    drill = SimpleNamespace(notify=[own, ops])
    project = ProjectConfig(notify=[ops])
    assert notify.targets_for(drill, project) == [own, ops]


def test_previous_status_ignores_running_and_later_runs(tmp_path):
    for run_id, status, started in [("20260501T030000Z-000001", "failed", "2026-05-01T03:00:00.000Z"),
                                    ("20260502T030000Z-000002", "running", "2026-05-02T03:00:00.000Z"),
                                    ("20260509T030000Z-000009", "passed", "2026-05-09T03:00:00.000Z")]:
        write_json_atomic(tmp_path / "clinic" / run_id / "run.json",
                          record(status, run_id=run_id, started=started))
    current = record("passed", run_id="20260506T030000Z-aaaaaa")
    assert notify.previous_status(tmp_path, current) == "failed"


def test_payload_carries_what_on_call_needs(tmp_path):
    body = notify.payload(record(), tmp_path / "report.html", "failure")
    assert body["drill"] == "clinic" and body["status"] == "failed" and body["event"] == "failure"
    assert body["reason"] == "1 of 2 checks failed"
    assert body["objectives"]["rto"] == {"measured_seconds": 12.5, "target_seconds": 600.0,
                                         "target": "10m", "met": True}
    assert body["report"].endswith("report.html") and body["run_id"] and body["finished_at"]


def test_notify_run_records_sent_and_skipped(tmp_path):
    out = tmp_path / "got.json"
    writer = [sys.executable, "-c", f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"]
    drill = SimpleNamespace(notify=[NotifyTarget(command=writer, on=["failure"]),
                                    NotifyTarget(command=["true"], on=["success", "recovery"])])
    settings = SimpleNamespace(project=ProjectConfig(), reports_dir=tmp_path / "reports")
    results = notify.notify_run(record("failed"), drill, settings)
    assert [r["status"] for r in results] == ["sent", "skipped"]
    assert "this run failed" in results[1]["detail"]
    assert json.loads(out.read_text())["status"] == "failed"


def test_a_failing_command_is_recorded_with_its_reason():
    target = NotifyTarget(command=[sys.executable, "-c", "import sys; sys.exit('pager down')"])
    result = notify.deliver(target, "{}")
    assert result["status"] == "failed"
    assert "exited with 1" in result["detail"] and "pager down" in result["detail"]
    missing = notify.deliver(NotifyTarget(command=["/nonexistent/notifier"]), "{}")
    assert missing["status"] == "failed" and "cannot start" in missing["detail"]


def test_a_hanging_command_is_killed_at_its_timeout():
    target = NotifyTarget(command=["sleep", "30"], timeout="1s")
    result = notify.deliver(target, "{}")
    assert result["status"] == "failed" and "did not finish within 1s" in result["detail"]
    assert result["duration_seconds"] < 5


def test_unreachable_webhook_is_retried_then_failed_without_the_token(monkeypatch):
    status, detail = webhook.post_webhook("http://127.0.0.1:9/hook?token=s3cr3t", "{}", 1.0)
    assert status == "failed" and "after 3 attempts" in detail
    monkeypatch.setattr(webhook, "BACKOFF_FACTOR", 0.0)
    result = notify.deliver(NotifyTarget(webhook="http://127.0.0.1:9/hook?token=s3cr3t", timeout="1s"), "{}")
    assert "s3cr3t" not in json.dumps(result)


def test_a_command_target_runs_with_a_minimal_environment(tmp_path, monkeypatch):
    """PATH, LANG, TZ and the account's HOME: never passwords, AWS keys or the rest of drillbook's."""
    for name, value in {"CLINIC_DB_PASSWORD": "hunter2-pw", "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEY",
                        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-secret", "AWS_SESSION_TOKEN": "session-tok",
                        "RESTIC_PASSWORD": "restic-pw", "DRILLBOOK_REPORTS": "/srv/reports",
                        "HOME": str(tmp_path / "not-the-accounts-home"), "LANG": "C.UTF-8",
                        "TZ": "Europe/Berlin"}.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "env.json"
    dump = [sys.executable, "-c", f"import json, os; json.dump(dict(os.environ), open({str(out)!r}, 'w'))"]
    assert notify.deliver(NotifyTarget(command=dump), "{}")["status"] == "sent"
    seen = json.loads(out.read_text())
    assert set(seen) == {"PATH", "LANG", "TZ", "HOME"}
    assert seen["HOME"] == pwd.getpwuid(os.getuid()).pw_dir
    assert (seen["LANG"], seen["TZ"], seen["PATH"]) == ("C.UTF-8", "Europe/Berlin", os.environ["PATH"])


def test_each_target_gets_the_body_of_its_own_format(tmp_path):
    folder = tmp_path / "drills"
    folder.mkdir()
    (folder / "pager.j2").write_text('{"summary": {{ ("drill " ~ drill ~ " " ~ status) | tojson }}}')
    with Receiver(service="slack") as slack, Receiver(service="teams") as teams, Receiver() as plain:
        drill = SimpleNamespace(notify=[NotifyTarget(webhook=f"{slack.url}/s", format="slack"),
                                        NotifyTarget(webhook=f"{teams.url}/t", format="teams"),
                                        NotifyTarget(webhook=f"{plain.url}/j"),
                                        NotifyTarget(webhook=f"{plain.url}/p", template="pager.j2")])
        settings = SimpleNamespace(reports_dir=tmp_path / "reports", drills_dir=folder)
        results = notify.notify_run(record("failed"), drill, settings)
    assert [r["status"] for r in results] == ["sent"] * 4, results
    assert "clinic" in slack.posts[0]["body"]["text"]
    assert teams.posts[0]["body"]["attachments"][0]["content"]["type"] == "AdaptiveCard"
    by_path = {p["path"]: p["body"] for p in plain.posts}
    assert by_path["/j"]["run_id"] == "20260506T030000Z-aaaaaa"
    assert by_path["/p"] == {"summary": "drill clinic failed"}


def test_a_template_that_fails_to_render_is_a_failed_notification_naming_it(tmp_path):
    folder = tmp_path / "drills"
    folder.mkdir()
    (folder / "bad.j2").write_text('{"text": "{{ drill }}"}')
    drill = SimpleNamespace(notify=[NotifyTarget(webhook="http://127.0.0.1:9/x", template="bad.j2")])
    settings = SimpleNamespace(reports_dir=tmp_path / "reports", drills_dir=folder)
    [entry] = notify.notify_run(record("failed"), drill, settings)
    assert entry["status"] == "failed" and f"template {folder / 'bad.j2'}" in entry["detail"]
    assert "not JSON" in entry["detail"]
