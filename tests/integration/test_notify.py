"""Notifications of drill, runbook and cleaned-up runs: webhook (with retries), command, SNS
(moto); they never change the status."""

from __future__ import annotations

import json
import os
import pwd
import sys

from devtools.receiver import Receiver
from drillbook.util.atomic import write_json_atomic
from tests.support import PASSWORD, STANDARD_CHECKS, write_drill, write_orphan_record

FAILING_CHECK = """\
verify:
  - type: files
    path: srv/clinic/docs
    min_count: 100000
"""


def notify_block(*lines: str) -> str:
    return "notify:\n" + "".join(f"  - {line}\n" for line in lines)


def all_outputs(workspace, drill: str) -> str:
    run = workspace.last_run(drill)
    folder = workspace.reports / drill / run["run_id"]
    return "".join(p.read_text(errors="replace") for p in folder.iterdir() if p.is_file())


def test_failed_drill_posts_to_webhook_and_hides_the_token(workspace, repo):
    with Receiver() as receiver:
        url = f"{receiver.url}/hooks/dr?token=s3cr3t-t0ken"
        write_drill(workspace.drills, "clinic", repo.path,
                    body=FAILING_CHECK + notify_block(f"{{webhook: '{url}', on: [failure]}}"))
        result = workspace.cli("run", "clinic")
        assert result.returncode == 1
        posts = receiver.wait_for(1)
    assert len(posts) == 1
    body = posts[0]["body"]
    assert posts[0]["content_type"] == "application/json"
    assert body["drill"] == "clinic" and body["status"] == "failed" and body["event"] == "failure"
    assert "checks failed" in body["reason"] and body["objectives"]["rto"]["target"] == "10m"
    run = workspace.last_run("clinic")
    assert body["run_id"] == run["run_id"] and body["report"].endswith("report.html")
    [entry] = run["notifications"]
    assert entry["status"] == "sent" and entry["target"] == f"webhook {receiver.url}/***/***?***"
    assert "s3cr3t-t0ken" not in all_outputs(workspace, "clinic")
    assert "s3cr3t-t0ken" not in result.stdout + result.stderr


def test_a_token_in_the_path_is_masked_in_the_record_reports_and_logs(workspace, repo):
    """Short, letters-only tokens (``/T00/B00/abcdef``) are masked as well as long ones."""
    with Receiver(status=503) as receiver:
        write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS + notify_block(
            f"{{webhook: '{receiver.url}/services/T00/B00/abcdef', on: [always]}}"))
        result = workspace.cli("run", "clinic")
    assert result.returncode == 0, result.stderr
    [entry] = workspace.last_run("clinic")["notifications"]
    assert entry["status"] == "failed" and entry["target"] == f"webhook {receiver.url}/***/***/***/***"
    assert "notification to webhook" in result.stderr
    for shown in (all_outputs(workspace, "clinic"), result.stdout + result.stderr):
        assert "abcdef" not in shown and "T00/B00" not in shown


def test_a_broken_receiver_is_retried_recorded_and_never_fails_the_drill(workspace, repo):
    with Receiver(status=503) as receiver:
        write_drill(workspace.drills, "clinic", repo.path,
                    body=STANDARD_CHECKS + notify_block(f"{{webhook: '{receiver.url}/x', on: [always]}}"))
        result = workspace.cli("run", "clinic")
        assert len(receiver.posts) == 3  # one try and two retries
    assert result.returncode == 0, result.stderr
    run = workspace.last_run("clinic")
    assert run["status"] == "passed"
    [entry] = run["notifications"]
    assert entry["status"] == "failed" and "HTTP 503" in entry["detail"] and "3 attempts" in entry["detail"]
    assert "notification to webhook" in result.stderr  # logged too


def test_command_gets_json_on_stdin_and_recovery_follows_a_failure(workspace, repo):
    inbox = workspace.root / "inbox.jsonl"
    command = json.dumps([sys.executable, "-c",
                          f"import sys; open({str(inbox)!r}, 'a').write(sys.stdin.read() + '\\n')"])
    (workspace.drills / "drillbook.yaml").write_text(
        notify_block(f"{{command: {command}, on: [failure, recovery]}}"))
    write_drill(workspace.drills, "clinic", repo.path, body=FAILING_CHECK)
    assert workspace.cli("run", "clinic").returncode == 1
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    assert workspace.cli("run", "clinic").returncode == 0
    assert workspace.cli("run", "clinic").returncode == 0  # passed after passed: nothing to say
    events = [json.loads(line) for line in inbox.read_text().splitlines()]
    assert [(e["status"], e["event"]) for e in events] == [("failed", "failure"), ("passed", "recovery")]
    last = workspace.last_run("clinic")["notifications"][0]
    assert last["status"] == "skipped" and "this run passed" in last["detail"]


def test_a_command_target_in_a_drill_file_is_refused_with_its_line(workspace, repo):
    path = write_drill(workspace.drills, "clinic", repo.path,
                       body=STANDARD_CHECKS + notify_block("{command: [/bin/sh, -c, 'id > /tmp/owned']}"))
    line = path.read_text().splitlines().index("  - {command: [/bin/sh, -c, 'id > /tmp/owned']}") + 1
    for args in (("validate",), ("run", "clinic")):
        result = workspace.cli(*args)
        assert result.returncode == 2
        assert (f"{path}:{line}:6: notify[0].command: command targets may only be declared in drillbook.yaml"
                in result.stderr)
    assert list(workspace.reports.iterdir()) == []


def test_a_command_target_sees_no_secret_of_drillbook(workspace, repo):
    """It runs outside any sandbox: PATH, LANG, TZ and the account's HOME, nothing else."""
    seen = workspace.root / "env.json"
    dump = json.dumps([sys.executable, "-c", f"import json, os; json.dump(dict(os.environ), open({str(seen)!r}, 'w'))"])
    (workspace.drills / "drillbook.yaml").write_text(notify_block(f"{{command: {dump}, on: [always]}}"))
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    secrets = {"CLINIC_API_TOKEN": "t0ken-of-the-clinic", "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
               "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "LANG": "C.UTF-8"}
    result = workspace.cli("run", "clinic", **secrets)
    assert result.returncode == 0, result.stderr
    assert workspace.last_run("clinic")["notifications"][0]["status"] == "sent"
    env = json.loads(seen.read_text())
    assert set(env) <= {"PATH", "LANG", "TZ", "HOME"} and {"PATH", "HOME"} <= set(env)
    assert env["HOME"] == pwd.getpwuid(os.getuid()).pw_dir
    leaked = {PASSWORD, secrets["CLINIC_API_TOKEN"], secrets["AWS_ACCESS_KEY_ID"],
              secrets["AWS_SECRET_ACCESS_KEY"]} & set(env.values())
    assert leaked == set()


def test_project_wide_defaults_apply_to_every_drill(workspace, repo):
    with Receiver() as receiver:
        (workspace.drills / "drillbook.yaml").write_text(
            notify_block(f"{{webhook: '{receiver.url}/ops', on: [always]}}"))
        write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
        assert workspace.cli("run", "clinic").returncode == 0
        posts = receiver.wait_for(1)
    assert [p["path"] for p in posts] == ["/ops"] and posts[0]["body"]["status"] == "passed"


def test_sns_topic_receives_the_notification(workspace, repo, moto):
    sns, sqs = moto.client("sns"), moto.client("sqs")
    topic = sns.create_topic(Name="drill-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="drill-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    write_drill(workspace.drills, "clinic", repo.path,
                body=FAILING_CHECK + notify_block(f"{{sns: '{topic}'}}",
                                                  "{sns: 'arn:aws:sns:us-east-1:123456789012:missing'}"))
    result = workspace.cli("run", "clinic", **moto.env())
    assert result.returncode == 1
    sent, missing = workspace.last_run("clinic")["notifications"]
    assert sent["status"] == "sent" and sent["target"] == f"sns {topic}"
    assert missing["status"] == "failed" and "publishing to arn:aws:sns" in missing["detail"]
    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2).get("Messages", [])
    assert json.loads(messages[0]["Body"])["status"] == "failed"


def test_a_scheduled_run_whose_drillbook_died_alerts_when_it_is_cleaned_up(workspace, repo):
    """``drillbook cleanup`` loads no drills: the drill's and the project's targets are looked up."""
    with Receiver() as receiver:
        write_drill(workspace.drills, "clinic", repo.path,
                    body=STANDARD_CHECKS + notify_block(f"{{webhook: '{receiver.url}/owner'}}"))
        (workspace.drills / "drillbook.yaml").write_text(
            notify_block(f"{{webhook: '{receiver.url}/ops', on: [always]}}"))
        path = write_orphan_record(workspace.reports, "clinic", "20260101T000000Z-dead01")
        write_json_atomic(path, {**json.loads(path.read_text()), "trigger": "schedule"})
        result = workspace.cli("cleanup")
        assert result.returncode == 0, result.stderr
        posts = receiver.wait_for(2)
    assert sorted(p["path"] for p in posts) == ["/ops", "/owner"]
    body = posts[0]["body"]
    assert (body["status"], body["event"], body["trigger"]) == ("aborted", "failure", "schedule")
    assert body["run_id"] == "20260101T000000Z-dead01"
    run = workspace.last_run("clinic")
    assert run["status"] == "aborted" and [n["status"] for n in run["notifications"]] == ["sent", "sent"]


def test_a_runbook_run_notifies_the_project_targets(workspace):
    with Receiver() as receiver:
        (workspace.drills / "drillbook.yaml").write_text(
            notify_block(f"{{webhook: '{receiver.url}/ops', on: [failure]}}"))
        runbooks = workspace.root / "runbooks"
        runbooks.mkdir()
        (runbooks / "failover.md").write_text("# Fail over\n\n## Check the standby\n```sh\nexit 3\n```\n")
        result = workspace.cli("runbook", "run", "failover", "--yes", "--operator", "alice")
        assert result.returncode == 1, result.stderr
        [post] = receiver.wait_for(1)
    body = post["body"]
    assert (body["drill"], body["kind"], body["status"], body["event"]) == ("failover", "runbook", "failed",
                                                                            "failure")
    [run_json] = (workspace.reports / "runbooks" / "failover").glob("*/run.json")
    run = json.loads(run_json.read_text())
    assert body["run_id"] == run["run_id"] and body["report"] == str(run_json.parent / "report.html")
    assert [n["status"] for n in run["notifications"]] == ["sent"]
    assert "Notifications" in (run_json.parent / "report.md").read_text()


def test_slack_and_teams_receivers_get_bodies_they_accept_and_a_wrong_body_is_a_failure(workspace, repo):
    """Each receiver judges bodies like its service; json sent to Slack is refused, and recorded."""
    with Receiver(service="slack") as slack, Receiver(service="teams") as teams:
        write_drill(workspace.drills, "clinic", repo.path, body=FAILING_CHECK + notify_block(
            f"{{webhook: '{slack.url}/slack', format: slack}}",
            f"{{webhook: '{teams.url}/teams', format: teams}}",
            f"{{webhook: '{slack.url}/wrong'}}"))
        result = workspace.cli("run", "clinic")
        assert result.returncode == 1, result.stderr
    ok_slack, ok_teams, wrong = workspace.last_run("clinic")["notifications"]
    assert (ok_slack["status"], ok_teams["status"]) == ("sent", "sent"), (ok_slack, ok_teams)
    assert wrong["status"] == "failed" and "HTTP 400" in wrong["detail"] and "invalid_payload" in wrong["detail"]
    slack_body = next(p["body"] for p in slack.posts if p["path"] == "/slack")
    assert "clinic" in slack_body["text"] and "checks failed" in json.dumps(slack_body["blocks"])
    card = teams.posts[0]["body"]["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and "clinic" in json.dumps(card)
    assert "notification to webhook" in result.stderr


def test_a_project_template_shapes_the_body(workspace, repo):
    with Receiver() as receiver:
        workspace.drills.mkdir(parents=True, exist_ok=True)
        (workspace.drills / "pager.json.j2").write_text(
            '{"summary": {{ ("DR drill " ~ drill ~ " " ~ status) | tojson }}, "rto_met": {{ objectives.rto.met }}}\n')
        (workspace.drills / "drillbook.yaml").write_text(
            notify_block(f"{{webhook: '{receiver.url}/pager', template: pager.json.j2, on: [always]}}"))
        write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
        assert workspace.cli("run", "clinic").returncode == 0
        [post] = receiver.wait_for(1)
    assert post["body"] == {"summary": "DR drill clinic passed", "rto_met": True}


def test_a_broken_template_is_a_spec_error_naming_the_template_and_its_line(workspace, repo):
    workspace.drills.mkdir(parents=True, exist_ok=True)
    template = workspace.drills / "pager.json.j2"
    template.write_text('{\n  "summary": {{ drill | tojson }},\n  "x": {{ status | tojson }\n}\n')
    write_drill(workspace.drills, "clinic", repo.path,
                body=STANDARD_CHECKS + notify_block("{webhook: 'http://127.0.0.1:9/x', template: pager.json.j2}"))
    result = workspace.cli("validate")
    assert result.returncode == 2
    assert f"{template}:3: notify[0].template: template syntax error" in result.stderr


def test_pings_go_start_then_success_or_fail_for_real_runs(workspace, repo):
    with Receiver() as drill_check, Receiver() as ops_check:
        (workspace.drills / "drillbook.yaml").parent.mkdir(parents=True, exist_ok=True)
        (workspace.drills / "drillbook.yaml").write_text(f"ping: {ops_check.url}/ops-key\n")
        write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS + f"ping: {drill_check.url}/abc-uuid\n")
        assert workspace.cli("run", "clinic").returncode == 0
        passed = workspace.last_run("clinic")
        write_drill(workspace.drills, "clinic", repo.path, body=FAILING_CHECK + f"ping: {drill_check.url}/abc-uuid\n")
        assert workspace.cli("run", "clinic").returncode == 1
    assert drill_check.paths == ["/abc-uuid/start", "/abc-uuid", "/abc-uuid/start", "/abc-uuid/fail"]
    assert ops_check.paths == ["/ops-key/start", "/ops-key", "/ops-key/start", "/ops-key/fail"]
    assert "clinic failed" in drill_check.posts[3]["text"] and "checks failed" in drill_check.posts[3]["text"]
    pings = [n for n in passed["notifications"] if n["target"].startswith("ping ")]
    assert [(n["event"], n["status"]) for n in pings] == [("start", "sent"), ("start", "sent"),
                                                         ("success", "sent"), ("success", "sent")]
    assert "abc-uuid" not in json.dumps(passed)


def test_a_dead_ping_receiver_never_fails_the_drill(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS + "ping: http://127.0.0.1:9/dead-uuid\n")
    result = workspace.cli("run", "clinic")
    assert result.returncode == 0, result.stderr
    run = workspace.last_run("clinic")
    assert run["status"] == "passed"
    assert [n["status"] for n in run["notifications"]] == ["failed", "failed"]
    assert "ping to" in result.stderr and "dead-uuid" not in result.stderr + json.dumps(run)


def test_a_reaped_run_pings_fail(workspace, repo):
    with Receiver() as check:
        write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS + f"ping: {check.url}/uuid\n")
        write_orphan_record(workspace.reports, "clinic", "20260101T000000Z-dead02")
        assert workspace.cli("cleanup").returncode == 0
    assert check.paths == ["/uuid/fail"]
