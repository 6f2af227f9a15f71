"""Who may push: bearer tokens and HMAC signatures, decided without I/O."""

from __future__ import annotations

import hashlib
import hmac

from postwatch.connectors.webhook.auth import Auth, Verdict, sign

BODY = b'{"id": "x:1"}'
NOW = 1_750_000_000.0


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"k", b"1750000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(b"k", "1750000000", BODY) == f"sha256={expected}"


def test_tokens_missing_wrong_and_right() -> None:
    auth = Auth(tokens=("one", "two"))
    assert auth.check_token(None) is Verdict.MISSING
    assert auth.check_token("Basic b25lOg==") is Verdict.MISSING
    assert auth.check_token("Bearer   ") is Verdict.MISSING
    assert auth.check_token("Bearer three") is Verdict.INVALID
    assert auth.check_token("Bearer on") is Verdict.INVALID
    assert auth.check_token("Bearer two") is Verdict.OK
    assert auth.check_token("bearer one") is Verdict.OK
    assert Auth().check_token(None) is Verdict.OK


def test_signatures_missing_wrong_stale_and_right() -> None:
    auth = Auth(secret=b"k", tolerance=300)
    good = sign(b"k", "1750000000", BODY)
    assert auth.check_signature(None, good, BODY, NOW) is Verdict.MISSING
    assert auth.check_signature("1750000000", None, BODY, NOW) is Verdict.MISSING
    assert auth.check_signature("1750000000", good, BODY + b" ", NOW) is Verdict.INVALID
    assert auth.check_signature("1750000001", good, BODY, NOW) is Verdict.INVALID
    assert auth.check_signature("soon", good, BODY, NOW) is Verdict.INVALID
    assert auth.check_signature("1750000000", good, BODY, NOW + 301) is Verdict.INVALID
    assert auth.check_signature("1750000000", good, BODY, NOW - 301) is Verdict.INVALID
    assert auth.check_signature("1750000000", good, BODY, NOW + 300) is Verdict.OK
    assert Auth().check_signature(None, None, BODY, NOW) is Verdict.OK


def test_an_open_endpoint_is_known_as_such() -> None:
    assert Auth().open
    assert not Auth(tokens=("t",)).open
    assert not Auth(secret=b"k").open
    assert "k" not in repr(Auth(tokens=("secret-token",), secret=b"k"))


def test_only_whole_seconds_are_a_timestamp() -> None:
    """`float` reads "nan", and a NaN is never further than the tolerance from now: a
    request signed at "nan" would be fresh for ever."""
    auth = Auth(secret=b"k", tolerance=300)
    for stamp in ("nan", "NaN", "inf", "-inf", "1750000000.0", "1.75e9", "+1750000000",
                  " 1750000000", "１７５００００００００", "1" * 5000):  # fmt: skip
        digest = hmac.new(b"k", stamp.encode() + b"." + BODY, hashlib.sha256).hexdigest()
        assert auth.check_signature(stamp, f"sha256={digest}", BODY, NOW) is Verdict.INVALID


def test_credentials_that_are_not_ascii_or_not_utf8_are_wrong_not_an_error() -> None:
    # aiohttp reads header bytes that are not UTF-8 as lone surrogates
    tokens = Auth(tokens=("one",))
    assert tokens.check_token("Bearer \udcff\udcfe") is Verdict.INVALID
    assert tokens.check_token("Bearer é") is Verdict.INVALID
    assert Auth(tokens=("é",)).check_token("Bearer é") is Verdict.OK
    signed = Auth(secret=b"k", tolerance=300)
    for signature in ("sha256=\udcff", "sha256=é", "\udcff"):
        assert signed.check_signature("1750000000", signature, BODY, NOW) is Verdict.INVALID
