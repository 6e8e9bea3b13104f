import pytest

from drillbook.util.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize("text,seconds", [
    ("90s", 90), ("15m", 900), ("26h", 93600), ("1d", 86400), ("2w", 1209600),
    ("7y", 7 * 365 * 86400), ("1h30m", 5400), ("1.5h", 5400),
])
def test_durations_people_write(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["ten minutes", "15", "15 minutes", "", "0s", "-5m", "5x", None, 15, True])
def test_bad_durations_say_how_to_write_one(text):
    with pytest.raises(DurationError) as exc:
        parse_duration(text)
    assert "15m" in str(exc.value)


def test_format_duration_is_short_and_readable():
    assert format_duration(None) == "-"
    assert format_duration(0.25) == "250 ms"
    assert format_duration(12.34) == "12.3 s"
    assert format_duration(125) == "2m 05s"
    assert format_duration(3 * 86400 + 3600) == "3d 1h"


@pytest.mark.parametrize("seconds,text", [
    (-0.25, "-250 ms"), (-12.34, "-12.3 s"), (-125, "-2m 05s"), (-3 * 3600 - 60, "-3h 01m"),
    (-(3 * 86400 + 3600), "-3d 1h"), (-0.0001, "0 ms"), (-0.0, "0 ms"),
])
def test_a_negative_duration_is_the_same_form_with_a_minus_sign(seconds, text):
    """A clock step or a snapshot dated in the future gives one; it must read as what it is."""
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), float("-inf")])
def test_a_duration_that_is_no_number_is_unknown(seconds):
    assert format_duration(seconds) == "-"
