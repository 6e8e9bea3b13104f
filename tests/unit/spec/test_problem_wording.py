"""Spec problems in people's words: what to write instead, never pydantic's wording.

Each hint is checked as a person meets it: a drill file written, loaded, and the problem read at
its file, line and field. The sweep at the end puts wrong values of every kind in every field of
every model and every broken drill the other spec tests use, and looks for pydantic's phrases.
"""

from __future__ import annotations

import json
import textwrap
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from drillbook.errors import SpecProblem
from drillbook.spec import load_drill
from drillbook.spec.examples import example_check
from drillbook.spec.loader import load_project
from drillbook.spec.models import CHECK_MODELS, Drill, ProjectConfig
from drillbook.spec.problems import dotted
from tests.unit.spec import test_loader

DRILL = """\
objectives: {rto: 15m, rpo: 26h}
source:
  repository: /srv/backup/clinic
  password: {env: CLINIC_PW}
  snapshot: {host: clinic-1, tags: [nightly], path: /srv/clinic}
verify:
  - type: files
    path: srv/clinic
  - type: sqlite
    path: srv/clinic/db/appointments.sqlite
    queries:
      - {sql: "select count(*) from appointments", expect: ">= 1000"}
  - type: command
    run: [./check.sh, --fast]
"""


def problems_of(tmp_path: Path, text: str) -> tuple[Path, list[tuple[Path, int | None, str, str]]]:
    path = tmp_path / "clinic.yaml"
    path.write_text(textwrap.dedent(text))
    drill, problems = load_drill(path)
    assert drill is None
    return path, [(p.file, p.line, p.field, p.message) for p in problems]


def test_a_password_written_as_a_path_says_to_write_it_as_a_file_source(tmp_path):
    path, problems = problems_of(tmp_path, DRILL.replace("{env: CLINIC_PW}", '"../secrets/pw"'))
    assert problems == [(path, 4, "source.password",
                         '"../secrets/pw" is not a password source: write {file: ../secrets/pw} '
                         "(the file holding the password)")]


def test_a_password_written_as_a_variable_name_says_env_or_file(tmp_path):
    path, problems = problems_of(tmp_path, DRILL.replace("{env: CLINIC_PW}", "RESTIC_PASSWORD"))
    assert problems == [(path, 4, "source.password",
                         '"RESTIC_PASSWORD" is not a password source: write {env: RESTIC_PASSWORD} '
                         "(the environment variable holding the password), or "
                         "{file: RESTIC_PASSWORD} for a file of that name")]


def test_a_password_written_in_the_drill_is_not_repeated(tmp_path):
    """Someone may paste the password itself: the problem must not print it again."""
    path, problems = problems_of(tmp_path, DRILL.replace("{env: CLINIC_PW}", "'correct horse battery staple'"))
    assert problems == [(path, 4, "source.password",
                         "is not a password source: write {file: PATH} or {env: NAME}, where the "
                         "password is kept (a drill never holds the password itself, so the value "
                         "written here is not shown)")]


def test_a_command_written_as_one_string_is_shown_as_an_argument_list(tmp_path):
    path, problems = problems_of(tmp_path, DRILL.replace("run: [./check.sh, --fast]", 'run: "test -f foo"'))
    assert problems == [(path, 14, "verify[2].run",
                         '"test -f foo" is one text, but run is an argument list, never run '
                         "through a shell: write [test, -f, foo]")]


def test_a_command_that_needs_a_shell_is_shown_with_one(tmp_path):
    path, problems = problems_of(tmp_path, DRILL.replace("run: [./check.sh, --fast]",
                                                         "run: \"grep -c ok log | test 1 -le 2\""))
    assert problems == [(path, 14, "verify[2].run",
                         '"grep -c ok log | test 1 -le 2" is one text, but run is an argument list, '
                         'never run through a shell: write [/bin/sh, -c, "grep -c ok log | test 1 -le 2"] '
                         "if it needs one")]


def test_a_single_tag_says_to_write_a_list(tmp_path):
    path, problems = problems_of(tmp_path, DRILL.replace("tags: [nightly]", "tags: nightly"))
    assert problems == [(path, 5, "source.snapshot.tags",
                         '"nightly" is one value, but tags is a list: write [nightly]')]


def test_a_query_without_an_expectation_shows_the_sql_expect_form(tmp_path):
    text = DRILL.replace('expect: ">= 1000"}\n', 'expect: ">= 1000"}\n      - "select 1"\n')
    path, problems = problems_of(tmp_path, text)
    assert problems == [(path, 13, "verify[1].queries[1]",
                         '"select 1" is a query without an expectation: write '
                         '{sql: "select 1", expect: ">= 1"}')]


def test_an_expectation_of_the_wrong_shape_is_one_problem_with_the_two_forms(tmp_path):
    path, problems = problems_of(tmp_path, DRILL.replace('expect: ">= 1000"', "expect: [1000]"))
    assert problems == [(path, 12, "verify[1].queries[0].expect",
                         "[1000] is not an expectation: write a comparison (= N, != N, >= N, > N, "
                         "<= N, < N) or {text: ...} for an exact value")]


@pytest.mark.parametrize("written, field, message", [
    ("min_count: -1", "verify[0].min_count", "-1 is too small: the least allowed is 0"),
    ("min_count: lots", "verify[0].min_count", '"lots" is not a whole number'),
    ("min_count: 2.5", "verify[0].min_count", "2.5 is not a whole number"),
    ("name: [a]", "verify[0].name", "[a] is a list, not text"),
    ("name: true", "verify[0].name", 'true is a yes/no value, not text: write "true" (quoted) for the text'),
    ("required:", "verify[0].required", "is empty: give a value, or leave the key out"),
    ("required: {a: 1}", "verify[0].required", "is one mapping, but required is a list: start each entry "
                                               'on its own line with "- "'),
])
def test_wrong_values_are_named_in_peoples_words(tmp_path, written, field, message):
    path, problems = problems_of(tmp_path, DRILL.replace("    path: srv/clinic\n",
                                                         f"    path: srv/clinic\n    {written}\n"))
    assert problems == [(path, 9, field, message)]


def test_a_section_written_as_text_lists_its_keys(tmp_path):
    path, problems = problems_of(tmp_path, DRILL.replace("{rto: 15m, rpo: 26h}", "15m"))
    assert problems == [(path, 1, "objectives", 'should be a mapping with the keys rpo, rto, not "15m"')]


def test_a_check_written_as_its_type_alone_says_how_to_write_one(tmp_path):
    path, problems = problems_of(tmp_path, DRILL + "  - files\n")
    assert problems == [(path, 15, "verify[3]",
                         'a check is a mapping with a type (files, sqlite, command, http, tcp, postgres, sql), '
                         'not "files": write - type: files, its fields on the lines below')]


def test_a_value_out_of_its_form_says_what_form(tmp_path):
    path, problems = problems_of(tmp_path, DRILL + "isolation: {limits: {memory: lots}}\nping: ftp://x\n")
    assert problems == [
        (path, 15, "isolation.limits.memory", '"lots" is not a size such as 512M, 4G or 1048576 (bytes)'),
        (path, 16, "ping", '"ftp://x" is not an http:// or https:// URL'),
    ]


# -- the sweep ----------------------------------------------------------------------------------
PYDANTIC_WORDING = ("input should", "value error", "pydantic", "type=", "errors.pydantic.dev",
                    "field required", "extra inputs", "valid dictionary", "instance of",
                    "object to extract", "after validation", "should match pattern", "assertion failed")
WRONG_VALUES: list[Any] = [None, True, 7, -1, 2.5, "text", "", [], ["x"], [{"k": 1}], {}, {"k": 1}]


def pydantic_words(problems: list[SpecProblem]) -> list[str]:
    return [str(p) for p in problems if any(w in p.message.lower() for w in PYDANTIC_WORDING)]


def full_drill() -> dict[str, Any]:
    """A valid drill with every section and every kind of check, to spoil one field at a time."""
    data = yaml.safe_load(test_loader.GOOD)
    data["source"]["immutability"] = {"mode": "compliance", "min_retention": "30d"}
    data["verify"] = [example_check(kind) for kind in CHECK_MODELS]
    data["isolation"] = {"network": "none", "limits": {"memory": "1G"}}
    data["notify"] = [{"webhook": "https://ops.example.org/h", "on": ["failure"]}]
    data["evidence"] = {"s3": "s3://bucket/drills"}
    data["ping"] = "https://hc.example.org/ping/x"
    data["env"] = {"TZ": "UTC"}
    return data


def field_paths(model: type[BaseModel], data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every field of ``model`` and of the models and lists of models below it, present in ``data``."""
    for name in model.model_fields:
        yield (*prefix, name)
        value = data.get(name) if isinstance(data, dict) else None
        for inner, path in _submodels(model.model_fields[name].annotation, value, (*prefix, name)):
            yield from field_paths(inner, _at(data, path[len(prefix):]), path)


def _submodels(annotation: Any, value: Any, path: tuple[Any, ...]) -> Iterator[tuple[type[BaseModel], tuple[Any, ...]]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                model = CHECK_MODELS.get(item.get("type")) or _model_in(annotation)
                if model:
                    yield model, (*path, i)
    elif isinstance(value, dict) and (model := _model_in(annotation)):
        yield model, path


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found:
            return found
    return None


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def spoiled(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> str:
    """The drill with one field's value replaced, as JSON: a YAML document, and quick to write."""
    copy = json.loads(json.dumps(data))
    _at(copy, path[:-1])[path[-1]] = value
    return json.dumps(copy, indent=1)


def broken_spec_texts() -> Iterator[str]:
    """The broken drills the loader's own tests use."""
    good, drill = test_loader.GOOD, test_loader.DRILL
    yield good.replace("rto: 15m", "rto: ten minutes")
    yield good.replace("min_count: 100", "min_count: lots").replace(
        "  - type: command", "  - type: smoke\n  - type: command").replace("owner:", "ownr:")
    yield "objectives: {rto: 15m}\nsource:\n  repository: 42\n  password: {env: A, file: b}\nverify: nope\n"
    yield good + "owner: someone-else\n"
    yield good.replace("path: srv/portal\n", "path: ../etc\n")
    yield good.replace("snapshot: {host: portal-1, tags: [nightly], path: /srv/portal}",
                       "snapshot: {id: abc123, host: portal-1}")
    yield drill.replace("{entry}", "/srv/portal/db/portal.sqlite")
    yield drill.replace("{entry}", "../../../../etc/passwd")
    yield test_loader.billion_laughs()
    for name in [*test_loader.INJECTING, "LD_PRELOAD=/x", "1ST", "A B"]:
        yield good.replace("verify:\n", f'env:\n  "{name}": /srv/restore/evil\nverify:\n')
    yield good + "notify:\n  - on: [always]\n    command: [/bin/sh, -c, id]\n"
    yield good + 'notify: ["https://hooks.example.org/services/T00/B00/abcdef"]\n'
    yield good + "isolation:\n  limits: {memory: null}\n"
    for written in ('"at least 150"', '">= abc"', "12:30", "true"):
        yield good.replace('expect: ">= 1000"', f"expect: {written}")
    yield good.replace("timeout: 2m", "timeout: 1:30")
    for source in ("{command: [vault, read]}", "{command: []}", "{env: X, timeout: 5s}",
                   "{credential: ../etc/shadow}", "{credential: ..}", "{credential: x, file: y}"):
        yield test_loader.with_password(source)


@pytest.mark.parametrize("field", list(field_paths(Drill, full_drill())), ids=dotted)
def test_no_problem_of_any_spoiled_field_speaks_pydantic(tmp_path, field):
    path = tmp_path / "clinic.yaml"
    for value in WRONG_VALUES:
        path.write_text(spoiled(full_drill(), field, value))
        drill, problems = load_drill(path)
        assert drill is not None or problems, value
        assert pydantic_words(problems) == [], value


def test_no_problem_of_the_spec_tests_broken_drills_speaks_pydantic(tmp_path):
    found: list[str] = []
    texts = list(broken_spec_texts())
    for i, text in enumerate(texts):
        path = tmp_path / f"broken{i}.yaml"
        path.write_text(text)
        drill, problems = load_drill(path)
        assert drill is None and problems, text
        found += pydantic_words(problems)
    assert found == []


@pytest.mark.parametrize("field", list(ProjectConfig.model_fields))
def test_no_problem_of_drillbook_yaml_speaks_pydantic(tmp_path, field):
    for value in WRONG_VALUES:
        (tmp_path / "drillbook.yaml").write_text(yaml.safe_dump({field: value}))
        _, problems = load_project(tmp_path)
        assert pydantic_words(problems) == [], value


def test_a_tcp_checks_expect_is_text_not_a_comparison(tmp_path):
    path, problems = problems_of(tmp_path, DRILL + "  - {type: tcp, port: 4242, expect: [OK]}\n")
    assert problems == [(path, 15, "verify[3].expect", "[OK] is a list, not text")]
