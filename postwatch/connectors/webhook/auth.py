"""Who may push posts: a bearer token and/or an HMAC-SHA256 signature over the timestamp
and the body.

The signature header is `X-Postwatch-Signature: sha256=<hex>` with the digest of
`<timestamp>.<body>` under the shared secret, and `X-Postwatch-Timestamp` holds the Unix
time in whole seconds (ASCII digits only); a timestamp further than `tolerance` from now is
refused, so a captured request cannot be replayed later.

Credentials arrive as header values that aiohttp decodes from UTF-8, bytes that are not
UTF-8 as lone surrogates: any of them is judged (malformed means wrong), never an error.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import Enum

__all__ = ["SIGNATURE", "TIMESTAMP", "TOLERANCE", "Auth", "Verdict", "sign"]

TOLERANCE = 300.0
"""Seconds a signed timestamp may be away from now, unless told otherwise."""

SIGNATURE = "X-Postwatch-Signature"
TIMESTAMP = "X-Postwatch-Timestamp"

_DIGITS = 12
"""Most digits a timestamp has (Unix seconds reach 12 digits in the year 33658)."""


class Verdict(Enum):
    OK = "ok"
    MISSING = "missing"
    """No credentials where some are required: 401."""
    INVALID = "invalid"
    """Credentials that are wrong or stale: 403."""


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The value of the signature header for `body` sent at `timestamp`."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Auth:
    """What a request must carry: every configured credential (both when both are set)."""

    tokens: tuple[str, ...] = field(default=(), repr=False)
    """Accepted bearer tokens (several, so that a token can be rotated without downtime)."""
    secret: bytes | None = field(default=None, repr=False)
    tolerance: float = TOLERANCE
    """Seconds a signed timestamp may be away from now."""

    @property
    def open(self) -> bool:
        return not self.tokens and self.secret is None

    def check_token(self, authorization: str | None) -> Verdict:
        if not self.tokens:
            return Verdict.OK
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Verdict.MISSING
        given = token.strip().encode("utf-8", "surrogateescape")  # the bytes as sent
        matched = False
        for accepted in self.tokens:  # no early exit: the time taken tells nothing
            matched |= hmac.compare_digest(given, accepted.encode("utf-8"))
        return Verdict.OK if matched else Verdict.INVALID

    def check_signature(
        self, timestamp: str | None, signature: str | None, body: bytes, now: float
    ) -> Verdict:
        if self.secret is None:
            return Verdict.OK
        if not timestamp or not signature:
            return Verdict.MISSING
        # whole seconds only: a float() would take "nan", which is never too old
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _DIGITS):
            return Verdict.INVALID
        if abs(now - int(timestamp)) > self.tolerance:
            return Verdict.INVALID
        expected = sign(self.secret, timestamp, body).encode("ascii")
        given = signature.strip().encode("utf-8", "surrogateescape")
        return Verdict.OK if hmac.compare_digest(expected, given) else Verdict.INVALID
