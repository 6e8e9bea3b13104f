import os
import textwrap
from pathlib import Path

import pytest

from drillbook.checks.expectations import parse_expectation
from drillbook.errors import SpecProblem
from drillbook.spec import load_drill, load_drills
from drillbook.spec.loader import load_project, template_problems
from drillbook.spec.models import NotifyTarget, ProjectConfig

GOOD = """\
description: Patient portal documents
owner: portal-oncall@example.org
schedule: quarterly
objectives: {rto: 15m, rpo: 26h}
source:
  repository: s3:https://s3.example.org/backups/portal
  password: {env: PORTAL_RESTIC_PASSWORD}
  snapshot: {host: portal-1, tags: [nightly], path: /srv/portal}
verify:
  - type: files
    path: srv/portal
    min_count: 100
    required: [db/portal.sqlite]
  - type: sqlite
    path: srv/portal/db/portal.sqlite
    queries:
      - {sql: "select count(*) from appointments", expect: ">= 1000"}
  - type: command
    run: [./check.sh, --fast]
    timeout: 2m
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_design_example_loads_and_name_defaults_to_stem(tmp_path):
    drill, problems = load_drill(write(tmp_path, "portal", GOOD))
    assert problems == []
    assert drill.name == "portal"
    assert drill.objectives.rto == 900 and drill.objectives.rto.text == "15m"
    assert [c.type for c in drill.verify] == ["files", "sqlite", "command"]
    assert drill.verify[2].timeout == 120
    assert drill.isolation.network == "none"


def test_error_names_file_line_field_and_fix(tmp_path):
    path = write(tmp_path, "portal", GOOD.replace("rto: 15m", "rto: ten minutes"))
    _, problems = load_drill(path)
    assert [str(p) for p in problems] == [
        f'{path}:4:14: objectives.rto: "ten minutes" is not a duration (write 90s, 15m, 4h, 1d, 2w)'
    ]


def test_all_errors_of_a_file_at_once_with_their_lines(tmp_path):
    text = GOOD.replace("min_count: 100", "min_count: lots").replace(
        "  - type: command", "  - type: smoke\n  - type: command").replace("owner:", "ownr:")
    _, problems = load_drill(write(tmp_path, "portal", text))
    by_field = {p.field: p for p in problems}
    assert by_field["ownr"].line == 2 and "unknown key" in by_field["ownr"].message
    assert "owner" in by_field["ownr"].message  # lists the valid keys
    assert by_field["verify[0].min_count"].line == 12
    assert by_field["verify[2]"].line == 18
    assert 'unknown check type "smoke"' in by_field["verify[2]"].message


def test_missing_and_wrong_types(tmp_path):
    text = """\
    objectives: {rto: 15m}
    source:
      repository: 42
      password: {env: A, file: b}
    verify: nope
    """
    _, problems = load_drill(write(tmp_path, "x", text))
    fields = {p.field: p.message for p in problems}
    assert fields["objectives.rpo"] == "is required"
    assert "exactly one of env, file" in fields["source.password"]
    assert "verify" in fields and "source.repository" in fields


def test_yaml_syntax_error_has_line(tmp_path):
    path = write(tmp_path, "broken", "name: x\nobjectives: {rto: 15m\nsource: []\n")
    _, problems = load_drill(path)
    assert len(problems) == 1 and problems[0].line in (2, 3) and "YAML syntax" in problems[0].message


def test_duplicate_keys_are_errors(tmp_path):
    _, problems = load_drill(write(tmp_path, "dup", GOOD + "owner: someone-else\n"))
    assert any("duplicate key" in p.message and p.field == "owner" for p in problems)


def test_paths_may_not_escape_the_restore(tmp_path):
    _, problems = load_drill(write(tmp_path, "p", GOOD.replace("path: srv/portal\n", "path: ../etc\n")))
    assert any("may not contain" in p.message for p in problems)


@pytest.mark.parametrize(("path", "fragment"), [("/etc", "drop the leading /"), ("//etc", "drop the leading /"),
                                               ("srv/./../../etc", "may not contain"), ("srv/..", "may not contain")])
def test_absolute_and_climbing_paths_are_refused(tmp_path, path, fragment):
    _, problems = load_drill(write(tmp_path, "p", GOOD.replace("path: srv/portal\n", f"path: {path}\n")))
    assert any(fragment in p.message for p in problems), problems


def test_folder_reports_every_file(tmp_path):
    write(tmp_path, "good", GOOD)
    write(tmp_path, "bad1", GOOD.replace("rpo: 26h", "rpo: soon"))
    write(tmp_path, "bad2", "objectives: [\n")
    loaded = load_drills(tmp_path)
    assert set(loaded.drills) == {"good"}
    assert {p.file.name for p in loaded.problems} == {"bad1.yaml", "bad2.yaml"}


def test_snapshot_id_excludes_other_selectors(tmp_path):
    text = GOOD.replace("snapshot: {host: portal-1, tags: [nightly], path: /srv/portal}",
                        "snapshot: {id: abc123, host: portal-1}")
    _, problems = load_drill(write(tmp_path, "p", text))
    assert any("id selects one snapshot" in p.message for p in problems)


DRILL = """\
objectives: {rto: 10m, rpo: 1d}
source:
  repository: /srv/backup/repo
  password: {env: PW}
verify:
  - type: files
    path: srv/portal
    required:
      - {entry}
"""


def _problems(tmp_path: Path, entry: str) -> list:
    path = tmp_path / "portal.yaml"
    path.write_text(DRILL.replace("{entry}", entry))
    drill, problems = load_drill(path)
    assert drill is None
    return problems


def test_absolute_required_path_is_a_spec_error_with_its_line(tmp_path: Path) -> None:
    """``/srv/portal/db/portal.sqlite`` would otherwise be checked on the live host."""
    (problem,) = _problems(tmp_path, "/srv/portal/db/portal.sqlite")
    assert problem.line == 9
    assert "relative to the restore root" in problem.message


def test_required_path_may_not_climb_out(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, "../../../../etc/passwd")
    assert problem.line == 9
    assert ".." in problem.message


def billion_laughs() -> str:
    """Nine levels of nine aliases each: a few hundred bytes that expand to 9**9 strings."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "objectives: {rto: 10m, rpo: 1d}\n" + "\n".join(lines) + "\n"


def test_a_yaml_bomb_is_refused_and_the_rest_of_the_folder_still_loads(tmp_path):
    bomb = billion_laughs()
    assert len(bomb) < 1000
    (tmp_path / "bomb.yaml").write_text(bomb)
    write(tmp_path, "good", GOOD)
    write(tmp_path, "bad", GOOD.replace("rpo: 26h", "rpo: soon"))
    loaded = load_drills(tmp_path)
    assert set(loaded.drills) == {"good"}
    [refused] = [p for p in loaded.problems if p.file.name == "bomb.yaml"]
    assert refused.line == 3  # the first alias
    assert "anchors and aliases are not supported" in refused.message
    assert "write the value out" in refused.message
    assert any(p.file.name == "bad.yaml" and p.field == "objectives.rpo" for p in loaded.problems)


def test_aliases_in_drillbook_yaml_are_refused(tmp_path):
    (tmp_path / "drillbook.yaml").write_text(
        "notify:\n  - &ops {webhook: 'https://ops.example.org/hook'}\n  - *ops\n")
    write(tmp_path, "good", GOOD)
    loaded = load_drills(tmp_path)
    [problem] = loaded.problems
    assert problem.file.name == "drillbook.yaml" and problem.line == 3
    assert "anchors and aliases are not supported" in problem.message
    assert set(loaded.drills) == {"good"}


def test_oversized_drill_and_config_files_are_refused_naming_size_and_limit(tmp_path):
    padding = "#" + "x" * (1024 * 1024) + "\n"
    write(tmp_path, "huge", GOOD + padding)
    (tmp_path / "drillbook.yaml").write_text("notify: []\n" + padding)
    write(tmp_path, "good", GOOD)
    loaded = load_drills(tmp_path)
    assert set(loaded.drills) == {"good"}
    by_file = {p.file.name: p for p in loaded.problems}
    assert set(by_file) == {"huge.yaml", "drillbook.yaml"}
    size = (tmp_path / "huge.yaml").stat().st_size
    assert f"{size} bytes" in by_file["huge.yaml"].message
    assert "limit is 1 MiB" in by_file["huge.yaml"].message


def test_the_project_file_loads_alone_whatever_the_drill_files_hold(tmp_path):
    (tmp_path / "drillbook.yaml").write_text("notify:\n  - {command: [/usr/local/bin/page-oncall]}\n")
    write(tmp_path, "broken", "objectives: {rto: [\n")
    config, problems = load_project(tmp_path)
    assert problems == [] and config.notify[0].command == ["/usr/local/bin/page-oncall"]
    assert load_project(tmp_path / "missing") == (ProjectConfig(), [])


def test_a_broken_project_file_gives_the_defaults_and_its_problem(tmp_path):
    (tmp_path / "drillbook.yaml").write_text("notify: {\n")
    config, [problem] = load_project(tmp_path)
    assert config == ProjectConfig() and problem.file.name == "drillbook.yaml"


@pytest.mark.timeout(20)
def test_a_drill_file_that_is_no_regular_file_is_refused_unread(tmp_path):
    """A FIFO would block every reader (validate, run, serve's reload) until someone writes to it."""
    os.mkfifo(tmp_path / "fifo.yaml")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "drillbook.yaml").symlink_to("/dev/null")
    write(tmp_path, "good", GOOD)
    loaded = load_drills(tmp_path)
    assert set(loaded.drills) == {"good"}
    by_file = {p.file.name: p.message for p in loaded.problems}
    assert by_file == {
        "fifo.yaml": "is a FIFO, not a regular file: drill and config files are regular files",
        "zero.yaml": "is a character device, not a regular file: drill and config files are regular files",
        "drillbook.yaml": "is a character device, not a regular file: drill and config files are regular files",
    }


INJECTING = ["LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "GCONV_PATH", "LOCPATH", "GLIBC_TUNABLES",
             "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PERL5LIB", "PERL5OPT", "RUBYOPT",
             "NODE_OPTIONS", "BASH_ENV", "ENV", "IFS", "BASH_FUNC_ls", "JAVA_TOOL_OPTIONS", "OPENSSL_CONF"]


@pytest.mark.parametrize("name", INJECTING)
def test_loader_and_interpreter_variables_in_env_are_spec_errors(tmp_path, name):
    text = GOOD.replace("verify:\n", f"env:\n  TZ: UTC\n  {name}: /srv/restore/evil\nverify:\n")
    drill, problems = load_drill(write(tmp_path, "portal", text))
    assert drill is None
    [problem] = problems
    assert (problem.line, problem.field) == (11, f"env.{name}")
    assert f'"{name}" may not be set' in problem.message
    assert "set it on the one command that needs it" in problem.message


def test_the_env_of_a_check_is_held_to_the_same_rule(tmp_path):
    text = GOOD.replace("    timeout: 2m\n", "    timeout: 2m\n    env: {LD_PRELOAD: ./hook.so}\n")
    drill, problems = load_drill(write(tmp_path, "portal", text))
    assert drill is None
    [problem] = problems
    assert (problem.line, problem.field) == (21, "verify[2].env.LD_PRELOAD")


@pytest.mark.parametrize("name", ["LD_PRELOAD=/srv/restore/evil.so", "1ST", "A B", ""])
def test_env_names_must_be_variable_names(tmp_path, name):
    """``env -i`` splits NAME=VALUE at the first =, so a name holding one would set another variable."""
    text = GOOD.replace("verify:\n", f'env:\n  "{name}": ""\nverify:\n')
    drill, problems = load_drill(write(tmp_path, "portal", text))
    assert drill is None
    [problem] = problems
    assert problem.line == 10 and "is not a variable name" in problem.message


def test_ordinary_variables_are_still_allowed(tmp_path):
    env = {"PATH": "/usr/bin", "TZ": "UTC", "LANG": "C.UTF-8", "PGHOST": "localhost",
           "PYTHONUNBUFFERED": "1", "LOAD_FACTOR": "2", "ENVIRONMENT": "drill"}
    lines = "".join(f'  {k}: "{v}"\n' for k, v in env.items())
    drill, problems = load_drill(write(tmp_path, "portal", GOOD.replace("verify:\n", f"env:\n{lines}verify:\n")))
    assert problems == [] and dict(drill.env) == env


def test_a_command_notify_target_in_a_drill_is_a_spec_error(tmp_path):
    """A drill may come from a less trusted colleague; the command would run outside any sandbox."""
    text = GOOD + ("notify:\n  - {webhook: 'https://ops.example.org/hook'}\n"
                   "  - on: [always]\n    command: [/bin/sh, -c, id]\n")
    drill, problems = load_drill(write(tmp_path, "portal", text))
    assert drill is None
    [problem] = problems
    assert (problem.line, problem.field) == (24, "notify[1].command")
    assert "command targets may only be declared in drillbook.yaml" in problem.message


def test_a_command_notify_target_in_drillbook_yaml_is_allowed(tmp_path):
    (tmp_path / "drillbook.yaml").write_text("notify:\n  - {command: [/usr/local/bin/page-oncall]}\n")
    write(tmp_path, "good", GOOD)
    loaded = load_drills(tmp_path)
    assert loaded.problems == [] and loaded.config.notify[0].command == ["/usr/local/bin/page-oncall"]


def test_spec_errors_in_notify_do_not_echo_a_webhook_token(tmp_path):
    url = "https://hooks.example.org/services/T00/B00/abcdef"
    for extra in (f'notify: ["{url}"]\n', f'notify:\n  - {{webhook: ["{url}"]}}\n'):
        _, problems = load_drill(write(tmp_path, "portal", GOOD + extra))
        assert problems
        shown = " ".join(str(p) for p in problems)
        assert "abcdef" not in shown and "hooks.example.org/***/***/***/***" in shown


def test_a_drill_without_limits_gets_drillbooks_defaults(tmp_path):
    drill, problems = load_drill(write(tmp_path, "portal", GOOD))
    assert drill is not None, problems
    limits = drill.isolation.limits
    assert (limits.memory, limits.processes, limits.open_files) == ("4G", 512, 1024)
    assert limits.model_fields_set == set()


def test_a_limit_cannot_be_switched_off(tmp_path):
    drill, problems = load_drill(write(tmp_path, "portal", GOOD + "isolation:\n  limits: {memory: null}\n"))
    assert drill is None and any("memory" in str(p) for p in problems)


def test_yaml_1_1_numbers_stay_the_text_the_author_wrote(tmp_path):
    text = GOOD.replace("expect: \">= 1000\"", "expect: {text: 12:30}").replace(
        "tags: [nightly]", "tags: [nightly, 2026-01-01]") + "env: {UMASK: 0022, PGPORT: 5432_1}\n"
    drill, problems = load_drill(write(tmp_path, "portal", text))
    assert problems == []
    query = drill.verify[1].queries[0]
    assert (query.shown, query.exact) == ("12:30", True)  # YAML 1.1 read 750, the check became "= 750"
    expectation = parse_expectation(query.shown, exact=query.exact)
    assert expectation.check("12:30") and not expectation.check(750)
    assert drill.source.snapshot.tags == ["nightly", "2026-01-01"]
    assert drill.env == {"UMASK": "0022", "PGPORT": "5432_1"}


def test_a_leading_zero_is_text_and_a_plain_number_is_still_a_comparison(tmp_path):
    text = GOOD.replace("expect: \">= 1000\"", "expect: {text: 0755}").replace(
        "      - {sql:", "      - {sql: select 1, expect: 750}\n      - {sql:").replace(
        "min_count: 100", "min_count: 0100")
    drill, problems = load_drill(write(tmp_path, "portal", text))
    assert problems == []
    assert drill.verify[0].min_count == 100  # a number field still takes the text
    assert [q.shown for q in drill.verify[1].queries] == ["= 750", "0755"]


@pytest.mark.parametrize("written,message", [
    ('"at least 150"', '"at least 150" is not a comparison drillbook reads: write ">= 150"'),
    ('">= abc"', '">= abc" compares with "abc", which is not a number: write ">= 1000" (a number), '
                 'or {text: ">= abc"} for that exact value'),
    ("12:30", '"12:30" is not a comparison: write {text: "12:30"} for that exact value, or a comparison '
              'such as ">= 1"'),
    ("true", "a yes/no value is not an expectation"),
])
def test_an_expectation_that_is_not_a_comparison_is_a_spec_error_at_its_line(tmp_path, written, message):
    path = write(tmp_path, "portal", GOOD.replace('expect: ">= 1000"', f"expect: {written}"))
    text = next(x for x in GOOD.splitlines() if 'expect: ">= 1000"' in x)
    line, column = GOOD.splitlines().index(text) + 1, text.index("expect") + 1
    drill, problems = load_drill(path)
    assert drill is None
    assert len(problems) == 1
    assert str(problems[0]).startswith(f"{path}:{line}:{column}: verify[1].queries[0].expect: ")
    assert message in str(problems[0])


def test_a_sexagesimal_duration_is_an_error_at_its_line(tmp_path):
    path = write(tmp_path, "portal", GOOD.replace("timeout: 2m", "timeout: 1:30"))
    _, problems = load_drill(path)
    assert [str(p) for p in problems] == [
        f'{path}:20:5: verify[2].timeout: "1:30" is not a duration (write 90s, 15m, 4h, 1d, 2w)'
    ]


def test_a_notify_template_with_a_syntax_error_is_a_spec_problem_at_its_own_line(tmp_path):
    (tmp_path / "pager.j2").write_text('{\n  "text": {{ drill | tojson }},\n  "x": {% if %}\n}\n')
    path = write(tmp_path, "portal", GOOD + "notify:\n  - {webhook: 'https://ops.example.org/h', template: pager.j2}\n")
    loaded = load_drills(tmp_path)
    [problem] = loaded.problems
    assert (problem.file, problem.line, problem.field) == (tmp_path / "pager.j2", 3, "notify[0].template")
    assert f"used by {path}:22" in problem.message
    assert "portal" not in loaded.drills


def test_a_missing_notify_template_is_a_spec_problem_at_the_declaring_line(tmp_path):
    (tmp_path / "drillbook.yaml").write_text("notify:\n  - {webhook: 'https://ops.example.org/h', template: gone.j2}\n")
    loaded = load_drills(tmp_path)
    [problem] = loaded.problems
    assert (problem.file, problem.line, problem.field) == (tmp_path / "drillbook.yaml", 2, "notify[0].template")
    assert "gone.j2" in problem.message and "not found" in problem.message
    assert load_project(tmp_path)[0].notify == []  # a broken project target is not used


def test_a_valid_template_loads(tmp_path):
    (tmp_path / "pager.j2").write_text('{"text": {{ drill | tojson }}}')
    write(tmp_path, "portal", GOOD + "notify:\n  - {webhook: 'https://ops.example.org/h', template: pager.j2}\n")
    assert load_drills(tmp_path).problems == []


PASSWORD_COMMAND = "[/usr/bin/cat, /etc/drillbook/portal.pw]"


def with_password(source: str) -> str:
    return GOOD.replace("password: {env: PORTAL_RESTIC_PASSWORD}", f"password: {source}")


def test_a_password_command_a_drill_declares_alone_is_refused_at_its_line(tmp_path):
    path = write(tmp_path, "portal", with_password(f"{{command: {PASSWORD_COMMAND}}}"))
    loaded = load_drills(tmp_path)
    [problem] = loaded.problems
    assert (problem.file, problem.line, problem.field) == (path, 7, "source.password.command")
    assert "password_commands" in problem.message and "drillbook.yaml" in problem.message
    assert "portal" not in loaded.drills


def test_a_password_command_listed_in_drillbook_yaml_is_allowed(tmp_path):
    (tmp_path / "drillbook.yaml").write_text(f"password_commands:\n  - {PASSWORD_COMMAND}\n")
    write(tmp_path, "portal", with_password(f"{{command: {PASSWORD_COMMAND}, timeout: 5s}}"))
    loaded = load_drills(tmp_path)
    assert loaded.problems == []
    source = loaded.drills["portal"].source.password
    assert source.command == ["/usr/bin/cat", "/etc/drillbook/portal.pw"] and source.command_timeout == 5.0


def test_only_the_exact_argv_is_allowed(tmp_path):
    (tmp_path / "drillbook.yaml").write_text(f"password_commands:\n  - {PASSWORD_COMMAND}\n")
    write(tmp_path, "portal", with_password("{command: [/usr/bin/cat, /etc/shadow]}"))
    assert [p.field for p in load_drills(tmp_path).problems] == ["source.password.command"]


@pytest.mark.parametrize("source, message", [
    ("{command: [vault, read]}", "must be an absolute path"),
    ("{command: []}", "at least 1"),
    ("{env: X, timeout: 5s}", "timeout: only goes with command"),
    ("{credential: ../etc/shadow}", "is not a credential name"),
    ("{credential: ..}", "is not a credential name"),
    ("{credential: x, file: y}", "exactly one of"),
])
def test_password_sources_are_checked(tmp_path, source, message):
    _, problems = load_drill(write(tmp_path, "portal", with_password(source)))
    assert any(message in p.message for p in problems), problems


def test_default_password_command_timeout_is_30s(tmp_path):
    (tmp_path / "drillbook.yaml").write_text(f"password_commands:\n  - {PASSWORD_COMMAND}\n")
    write(tmp_path, "portal", with_password(f"{{command: {PASSWORD_COMMAND}}}"))
    assert load_drills(tmp_path).drills["portal"].source.password.command_timeout == 30.0


def test_template_syntax_errors_are_spec_problems_at_the_templates_line(tmp_path):
    path = tmp_path / "broken.j2"
    path.write_text('{\n"a": {{ drill }},\n"b": {% if %}\n}')
    [problem] = template_problems(NotifyTarget(webhook="http://h/x", template="broken.j2"),
                                  tmp_path, tmp_path / "clinic.yaml", 12, "notify[0].template")
    assert isinstance(problem, SpecProblem)
    assert (problem.file, problem.line) == (path, 3) and problem.field == "notify[0].template"
    assert f"used by {tmp_path / 'clinic.yaml'}:12" in problem.message


def test_a_missing_template_is_a_spec_problem(tmp_path):
    [problem] = template_problems(NotifyTarget(webhook="http://h/x", template="nope.j2"),
                                  tmp_path, tmp_path / "clinic.yaml", 12, "notify[0].template")
    assert (problem.file, problem.line) == (tmp_path / "clinic.yaml", 12)
    assert "nope.j2" in problem.message and "not found" in problem.message


def test_a_schema_error_names_the_column_of_its_key(tmp_path):
    path = write(tmp_path, "portal", GOOD.replace("min_count: 100", "min_count: lots"))
    _, problems = load_drill(path)
    (problem,) = problems
    assert (problem.line, problem.column) == (12, 5)  # "    min_count:", as an editor counts
    assert str(problem).startswith(f"{path}:12:5: verify[0].min_count: ")


def test_a_flow_mapping_key_has_its_own_column(tmp_path):
    path = write(tmp_path, "portal", GOOD.replace("rto: 15m", "rto: ten minutes"))
    (problem,) = load_drill(path)[1]
    assert (problem.line, problem.column) == (4, 14)


def test_a_yaml_error_names_line_and_column(tmp_path):
    path = write(tmp_path, "broken", "name: x\nowner: [a, b\nsource: {}\n")
    (problem,) = load_drill(path)[1]
    assert "YAML syntax" in problem.message
    assert (problem.line, problem.column) == (3, 7)  # the ":" where "]" was expected
    assert str(problem).startswith(f"{path}:3:7: ")


def test_a_problem_without_a_column_keeps_the_line_form(tmp_path):
    problem = SpecProblem(tmp_path / "x.yaml", 3, "name", "bad")
    assert (problem.column, str(problem)) == (None, f"{tmp_path / 'x.yaml'}:3: name: bad")
