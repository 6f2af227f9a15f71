"""Hashing in child processes: a decoder that hangs or crashes on hostile input costs one
child process, never the caller.

    >>> from pathlib import Path
    >>> from postwatch.media import HashOptions, Hasher
    >>> with Hasher(HashOptions(timeout=5)) as hasher:              # doctest: +SKIP
    ...     print(hasher.hash_file(Path("photo.jpg")).pdq)

Each child runs `hash_bytes` / `hash_path` on one job at a time, in at most
`HashOptions.memory_limit` bytes of address space (a job that needs more raises `TooLarge`).
A job that has not answered within `HashOptions.timeout` seconds gets its child killed and
raises `DecodeTimeout`; a child that dies raises `DecoderCrashed`. Either way a fresh child
takes the next job.
"""

from __future__ import annotations

import multiprocessing
import resource
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import TracebackType

from postwatch.media.errors import (
    DecodeError,
    DecoderCrashed,
    DecodeTimeout,
    MediaError,
    TooLarge,
    Unreadable,
)
from postwatch.media.hashing import HashOptions, MediaHashes, hash_bytes, hash_path
from postwatch.media.ocr import check_languages, engine

__all__ = ["Hasher"]

_ERRORS: dict[str, type[MediaError]] = {
    cls.reason: cls for cls in (TooLarge, Unreadable, DecodeError, DecodeTimeout, DecoderCrashed)
}

_Job = tuple[str, bytes | str]
_START_TIMEOUT = 60.0  # a child imports numpy, Pillow and pdqhash before it is ready


def _serve(conn: Connection, options: HashOptions) -> None:
    """The child's loop: hash each job received, answer ("ok", hashes) or ("error", ...)."""
    limit = options.memory_limit
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if options.ocr:
        engine(options.ocr)
    conn.send(("ready",))  # imports done: from now on the parent's clock is the job's
    while True:
        try:
            kind, payload = conn.recv()
        except EOFError:  # the parent closed its end: time to go
            return
        try:
            if kind == "path":
                assert isinstance(payload, str)
                result = hash_path(Path(payload), options)
            else:
                assert isinstance(payload, bytes)
                result = hash_bytes(payload, options)
        except MediaError as exc:
            conn.send(("error", exc.reason, str(exc)))
        except MemoryError:  # what the job held is freed as the error unwinds: go on
            conn.send(("error", TooLarge.reason, f"needs more than {limit} bytes of memory"))
        else:
            conn.send(("ok", result))


class _Child:
    def __init__(self, options: HashOptions) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a threaded event loop
        self.conn, child_conn = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_serve, args=(child_conn, options), daemon=True, name="postwatch-hasher"
        )
        self.process.start()
        child_conn.close()
        try:
            if not self.conn.poll(_START_TIMEOUT) or self.conn.recv() != ("ready",):
                raise DecoderCrashed("the hashing process did not start")
        except (EOFError, OSError) as exc:
            self.kill()
            raise DecoderCrashed("the hashing process did not start") from exc

    def stop(self) -> None:
        self.conn.close()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()


class Hasher:
    """Hashes media in up to `processes` child processes; safe to call from several threads
    (and from asyncio through `asyncio.to_thread`). Raises `OcrUnavailable` when the options
    ask for text in images and Tesseract or its language data is not installed."""

    def __init__(self, options: HashOptions | None = None, *, processes: int = 1) -> None:
        self.options = options or HashOptions()
        if self.options.ocr:
            check_languages(self.options.ocr)
        self._slots = threading.BoundedSemaphore(processes)
        self._idle: list[_Child] = []
        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> Hasher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def hash_bytes(self, data: bytes) -> MediaHashes:
        """`hashing.hash_bytes` in a child, within the time limit; raises `MediaError`."""
        if len(data) > self.options.max_bytes:  # no point shipping it to a child
            raise TooLarge(f"over the cap of {self.options.max_bytes} bytes")
        return self._run(("bytes", data))

    def hash_file(self, path: Path) -> MediaHashes:
        """`hashing.hash_path` in a child, within the time limit; raises `MediaError`."""
        return self._run(("path", str(path)))

    def _run(self, job: _Job) -> MediaHashes:
        with self._slots:
            child = self._take()
            try:
                child.conn.send(job)
                if not child.conn.poll(self.options.timeout):
                    child.kill()
                    raise DecodeTimeout(f"no result within {self.options.timeout:g} s")
                answer = child.conn.recv()
            except (EOFError, OSError) as exc:
                child.kill()
                raise DecoderCrashed(
                    f"the hashing process died (exit code {child.process.exitcode})"
                ) from exc
            self._give_back(child)
        if answer[0] == "ok":
            result: MediaHashes = answer[1]
            return result
        _, reason, message = answer
        raise _ERRORS.get(reason, MediaError)(message)

    def _take(self) -> _Child:
        with self._lock:
            if self._closed:
                raise RuntimeError("the hasher is closed")
            if self._idle:
                return self._idle.pop()
        return _Child(self.options)

    def _give_back(self, child: _Child) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(child)
                return
        child.stop()

    def close(self) -> None:
        """Stop the idle children; jobs still running finish and then stop theirs."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for child in idle:
            child.stop()
