"""Hostile records against the code every record passes through: decoding, validation,
matching and alert building. Whatever the bytes, the outcome is a valid alert, no alert, or
an `InvalidPost` with a reason: never another exception, never unbounded memory."""

from __future__ import annotations

import json
import resource
from dataclasses import dataclass
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postwatch.kafka.deadletter import VALUE_MAX, DeadLetter, dead_letter
from postwatch.rules import Alert, Engine, InvalidPost, load_packs, parse_post
from postwatch.rules.alerts import encode
from postwatch.schemas import validator
from tests.factories import post_doc

PACK = Path(__file__).parents[1] / "files" / "integration" / "pack.yaml"
ENGINE = Engine(load_packs([PACK]))
REASONS = {"not_utf8", "not_json", "schema", "too_deep", "too_large"}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5)
    ),
    max_leaves=30,
)

post_like = st.fixed_dictionaries(
    {
        "schema": st.sampled_from(["postwatch.post/1", "postwatch.post/2", 1, None]),
        "id": st.one_of(st.text(max_size=20), st.integers(), st.just("test:1")),
        "source": st.one_of(st.text(max_size=10), st.just("test"), st.lists(st.text())),
        "author": st.one_of(
            st.fixed_dictionaries({"id": st.one_of(st.text(max_size=10), st.just("test:a"))}),
            json_values,
        ),
        "created_at": st.one_of(
            st.just("2025-07-25T10:00:00Z"), st.just("2025-13-45T99:99:99Z"), st.text(max_size=30)
        ),
        "text": st.one_of(st.text(), st.just("Sample Brigade \ud800 lone surrogate"), json_values),
    },
    optional={
        "links": st.one_of(st.lists(st.text(), max_size=3), json_values),
        "media": st.one_of(
            st.lists(st.fixed_dictionaries({}, optional={"sha256": st.text(max_size=70)})),
            json_values,
        ),
        "hashtags": json_values,
    },
)


@dataclass(frozen=True)
class Consumed:
    """A record as the worker consumes it."""

    value: bytes
    key: bytes | None = None
    topic: str = "t"
    partition: int = 0
    offset: int = 0


def outcome(data: bytes) -> str:
    """What happens to one record: `dead:<reason>` or `alerts:<n>` (each alert validated)."""
    invalid: InvalidPost | None = None
    try:
        post = parse_post(data)
    except InvalidPost as exc:
        invalid = exc
    if invalid is not None:
        assert invalid.reason in REASONS
        letter = dead_letter(Consumed(data), invalid.reason, invalid.error).encode()
        assert DeadLetter.decode(letter).reason == invalid.reason
        assert (DeadLetter.decode(letter).value or b"") == data[:VALUE_MAX]
        return f"dead:{invalid.reason}"
    alerts = [Alert.of_match(m) for m in ENGINE.evaluate(post)]
    for alert in alerts:
        validator("alert")(orjson.loads(encode(alert)))
    return f"alerts:{len(alerts)}"


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    outcome(data)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json(value: object) -> None:
    assert outcome(json.dumps(value).encode()).startswith("dead:")


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(post_like)
def test_records_shaped_like_posts(doc: dict[str, object]) -> None:
    data = json.dumps(doc).encode("utf-8", errors="surrogatepass")
    outcome(data)


def test_known_hostile_records_each_have_their_reason() -> None:
    valid = post_doc(text="x")  # the one string "x", made invalid UTF-8 below
    cases = {
        b"": "dead:not_json",
        b"\xff\xfe\x00": "dead:not_utf8",
        b'"\xed\xa0\x80"': "dead:not_utf8",  # a lone surrogate, UTF-8 encoded
        b"[" * 100_000 + b"]" * 100_000: "dead:not_json",  # nesting deeper than the decoder takes
        b'{"a": NaN}': "dead:not_json",
        json.dumps(valid).encode().replace(b'"x"', b'"\xff"'): "dead:not_utf8",  # in a string
        json.dumps(valid).encode()[:-1] + b', "deep": ' + b"[" * 5000 + b"]" * 5000 + b"}": (
            "dead:too_deep"  # valid JSON, nested deeper than decoding follows, in a field not read
        ),
        json.dumps({**valid, "text": 12}).encode(): "dead:schema",
        json.dumps({**valid, "links": "x" * 1_000_000}).encode(): "dead:schema",
        json.dumps({**valid, "created_at": "2025-02-30T00:00:00Z"}).encode(): "dead:schema",
        json.dumps({**valid, "text": "sample brigade " * 50_000}).encode(): "alerts:1",
        json.dumps({**valid, "links": ["https://x.example/"] * 45_000}).encode(): "alerts:0",
        json.dumps({**valid, "links": ["https://x.example/"] * 50_000}).encode(): "dead:too_large",
    }
    assert [outcome(data) for data in cases] == list(cases.values())


def test_memory_stays_bounded_over_a_million_records() -> None:
    records = [
        b"not json",
        b"\xc3\x28",
        b'{"schema": "postwatch.post/1"}',
        orjson.dumps(post_doc(text="we are the example front")),
    ]
    for i in range(50_000):  # warm-up: caches and allocator pools reach their size
        outcome(records[i % 4])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for i in range(1_000_000):
        outcome(records[i % 4])
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 20 * 1024, f"peak RSS grew by {grown_kib} KiB over a million records"
