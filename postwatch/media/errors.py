"""Errors of the media package. Each has a short stable `reason` code, for counters and logs."""

from __future__ import annotations

__all__ = [
    "DecodeError",
    "DecodeTimeout",
    "DecoderCrashed",
    "FetchError",
    "MediaError",
    "TooLarge",
    "Unreadable",
]


class MediaError(Exception):
    """Root of every error the media package raises."""

    reason = "media"


class TooLarge(MediaError):
    """The media is over a byte or pixel cap; nothing past the cap was read or decoded."""

    reason = "too_large"


class Unreadable(MediaError):
    """The file could not be read (missing, a folder, no permission)."""

    reason = "unreadable"


class DecodeError(MediaError):
    """The file claims a supported format but does not decode: truncated, corrupt, hostile."""

    reason = "decode"


class DecodeTimeout(MediaError):
    """Decoding and hashing took longer than allowed; the worker doing it was killed."""

    reason = "decode_timeout"


class DecoderCrashed(MediaError):
    """The worker process decoding the media died (a crash in a native decoder)."""

    reason = "decoder_crashed"


class FetchError(MediaError):
    """Downloading media failed; `reason` says how (status, content type, address, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
