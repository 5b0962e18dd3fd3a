"""Every key the console answers to, as one table: key, binding id, what it does, where.

Each row is one action: its key(s), its binding id (user-facing: ``[keymap]``
remaps by id, so an id never changes), the description the footer, ``?`` and
the command palette show, whether it changes production (then ``--read-only``
dims it), the screens where it applies, and the predicate that says whether it
applies *now*. Every class's ``BINDINGS`` is ``bindings(owner)``, every
``check_action`` is ``availability(...)``; the keys screen and the palette read
the same rows. An action that does not apply now is dimmed if it changes
production (the on-call sees it exists) and hidden otherwise.

Pure data and two small functions: no Textual screen or app is imported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from textual.binding import Binding, BindingType

SCREENS = Binding.Group("screens", compact=True)
TOP_SCREENS = ("overview", "canary", "history", "flags", "hosts")
FILTERED_SCREENS = ("overview", "history", "flags")

# Owners: whose ``BINDINGS`` hold a row and whose ``action_*`` method runs it. A row of
# one screen is that screen's (its name is the owner); a row of several is the app's,
# or every top screen's (``SCREEN``) when the action acts on the screen itself.
APP = "app"
SCREEN = "screen"


@dataclass(frozen=True)
class Action:
    """One row: a key, the binding id ``[keymap]`` knows it by, and when it applies."""

    keys: str
    id: str
    action: str  # Textual action string run on the owner
    description: str
    changes: bool = False  # changes production: dimmed under ``--read-only``
    screens: tuple[str, ...] = TOP_SCREENS
    owner: str | None = None  # None: the one screen in ``screens``, else the app
    needs: str | None = None  # a predicate method of the owner: does it apply now?
    show: bool = True
    priority: bool = False
    group: Binding.Group | None = None

    @property
    def name(self) -> str:
        """The action's name as ``check_action`` receives it (no parameters)."""
        return self.action.split("(", 1)[0]

    @property
    def palette_name(self) -> str:
        return f"Screen: {self.description}" if self.group is SCREENS else self.description

    def binding(self) -> Binding:
        return Binding(
            self.keys,
            self.action,
            self.description,
            show=self.show,
            priority=self.priority,
            id=self.id,
            group=self.group,
        )


def _screen(keys: str, mode: str, description: str) -> Action:
    return Action(keys, f"screen.{mode}", f"show('{mode}')", description, group=SCREENS)


ACTIONS: tuple[Action, ...] = (
    # -- the app: on every top screen --------------------------------------------------------
    _screen("1", "overview", "Overview"),
    _screen("2", "canary", "Canary"),
    _screen("3", "history", "History"),
    _screen("4", "flags", "Flags"),
    _screen("5", "hosts", "Hosts"),
    Action("R", "rollback", "rollback", "Rollback", changes=True, needs="has_selection"),
    Action("P", "promote", "promote", "Promote", changes=True, needs="canary_promotable"),
    Action("A", "abort", "abort", "Abort", changes=True, needs="rollout_running"),
    Action("D", "deploy", "deploy", "Deploy", changes=True, needs="rollout_idle"),
    Action("L", "lock", "lock", "Lock", changes=True, needs="has_selection"),
    Action("question_mark", "keys", "keys", "Keys"),
    Action("q", "quit", "quit", "Quit"),
    # -- every top screen with a ``/`` filter ------------------------------------------------
    Action("slash", "filter", "filter", "Filter", screens=FILTERED_SCREENS, owner=SCREEN),
    Action(
        "escape",
        "filter.clear",
        "clear_filter",
        "Clear filter",
        screens=FILTERED_SCREENS,
        owner=SCREEN,
        needs="filter_active",
        show=False,
    ),
    # -- 3 · History -------------------------------------------------------------------------
    Action("a", "history.scope", "scope", "All/this service", screens=("history",)),
    Action(
        "enter",
        "history.open",
        "open",
        "Timeline",
        screens=("history",),
        needs="row_open",
        priority=True,
    ),
    # -- 4 · Flags ---------------------------------------------------------------------------
    Action(
        "space",
        "flags.toggle",
        "toggle",
        "On/off",
        changes=True,
        screens=("flags",),
        needs="flag_selected",
    ),
    Action(
        "plus", "flags.more", "more", "+%", changes=True, screens=("flags",), needs="flag_selected"
    ),
    Action(
        "minus", "flags.less", "less", "-%", changes=True, screens=("flags",), needs="flag_selected"
    ),
    Action(
        "k",
        "flags.kill",
        "kill",
        "Kill switch",
        changes=True,
        screens=("flags",),
        needs="flag_selected",
    ),
    Action("e", "flags.environment", "environment", "Env", screens=("flags",)),
    Action(
        "enter",
        "flags.details",
        "details",
        "Details",
        screens=("flags",),
        needs="flag_open",
        priority=True,
    ),
    # -- dialogs and detail screens ----------------------------------------------------------
    Action("escape,q", "flag.close", "close", "Back", screens=("flag",)),
    Action("escape,q", "timeline.close", "close", "Back", screens=("timeline",)),
    Action("escape,question_mark", "keys.close", "close", "Close", screens=("keys",)),
    Action("y", "confirm.yes", "confirm", "Confirm", screens=("confirm",), needs="typed_ok"),
    Action("escape,n", "confirm.cancel", "cancel", "Cancel", screens=("confirm",)),
    Action("escape", "picker.cancel", "cancel", "Cancel", screens=("picker",)),
    Action("escape", "deploy.cancel", "cancel", "Cancel", screens=("deploy",)),
    Action("escape", "lock.cancel", "cancel", "Cancel", screens=("lock",)),
)


def _owner(row: Action) -> str:
    if row.owner is not None:
        return row.owner
    return row.screens[0] if len(row.screens) == 1 else APP


ACTIONS_BY_ID: dict[str, Action] = {row.id: row for row in ACTIONS}
_BY_OWNER: dict[str, dict[str, Action]] = {}
for _row in ACTIONS:
    _BY_OWNER.setdefault(_owner(_row), {})[_row.name] = _row
assert len(ACTIONS_BY_ID) == len(ACTIONS), "binding ids must be unique"


def rows(owner: str) -> list[Action]:
    """The rows a class owns (``app``, ``screen`` or a screen's name), in table order."""
    return [row for row in ACTIONS if _owner(row) == owner]


def bindings(owner: str) -> list[BindingType]:
    """``BINDINGS`` for the class that owns these rows."""
    return [row.binding() for row in rows(owner)]


def availability(
    node: object,
    owners: Iterable[str],
    action: str,
    *,
    screen: str | None = None,
    read_only: bool = False,
) -> bool | None:
    """``check_action`` from the table: True available, None dimmed, False hidden.

    ``owners`` are the table owners whose rows ``node`` holds (a screen holds its
    own and the shared screen rows); ``screen`` is the screen ``node`` is, for
    rows that apply on some screens only. Actions not in the table are allowed.
    """
    row = next((_BY_OWNER[o][action] for o in owners if action in _BY_OWNER.get(o, {})), None)
    if row is None:
        return True
    if screen is not None and screen not in row.screens:
        return False
    if row.changes and read_only:
        return None
    if row.needs is not None:
        applies = getattr(node, row.needs)
        if not (applies() if callable(applies) else applies):
            return None if row.changes else False
    return True


def key_rows(
    active: Iterable[tuple[Binding, bool]], display: Callable[[Binding], str], read_only: bool
) -> list[tuple[str, str, str, str]]:
    """Rows of the ``?`` screen: key, description, binding id, state; the table's keys first.

    ``active`` is the screen's active bindings (binding, enabled) and ``display``
    names a binding's key as the footer does (a ``[keymap]`` remap included);
    widget keys (no id) follow the table's, in their order.
    """
    rows = []
    for binding, enabled in active:
        row = ACTIONS_BY_ID.get(binding.id or "")
        description = row.description if row is not None else binding.description
        if not description:
            continue
        state = "available" if enabled else "dimmed"
        if not enabled and read_only and row is not None and row.changes:
            state = "dimmed: read-only"
        rows.append((display(binding), description, binding.id or "", state))
    rows.sort(key=lambda r: not r[2])  # stable: keeps each group's order
    return rows


__all__ = [
    "ACTIONS",
    "ACTIONS_BY_ID",
    "APP",
    "SCREEN",
    "SCREENS",
    "Action",
    "availability",
    "bindings",
    "key_rows",
    "rows",
]
