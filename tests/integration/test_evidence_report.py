"""The period compliance report through the CLI, and its page in a real browser engine."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drillbook.evidence import sightings
from drillbook.evidence.period import parse_period
from drillbook.evidence.trend import MONTH_SECONDS
from drillbook.settings import Settings
from tests.support import STANDARD_CHECKS, finished_run, write_drill

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def quarter() -> str:
    now = datetime.now(UTC)
    return f"{now.year}Q{(now.month - 1) // 3 + 1}"


def test_period_report_lists_a_declared_drill_that_never_ran(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS + "schedule: monthly\n")
    write_drill(workspace.drills, "archive", repo.path, body="schedule: quarterly\n")
    period = quarter()
    before = parse_period(period).start - timedelta(days=1)  # declared before the quarter: its due time counts
    sightings.observe(workspace.state, {"archive": ("quarterly", "UTC")}, complete=False, now=before)
    assert workspace.cli("run", "clinic").returncode == 0
    result = workspace.cli("report", "--period", period)
    assert result.returncode == 0, result.stderr
    assert "attention: drill archive: no run in the period (1 due)" in result.stdout
    assert "ledger: verified" in result.stdout
    data = json.loads((workspace.reports / f"compliance-{period}.json").read_text())
    items = {i["name"]: i for i in data["items"]}
    assert items["archive"]["runs_made"] == 0 and items["clinic"]["passed"] == 1
    assert data["ledger"]["ok"] and data["ledger"]["head"] in result.stdout
    html = (workspace.reports / f"compliance-{period}.html").read_text()
    assert "archive" in html and "not run" in html and data["ledger"]["head"] in html
    href = items["clinic"]["runs"][0]["href"]
    assert (workspace.reports / href).exists() and f'href="{href}"' in html
    md = (workspace.reports / f"compliance-{period}.md").read_text()
    assert "| archive | drill |" in md and "NOT RUN" in md
    assert f'href="compliance-{period}.html"' in (workspace.reports / "index.html").read_text()

    strict = workspace.cli("report", "--period", period, "--strict")
    assert strict.returncode == 1 and "archive" in strict.stderr
    assert workspace.cli("report", "--period", "2026Q7").returncode == 2


def test_a_forged_run_is_not_evidence_and_strict_fails_on_the_ledger(workspace, repo):
    """A failed run edited into a pass after sealing: the report says first that the ledger did
    not verify, shows the run marked, counts it nowhere, and --strict exits 1."""
    write_drill(workspace.drills, "clinic", repo.path, body="verify:\n  - {type: files, path: nowhere, min_count: 1}\n")
    assert workspace.cli("run", "clinic").returncode == 1
    record_path = next(workspace.reports.glob("clinic/*/run.json"))
    record = json.loads(record_path.read_text())
    record.update(status="passed", reason=None)
    record_path.write_text(json.dumps(record))
    period = quarter()
    plain = workspace.cli("report", "--period", period)
    assert plain.returncode == 0, plain.stderr
    first = plain.stdout.splitlines()[0]
    assert first.startswith("ledger: FAILED"), plain.stdout
    assert "attention: evidence ledger: the evidence ledger did not verify" in plain.stdout
    data = json.loads((workspace.reports / f"compliance-{period}.json").read_text())
    clinic = next(i for i in data["items"] if i["name"] == "clinic")
    assert (clinic["passed"], clinic["runs_made"], clinic["unvouched"]) == (0, 0, 1)
    assert clinic["runs"][0]["status"] == "passed" and clinic["runs"][0]["vouched"] is False
    assert data["totals"]["passed"] == 0
    html = (workspace.reports / f"compliance-{period}.html").read_text()
    assert "not vouched for" in html and html.index("did not verify") < html.index("Needs attention")
    strict = workspace.cli("report", "--period", period, "--strict")
    assert strict.returncode == 1 and "ledger did not verify" in strict.stderr


@pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                    reason="chromium is not installed (in CI a missing browser fails the test)")
def test_compliance_page_renders_in_chromium(workspace, repo, tmp_path):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    write_drill(workspace.drills, "archive", repo.path, body="schedule: quarterly\n")
    assert workspace.cli("run", "clinic").returncode == 0
    assert workspace.cli("report").returncode == 0  # default: the current quarter
    page = workspace.reports / f"compliance-{quarter()}.html"
    pdf = tmp_path / "compliance.pdf"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
    assert pdf.stat().st_size > 20_000


@pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                    reason="chromium is not installed (in CI a missing browser fails the test)")
def test_drill_history_page_renders_its_chart_in_chromium(workspace, tmp_path):
    """Three monthly runs of a growing backup and a failed one, written by the real post-run code:
    the page linked from the index draws the RTO and size panels and says the forecast."""
    settings = Settings(drills_dir=workspace.drills, reports_dir=workspace.reports, state_dir=workspace.state)
    first = datetime.now(UTC) - timedelta(days=75)
    for i, (size, rto) in enumerate([(10, 500), (13.1, 624), (16.2, 748)]):
        finished_run(settings, "clinic", first + i * timedelta(seconds=MONTH_SECONDS), rto, size)
    finished_run(settings, "clinic", first + timedelta(days=70), 950, 16.5, "failed")
    assert 'href="clinic/index.html"' in (workspace.reports / "index.html").read_text()
    page = workspace.reports / "clinic" / "index.html"
    assert "at +3.1 GiB/month, RTO reaches 15m around" in page.read_text()
    shot = tmp_path / "history.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,1000", "--hide-scrollbars",
                    f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert shot.exists() and shot.read_bytes().startswith(b"\x89PNG")
    colours = _colours(shot)
    assert colours["#6a1b9a"] and colours["#1565c0"] and colours["#2e7d32"]  # target line, sizes, passed runs
    if os.environ.get("DRILLBOOK_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["DRILLBOOK_KEEP_SCREENSHOT"])


def _pixels(png: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit RGB(A) PNG (what Chromium writes)."""
    data = png.read_bytes()
    pos, idat, width, height, channels = 8, b"", 0, 0, 4
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, previous = zlib.decompress(idat), width * channels, [], bytes(width * channels)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b, c = previous[x], previous[x - channels] if x >= channels else 0
            p = a + b - c
            paeth = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c
            line[x] = (line[x] + (0, a, b, (a + b) // 2, paeth)[kind]) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, channels, rows


def _colours(png: Path, near: int = 24) -> dict[str, int]:
    """How many pixels lie close to each colour the chart draws with."""
    width, channels, rows = _pixels(png)
    wanted = {name: bytes.fromhex(name[1:]) for name in ("#6a1b9a", "#1565c0", "#2e7d32", "#ef6c00", "#c62828")}
    counts = dict.fromkeys(wanted, 0)
    for row in rows:
        for x in range(0, width * channels, channels):
            pixel = row[x:x + 3]
            for name, rgb in wanted.items():
                if max(abs(pixel[i] - rgb[i]) for i in range(3)) <= near:
                    counts[name] += 1
    return counts
