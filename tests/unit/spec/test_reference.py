"""The committed reference and JSON Schema are generated from the models and must not drift."""

import json
from pathlib import Path

import yaml

from drillbook.spec.models import Drill
from drillbook.spec.reference import json_schema_text, markdown_reference

DOCS = Path(__file__).resolve().parents[3] / "docs"
REGENERATE = "regenerate with: make docs"


def test_markdown_reference_is_current():
    assert (DOCS / "drill-spec.md").read_text() == markdown_reference(), REGENERATE


def test_json_schema_is_current():
    assert (DOCS / "drill.schema.json").read_text() == json_schema_text(), REGENERATE


def test_every_field_is_documented():
    reference = markdown_reference()
    for line in reference.splitlines():
        if line.startswith("| `"):
            assert line.rstrip().rstrip("|").strip().split("|")[-1].strip(), f"undocumented: {line}"


def test_bundled_drills_match_the_schema_keys():
    schema = json.loads(json_schema_text())
    top = set(schema["properties"])
    assert top == set(Drill.model_fields)
    for path in (DOCS.parent / "drills").glob("*.yaml"):
        if path.name != "drillbook.yaml":
            assert set(yaml.safe_load(path.read_text())) <= top, path
