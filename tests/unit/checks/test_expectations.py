import pytest

from drillbook.checks.expectations import parse_expectation, show_value


@pytest.mark.parametrize("expect,value,ok", [
    ("= 5", 5, True), ("= 5", 6, False), ("== 5", "5", True),
    ("!= 0", 0, False), ("!= 0", 3, True),
    (">= 1000", 1000, True), (">= 1000", 999, False),
    ("> 10", 11, True), ("> 10", 10, False),
    ("<= 2", 2, True), ("< 2", 2, False), ("< 2.5", 2, True),
    (">= 1", None, False), (">= 1", "abc", False),
    ("ok", "ok", True), ("ok", "not ok", False), ("NULL", None, True),
])
def test_expectations(expect, value, ok):
    assert parse_expectation(expect).check(value) is ok


def test_text_that_looks_like_an_operator_without_number_is_exact():
    e = parse_expectation(">= lots")
    assert e.op is None and e.check(">= lots")


@pytest.mark.parametrize("expect,value,ok", [
    ("NULL", None, True), ("NULL", "NULL", False),          # the text NULL is not SQL NULL
    ("'NULL'", "NULL", True), ("'NULL'", None, False),      # and is expected written as a literal
    ("'x'", "'x'", False), ("'''x'''", "'x'", True),        # a text already in quotes, likewise
    ("", "", True), ("NULL", "", False), ("'", "'", True), ("null", "null", True),
])
def test_sql_null_and_the_text_null_are_told_apart(expect, value, ok):
    assert parse_expectation(expect).check(value) is ok


@pytest.mark.parametrize("value,shown", [
    (None, "NULL"), ("NULL", "'NULL'"), ("'x'", "'''x'''"), ("it's", "it's"), ("", ""), (5.0, "5"),
])
def test_values_are_shown_as_an_expectation_would_be_written(value, shown):
    assert show_value(value) == shown
