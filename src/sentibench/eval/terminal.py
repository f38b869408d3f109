"""Terminal tables that never cut a name or a number (`sentibench models`, `leaderboard`).

rich shortens a cell with "…" when a table is wider than the terminal, and the first things it
shortens are the names a user must copy. Here each column says what it holds: a number (never
wrapped or shortened), a name (folded onto more lines only when it cannot fit, never
shortened) or text (wrapped). At narrow widths the droppable columns go first, in their order,
and the caption says which were left out. Cells are Text, so user text is never markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

Kind = Literal["number", "name", "text"]
NAME_FLOOR = 32  # a name wider than this folds rather than push a column out
TEXT_FLOOR = 20  # free text wraps down to this width before a column is left out


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind = "text"
    drop: int | None = None  # None: always shown; lower numbers are left out first


def fitted_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    width: int,
    title: str | None = None,
) -> Table:
    """A rich Table of `rows` (strings, one per column; "\\n" starts a new line in a cell)
    that fits `width` by leaving out droppable columns before cutting anything."""
    floors = [_floor(column, [row[i] for row in rows]) for i, column in enumerate(columns)]

    def fits(indices: list[int]) -> bool:
        return _table_width([floors[i] for i in indices]) <= width

    shown = list(range(len(columns)))
    dropped: list[int] = []
    for _, index in sorted((c.drop, i) for i, c in enumerate(columns) if c.drop is not None):
        if fits(shown):
            break
        shown.remove(index)
        dropped.append(index)
    for index in reversed(dropped[:-1]):  # a narrow column left out early may fit again now
        if fits([*shown, index]):
            shown = sorted([*shown, index])
            dropped.remove(index)
    left_out = ", ".join(columns[i].header for i in sorted(dropped))
    caption = f"left out at this width: {left_out}" if left_out else None
    table = Table(title=title, caption=caption)
    for index in shown:
        column = columns[index]
        if column.kind == "number":
            table.add_column(column.header, justify="right", no_wrap=True, min_width=floors[index])
        else:
            table.add_column(column.header, overflow="fold", min_width=floors[index])
    for row in rows:
        table.add_row(*(Text(row[i]) for i in shown))
    return table


def _floor(column: Column, cells: list[str]) -> int:
    """The narrowest this column may be: a number's full width; a name's or text's full
    width up to its floor."""
    longest = max((cell_len(line) for cell in cells for line in cell.split("\n")), default=0)
    if column.kind == "number":
        return max(longest, cell_len(column.header))
    header_word = max((cell_len(word) for word in column.header.split()), default=0)
    floor = NAME_FLOOR if column.kind == "name" else TEXT_FLOOR
    return max(min(longest, floor), header_word)


def _table_width(widths: list[int]) -> int:
    return sum(widths) + 3 * len(widths) + 1  # one space each side of a cell, and the rules
