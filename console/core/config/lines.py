"""Find the line of a dotted key path in TOML source, for ``file:line`` errors.

tomllib gives values, not positions. This scanner is deliberately simple: it
tracks table headers (``[a.b]``, ``[[a.b]]``) and ``key =`` assignments, which
covers how people write shipdeck.toml. When a path cannot be placed it falls
back to the nearest enclosing table, then to line 1: a slightly vague line is
better than none.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r'^\s*("[^"]*"|[A-Za-z0-9_.\-"\' ]+?)\s*=')


def _split_key(raw: str) -> list[str]:
    parts: list[str] = []
    for piece in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', raw):
        piece = piece.strip()
        if piece[:1] in "\"'":
            piece = piece[1:-1]
        parts.append(piece)
    return parts


class LineIndex:
    """Maps dotted paths (``services.web.hosts``, ``services.web.steps[2]``) to lines."""

    def __init__(self, text: str) -> None:
        self._lines: dict[str, int] = {}
        self._array_counts: dict[str, int] = {}
        table: list[str] = []
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header and not line.lstrip().startswith("#"):
                keys = _split_key(header.group(2))
                dotted = ".".join(keys)
                if header.group(1) == "[[":
                    index = self._array_counts.get(dotted, 0)
                    self._array_counts[dotted] = index + 1
                    self._lines.setdefault(dotted, number)
                    dotted = f"{dotted}[{index}]"
                    table = [*keys[:-1], f"{keys[-1]}[{index}]"]
                else:
                    table = keys
                self._lines.setdefault(dotted, number)
                continue
            assign = _ASSIGN.match(line)
            if assign and not line.lstrip().startswith("#"):
                path = ".".join([*table, *_split_key(assign.group(1))])
                self._lines.setdefault(path, number)

    def line_of(self, path: str) -> int:
        probe = path
        while probe:
            if probe in self._lines:
                return self._lines[probe]
            if probe.endswith("]") and "[" in probe:
                probe = probe[: probe.rindex("[")]
                if probe in self._lines:
                    return self._lines[probe]
                continue
            probe = probe.rpartition(".")[0]
        return 1
