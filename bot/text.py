"""Small text helpers shared by the core and the adapters."""

from __future__ import annotations

import re

# Whole escape sequences first (CSI "ESC [ ... letter", OSC "ESC ] ... BEL|ST"), then any other
# C0/C1 control character: text from articles or users must not drive a terminal.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_control(text: str, *, keep_newlines: bool = True) -> str:
    """Remove terminal escape sequences and control characters (tabs become spaces)."""
    text = _CONTROL.sub("", _ANSI.sub("", text.replace("\t", " ")))
    return text if keep_newlines else text.replace("\n", " ")
