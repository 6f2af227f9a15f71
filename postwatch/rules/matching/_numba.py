"""How the compiled loops are declared: `inline` ones, compiled into each kernel that calls
them, and `kernel`s, which Python calls (compiled on first call, kept in numba's cache on
disk, releasing the GIL while they run). Imported by the kernel modules only: importing
numba takes most of a second."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

__all__ = ["inline", "kernel"]

F = TypeVar("F", bound=Callable[..., Any])


def inline(function: F) -> F:
    """A loop that kernels call, compiled into each of them."""
    return cast(F, numba.njit(inline="always")(function))


def kernel(function: F) -> F:
    """A loop that Python calls."""
    return cast(F, numba.njit(cache=True, nogil=True)(function))
