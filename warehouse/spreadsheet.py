"""Reading `.xlsx` workbooks as text cells, with calamine (through `fastexcel`).

Chosen with numbers (`benchmarks/excel_readers.py`): on a 100,000-row workbook calamine reads
every cell right — dates stored as text stay text, real date cells, datetime cells, Excel time
values, numbers, numbers stored as text (leading zeros kept) — several times faster than
openpyxl's read-only mode.

Every cell becomes the text a CSV would carry: a date cell ``2017-03-01``, a datetime cell
``2017-03-01 14:30:05``, a time value (a fraction of a day formatted as a time) ``14:30:00``,
a number in its shortest form (``9``, ``1234.56``), text as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl


class SheetError(ValueError):
    """A workbook or sheet that cannot be read; ``line`` is the sheet row (0: not one row)."""

    def __init__(self, problem: str, line: int = 0) -> None:
        super().__init__(problem)
        self.problem, self.line = problem, line


@dataclass(frozen=True)
class SheetText:
    """A sheet's header (as written) and its data rows as text: ``columns[i]`` holds the cells of column i,
    ``lines`` the sheet row (1-based) of each data row. Rows with no value at all are left out."""

    name: str
    header_line: int
    header: list[str]
    columns: list[list[str | None]]
    lines: list[int]


def _pick(names: list[str], sheet: str | int | None) -> int:
    if sheet is None:
        return 0
    if isinstance(sheet, str) and sheet in names:
        return names.index(sheet)
    if isinstance(sheet, int) or sheet.strip().isdigit():
        index = int(sheet)
        if index < len(names):
            return index
        raise SheetError(f"the workbook has {len(names)} sheet(s) ({', '.join(names)}); there is no sheet {index} "
                         "(sheets are counted from 0)")
    raise SheetError(f"no sheet named {sheet!r}; the workbook's sheets: {', '.join(names)}")


def _text(cells: pl.Series) -> pl.Series:
    """calamine's text forms made plain: a time value is read as a time on its 1899-12-31 epoch, a date
    cell as a datetime at midnight."""
    return (cells.str.replace(r"^1899-12-3[01] (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$", "$1")
            .str.replace(r"^(\d{4}-\d{2}-\d{2}) 00:00:00(?:\.0+)?$", "$1"))


def read_sheet_text(path: Path, sheet: str | int | None, skip_rows: int = 0) -> SheetText:
    """Read one sheet (a name, a 0-based index, or the first) as text. The header is the first row with a
    value below ``skip_rows`` rows; raise :class:`SheetError` when the workbook or sheet cannot be read."""
    import fastexcel

    try:
        book = fastexcel.read_excel(str(path))
        index = _pick(book.sheet_names, sheet)
        loaded = book.load_sheet(index, header_row=None, skip_rows=0, dtypes="string")
        frame = pl.from_arrow(loaded.to_arrow())
    except SheetError:
        raise
    except Exception as e:  # noqa: BLE001 - calamine's errors come as several types; all mean "cannot read"
        raise SheetError(f"unreadable workbook: {str(e).splitlines()[0]}") from None
    name = book.sheet_names[index]
    if isinstance(frame, pl.Series):
        frame = frame.to_frame()
    frame = frame.with_columns(_text(frame[c]) for c in frame.columns)
    empty = pl.all_horizontal(pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in frame.columns) \
        if frame.width else pl.lit(True)
    frame = frame.with_row_index("_row", offset=1).filter(~empty)
    header_at = frame.filter(pl.col("_row") > skip_rows).head(1)
    if header_at.height == 0:
        raise SheetError(f"sheet {name!r} has no header row" + (f" below row {skip_rows}" if skip_rows else ""),
                         skip_rows + 1)
    header_row = header_at["_row"][0]
    cells = header_at.row(0)[1:]
    last = max(i for i, v in enumerate(cells) if v is not None and v.strip()) + 1
    header = [(v or "") for v in cells[:last]]
    data = frame.filter(pl.col("_row") > header_row)
    beyond = [c for c in frame.columns[1 + last:] if data[c].is_not_null().any()]
    if beyond:
        first = data.filter(pl.col(beyond[0]).is_not_null())["_row"][0]
        raise SheetError(f"a value in a column without a header (column {frame.columns.index(beyond[0])}); "
                         "name the column in the header row or remove the value", first)
    return SheetText(name, header_row, header, [data[c].to_list() for c in frame.columns[1:1 + last]], data["_row"].to_list())
