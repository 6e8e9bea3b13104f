"""The one filter for text a restore or a check may have written (util/plain)."""

from __future__ import annotations

import pytest

from drillbook.util.plain import strip_controls, strip_controls_in


@pytest.mark.parametrize(("text", "plain"), [
    ("a\x1b[31mred\x1b[0m b\x1b[2J", "ared b"),
    ("t\x1b]0;pwned\x07x\x1b]8;;http://x\x1b\\y", "txy"),
    ("a\x1bPdcs\x1b\\b\x1b_apc\x1b\\c\x1bcd", "abcd"),
    ("nul\x00 del\x7f c1\x80\x9b\x9f bell\x07 bs\x08", "nul del c1 bell bs"),
    ("\u202aa\u202bb\u202cc\u202dd\u202ee\u2066f\u2067g\u2068h\u2069", "abcdefgh"),
    ("zero\u200bwidth\ufeff soft\u00adhyphen\u2060", "zerowidth softhyphen"),
    ("passed\rfailed", "passedfailed"),
    ("ok: ünïcødé ✔ 日本 [bold]", "ok: ünïcødé ✔ 日本 [bold]"),
])
def test_what_a_terminal_or_viewer_would_obey_goes_and_the_words_stay(text, plain):
    assert strip_controls(text) == plain


def test_newline_and_tab_stay_unless_the_caller_wants_one_line():
    assert strip_controls("one\n\ttwo\r\n") == "one\n\ttwo\n"
    assert strip_controls("one\n\ttwo", keep="") == "onetwo"


def test_an_unterminated_sequence_ends_at_its_line_and_never_swallows_the_rest():
    assert strip_controls("a\x1b]0;title\nnext line\n") == "a\nnext line\n"
    assert strip_controls("a\x1bPdcs\nnext") == "a\nnext"
    assert strip_controls("trailing\x1b") == "trailing"


def test_every_string_of_a_json_document_is_filtered_keys_too():
    data = {"detail\x1b[1m": "x\x00y", "data": {"output_tail": ["a\u202eb", 3, None, True]},
            "pair": ("c\x07", 1.5)}
    assert strip_controls_in(data) == {"detail": "xy", "data": {"output_tail": ["ab", 3, None, True]},
                                       "pair": ("c", 1.5)}
