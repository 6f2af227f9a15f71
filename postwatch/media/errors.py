"""Errors of the media package. Each has a short stable `reason` code, for counters and logs."""

from __future__ import annotations

__all__ = [
    "DecodeError",
    "DecodeTimeout",
    "DecoderCrashed",
    "FetchError",
    "MediaError",
    "OcrUnavailable",
    "TooLarge",
    "Unreadable",
]


class MediaError(Exception):
    """Root of every error the media package raises; a subclass names its reason
    (`class TooLarge(MediaError, reason="too_large")`)."""

    reason = "media"

    def __init_subclass__(cls, reason: str = "", **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if reason:
            cls.reason = reason


class TooLarge(MediaError, reason="too_large"):
    """The media is over a byte or pixel cap; nothing past the cap was read or decoded."""


class Unreadable(MediaError, reason="unreadable"):
    """The file could not be read (missing, a folder, no permission)."""


class DecodeError(MediaError, reason="decode"):
    """The file claims a supported format but does not decode: truncated, corrupt, hostile."""


class DecodeTimeout(MediaError, reason="decode_timeout"):
    """Decoding and hashing took longer than allowed; the worker doing it was killed."""


class DecoderCrashed(MediaError, reason="decoder_crashed"):
    """The worker process decoding the media died (a crash in a native decoder)."""


class OcrUnavailable(MediaError, reason="ocr_unavailable"):
    """Text in images was asked for, and Tesseract or the data of a language is not installed."""


class FetchError(MediaError):
    """Downloading media failed; `reason` says how (status, content type, address, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
