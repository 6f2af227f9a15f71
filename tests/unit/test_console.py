"""`printable`: what a terminal would act on, written out as escapes instead."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from postwatch.console import printable
from tests.terminal import HOSTILE, HOSTILE_TEXT, acting


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_escape_sequences_and_reordering_marks_are_shown_not_obeyed(name: str) -> None:
    shown = printable(HOSTILE[name])
    assert acting(shown) == []
    assert "\n" not in shown


def test_each_such_character_is_written_as_its_escape() -> None:
    assert printable("\x1b]0;t\x07") == "\\u001b]0;t\\u0007"
    assert printable("a\x9b2Jb\x7f") == "a\\u009b2Jb\\u007f"
    assert printable("\u202eexe.txt") == "\\u202eexe.txt"
    assert printable("line\nnext\ttab") == "line\\u000anext\\u0009tab"
    # a file name's undecodable byte, which no terminal encoding would take
    assert printable("pack\udcff.yaml") == "pack\\udcff.yaml"


def test_ordinary_text_in_any_script_is_left_as_it_is() -> None:
    text = "Join the Example Front — ünïcødé, 中文, اردو, हिन्दी, 👩\u200d👩\u200d👧 [bold]x[/]"
    assert printable(text) == text


@given(st.text())
def test_nothing_printable_gives_acts_on_a_terminal(text: str) -> None:
    assert acting(printable(text)) == []


@given(st.text())
def test_json_stays_the_same_json(text: str) -> None:
    """A JSON document made printable decodes to the same value (the escapes are JSON's)."""
    document = orjson.dumps({"text": text, "hostile": HOSTILE_TEXT})
    assert orjson.loads(printable(document.decode())) == orjson.loads(document)
