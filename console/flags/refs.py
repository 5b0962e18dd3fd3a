"""Find where flags are referenced in code, so a stale flag's dead branch can be removed.

A flag fully rolled out is only half cleaned up until the ``if flags.enabled(...)``
branches are gone. The scan walks a source tree the way git sees it (``.gitignore``
files at any depth, ``.git`` skipped, binaries and huge files skipped) and reports
``file:line`` for every mention of a key — or of its ``SHIPDECK_FLAG_*`` override
variable. A flag with no references is safe to delete from the flags file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pathspec

from console.flags.model import override_variable

MAX_FILE_BYTES = 2_000_000
_BINARY_SNIFF_BYTES = 8192
_SKIP_DIRS = {".git", ".hg", ".svn"}


@dataclass(frozen=True, slots=True)
class Reference:
    """One mention of a flag: path relative to the scanned root, 1-based line."""

    key: str
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"

    def to_json(self) -> dict[str, object]:
        return {"key": self.key, "path": self.path, "line": self.line, "text": self.text}


class _Ignores:
    """The .gitignore files met on the way down; the deepest one with a verdict wins."""

    def __init__(self) -> None:
        self._specs: dict[Path, pathspec.GitIgnoreSpec] = {}

    def load(self, directory: Path) -> None:
        gitignore = directory / ".gitignore"
        if gitignore.is_file():
            lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
            self._specs[directory] = pathspec.GitIgnoreSpec.from_lines(lines)

    def ignored(self, path: Path, is_dir: bool) -> bool:
        verdict = False
        for base, spec in self._specs.items():
            try:
                relative = path.relative_to(base).as_posix()
            except ValueError:
                continue
            result = spec.check_file(relative + "/" if is_dir else relative)
            if result.include is not None:
                verdict = result.include
        return verdict


def _pattern(keys: Iterable[str]) -> tuple[re.Pattern[str], dict[str, str]]:
    """One alternation for all keys and override names, longest first, whole tokens only."""
    names: dict[str, str] = {}
    for key in keys:
        names[key] = key
        names[override_variable(key)] = key
    alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(
        rf"(?<![A-Za-z0-9._-])(?:{alternation})(?![A-Za-z0-9_-]|\.[A-Za-z0-9])"
    ), names


def _is_text(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return b"\0" not in handle.read(_BINARY_SNIFF_BYTES)
    except OSError:
        return False


def scan_references(
    root: str | os.PathLike[str],
    keys: Iterable[str],
    *,
    exclude: Iterable[str | os.PathLike[str]] = (),
) -> dict[str, list[Reference]]:
    """Every reference to each key under ``root``, by path then line; none → ``[]``.

    ``exclude`` lists files not to scan (the flags file itself names every flag).
    """
    root_path = Path(root).resolve()
    wanted = list(keys)
    found: dict[str, list[Reference]] = {key: [] for key in wanted}
    if not wanted:
        return found
    pattern, names = _pattern(wanted)
    skip = {Path(p).resolve() for p in exclude}
    ignores = _Ignores()
    for current, dirs, files in os.walk(root_path):
        directory = Path(current)
        ignores.load(directory)
        dirs[:] = sorted(
            d for d in dirs if d not in _SKIP_DIRS and not ignores.ignored(directory / d, True)
        )
        for name in sorted(files):
            path = directory / name
            if path in skip or ignores.ignored(path, False) or not path.is_file():
                continue
            if path.stat().st_size > MAX_FILE_BYTES or not _is_text(path):
                continue
            relative = path.relative_to(root_path).as_posix()
            text = path.read_text(encoding="utf-8", errors="replace")
            for number, line in enumerate(text.splitlines(), start=1):
                seen: set[str] = set()
                for match in pattern.finditer(line):
                    key = names[match.group(0)]
                    if key not in seen:
                        seen.add(key)
                        found[key].append(Reference(key, relative, number, line.strip()[:200]))
    return {key: sorted(refs, key=lambda r: (r.path, r.line)) for key, refs in found.items()}
