"""``site:`` of a drill and ``workers:`` of drillbook.yaml: what loads, and the errors that name the fix."""

import textwrap
from pathlib import Path

from drillbook.spec import load_drill
from drillbook.spec.loader import load_project
from tests.unit.spec.test_loader import GOOD, write


def project(tmp_path: Path, text: str):
    (tmp_path / "drillbook.yaml").write_text(textwrap.dedent(text))
    return load_project(tmp_path)


def test_a_drill_runs_at_the_default_site_unless_it_names_one(tmp_path):
    drill, _ = load_drill(write(tmp_path, "portal", GOOD))
    assert drill.site == "default"
    drill, problems = load_drill(write(tmp_path, "east", GOOD + "site: clinic-east\n"))
    assert problems == [] and drill.site == "clinic-east"


def test_a_site_name_is_a_plain_name(tmp_path):
    _, problems = load_drill(write(tmp_path, "east", GOOD + "site: ../east\n"))
    assert len(problems) == 1 and "site" in str(problems[0])


def test_workers_take_a_broker_url_and_a_password_from_env_or_file(tmp_path):
    config, problems = project(tmp_path, """\
        workers:
          broker: redis://broker.example.org:6379/0
          password: {env: DRILLBOOK_BROKER_PASSWORD}
          results: rediss://results.example.org:6380/1
        """)
    assert problems == []
    assert config.workers.broker == "redis://broker.example.org:6379/0"
    assert config.workers.password.env == "DRILLBOOK_BROKER_PASSWORD"
    assert config.workers.result_url == "rediss://results.example.org:6380/1"


def test_without_workers_every_drill_runs_here(tmp_path):
    config, _ = project(tmp_path, "ping: https://hc.example.org/x\n")
    assert config.workers is None


def test_the_result_channel_defaults_to_the_broker_for_redis(tmp_path):
    config, _ = project(tmp_path, "workers: {broker: 'redis://127.0.0.1:6379/0'}\n")
    assert config.workers.result_url == "redis://127.0.0.1:6379/0"


def test_a_password_in_the_broker_url_is_refused_with_the_fix(tmp_path):
    _, problems = project(tmp_path, "workers: {broker: 'redis://:s3cret@broker:6379/0'}\n")
    text = str(problems[0])
    assert "drillbook.yaml:1" in text and "workers.broker" in text
    assert "password: {env:" in text and "s3cret" not in text


def test_only_redis_and_amqp_brokers(tmp_path):
    _, problems = project(tmp_path, "workers: {broker: 'sqs://queue'}\n")
    assert "redis://, rediss:// or amqp://" in str(problems[0])


def test_the_broker_password_comes_from_env_or_file_only(tmp_path):
    _, problems = project(tmp_path, """\
        workers:
          broker: amqp://drillbook@mq.example.org:5672/drills
          password: {aws_secret: broker}
        """)
    assert "env or file" in str(problems[0])


def test_amqp_needs_a_separate_result_channel(tmp_path):
    _, problems = project(tmp_path, "workers: {broker: 'amqp://mq.example.org:5672//'}\n")
    assert "results:" in str(problems[0])


def test_amqps_is_a_broker_with_its_ca_given_in_the_url(tmp_path):
    config, problems = project(tmp_path, """\
        workers:
          broker: amqps://drillbook@mq.example.org:5671/drills?ssl_ca_certs=/etc/drillbook/broker-ca.pem
          results: rediss://results.example.org:6380/1?ssl_ca_certs=/etc/drillbook/redis-ca.pem
        """)
    assert problems == []
    assert config.workers.broker.startswith("amqps://drillbook@mq.example.org:5671/drills")


def test_amqps_names_the_ca_to_check_the_broker_against(tmp_path):
    _, problems = project(tmp_path, """\
        workers: {broker: 'amqps://mq.example.org:5671/drills', results: 'rediss://r.example.org:6380/1'}
        """)
    text = str(problems[0])
    assert "workers.broker" in text and "?ssl_ca_certs=" in text


def test_amqps_needs_a_redis_result_channel_too(tmp_path):
    _, problems = project(tmp_path, "workers: {broker: 'amqps://mq.example.org:5671/d?ssl_ca_certs=/ca.pem'}\n")
    assert "results:" in str(problems[0])
    _, problems = project(tmp_path, "workers: {broker: 'amqps://mq:5671/d?ssl_ca_certs=/ca.pem', "
                                    "results: 'amqps://mq:5671/d?ssl_ca_certs=/ca.pem'}\n")
    assert "results: must be a redis:// or rediss:// URL" in str(problems[0])


def test_certificate_checks_cannot_be_turned_off_and_tls_options_need_a_tls_scheme(tmp_path):
    _, problems = project(tmp_path, "workers: {broker: 'rediss://r.example.org:6380/0?ssl_cert_reqs=none'}\n")
    assert "ssl_cert_reqs" in str(problems[0]) and "required" in str(problems[0])
    _, problems = project(tmp_path, "workers: {broker: 'redis://r.example.org:6379/0?ssl_ca_certs=/ca.pem'}\n")
    assert "rediss://" in str(problems[0])
    _, problems = project(tmp_path, "workers: {broker: 'rediss://r.example.org:6380/0?ssl_verify=0'}\n")
    assert "ssl_verify" in str(problems[0])
