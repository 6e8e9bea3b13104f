"""How the Celery app is configured from ``workers:``: TLS for rediss:// and amqps://, checked certificates."""

import ssl

from drillbook.sites.celeryapp import make_app, mark_received, received, view


def test_amqps_checks_the_broker_certificate_against_the_ca_named_in_the_url():
    app = make_app("amqps://drillbook@mq.example.org:5671/drills?ssl_ca_certs=/etc/ca.pem&ssl_certfile=/c.pem"
                   "&ssl_keyfile=/k.pem", "rediss://r.example.org:6380/1", "pw")
    assert app.conf.broker_use_ssl == {"ca_certs": "/etc/ca.pem", "cert_reqs": ssl.CERT_REQUIRED,
                                       "certfile": "/c.pem", "keyfile": "/k.pem",
                                       "server_hostname": "mq.example.org"}
    assert "ssl_" not in app.conf.broker_url  # pyamqp takes these from broker_use_ssl only
    assert app.conf.broker_url.startswith("amqps://drillbook:pw@mq.example.org:5671/drills")


def test_rediss_checks_certificates_unless_told_how_and_keeps_the_ca_given():
    app = make_app("rediss://b.example.org:6380/0", "rediss://r.example.org:6380/1?ssl_ca_certs=/etc/ca.pem", None)
    assert app.conf.broker_url == "rediss://b.example.org:6380/0?ssl_cert_reqs=required"
    assert app.conf.result_backend == "rediss://r.example.org:6380/1?ssl_ca_certs=/etc/ca.pem&ssl_cert_reqs=required"
    plain = make_app("redis://b:6379/0", "redis://b:6379/0", None)
    assert plain.conf.broker_url == "redis://b:6379/0" and not plain.conf.broker_use_ssl


def test_a_received_note_replaces_the_stored_folder():
    app = make_app("redis://127.0.0.1:9/0", "redis://127.0.0.1:9/0", None)
    app.conf.result_backend = "cache+memory://"  # the same key-value rules as Redis, in this process
    app.backend.store_result("r1", {"folder": "packed run"}, "SUCCESS")
    assert not received(app, "r1")
    mark_received(app, "r1")
    assert received(app, "r1") and "folder" not in view(app, "r1").info
