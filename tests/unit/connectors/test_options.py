"""A connector's options, read off its dataclass: flags, kinds, defaults, and the errors
for what the command line cannot offer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from postwatch.connectors.options import offered, option, summary_of


@dataclass(frozen=True, kw_only=True)
class Sample:
    """Sample things.

    More about them, which the command's help leaves out."""

    base_url: str = option("Where.")
    tags: tuple[str, ...] = option("Repeatable.", default=())
    rules: Path | None = option("A file.", default=None)
    rate: float = option("How often.", default=2.5, minimum=0.5)
    token: str | None = option("A key.", default=None, envvar="SAMPLE_TOKEN", secret=True)


def test_each_field_gives_an_option_with_its_flag_kind_and_default() -> None:
    got = {o.flag: (o.key, o.kind, o.default, o.required, o.multiple) for o in offered(Sample)}
    assert got == {
        "--base-url": ("base_url", str, None, True, False),
        "--tags": ("tags", str, None, False, True),
        "--rules": ("rules", Path, None, False, False),
        "--rate": ("rate", float, 2.5, False, False),
        "--token": ("token", str, None, False, False),
    }
    token = next(o for o in offered(Sample) if o.key == "token")
    assert (token.about.envvar, token.about.secret) == ("SAMPLE_TOKEN", True)


def test_the_summary_is_the_first_paragraph_of_the_docstring() -> None:
    assert summary_of(Sample) == "Sample things."


def test_options_without_a_docstring_are_refused() -> None:
    @dataclass(frozen=True)
    class Bare:
        url: str = option("Where.")

    with pytest.raises(TypeError, match="no docstring"):
        summary_of(Bare)


def test_a_field_the_command_line_cannot_give_is_refused_by_name() -> None:
    @dataclass(frozen=True)
    class Listed:
        """Listed."""

        urls: list[str] = option("Not a tuple.", default=None)

    @dataclass(frozen=True)
    class Plain:
        """Plain."""

        url: str = field(default="x")

    with pytest.raises(TypeError, match=r"Listed\.urls: an option is str, int, float or Path"):
        offered(Listed)
    with pytest.raises(TypeError, match=r"Plain\.url is not made by option\(\)"):
        offered(Plain)


def test_a_secret_is_read_from_the_environment_too() -> None:
    with pytest.raises(ValueError, match="envvar"):
        option("A key.", secret=True)
