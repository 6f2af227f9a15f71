"""What a connector takes on the command line: each connector class declares its `options`
and builds itself from what was given for them (`from_options`); `postwatch connect NAME`
offers them, after which come the options every connector takes (instance name, media,
metrics).

An `Option` says what a value is, not how a command line is parsed, so that connectors stay
free of the command-line library. For example, the options of a connector that polls one
URL:

    >>> from typing import ClassVar
    >>> class Poller:
    ...     source: ClassVar[str] = "poll"
    ...     summary: ClassVar[str] = "Poll one URL until stopped."
    ...     options: ClassVar[tuple[Option, ...]] = (
    ...         Option("--url", "The URL to poll.", required=True),
    ...         Option("--interval", "Seconds between polls.", kind=float, minimum=1, default=60.0),
    ...     )
    ...     def __init__(self, url: str, interval: float, instance: str) -> None:
    ...         self.url, self.interval, self.instance = url, interval, instance
    ...     @classmethod
    ...     def from_options(cls, given):
    ...         if not given["url"].startswith("https://"):
    ...             raise BadOption("--url", "an https:// URL")
    ...         return cls(given["url"], given["interval"], given.instance or "poll")
    >>> given = Given({"url": "https://example.org/", "interval": 60.0}, None, print)
    >>> Poller.from_options(given).instance
    'poll'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self

__all__ = ["BadOption", "FromOptions", "Given", "Option"]


@dataclass(frozen=True, slots=True)
class Option:
    """One option of a connector. `flag` (`--rewind`) names it, and without its dashes and
    with `_` for `-`, the `key` of its value (`rewind`).

    `kind` is the type of the value (`Path`: a file that exists); `minimum` and `maximum`
    bound a number; a `required` option must be given; a `multiple` one may be given again
    and again (its value is a tuple, empty when it is not given); `envvar` names the
    environment variable that gives the value when the command line does not. A `secret`
    (a token, a key) has an `envvar`, and its help says to prefer it: a command line shows
    in the process list.
    """

    flag: str
    help: str
    kind: type[str | int | float | Path] = str
    default: str | int | float | None = None
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False
    multiple: bool = False
    envvar: str | None = None
    secret: bool = False

    def __post_init__(self) -> None:
        if not self.flag.startswith("--"):
            raise ValueError(f"an option's flag starts with --: {self.flag!r}")
        if self.secret and self.envvar is None:
            raise ValueError(f"{self.flag} is a secret: it is read from the environment too")

    @property
    def key(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


class BadOption(ValueError):
    """A value a connector cannot take; `flag` names the option it was given to."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(message)
        self.flag = flag


@dataclass(frozen=True, slots=True)
class Given:
    """What `postwatch connect NAME` was given: a value for the `key` of each option
    (`given["rewind"]`), the `instance` name (None: the connector names it), and `warn`,
    which tells the operator of a risky choice."""

    values: Mapping[str, Any]
    instance: str | None
    warn: Callable[[str], None]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


class FromOptions(Protocol):
    """A connector class that `postwatch connect` builds from options."""

    summary: ClassVar[str]
    """What the connector does, as `postwatch connect --help` lists it."""
    options: ClassVar[tuple[Option, ...]]

    @classmethod
    def from_options(cls, given: Given) -> Self:
        """The connector that `given` describes. Raises `BadOption` for a value it cannot
        take."""
        ...
