"""Hostile bodies against `postwatch connect webhook` on the real broker.

One server process for the module, on its own topics. Whatever a sender pushes, it gets an
answer with the documented status (202, 400 with each bad line's number and reason, 413 over
the body limit; never 500, never a hang), the good records of a batch reach the posts topic
exactly once and unchanged, the bad ones reach nothing, and the process keeps serving.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postwatch.connectors.mastodon.adapter import status_to_post
from postwatch.connectors.webhook.connector import ERRORS_LISTED
from postwatch.connectors.x.adapter import payload_to_post
from postwatch.kafka.topics import ensure_topics
from postwatch.settings import Settings
from tests.conftest import read_topic, stop_process
from tests.integration.connectors.harness import free_port, start_process
from tests.mutations import mutated
from tests.unit.connectors.test_mastodon import recorded_statuses
from tests.unit.connectors.test_x import recorded_payloads

TOKEN = "hostile-token"  # noqa: S105 - a test credential for a local server
MAX_BYTES = 1024 * 1024
"""The command's default body limit, which the server runs with."""
NDJSON = "application/x-ndjson"
ANSWER_WITHIN_S = 60.0
"""Longest wait for any answer: a request that takes longer counts as a hang."""


@dataclass
class Hook:
    """The running server, and the posts it acknowledged so far (id → text)."""

    settings: Settings
    port: int
    process: Any
    accepted: dict[str, str] = field(default_factory=dict)

    def post(
        self,
        body: bytes,
        content_type: str = "application/json",
        sent: threading.Event | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """The status and answer of a POST of `body`; `sent` is set once the body is sent."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=ANSWER_WITHIN_S)
        try:
            connection.request(
                "POST",
                "/v1/posts",
                body=body,
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type},
            )
            if sent is not None:
                sent.set()
            response = connection.getresponse()
            status, answer = response.status, response.read()
        finally:
            connection.close()
        assert response.getheader("Content-Type", "").startswith("application/json"), answer[:200]
        return status, orjson.loads(answer)

    def assert_topic_holds_exactly_the_accepted(self) -> None:
        """Every acknowledged post is on the posts topic once, with its text; nothing else is."""
        records = asyncio.run(
            read_topic(
                self.settings,
                self.settings.topic("posts"),
                count=len(self.accepted),
                wait=30,
                settle=1,
            )
        )
        got = [orjson.loads(r.value) for r in records]
        ids = [p["id"] for p in got]
        assert len(ids) == len(set(ids)), "a post arrived twice"
        assert set(ids) == set(self.accepted)
        assert {p["id"]: p["text"] for p in got} == self.accepted

    def assert_serving(self) -> None:
        assert self.process.poll() is None, "the server process ended"
        good = fresh_post()
        assert self.post(orjson.dumps(good)) == (202, {"accepted": 1, "rejected": 0})
        self.accepted[good["id"]] = good["text"]


@pytest.fixture(scope="module")
def hook(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hook]:
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    config = replace(Settings.from_env({}), kafka_bootstrap=broker, topic_prefix=prefix)
    asyncio.run(ensure_topics(config))
    port = free_port()
    log = tmp_path_factory.mktemp("webhook") / "webhook.log"
    args = ["--listen", f"127.0.0.1:{port}", "--token", TOKEN]
    process = start_process(config, log, "webhook", *args)
    server = Hook(config, port, process)
    try:
        deadline = time.monotonic() + 30
        while True:  # until it listens
            try:
                assert server.post(b"", NDJSON) == (202, {"accepted": 0, "rejected": 0})
                break
            except ConnectionError:
                assert time.monotonic() < deadline, Path(log).read_text()[-2000:]
                time.sleep(0.1)
        yield server
    finally:
        stop_process(process)


def fresh_post(**fields: Any) -> dict[str, Any]:
    """A valid Post v1 with an id never used before; `text` first, so that a spoiler can
    find the text's value at a known place."""
    return {
        "text": "pushed post",
        "schema": "postwatch.post/1",
        "id": f"hook:{uuid.uuid4().hex}",
        "source": "hook",
        "author": {"id": "hook:someone"},
        "created_at": "2025-07-25T10:00:00Z",
        **fields,
    }


# -- what a batch is made of -------------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)  # wider ones are no JSON orjson writes
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
"""JSON values as a platform may send in fields Post v1 does not know (kept and ignored)."""

texts = st.one_of(
    st.text(max_size=200),
    # huge strings: a drawn piece repeated, up to a few hundred kilobytes
    st.builds(
        lambda piece, times: piece * times,
        st.text(min_size=1, max_size=8),
        st.integers(1000, 20_000),
    ),
    st.sampled_from(["\x00\x01\x1f", "\u202e\u200b\ufeff", "😀" * 1000, "line\nbreak\r\n"]),
)


@dataclass(frozen=True)
class Line:
    """One record of a batch: a fresh Post v1 with `fields`, then `spoil` applied to its
    bytes; `reason` is the refusal expected (None: accepted)."""

    kind: str
    fields: dict[str, Any]
    reason: str | None
    spoil: tuple[str, bytes] = ("", b"")
    """(how, what): "insert" `what` at the start of the text's value, "prefix" the object's
    members with it, "cut" the record to its first int(`what`) bytes, "replace" it whole."""

    def render(self) -> tuple[str, bytes]:
        post = fresh_post(**self.fields)
        data = orjson.dumps(post)
        how, what = self.spoil
        if how == "insert":
            start = len(b'{"text":"')
            data = data[:start] + what + data[start:]
        elif how == "prefix":
            data = b"{" + what + b"," + data[1:]
        elif how == "cut":
            data = data[: int(what)]
        elif how == "replace":
            data = what
        return post["id"], data


good = st.one_of(
    st.builds(lambda t: Line("good", {"text": t}, None), texts),
    st.builds(
        lambda extra: Line("unknown fields", {"extra": extra}, None),
        json_values,
    ),
    st.builds(
        lambda n: Line("huge array", {"links": [f"https://x.example/{i}" for i in range(n)]}, None),
        st.integers(1000, 10_000),
    ),
    st.builds(
        lambda depth: Line("nested as deep as can be produced", {"extra": _nested(depth)}, None),
        st.integers(100, 253),  # the post itself is the outermost level
    ),
)

invalid_utf8 = st.sampled_from(
    [
        b"\xff",
        b"\xc0\xaf",
        b"\xed\xa0\x80",
        b"\xe2\x82",
        b"\x80",
        b"\xf8\x88\x80\x80\x80",
        b"\xfe\xfe",
    ]
)
lone_surrogates = st.sampled_from(
    [b"\\ud800", b"\\udfff", b"\\ud83d and no low half", b"\\udc00\\ud800"]
)
not_numbers = st.sampled_from(
    [b"NaN", b"Infinity", b"-Infinity", b"nan", b"inf", b"1e999", b"-1e400"]
)
wrong_fields = st.sampled_from(
    [
        {"id": 7},
        {"id": None},
        {"id": "no-colon"},
        {"source": ["hook"]},
        {"author": "hook:someone"},
        {"author": {"id": 12}},
        {"author": {}},
        {"created_at": 1753437600},
        {"created_at": "yesterday"},
        {"created_at": "2025-13-45T10:00:00Z"},
        {"text": None},
        {"text": ["a", "b"]},
        {"text": {"nested": "x"}},
        {"links": "https://x.example/"},
        {"links": [1, 2]},
        {"media": [{"pdq_quality": 101}]},
        {"media": [{"sha256": "not hex"}]},
        {"schema": "postwatch.post/2"},
        {"text": _nested(200)},
    ]
)

bad = st.one_of(
    st.builds(lambda b: Line("invalid UTF-8", {}, "not_json", ("insert", b)), invalid_utf8),
    st.builds(lambda b: Line("lone surrogate", {}, "not_json", ("insert", b)), lone_surrogates),
    st.builds(
        lambda b: Line("NaN or Infinity", {}, "not_json", ("prefix", b'"score":' + b)), not_numbers
    ),
    st.builds(
        lambda d: Line(
            "nested past what parses", {}, "not_json", ("prefix", b'"x":' + b"[" * d + b"]" * d)
        ),
        st.integers(1024, 200_000),
    ),
    st.builds(
        lambda d: Line(
            "nested past what can be produced",
            {},
            "too_deep",
            ("prefix", b'"x":' + b"[" * d + b"]" * d),
        ),
        st.integers(254, 1023),
    ),
    st.builds(
        lambda cut: Line("truncated", {}, "not_json", ("cut", str(cut).encode())),
        st.integers(1, 120),
    ),
    st.builds(
        lambda junk: Line("not JSON at all", {}, "not_json", ("replace", b"<" + junk)),
        st.binary(max_size=60).filter(lambda b: b"\n" not in b),
    ),
    st.builds(lambda f: Line("wrong types", f, "schema"), wrong_fields),
    st.builds(
        lambda value: Line("not an object", {}, "schema", ("replace", orjson.dumps(value))),
        st.one_of(
            st.lists(json_values, max_size=3), json_values.filter(lambda v: not isinstance(v, dict))
        ),
    ),
)


def check_batch(server: Hook, lines: list[Line], content_type: str) -> None:
    """Send `lines` as one body; check the answer against what each line should get."""
    rendered = [line.render() for line in lines]
    body = b"\n".join(data for _, data in rendered) + b"\n"
    status, answer = server.post(body, content_type)
    if len(body) > MAX_BYTES:
        assert (status, answer) == (413, {"error": f"body over {MAX_BYTES} bytes"})
        return
    expected = [(n, line.reason) for n, line in enumerate(lines, 1) if line.reason is not None]
    accepted = {
        post_id: line.fields.get("text", "pushed post")
        for line, (post_id, _) in zip(lines, rendered, strict=True)
        if line.reason is None
    }
    assert status == (400 if expected else 202), answer
    assert answer["accepted"] == len(accepted)
    assert answer["rejected"] == len(expected)
    assert [(e["line"], e["reason"]) for e in answer.get("errors", [])] == expected
    assert all(isinstance(e["error"], str) and e["error"] for e in answer.get("errors", []))
    server.accepted.update(accepted)


# -- the tests ---------------------------------------------------------------------------


def test_batches_mixing_good_and_hostile_records(hook: Hook) -> None:
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.one_of(good, bad), min_size=1, max_size=12))
    def batch(lines: list[Line]) -> None:
        check_batch(hook, lines, NDJSON)

    batch()
    hook.assert_serving()
    hook.assert_topic_holds_exactly_the_accepted()


def test_single_hostile_documents(hook: Hook) -> None:
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(good, bad))
    def document(line: Line) -> None:
        check_batch(hook, [line], "application/json")

    document()
    hook.assert_serving()
    hook.assert_topic_holds_exactly_the_accepted()


def recorded_posts() -> list[dict[str, Any]]:
    """Post v1 records as the connectors make them from the recorded Mastodon statuses and
    X payloads: what a platform pushing posts sends."""
    mastodon = [status_to_post(s, "mastodon.social") for s in recorded_statuses()]
    x = [payload_to_post(p) for p in recorded_payloads()]
    return [*mastodon, *x]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(recorded_posts()).flatmap(mutated))
def test_any_mutation_of_a_recorded_post_is_accepted_or_refused_with_its_reason(
    hook: Hook, doc: Any
) -> None:
    if isinstance(doc, dict) and isinstance(doc.get("id"), str):
        doc["id"] = f"hook:{uuid.uuid4().hex}"  # each example a post of its own
    try:
        body = orjson.dumps(doc)
    except orjson.JSONEncodeError:  # nested deeper than JSON can be written
        return
    status, answer = hook.post(body)
    if status == 202:
        assert answer == {"accepted": 1, "rejected": 0}
        hook.accepted[doc["id"]] = doc["text"]
    else:
        assert status == 400, answer
        [error] = answer["errors"]
        assert error["reason"] in {"schema", "too_deep", "too_large"}, answer


def test_empty_bodies(hook: Hook) -> None:
    empty = [{"line": 1, "reason": "not_json"}]
    for body in (b"", b"  \r\n\t "):
        status, answer = hook.post(body)
        assert status == 400
        assert [{"line": e["line"], "reason": e["reason"]} for e in answer["errors"]] == empty
    # an NDJSON body of blank lines is an empty batch
    assert hook.post(b"\n\n \r\n", NDJSON) == (202, {"accepted": 0, "rejected": 0})
    hook.assert_serving()


def test_a_post_too_large_for_one_record_is_refused_with_its_reason(hook: Hook) -> None:
    envelope = len(orjson.dumps(fresh_post(text="")))
    largest = fresh_post(text="x" * (MAX_BYTES - envelope))  # the body limit exactly
    status, answer = hook.post(orjson.dumps(largest))
    assert status == 400
    assert answer["accepted"] == 0
    assert [(e["line"], e["reason"]) for e in answer["errors"]] == [(1, "too_large")]
    large = fresh_post(text="y" * 1_000_000)
    assert hook.post(orjson.dumps(large)) == (202, {"accepted": 1, "rejected": 0})
    hook.accepted[large["id"]] = large["text"]
    hook.assert_serving()
    hook.assert_topic_holds_exactly_the_accepted()


def test_a_body_of_bad_lines_keeps_no_other_sender_waiting(hook: Hook) -> None:
    # as many as a body of the default limit holds: read in a second or more, many times the
    # round trip of a small body. The order of the answers tells: the server's own metrics
    # cannot, their thread gets no turn while the flood is read.
    lines = 500_000
    answers: list[tuple[int, dict[str, Any]]] = []
    sent = threading.Event()
    flood = threading.Thread(
        target=lambda: answers.append(hook.post(b"1\n" * lines, NDJSON, sent=sent))
    )
    flood.start()
    try:
        assert sent.wait(ANSWER_WITHIN_S), "the flood was never sent"
        time.sleep(0.1)  # the server has it: reading a body of 1 MB here takes milliseconds
        quick = hook.post(b"2\n", NDJSON)
        assert not answers, "the other sender was answered only after the whole flood"
        assert (quick[0], quick[1]["rejected"]) == (400, 1)
    finally:
        flood.join(ANSWER_WITHIN_S)
    hook.assert_serving()
    [(status, answer)] = answers
    assert status == 400
    assert (answer["accepted"], answer["rejected"]) == (0, lines)
    assert {e["reason"] for e in answer["errors"]} == {"schema"}
    assert [e["line"] for e in answer["errors"]] == list(range(1, ERRORS_LISTED + 1))
    assert answer["errors_not_listed"] == lines - ERRORS_LISTED
