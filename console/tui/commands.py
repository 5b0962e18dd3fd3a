"""The command palette (ctrl+p): every action valid on the current screen, nothing else.

Built from the screen's active bindings and named by the actions table
(``actions.ACTIONS``), so the palette, the footer, ``?`` and the keymap never
disagree: a dimmed action (read-only, nothing selected, no rollout running) is
not offered.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from console.tui.actions import ACTIONS_BY_ID


class ActionsProvider(Provider):
    """Commands for the enabled actions (table rows) of the screen the palette was opened on."""

    def _commands(self) -> Iterator[tuple[str, str, partial[Any]]]:
        screen = self.screen
        app = self.app
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            row = ACTIONS_BY_ID.get(binding.id or "")
            if not active.enabled or row is None or not row.description or row.id in seen:
                continue
            seen.add(row.id)
            key = app.get_key_display(binding)
            yield (
                row.palette_name,
                f"key {key} · id {row.id}",
                partial(app.run_action, binding.action, active.node),
            )

    async def discover(self) -> Hits:
        for name, help_text, command in self._commands():
            yield DiscoveryHit(name, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, command in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), command, text=name, help=help_text)
