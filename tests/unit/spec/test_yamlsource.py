"""Hostile YAML: aliases (billion laughs), oversized files and deep nesting are refused up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.spec.yamlsource import MAX_DEPTH, MAX_FILE_BYTES, UnusableYaml, load_located, read_located

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
