"""JUnit XML from run records, for CI systems that collect test results.

One testsuite per run; one testcase per phase, check and objective, plus an ``outcome`` case that
carries the run's own reason, so a failed drill always shows as a failure even when no single
phase or check explains it (an objective missed, an aborted run).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from xml.etree import ElementTree as ET

from drillbook.status import Status
from drillbook.util.durations import format_duration

FAILING = {Status.FAILED, Status.ABORTED, Status.DECLINED}


def suite(run: dict[str, Any]) -> ET.Element:
    name = run.get("drill") or run.get("runbook") or "?"
    kind = run.get("kind", "drill")
    el = ET.Element("testsuite", {
        "name": f"{kind}:{name}", "id": str(run.get("run_id", "")),
        "timestamp": str(run.get("started_at") or ""), "hostname": str((run.get("versions") or {}).get("host", "")),
    })
    props = ET.SubElement(el, "properties")
    for key in ("run_id", "status", "trigger", "repository", "selector"):
        if run.get(key) is not None:
            ET.SubElement(props, "property", {"name": key, "value": str(run[key])})
    cases = [*_phases(run, name), *_steps(run, name), *_checks(run, name), *_objectives(run, name),
             _outcome(run, name)]
    for case in cases:
        el.append(case)
    _count(el, cases)
    return el


def _case(classname: str, name: str, seconds: float | None, status: str, message: str) -> ET.Element:
    case = ET.Element("testcase", {"classname": classname, "name": name, "time": f"{seconds or 0.0:.3f}"})
    if status in FAILING:
        failure = ET.SubElement(case, "failure", {"message": message or status, "type": status})
        failure.text = message or status
    elif status in (Status.SKIPPED, Status.NOT_RUN):
        ET.SubElement(case, "skipped", {"message": message or status})
    return case


def _phases(run: dict[str, Any], name: str) -> list[ET.Element]:
    return [_case(f"{name}.phase", str(p.get("name")), p.get("duration_seconds"), str(p.get("status")),
                  str(p.get("detail") or ""))
            for p in run.get("phases") or []]


def _steps(run: dict[str, Any], name: str) -> list[ET.Element]:
    """Runbook steps; a step's earlier attempts stay in run.json, the case shows the last."""
    return [_case(f"{name}.step", f"{s.get('index')}. {s.get('title')}", s.get("duration_seconds"),
                  str(s.get("status")), str(s.get("reason") or ""))
            for s in run.get("steps") or []]


def _checks(run: dict[str, Any], name: str) -> list[ET.Element]:
    return [_case(f"{name}.check", str(c.get("name")), c.get("duration_seconds"), str(c.get("status")),
                  str(c.get("detail") or ""))
            for c in run.get("checks") or []]


def _objectives(run: dict[str, Any], name: str) -> list[ET.Element]:
    cases = []
    for key, objective in sorted((run.get("objectives") or {}).items()):
        if not objective:
            continue
        label = key.upper()
        measured = objective.get("measured_seconds")
        target = objective.get("target")
        if objective.get("met") is None:
            status, message = Status.SKIPPED, f"{label} not measured (the run did not get that far); target {target}"
        elif objective.get("met"):
            status, message = Status.PASSED, ""
        else:
            status = Status.FAILED
            message = f"{label} missed: measured {format_duration(measured)}, target {target}"
        cases.append(_case(f"{name}.objective", f"{label} <= {target}", measured if key == "rto" else 0.0,
                           status, message))
    return cases


def _outcome(run: dict[str, Any], name: str) -> ET.Element:
    status = str(run.get("status"))
    if status == Status.RUNNING:
        return _case(f"{name}.outcome", "outcome", 0.0, Status.SKIPPED, "still running")
    return _case(f"{name}.outcome", "outcome", 0.0, status, str(run.get("reason") or status))


def _count(el: ET.Element, cases: list[ET.Element]) -> None:
    el.set("tests", str(len(cases)))
    el.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    el.set("errors", "0")
    el.set(Status.SKIPPED, str(sum(c.find(Status.SKIPPED) is not None for c in cases)))
    el.set("time", f"{_elapsed_cases(cases):.3f}")


def _elapsed_cases(cases: list[ET.Element]) -> float:
    return sum(float(c.get("time") or 0) for c in cases if c.get("classname", "").endswith(".phase"))


def run_xml(run: dict[str, Any]) -> str:
    """junit.xml beside run.json: a <testsuites> holding this run's one suite."""
    return combined_xml([run])


def combined_xml(runs: Iterable[dict[str, Any]]) -> str:
    root = ET.Element("testsuites", {"name": "drillbook"})
    for run in runs:
        root.append(suite(run))
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr) or 0) for s in root)))
    root.set("time", f"{sum(float(s.get('time') or 0) for s in root):.3f}")
    ET.indent(root)
    _keep_xml_characters(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# Characters XML 1.0 allows; check output or a reason may hold any byte a restored program printed.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _keep_xml_characters(root: ET.Element) -> None:
    """Drop what no XML parser accepts (control characters, lone surrogates), everywhere."""
    for element in root.iter():
        if element.text:
            element.text = NOT_XML.sub("", element.text)
        for key, value in element.attrib.items():
            element.attrib[key] = NOT_XML.sub("", value)
