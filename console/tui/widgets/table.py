"""A DataTable updated by row key: only changed cells are touched.

Clearing and reloading 10,000 rows costs about 0.64 s in Textual against
0.05 s for updating changed cells by key inside ``batch_update()``; a poll
every second must take the cheap path.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import RenderableType
from textual.coordinate import Coordinate
from textual.widgets import DataTable

Row = tuple[str, Sequence[RenderableType]]


class KeyedTable(DataTable[RenderableType]):
    """``sync(rows)`` makes the table show exactly ``rows``, in order, touching only changes."""

    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._columns = list(columns)
        self._cells: dict[str, tuple[RenderableType, ...]] = {}

    def on_mount(self) -> None:
        for label, key in self._columns:
            self.add_column(label, key=key)

    @property
    def column_ids(self) -> list[str]:
        return [key for _, key in self._columns]

    def row_keys(self) -> list[str]:
        return [str(key.value) for key in self.rows]

    def selected_key(self) -> str | None:
        if not self.row_count or self.cursor_row < 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0))
        return str(row_key.value)

    def sync(self, rows: Sequence[Row], *, append_only: bool = False) -> None:
        """Show ``rows``; with ``append_only`` rows not listed are kept (paged tables)."""
        wanted = [key for key, _ in rows]
        with self.app.batch_update():
            if not append_only:
                for key in set(self._cells) - set(wanted):
                    self.remove_row(key)
                    del self._cells[key]
            for key, cells in rows:
                cells = tuple(cells)
                old = self._cells.get(key)
                if old is None:
                    self.add_row(*cells, key=key)
                else:
                    for column, before, after in zip(self.column_ids, old, cells, strict=False):
                        if before != after:
                            self.update_cell(key, column, after, update_width=True)
                self._cells[key] = cells
            if not append_only and self.row_keys() != wanted:
                self._reload(rows)

    def _reload(self, rows: Sequence[Row]) -> None:
        """Order changed (rare): rebuild, keeping the cursor on the same key."""
        selected = self.selected_key()
        self.clear()
        self._cells.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
            self._cells[key] = tuple(cells)
        if selected in self._cells:
            self.move_cursor(row=self.get_row_index(selected))

    def reset(self) -> None:
        self.clear()
        self._cells.clear()
