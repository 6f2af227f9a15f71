"""Recorded documents with hostile changes, for property tests of the adapters and packs.

`mutated(doc)` draws a copy of a recorded JSON document in which a few values, anywhere in
it, were replaced by hostile ones (another JSON type, huge, negative or odd numbers, extreme
dates, deep nesting, odd Unicode, huge lists) or removed; `mutated_markup(text)` does the
same to the attribute values and texts of recorded HTML or XML. `adapted_or_malformed` runs an
adapter and checks the one contract every adapter keeps: a post the sink takes, or
`MalformedEvent`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson
from hypothesis import strategies as st

from postwatch.connectors.base import MalformedEvent
from postwatch.rules import post_from_dict

__all__ = [
    "EXTREME_DATES",
    "ODD_TEXTS",
    "adapted_or_malformed",
    "hostile_values",
    "locations",
    "mutated",
    "mutated_markup",
]

Path = tuple[str | int, ...]

REMOVED = object()
"""In place of a value: the member (or item) is taken out."""

EXTREME_DATES = [
    "9999-12-31T23:59:59-12:00",  # year 10000 in UTC
    "0001-01-01T00:00:00+14:00",  # year 0 in UTC
    "9999-12-31T23:59:59.999999Z",
    "0001-01-01T00:00:00Z",
    "0000-00-00T00:00:00Z",
    "2026-02-30T12:00:00Z",
    "2026-07-04T25:61:61Z",
    "2026-07-04T14:38:02.123456789012Z",
    "2026-07-04T14:38:02+99:99",
    "+275760-09-13T00:00:00.000Z",
    "1970-01-01T00:00:00Z",
    "2026-07-04",
    "Sat, 01 Jan 10000 00:00:00 GMT",
]
ODD_TEXTS = [
    "",
    " ",
    "\x00",
    "\u202e\u200b\ufeff",
    "😀" * 1000,
    "²³",  # digits to str.isdigit, not to int()
    "١٢٣",
    "Ⅻ",
    "İǅß\U0010ffff",
    "line\r\nbreak",
    "x<![ y",
    "<a " * 2000,
    "<!--" * 2000,
    "a" * 100_000,
    "http://[::1",
    "javascript:alert(1)",
    "did:plc:",
    "at://",
    "#",
    "@",
]
ODD_NUMBERS = [0, -1, 1, 2**31, -(2**31), 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1]


def _nested(depth: int, as_list: bool) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value] if as_list else {"a": value}
    return value


OTHER_TYPES = [None, True, False, 0, 1.5, "", "x", [], {}, [None], [1], ["x"], {"": None}, {"0": 1}]

hostile_values = st.one_of(
    st.sampled_from(OTHER_TYPES),
    st.sampled_from(OTHER_TYPES),  # twice as likely: the commonest confusion
    st.sampled_from(ODD_NUMBERS),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(EXTREME_DATES),
    st.sampled_from(ODD_TEXTS),
    st.text(max_size=12),
    st.builds(_nested, st.integers(20, 150) | st.just(1000), st.booleans()),
    st.sampled_from([[{}] * 5000, ["x"] * 5000, [1] * 5000]),
)
"""Values JSON can carry (orjson reads integers of 64 bits and nesting up to 1024; 1000
levels are more than Python's `str` and `repr` go through)."""


def locations(doc: Any, at: Path = ()) -> Iterator[Path]:
    """Every place in the document that holds a value, the document itself first."""
    yield at
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from locations(value, (*at, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from locations(value, (*at, index))


def _apply(doc: Any, changes: list[tuple[Path, Any]]) -> Any:
    """A copy of `doc` with the changes made; values are put in as they are (a deep copy of
    1000 levels would fail), and a change whose place is gone is left out."""
    doc = copy.deepcopy(doc)
    for path, value in changes:
        if not path:
            doc = None if value is REMOVED else value
            continue
        parent = doc
        for step in path[:-1]:
            try:
                parent = parent[step]
            except (KeyError, IndexError, TypeError):
                break
        else:
            last = path[-1]
            if isinstance(parent, dict) and isinstance(last, str):
                if value is REMOVED:
                    parent.pop(last, None)
                else:
                    parent[last] = value
            elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
                if value is REMOVED:
                    del parent[last]
                else:
                    parent[last] = value
    return doc


def mutated(
    doc: Any, values: st.SearchStrategy[Any] = hostile_values, max_changes: int = 3
) -> st.SearchStrategy[Any]:
    """`doc` with one to `max_changes` values replaced by `values` or removed."""
    places = list(locations(doc))
    change = st.tuples(st.sampled_from(places), st.just(REMOVED) | values)
    return st.lists(change, min_size=1, max_size=max_changes).map(
        lambda changes: _apply(doc, changes)
    )


_ATTRIBUTE_OR_TEXT = re.compile(r'="([^"]*)"|>([^<]+)<')


def mutated_markup(markup: str, extra: Sequence[str] = ()) -> st.SearchStrategy[str]:
    """`markup` with one to three attribute values or texts replaced by hostile strings
    (`EXTREME_DATES`, `ODD_TEXTS`, `extra`, any short text), or cut out together with the
    markup up to the next such place. The strings go in as they are, unescaped: they may
    break the markup around them too."""
    places = [
        m.span(1) if m.group(1) is not None else m.span(2)
        for m in _ATTRIBUTE_OR_TEXT.finditer(markup)
    ]

    def apply(changes: list[tuple[int, str | None]]) -> str:
        text = markup
        for index, value in sorted(changes, key=lambda change: change[0], reverse=True):
            start, end = places[index]
            if value is None:
                end = places[index + 1][0] if index + 1 < len(places) else len(text)
            text = text[:start] + (value or "") + text[end:]
        return text

    strings = st.sampled_from([*EXTREME_DATES, *ODD_TEXTS, *extra]) | st.text(max_size=12)
    change = st.tuples(st.integers(0, len(places) - 1), st.none() | strings)
    return st.lists(change, min_size=1, max_size=3, unique_by=lambda c: c[0]).map(apply)


def adapted_or_malformed(adapt: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """What `adapt()` made: a Post v1 the sink takes (valid, and writable as JSON), or None
    when it raised `MalformedEvent`. Anything else it raises fails the test."""
    try:
        post = adapt()
    except MalformedEvent as exc:
        reason = exc.reason
    else:
        post_from_dict(post)
        orjson.dumps(post)
        return post
    assert reason, "a malformed event says why"
    return None
