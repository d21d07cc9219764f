"""halab.widgets.table: lessons' rows of numbers as a Markdown table nbval can compare."""

from __future__ import annotations

import pytest

from halab.widgets import table


def test_a_table_keeps_the_lessons_formatting_and_aligns_numbers_right():
    t = table(["mode", "lost", "RPO"], [["async", 8, "49 ms"], ["sync", 0, "0 ms"]])
    lines = t.data.splitlines()
    assert lines[0] == "| mode | lost | RPO |"
    assert lines[1] == "| :--- | ---: | ---: |"
    assert lines[2:] == ["| async | 8 | 49 ms |", "| sync | 0 | 0 ms |"]
    assert t._repr_markdown_() == t.data  # what JupyterLab renders and nbval compares


def test_cells_that_would_break_the_table_are_escaped():
    t = table(["a", "b"], [["x | y", "two\nlines"]], caption="N = 3")
    assert t.data.splitlines() == [
        "**N = 3**",
        "",
        "| a | b |",
        "| :--- | :--- |",
        r"| x \| y | two lines |",
    ]


def test_a_row_of_the_wrong_length_is_refused_by_name():
    with pytest.raises(ValueError, match="rows must have 2 cells like the header, row 1 has 3"):
        table(["a", "b"], [[1, 2], [1, 2, 3]])
