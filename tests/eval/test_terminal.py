"""eval.terminal: at any width a number is whole, a short name is on one line, and columns are
left out (in their order, named in the caption) before anything is cut."""

from __future__ import annotations

from rich.console import Console

from sentibench.eval.terminal import Column, fitted_table

COLUMNS = [
    Column("rank", "number"),
    Column("runs", "name"),
    Column("seeds", "number", drop=1),
    Column("accuracy", "number"),
    Column("95% CI", "number", drop=3),
    Column("note", "text", drop=2),
]
ROWS = [
    ["1", "distilbert_trainer-quick-s0\ndistilbert_trainer-quick-s1", "2", "0.9283",
     "0.9250–0.9315", "a long free-text note that may wrap anywhere it likes"],
    ["2", "[bold]nbsvm-2024[/bold]", "1", "0.9189", "0.9154–0.9222", ""],
]  # fmt: skip


def render(width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(fitted_table(COLUMNS, ROWS, width))
    return console.export_text()


def test_nothing_is_cut_at_any_usable_width():
    for width in range(48, 161, 8):
        text = render(width)
        assert "…" not in text
        assert max(len(line) for line in text.splitlines()) <= width
        for name in ("distilbert_trainer-quick-s0", "distilbert_trainer-quick-s1"):
            assert name in text, width
        assert "[bold]nbsvm-2024[/bold]" in text  # cells are never markup
        assert "0.9283" in text and "0.9189" in text


def test_columns_are_left_out_in_order_and_named():
    wide, narrow = render(160), render(56)
    assert "left out" not in wide and "95% CI" in wide and "note" in wide
    assert "left out at this width: seeds, 95% CI, note" in narrow
    assert "seeds" in render(64)  # narrow enough to drop the CI, wide enough for seeds again
    assert "accuracy" in narrow and "rank" in narrow
