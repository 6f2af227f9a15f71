"""Text that takes over a terminal when printed, and a check of what printed output still
holds of it."""

from __future__ import annotations

import re

HOSTILE = {
    "clipboard": "\x1b]52;c;cHduZWQ=\x07",  # OSC 52: writes the operator's clipboard
    "title": "\x1b]0;pwned\x07",
    "concealed": "\x1b[8mhidden\x1b[0m",
    "c1 csi": "\x9b2J",  # CSI in one byte: clears the screen
    "c1 osc": "\x9d0;pwned\x9c",
    "delete": "ab\x7f",
    "overwrite": "safe\rEVIL\x08",
    "bidi": "\u202etxt.exe\u202c \u2066x\u2069",
}
HOSTILE_TEXT = " ".join(HOSTILE.values())

_COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # what rich writes itself: SGR colours and styles
_ACTING = re.compile(
    r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)


def acting(output: str) -> list[str]:
    """The characters of printed `output` a terminal would act on instead of showing them,
    other than line ends and colour sequences."""
    return _ACTING.findall(_COLOURS.sub("", output))
