"""Compiled matchers kept on disk between runs, so that a pack compiled once starts at once.

An entry is found by a key made of what it was compiled from (the terms and regexes) and
of what compiled it (`engine_id`: the files of this package, hyperscan's version and the
CPU features its databases target, Python's version, which fixes the Unicode data). An
entry is never trusted blindly: it is written as a magic line, the SHA-256 of its key and
payload, and the payload, and read back only when all three agree. A truncated, corrupted
or foreign entry (another key that came to the same file name, or a file of something
else) is reported as rejected and the caller compiles again and writes it anew.

Entries are written to a temporary file and renamed into place, so that processes sharing
the folder (workers on one volume, `rules publish` ahead of them) read whole entries only.
The folder must be writable by postwatch's user alone: what is in it is loaded into the
matching engine (checked for corruption, not for malice).
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import hyperscan

__all__ = ["CompileCache", "compile_cache", "engine_id"]

_MAGIC = b"postwatch-compiled/1\n"
_DIGEST = hashlib.sha256().digest_size


@dataclass
class CompileCache:
    """The entries under `folder` (made when first written to); `hits`, `misses` and
    `rejected` count what reading found."""

    folder: Path
    hits: int = field(default=0, init=False)
    misses: int = field(default=0, init=False)
    rejected: int = field(default=0, init=False)

    def load(self, kind: str, key: bytes, use: Callable[[bytes], bool]) -> bool:
        """Whether an entry for `key` was found, passed its check, and `use` (given its
        payload) could take it; an entry it could not take counts as rejected."""
        try:
            data = self._path(kind, key).read_bytes()
        except OSError:
            self.misses += 1
            return False
        head = len(_MAGIC) + _DIGEST
        payload = data[head:]
        if (
            data[: len(_MAGIC)] != _MAGIC
            or data[len(_MAGIC) : head] != _digest(key, payload)
            or not use(payload)
        ):
            self.rejected += 1
            return False
        self.hits += 1
        return True

    def put(self, kind: str, key: bytes, payload: bytes) -> None:
        """Store the payload for `key`; a folder that cannot be written leaves it unstored
        (the next start compiles again), never fails the caller."""
        path = self._path(kind, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".", delete=False) as f:
                f.write(_MAGIC + _digest(key, payload) + payload)
            os.replace(f.name, path)
        except OSError:
            return

    def _path(self, kind: str, key: bytes) -> Path:
        return self.folder / f"{kind}-{hashlib.sha256(key).hexdigest()[:40]}.bin"


def compile_cache(folder: str) -> CompileCache | None:
    """The cache in `folder` (the `cache_dir` setting); None for an empty one: no cache."""
    return CompileCache(Path(folder)) if folder else None


def _digest(key: bytes, payload: bytes) -> bytes:
    digest = hashlib.sha256(len(key).to_bytes(8, "big") + key)
    digest.update(payload)
    return digest.digest()


@cache
def engine_id() -> bytes:
    """What compiled an entry: this package's files (code and data), hyperscan's version and
    target (a database names the CPU features it was built for), and Python's version."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in sorted(here.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(here)).encode() + b"\0" + path.read_bytes())
    probe = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    probe.compile(expressions=[b"a"])
    digest.update(f"{probe.info()}\0{sys.version}\0{platform.machine()}\0{_cpu_flags()}".encode())
    return digest.digest()


def _cpu_flags() -> str:
    """The CPU's feature flags (Linux), which hyperscan's builds may target beyond what a
    database's `info` names."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return ""
