"""Who may push posts: a bearer token and/or an HMAC-SHA256 signature over the timestamp
and the body.

The signature header is `X-Postwatch-Signature: sha256=<hex>` with the digest of
`<timestamp>.<body>` under the shared secret, and `X-Postwatch-Timestamp` holds the Unix
time in seconds; a timestamp further than `tolerance` from now is refused, so a captured
request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import Enum

__all__ = ["SIGNATURE", "TIMESTAMP", "Auth", "Verdict", "sign"]

SIGNATURE = "X-Postwatch-Signature"
TIMESTAMP = "X-Postwatch-Timestamp"


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
    tolerance: float = 300.0
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
        given = token.strip().encode("utf-8")
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
        try:
            sent = float(timestamp)
        except ValueError:
            return Verdict.INVALID
        if abs(now - sent) > self.tolerance:
            return Verdict.INVALID
        expected = sign(self.secret, timestamp, body)
        return Verdict.OK if hmac.compare_digest(expected, signature.strip()) else Verdict.INVALID
