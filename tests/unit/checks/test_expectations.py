import pytest

from drillbook.checks.expectations import parse_expectation


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
