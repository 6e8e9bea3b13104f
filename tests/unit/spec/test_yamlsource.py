"""Hostile YAML: aliases (billion laughs), oversized files and deep nesting are refused up front."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from drillbook.spec.yamlschema import CoreSchemaCLoader
from drillbook.spec.yamlsource import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    LocatedYaml,
    UnusableYaml,
    Unusual,
    _walk,
    from_events,
    load_located,
    read_located,
)

ALIASES = "not supported"


def test_an_alias_is_refused_at_its_line():
    text = "source:\n  repository: &repo /srv/backup\nother: *repo\n"
    with pytest.raises(UnusableYaml) as refused:
        load_located(text)
    assert refused.value.line == 3
    assert "anchors and aliases are" in refused.value.message and ALIASES in refused.value.message
    assert "*repo" in refused.value.message and "write the value out" in refused.value.message


def test_a_merge_key_needs_an_alias_and_is_refused():
    text = "base: &b {rto: 10m}\nobjectives:\n  <<: *b\n  rpo: 1d\n"
    with pytest.raises(UnusableYaml) as refused:
        load_located(text)
    assert refused.value.line == 3


def test_an_anchor_alone_is_refused_at_its_line():
    with pytest.raises(UnusableYaml) as refused:
        load_located("owner: ops\ndescription: &d Portal\n")
    assert refused.value.line == 2 and "&d" in refused.value.message and ALIASES in refused.value.message


def test_lines_are_offset_for_front_matter():
    with pytest.raises(UnusableYaml) as refused:
        load_located("a: &x 1\nb: *x\n", first_line=2)
    assert refused.value.line == 3


def test_deep_nesting_is_refused_not_a_recursion_error():
    with pytest.raises(UnusableYaml) as refused:
        load_located("x: " + "[" * 5000 + "]" * 5000)
    assert f"more than {MAX_DEPTH} levels" in refused.value.message and refused.value.line == 1


def test_ordinary_nesting_still_loads():
    text = "verify:\n  - type: sqlite\n    queries:\n      - {sql: 'select 1', expect: '= 1'}\n"
    assert load_located(text).data["verify"][0]["queries"][0]["expect"] == "= 1"


def test_a_file_over_the_limit_is_refused_before_parsing(tmp_path: Path):
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    with pytest.raises(UnusableYaml) as refused:
        read_located(path)
    assert f"{MAX_FILE_BYTES + 3} bytes" in refused.value.message and "limit is 1 MiB" in refused.value.message
    assert refused.value.line is None


def test_a_file_at_the_limit_loads(tmp_path: Path):
    path = tmp_path / "big.yaml"
    prefix = b"owner: ops\n# "
    path.write_bytes(prefix + b"x" * (MAX_FILE_BYTES - len(prefix) - 1) + b"\n")
    assert read_located(path).data == {"owner": "ops"}


@pytest.mark.parametrize("written,loaded", [
    # YAML 1.1 forms a drill author means as text: kept exactly as written
    ("12:30", "12:30"), ("1:30", "1:30"), ("190:20:30", "190:20:30"),
    ("0755", "0755"), ("0022", "0022"), ("-012", "-012"), ("01.5", "01.5"),
    ("2026-01-01", "2026-01-01"), ("2026-01-01T02:00:00Z", "2026-01-01T02:00:00Z"),
    ("1_000", "1_000"), ("0b101", "0b101"), ("0x_1F", "0x_1F"), ("+.5_0", "+.5_0"),
    ("yes", "yes"), ("off", "off"), ("=", "="), ("<<", "<<"), (".Inf.", ".Inf."),
    # YAML 1.2 core schema: the only numbers, booleans and nulls
    ("0", 0), ("750", 750), ("-3", -3), ("+7", 7), ("0o755", 0o755), ("0x1F", 31), ("0x1f", 31),
    ("1.5", 1.5), ("-0.25", -0.25), (".5", 0.5), ("1e3", 1000.0), ("2.5E-1", 0.25),
    ("true", True), ("False", False), ("~", None), ("null", None), ("NULL", None), ("", None),
])
def test_plain_scalars_resolve_per_yaml_1_2_core_and_the_rest_is_text(written, loaded):
    value = load_located(f"value: {written}\n").data["value"]
    assert value == loaded and type(value) is type(loaded)


def test_infinity_and_not_a_number_are_yaml_1_2_floats():
    data = load_located("a: .inf\nb: -.Inf\nc: .NaN\n").data
    assert data["a"] == float("inf") and data["b"] == float("-inf") and data["c"] != data["c"]


def test_keys_resolve_the_same_way():
    assert load_located("12:30: x\n0755: y\n").data == {"12:30": "x", "0755": "y"}


@pytest.mark.parametrize("text", ["a: 1\nb: !!int 12:30\n", "a: 1\nb: !!float 1_0.5\n"])
def test_an_explicit_number_tag_on_text_is_an_error_at_its_line(text):
    with pytest.raises(UnusableYaml) as refused:
        load_located(text)
    assert refused.value.line == 2 and "is not" in refused.value.message


def test_parsing_is_done_by_libyaml_not_the_python_scanner(monkeypatch: pytest.MonkeyPatch):
    """1,000 drills parsed by PyYAML's pure-Python scanner took seconds; libyaml does it in C."""
    def python_scanner_used(*args: object) -> None:
        raise AssertionError("the pure-Python YAML scanner was used")

    monkeypatch.setattr(yaml.scanner.Scanner, "check_token", python_scanner_used)
    text = "owner: ops\nverify:\n  - {type: files, path: a, min_count: 1}\n"
    located = load_located(text)
    assert located.data == {"owner": "ops", "verify": [{"type": "files", "path": "a", "min_count": 1}]}
    assert located.line_of(("verify", 0, "path")) == 3 and located.position_of(("verify", 0)) == (3, 5)


def test_a_syntax_error_still_names_its_line_and_column():
    with pytest.raises(UnusableYaml) as refused:
        load_located("owner: ops\nverify: [a, b\nx: 1\n")
    assert refused.value.line == 3 and refused.value.column is not None
    assert refused.value.message.startswith("YAML syntax error")


def test_a_cron_schedule_is_no_alias_and_an_anchor_in_a_url_is_no_anchor():
    data = load_located('schedule: "0 2 * * *"\nping: "https://hc.example/ping?a=1&b=2"\nx: [a, "*b"]\n').data
    assert data == {"schedule": "0 2 * * *", "ping": "https://hc.example/ping?a=1&b=2", "x": ["a", "*b"]}


def test_deep_block_nesting_is_refused_at_the_first_level_too_deep():
    text = "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 10)) + "  " * (MAX_DEPTH + 10) + "x\n"
    with pytest.raises(UnusableYaml) as refused:
        load_located(text)
    assert f"more than {MAX_DEPTH} levels" in refused.value.message and refused.value.line == MAX_DEPTH + 1


VARIED = """\
owner: ops
count: 12
ratio: 0.5
mode: 0755
when: 12:30
on: true
nothing: null
empty:
text: |
  two
  lines
verify:
  - {type: files, path: "srv/a b", min_count: 1}
  - type: sqlite
    queries:
      - {sql: 'select 1', expect: '= 1'}
owner: again
"""


def test_the_one_pass_reading_gives_what_composing_gives():
    """from_events (no nodes built) must agree with libyaml's composer and _walk to the column."""
    fast = from_events(VARIED)
    loader = CoreSchemaCLoader(VARIED)
    node = loader.get_single_node()
    composed = LocatedYaml(loader.construct_document(node))
    _walk(node, (), composed, 1)
    assert fast.data == composed.data and fast.data["mode"] == "0755" and fast.data["count"] == 12
    assert fast.lines == composed.lines and fast.columns == composed.columns
    assert fast.duplicates == composed.duplicates == [(("owner",), 17, 1)]


@pytest.mark.parametrize("text", ["x: !!int 12\n", "? [a, b]\n: c\n", "a: 1\n---\nb: 2\n"])
def test_what_the_one_pass_reading_leaves_to_the_composer_still_loads_or_fails_as_before(text: str):
    with pytest.raises(Unusual):
        from_events(text)
    try:
        located = load_located(text)
    except UnusableYaml as refused:
        assert refused.message.startswith("YAML syntax error") or "must be plain text" in refused.message
    else:
        assert located.data == {"x": 12}


def test_a_plain_scalar_seen_before_is_not_resolved_again(monkeypatch):
    """A thousand drills repeat their keys and values: each plain text is resolved by the core
    schema's patterns once, and the same values come back (ints, floats, bools, null, text)."""
    resolved = []
    real = CoreSchemaCLoader.resolve
    monkeypatch.setattr(CoreSchemaCLoader, "resolve",
                        lambda self, kind, value, implicit: resolved.append(value) or real(self, kind, value, implicit))
    text = "count: 10\nratio: 0.5\nrequired: true\nnothing: null\nname: clinic-8e1f\nyes: yes\n"
    first = from_events(text).data
    assert first == {"count": 10, "ratio": 0.5, "required": True, "nothing": None, "name": "clinic-8e1f",
                     "yes": "yes"}
    seen = len(resolved)
    assert from_events(text).data == first
    assert len(resolved) == seen
