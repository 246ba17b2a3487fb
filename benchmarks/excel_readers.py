"""Which library reads `.xlsx` deliveries: calamine (through `fastexcel`) or openpyxl?

Writes one workbook with xlsxwriter — the cell kinds real exports hold: ids stored as text with
leading zeros, names with accents and padding, real date cells, datetime cells, dates stored as
text (`3/1/2017`), Excel time values (a fraction of a day formatted `hh:mm:ss`), numbers,
numbers stored as text — then, for each library, times reading the whole sheet as text cells
(what Orbit's landing reader needs) and checks the text it gets for every kind against what
the cell means.

    .venv/bin/python benchmarks/excel_readers.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADER = ["Id", "Agent", "Call date", "Call date text", "Call time", "Answered at", "Amount", "Amount text",
          "Score"]


def expected(i: int) -> list[str]:
    """What each cell of data row ``i`` means, as the text Orbit should see."""
    day = dt.date(2017, 1, 1) + dt.timedelta(days=i % 700)
    seconds = (i * 37) % 86400
    t = dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60)
    return [f"{i:07d}", f"Agënt {i % 97} ", day.isoformat(), f"{day.month}/{day.day}/{day.year}",
            t.isoformat(), f"{day.isoformat()} {t.isoformat()}" if seconds else day.isoformat(),  # midnight: a date
            f"{i % 5000}.{i % 100:02d}".rstrip("0").rstrip("."),
            f"{i % 5000}.{i % 100:02d}", str(i % 11)]


def write_workbook(path: Path, rows: int) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("Calls")
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    time_fmt = wb.add_format({"num_format": "hh:mm:ss"})
    stamp_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    ws.write_row(0, 0, HEADER)
    for i in range(rows):
        e = expected(i)
        r = i + 1
        day = dt.date.fromisoformat(e[2])
        t = dt.time.fromisoformat(e[4])
        ws.write_string(r, 0, e[0])
        ws.write_string(r, 1, e[1])
        ws.write_datetime(r, 2, dt.datetime.combine(day, dt.time()), date_fmt)
        ws.write_string(r, 3, e[3])
        ws.write_number(r, 4, (t.hour * 3600 + t.minute * 60 + t.second) / 86400, time_fmt)
        ws.write_datetime(r, 5, dt.datetime.combine(day, t), stamp_fmt)
        ws.write_number(r, 6, float(e[6]))
        ws.write_string(r, 7, e[7])
        ws.write_number(r, 8, int(e[8]))
    wb.close()


def read_calamine(path: Path) -> list[list[str | None]]:
    from warehouse.spreadsheet import read_sheet_text

    sheet = read_sheet_text(path, None)
    return [sheet.header] + [list(r) for r in zip(*sheet.columns)]


def read_openpyxl(path: Path) -> list[list[str | None]]:
    """openpyxl's fastest mode, cells turned into the same text forms."""
    import openpyxl

    def text(v) -> str | None:
        if v is None:
            return None
        if isinstance(v, dt.datetime):
            return v.date().isoformat() if v.time() == dt.time() else v.isoformat(sep=" ")
        if isinstance(v, dt.time):
            return v.isoformat()
        if isinstance(v, float):
            return str(int(v)) if v.is_integer() else repr(v)
        return str(v)

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return [[text(v) for v in row] for row in wb.worksheets[0].iter_rows(values_only=True)]
    finally:
        wb.close()


def check(rows: list[list[str | None]], n: int) -> dict[str, int]:
    """Wrong cells per column (header row excluded)."""
    wrong = dict.fromkeys(HEADER, 0)
    for i in range(n):
        for name, want, got in zip(HEADER, expected(i), rows[i + 1]):
            if got != want:
                wrong[name] += 1
    return wrong


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "calls.xlsx"
        t = time.perf_counter()
        write_workbook(path, args.rows)
        print(f"workbook: {args.rows:,} rows x {len(HEADER)} columns, {path.stat().st_size / 1e6:.1f} MB, "
              f"written in {time.perf_counter() - t:.1f} s")
        for name, reader in (("calamine (fastexcel)", read_calamine), ("openpyxl read_only", read_openpyxl)):
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                rows = reader(path)
                times.append(time.perf_counter() - t)
            wrong = check(rows, args.rows)
            bad = {k: v for k, v in wrong.items() if v}
            print(f"{name:<22} median {statistics.median(times):6.2f} s (runs: "
                  f"{', '.join(f'{x:.2f}' for x in times)}); wrong cells: {bad or 'none'}")


if __name__ == "__main__":
    main()
