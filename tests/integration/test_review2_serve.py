"""Review 2: a drill that loses its schedule stays declared; its metrics must stay too."""

from __future__ import annotations

import urllib.request

from tests.integration.test_serve import serving  # noqa: F401 (fixture)
from tests.support import STANDARD_CHECKS, write_drill


def test_drill_made_on_demand_keeps_its_metrics(workspace, repo, serving):  # noqa: F811
    write_drill(workspace.drills, "alpha", repo.path, body=STANDARD_CHECKS + "schedule: daily\n")
    server = serving("--metrics-port", "0")
    server.wait_for("serve-start")
    url = server.url("/metrics")
    assert 'drillbook_drill_rto_target_seconds{drill="alpha"}' in urllib.request.urlopen(url, timeout=5).read().decode()

    write_drill(workspace.drills, "alpha", repo.path, body=STANDARD_CHECKS)  # now on demand
    server.wait_for("drill-unscheduled", drill="alpha")
    server.wait_for("serve-start")
    metrics = urllib.request.urlopen(url, timeout=5).read().decode()
    assert 'drillbook_drill_rto_target_seconds{drill="alpha"}' in metrics
    assert server.stop()[0] == 0
