import duckdb
import pytest

from warehouse.db import query_frame
from warehouse.landing import RejectedFile, list_landed, load_rows, move_rejected, rejected_target

CSV = "event_id,occurred_at,amount\nA1,2026-01-01T10:00:00Z,1.50\nA2,2026-01-02,\n"


def _read(path):
    con = duckdb.connect()
    columns = load_rows(con, path, "_raw")
    return columns, query_frame(con, "SELECT * FROM _raw ORDER BY _line")


def test_csv_is_read_as_text_with_line_numbers(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text(CSV)
    columns, f = _read(p)
    assert columns == ["event_id", "occurred_at", "amount"]
    assert f["amount"].dtype == f["event_id"].dtype and str(f["amount"].dtype) in ("String", "Utf8")
    assert f["_line"].to_list() == [2, 3]
    assert f["amount"].to_list() == ["1.50", None]


def test_csv_line_numbers_are_physical_lines(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text('event_id,notes\nA1,"two\nlines"\n\nA2,x\n')
    assert _read(p)[1].select("_line", "event_id").rows() == [(2, "A1"), (5, "A2")]


def test_utf8_bom_is_stripped(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes(b"\xef\xbb\xbf" + CSV.encode())
    assert _read(p)[0][0] == "event_id"


def test_non_utf8_is_rejected_with_line(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes(CSV.encode() + "A3,2026-01-03,Muñoz\n".encode("latin-1"))
    with pytest.raises(RejectedFile, match=r"a.csv:4: not valid UTF-8"):
        _read(p)


def test_parquet_and_jsonl_become_the_same_text(tmp_path):
    import polars as pl

    pl.DataFrame({"event_id": ["A1"], "n": [1.5]}).write_parquet(tmp_path / "a.parquet")
    (tmp_path / "a.jsonl").write_text('{"event_id": "A1", "n": 1.5}\n')
    for name in ("a.parquet", "a.jsonl"):
        _, f = _read(tmp_path / name)
        assert f.drop("_line").rows() == [("A1", "1.5")]
        assert f["_line"].to_list() == [1]


def test_jsonl_values_keep_their_exact_text(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text('{"a": 12345678901234567.89, "b": 10, "c": true, "d": {"x": [1.10, null]}, "e": null}\n'
                 '\n{"a": "x\u2028y"}\n')
    columns, f = _read(p)
    assert columns == ["a", "b", "c", "d", "e"]
    assert f.rows() == [(1, "12345678901234567.89", "10", "true", '{"x":[1.10,null]}', None),
                        (3, "x\u2028y", None, None, None, None)]


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("e.csv", b"", "the file is empty"),
        ("w.csv", b" \n\n", "the file is empty"),
        ("b.jsonl", b'{"a": 1}\n{"a": \n', "b.jsonl:2: malformed JSON line"),
        ("c.parquet", b"PAR1 not really", "unreadable Parquet"),
        ("d.xls", b"x", "unknown file type '.xls'; deliver .csv, .xlsx, .parquet or .jsonl"),
        ("d.xlsx", b"x", "d.xlsx: unreadable workbook"),
        ("q.csv", b'a,b\n1,"x\n', r"q.csv:2: unreadable CSV: .*unterminated quote"),
        ("t.csv", b"a,b,c\n1,2,3\n4,5", r"t.csv:3: unreadable CSV: the line has 2 field\(s\), the header has 3: "
                                        r"the file looks truncated"),
        ("h.csv", b"a,b,A\n1,2,3\n", r"h.csv:1: duplicate column name 'A' \(columns 1 and 3\)"),
        ("n.csv", b"a,,b\n1,2,3\n", r"n.csv:1: column 2 of the header has no name"),
    ],
)
def test_unreadable_files_are_rejected_with_a_clear_message(tmp_path, name, content, message):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(RejectedFile, match=message):
        _read(p)


def test_listing_skips_partial_files_and_orders_by_mtime(tmp_path):
    import os

    for i, name in enumerate(["b.csv", "a.csv", ".hidden.csv", "c.csv.part"]):
        (tmp_path / "activities").mkdir(exist_ok=True)
        p = tmp_path / "activities" / name
        p.write_text(CSV)
        os.utime(p, (1000 + i, 1000 + i))
    assert [f.name for f in list_landed(tmp_path)] == ["activities/b.csv", "activities/a.csv"]


def test_rejected_file_is_moved_beside_its_reason_and_the_move_can_be_finished(tmp_path):
    src = tmp_path / "landing" / "activities" / "x.csv"
    src.parent.mkdir(parents=True)
    src.write_text("junk")
    target = rejected_target(tmp_path / "quarantine", src)
    assert target == tmp_path / "quarantine" / "files" / "activities" / "x.csv"
    moved = move_rejected(src, target, "x.csv:1: bad")
    assert not src.exists() and moved.exists()
    assert moved.with_name("x.csv.reason").read_text().strip() == "x.csv:1: bad"
    assert move_rejected(src, target, "x.csv:1: bad") == moved  # idempotent
    src.write_text("junk again")
    assert rejected_target(tmp_path / "quarantine", src) != target  # the name is taken: a stamped one
