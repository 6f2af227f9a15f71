"""Media: hashing files (SHA-256, MD5, PDQ with quality, vPDQ) and fetching a post's media
to fill its hashes. Decoding is hostile-input work, done in child processes with caps and
time limits (`Hasher`); `MediaFetcher` is what connectors call.

    >>> from postwatch.media import Hasher, HashOptions
    >>> with Hasher(HashOptions(dihedral=True)) as hasher:           # doctest: +SKIP
    ...     print(hasher.hash_file(Path("photo.jpg")).encode())
"""

from postwatch.media.errors import (
    DecodeError,
    DecoderCrashed,
    DecodeTimeout,
    FetchError,
    MediaError,
    OcrUnavailable,
    TooLarge,
    Unreadable,
)
from postwatch.media.hashing import (
    DIHEDRAL,
    VPDQ_AVAILABLE,
    HashOptions,
    MediaHashes,
    VpdqFrame,
    hash_bytes,
    hash_path,
    sniff,
)
from postwatch.media.worker import Hasher

__all__ = [
    "DIHEDRAL",
    "VPDQ_AVAILABLE",
    "DecodeError",
    "DecodeTimeout",
    "DecoderCrashed",
    "FetchError",
    "HashOptions",
    "Hasher",
    "MediaError",
    "MediaHashes",
    "OcrUnavailable",
    "TooLarge",
    "Unreadable",
    "VpdqFrame",
    "hash_bytes",
    "hash_path",
    "sniff",
]
