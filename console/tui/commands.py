"""The command palette (ctrl+p): every action valid on the current screen, nothing else.

Built from the screen's active bindings, so the palette, the footer and the
keymap never disagree: a dimmed action (read-only, nothing selected, no
rollout running) is not offered.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class ActionsProvider(Provider):
    """Commands for the enabled, described bindings of the screen the palette was opened on."""

    def _commands(self) -> Iterator[tuple[str, str, partial[object]]]:
        screen = self.screen
        app = self.app
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not active.enabled or not binding.description or not binding.id:
                continue
            if binding.id in seen:
                continue
            seen.add(binding.id)
            name = binding.description
            if binding.id.startswith("screen."):
                name = f"Screen: {name}"
            key = app.get_key_display(binding)
            yield (
                name,
                f"key {key} · id {binding.id}",
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
