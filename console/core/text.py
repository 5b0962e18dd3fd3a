"""Operator-supplied text made safe for a terminal: one line, nothing the terminal obeys.

A lock reason, an operator name, an event message or a release name is typed
by someone (or comes from the environment) and is read back by everyone who
runs ``status``, ``history`` or the console. Printed raw, ``\\x1b[2J`` clears
their screen, ``\\r`` or ``\\n`` forges a line, ``\\x07`` rings, and U+202E
reverses what follows. Every face passes such strings through ``printable``
before they reach a terminal; JSON output keeps them as they are (``json.dumps``
escapes control characters itself).

Pure and dependency-free: used by the CLI and by the console's display layer.
"""

from __future__ import annotations


def _escaped(char: str) -> str:
    # repr() gives the shortest escape Python would read back: \x1b, \r, \u202e.
    return repr(char)[1:-1]


def printable(text: str) -> str:
    """``text`` on one line, each non-printable character shown as its escape (``\\x1b``).

    Non-printable is what ``str.isprintable`` says: control characters, line
    and paragraph separators, format characters such as the bidi overrides and
    zero-width spaces. Ordinary text, including any other Unicode, is unchanged.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escaped(c) for c in text)


def printable_block(text: str) -> str:
    """Like ``printable`` for each line of a multi-line block the program itself built.

    The block's own newlines (and tabs) stay; everything else a terminal would
    obey is escaped. It cannot tell a newline smuggled in by a field from one
    the program wrote, which is why fields go through ``printable`` first; this
    is the last guard for whatever was missed.
    """
    return "\n".join(
        "\t".join(printable(cell) for cell in line.split("\t")) for line in text.split("\n")
    )
