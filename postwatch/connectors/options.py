"""What a connector takes on the command line.

A connector class names, as its `options`, a frozen dataclass whose docstring says what the
connector does (its first paragraph is the help of `postwatch connect NAME`; every connector
runs until stopped) and which has a field for each option. The field's name gives the flag
(`image_cdn`: `--image-cdn`); its type what the value is (`str`, `int`, `float`, or `Path`:
a file that exists; `X | None`: may be left out; `tuple[X, ...]`: may be given again and
again, empty when it is not given); its default the default (without one, the option must be
given); and `option()` its help and bounds. `postwatch connect NAME` offers them, after
which come the options every connector takes (instance name, media, metrics), and builds the
connector with `from_options` from what it was given: typed values, which say what they are,
not how a command line is parsed, so that connectors stay free of the command-line library.
A connector that polls one URL:

    >>> from typing import ClassVar
    >>> @dataclass(frozen=True, kw_only=True)
    ... class PollOptions:
    ...     "Poll one URL."
    ...     url: str = option("The URL to poll.")
    ...     interval: float = option("Seconds between polls.", default=60.0, minimum=1)
    >>> class Poller:
    ...     source: ClassVar[str] = "poll"
    ...     options: ClassVar[type[PollOptions]] = PollOptions
    ...
    ...     def __init__(self, url: str, interval: float, instance: str) -> None:
    ...         self.url, self.interval, self.instance = url, interval, instance
    ...
    ...     @classmethod
    ...     def from_options(cls, given: Given[PollOptions]) -> Poller:
    ...         if not given.options.url.startswith("https://"):
    ...             raise BadOption("--url", "an https:// URL")
    ...         return cls(given.options.url, given.options.interval, given.instance or "poll")
    >>> summary_of(PollOptions)
    'Poll one URL.'
    >>> [(o.flag, o.kind.__name__, o.required) for o in offered(PollOptions)]
    [('--url', 'str', True), ('--interval', 'float', False)]
    >>> options = PollOptions(url="https://example.org/")
    >>> Poller.from_options(Given(options, None, print)).instance
    'poll'
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import (
    Any,
    ClassVar,
    Generic,
    Protocol,
    Self,
    TypeVar,
    get_args,
    get_origin,
    get_type_hints,
)

__all__ = [
    "BadOption",
    "FromOptions",
    "Given",
    "Offered",
    "Option",
    "offered",
    "option",
    "summary_of",
]

OptionsT = TypeVar("OptionsT")

_KINDS = (str, int, float, Path)


@dataclass(frozen=True, slots=True)
class Option:
    """What the type of an option's field does not say: its `help`; `minimum` and `maximum`,
    which bound a number; `envvar`, the environment variable that gives the value when the
    command line does not. A `secret` (a token, a key) has an `envvar`, and its help says to
    prefer it: a command line shows in the process list."""

    help: str
    minimum: float | None = None
    maximum: float | None = None
    envvar: str | None = None
    secret: bool = False

    def __post_init__(self) -> None:
        if self.secret and self.envvar is None:
            raise ValueError("a secret option is read from the environment too: name its envvar")


def option(
    help_text: str,
    *,
    default: object = dataclasses.MISSING,
    minimum: float | None = None,
    maximum: float | None = None,
    envvar: str | None = None,
    secret: bool = False,
) -> Any:
    """A field of a connector's options (without `default`, the option must be given)."""
    about = {"option": Option(help_text, minimum, maximum, envvar, secret)}
    return dataclasses.field(default=default, metadata=about)


@dataclass(frozen=True, slots=True)
class Offered:
    """One option as `postwatch connect` offers it, read off a field of the options: `flag`
    (`--image-cdn`) and `key` (`image_cdn`) name it; `kind` is the type of one value."""

    flag: str
    key: str
    kind: type[str | int | float | Path]
    default: str | int | float | None
    required: bool
    multiple: bool
    about: Option


def offered(options: type[Any]) -> list[Offered]:
    """The options of a connector, in the order of their fields. Raises `TypeError` for a
    field that is not an option (no `option()`, or a type the command line cannot give)."""
    hints = get_type_hints(options)
    found = []
    for field in dataclasses.fields(options):
        about = field.metadata.get("option")
        if not isinstance(about, Option):
            raise TypeError(f"{options.__name__}.{field.name} is not made by option()")
        kind, multiple = _kind(hints[field.name], f"{options.__name__}.{field.name}")
        default = None if field.default is dataclasses.MISSING else field.default
        found.append(
            Offered(
                flag="--" + field.name.replace("_", "-"),
                key=field.name,
                kind=kind,
                default=None if multiple else default,
                required=field.default is dataclasses.MISSING,
                multiple=multiple,
                about=about,
            )
        )
    return found


def summary_of(options: type[Any]) -> str:
    """What the connector does: the first paragraph of its options' docstring. Raises
    `TypeError` where there is none (dataclass writes the signature in its place)."""
    doc = options.__doc__ or ""
    if not doc.strip() or doc.startswith(f"{options.__name__}("):
        raise TypeError(f"{options.__name__} has no docstring to say what the connector does")
    return " ".join(doc.split("\n\n", 1)[0].split())


def _kind(hint: Any, name: str) -> tuple[type[str | int | float | Path], bool]:
    """The type of one value of an option typed `hint`, and whether it may be given again."""
    if get_origin(hint) is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis and args[0] in _KINDS:
            return args[0], True
    elif get_origin(hint) is types.UnionType:
        kinds = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(kinds) == 1 and kinds[0] in _KINDS:
            return kinds[0], False
    elif hint in _KINDS:
        return hint, False
    raise TypeError(f"{name}: an option is str, int, float or Path, a tuple or optional of one")


class BadOption(ValueError):
    """A value a connector cannot take; `flag` names the option it was given to."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(message)
        self.flag = flag


@dataclass(frozen=True, slots=True)
class Given(Generic[OptionsT]):
    """What `postwatch connect NAME` was given: the connector's `options`, the `instance`
    name (None: the connector names it), and `warn`, which tells the operator of a risky
    choice."""

    options: OptionsT
    instance: str | None
    warn: Callable[[str], None]


class FromOptions(Protocol):
    """A connector class that `postwatch connect` builds from options."""

    options: ClassVar[type[Any]]
    """The dataclass of its options (see the module's description)."""

    @classmethod
    def from_options(cls, given: Given[Any]) -> Self:
        """The connector that `given` describes. Raises `BadOption` for a value it cannot
        take."""
        ...
