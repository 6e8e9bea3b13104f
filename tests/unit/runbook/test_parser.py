"""Runbook Markdown -> steps, and every problem located at file:line, all at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

from drillbook.runbook.model import DRILL, MANUAL, SHELL
from drillbook.runbook.parser import check_drills, load_runbooks, parse_runbook

GOOD = textwrap.dedent("""\
    ---
    title: Restore the patient portal
    owner: portal-oncall@example.org
    objectives: {rto: 2h}
    env: {PORTAL_HOST: portal-1}
    timeout: 10m
    ---
    # Restore the portal
    Use this when the portal's data is lost.

    ## Declare the incident
    Page the incident commander.

    ## Freeze writes
    <!-- timeout: 5m -->
    ```sh
    ./portal-ctl freeze-writes
    ```

    ## Restore and verify the latest backup
    ```drill
    portal
    portal-db
    ```

    ## Tell the users
    <!-- optional -->
    ```text
    ## not a heading: inside a code block
    ```

    ## Announce recovery
    ```bash
    echo one
    ```
    ```sh
    echo two
    ```
    """)


def parse(text: str, name: str = "portal") -> tuple:
    return parse_runbook(text, Path(f"runbooks/{name}.md"))


def test_steps_kinds_and_options_come_from_headings_blocks_and_comments():
    runbook, problems = parse(GOOD)
    assert problems == []
    assert runbook.title == "Restore the patient portal"
    assert runbook.intro == "Use this when the portal's data is lost."
    assert [s.title for s in runbook.steps] == ["Declare the incident", "Freeze writes",
                                                 "Restore and verify the latest backup",
                                                 "Tell the users", "Announce recovery"]
    assert [s.kind for s in runbook.steps] == [MANUAL, SHELL, DRILL, MANUAL, SHELL]
    freeze, restore, tell, announce = runbook.steps[1:]
    assert freeze.script.strip() == "./portal-ctl freeze-writes"
    assert freeze.timeout.text == "5m" and runbook.step_timeout(freeze) == 300
    assert runbook.step_timeout(announce) == 600  # front matter default
    assert restore.drills == ("portal", "portal-db") and restore.drill_lines == (22, 23)
    assert tell.optional and "<!--" not in tell.text
    assert "echo one" in announce.script and "echo two" in announce.script
    assert runbook.meta.env == {"PORTAL_HOST": "portal-1"} and runbook.rto.text == "2h"
    assert runbook.steps[0].line == 11


def test_title_defaults_to_the_first_heading_and_front_matter_is_optional():
    runbook, problems = parse("# Restore things\n\n## Only step\nDo it.\n")
    assert problems == []
    assert runbook.title == "Restore things" and runbook.rto is None
    assert runbook.steps[0].kind == MANUAL and runbook.steps[0].text == "Do it."


def test_every_problem_is_reported_with_its_line_at_once():
    text = textwrap.dedent("""\
        ---
        title: Broken
        objectives: {rto: soon}
        colour: blue
        ---
        ## Empty shell
        ```sh
        ```

        ## Timeout on manual
        <!-- timeout: 5m -->
        Do it.

        ## Bad timeout
        <!-- timeout: forever -->
        ```sh
        true
        ```

        ## Both kinds
        ```sh
        true
        ```
        ```drill
        portal
        ```
        """)
    runbook, problems = parse(text)
    assert runbook is None
    found = {(p.line, p.field): p.message for p in problems}
    assert "soon" in found[(3, "objectives.rto")]
    assert "unknown key" in found[(4, "colour")] and "title" in found[(4, "colour")]
    messages = " | ".join(str(p) for p in problems)
    assert "runbooks/portal.md:7: step 1 \"Empty shell\": empty ```sh block" in messages
    assert "runbooks/portal.md:11:" in messages and "shell steps only" in messages
    assert 'runbooks/portal.md:15: step 3 "Bad timeout": <!-- timeout -->' in messages and "forever" in messages
    assert "runbooks/portal.md:24:" in messages and "split it into two steps" in messages


def test_no_steps_and_unclosed_front_matter_and_fences_are_errors():
    _, problems = parse("---\ntitle: x\n---\n# Title\nJust prose.\n")
    assert any("no steps" in p.message for p in problems)
    _, problems = parse("---\ntitle: x\n## Step\n")
    assert any("front matter is not closed" in p.message and p.line == 1 for p in problems)
    _, problems = parse("## Step\n```sh\necho hi\n")
    assert any("never closed" in p.message and p.line == 2 for p in problems)


def test_yaml_syntax_error_in_front_matter_names_the_file_line():
    _, problems = parse("---\ntitle: [unclosed\nowner: x\n---\n## Step\n")
    assert problems and problems[0].line in (2, 3, 4)
    assert "YAML syntax error" in problems[0].message


def test_optional_only_on_manual_steps():
    _, problems = parse("## Step\n<!-- optional -->\n```sh\ntrue\n```\n")
    assert any("manual steps only" in p.message and p.line == 2 for p in problems)


def test_unknown_drill_is_named_at_its_own_line():
    runbook, _ = parse(GOOD)
    problems = check_drills([runbook], {"portal"})
    assert len(problems) == 1
    assert problems[0].line == 23 and '"portal-db"' in problems[0].message
    assert "known drills: portal" in problems[0].message


def test_folder_loading_skips_readme_and_tolerates_a_missing_folder(tmp_path: Path):
    assert load_runbooks(tmp_path / "missing").runbooks == {}
    (tmp_path / "README.md").write_text("# About runbooks\n")
    (tmp_path / "a.md").write_text("## One\nDo it.\n")
    (tmp_path / "b.md").write_text("no steps here\n")
    loaded = load_runbooks(tmp_path)
    assert list(loaded.runbooks) == ["a"]
    assert [p.file.name for p in loaded.problems] == ["b.md"]


def test_find_step_by_number_or_title():
    runbook, _ = parse(GOOD)
    assert runbook.find_step("2").title == "Freeze writes"
    assert runbook.find_step("freeze writes").index == 2
    assert runbook.find_step("9") is None and runbook.find_step("nope") is None


def test_aliases_in_front_matter_are_refused_at_their_line():
    text = "---\ntitle: &t Fail over\nowner: *t\n---\n## Step\nDo it.\n"
    runbook, problems = parse(text)
    assert runbook is None
    [problem] = problems
    assert problem.line == 3 and "anchors and aliases are not supported" in problem.message


def test_loader_variables_in_front_matter_env_are_refused_at_their_line():
    text = "---\ntitle: Fail over\nenv:\n  PGHOST: db-2\n  BASH_ENV: /tmp/hook.sh\n---\n## Step\nDo it.\n"
    runbook, problems = parse(text)
    assert runbook is None
    [problem] = problems
    assert (problem.line, problem.field) == (5, "env.BASH_ENV") and '"BASH_ENV" may not be set' in problem.message


HIDDEN = textwrap.dedent("""\
    # Fail over
    ## Declare the incident
    Page the incident commander.
    <!--
    Kept for later, not ready:

    ## Wipe the standby
    ```sh
    rm -rf /srv/standby
    ```
    -->

    ## Freeze writes
    ```sh
    ./portal-ctl freeze-writes
    ```
    """)


def test_a_heading_and_block_inside_a_hidden_comment_are_no_step():
    """GitHub and GitLab show nothing of an HTML comment: what the reader cannot see never runs."""
    runbook, problems = parse(HIDDEN)
    assert problems == []
    assert [(s.title, s.kind, s.line) for s in runbook.steps] == [("Declare the incident", MANUAL, 2),
                                                                  ("Freeze writes", SHELL, 13)]
    assert all("rm -rf" not in s.script for s in runbook.steps)
    assert runbook.steps[1].script.strip() == "./portal-ctl freeze-writes"


def test_an_unclosed_fence_inside_a_hidden_comment_is_no_error():
    runbook, problems = parse("## Step\nDo it.\n<!--\n```sh\nnot closed\n-->\n")
    assert problems == [] and runbook.steps[0].kind == MANUAL


def test_a_drillbook_comment_among_other_text_still_counts():
    runbook, problems = parse("## Step\nDo it when ready. <!-- optional -->\n")
    assert problems == [] and runbook.steps[0].optional
    assert runbook.steps[0].text == "Do it when ready."


def test_a_comment_that_only_mentions_timeout_is_not_an_annotation():
    runbook, problems = parse("## Step\n<!-- the timeout here was 5m once -->\n```sh\ntrue\n```\n")
    assert problems == [] and runbook.steps[0].timeout is None


def test_fenced_blocks_in_a_list_or_a_quote_run_as_github_shows_them():
    """GitHub renders them as the step's code blocks, without the list's indent or the quote's ``>``:
    that is the script."""
    text = textwrap.dedent("""\
        ## Freeze writes
        1. Stop the writers:
           ```sh
           ./portal-ctl freeze-writes
           ```
        > ```sh
        > ./portal-ctl status
        > ```

        ## Restore
        - the portal:
          ```drill
          portal
          ```
        """)
    runbook, problems = parse(text)
    assert problems == []
    freeze, restore = runbook.steps
    assert freeze.kind == SHELL and freeze.script == "./portal-ctl freeze-writes\n\n./portal-ctl status"
    assert restore.kind == DRILL and restore.drills == ("portal",) and restore.drill_lines == (13,)


def test_a_heading_inside_a_quote_or_list_is_no_step():
    runbook, problems = parse("## Step\n> ## Not a step\n> Just a quote.\n- ## Nor this\n")
    assert problems == [] and [s.title for s in runbook.steps] == ["Step"]


def test_an_underlined_heading_is_a_step_as_it_is_rendered_as_one():
    runbook, problems = parse("# Title\n\nStep one\n--------\nDo it.\n\n## Step two\nAnd this.\n")
    assert problems == [] and [(s.title, s.line) for s in runbook.steps] == [("Step one", 3), ("Step two", 7)]


def test_front_matter_reads_yaml_1_1_numbers_as_the_text_written():
    text = "---\ntitle: 2026-01-01\nowner: 12:30\nenv: {UMASK: 0022}\n---\n## Step\nDo it.\n"
    runbook, problems = parse(text)
    assert problems == []
    assert (runbook.meta.title, runbook.meta.owner, runbook.meta.env) == ("2026-01-01", "12:30", {"UMASK": "0022"})


def test_a_sexagesimal_timeout_in_front_matter_is_an_error_at_its_line():
    _, problems = parse("---\ntitle: Fail over\ntimeout: 1:30\n---\n## Step\nDo it.\n")
    [problem] = problems
    assert problem.line == 3 and '"1:30" is not a duration' in problem.message
