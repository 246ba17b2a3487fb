import polars as pl
import pytest

from orbit.landing import RejectedFile, list_landed, move_rejected, read_text

CSV = "event_id,occurred_at,amount\nA1,2026-01-01T10:00:00Z,1.50\nA2,2026-01-02,\n"


def test_csv_is_read_as_text_with_line_numbers(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text(CSV)
    f = read_text(p)
    assert f.schema["amount"] == pl.Utf8
    assert f["_line"].to_list() == [2, 3]
    assert f["amount"].to_list() == ["1.50", None]


def test_utf8_bom_is_stripped(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes(b"\xef\xbb\xbf" + CSV.encode())
    assert read_text(p).columns[1] == "event_id"


def test_non_utf8_is_rejected_with_line(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes(CSV.encode() + "A3,2026-01-03,Muñoz\n".encode("latin-1"))
    with pytest.raises(RejectedFile, match=r"a.csv:4: not valid UTF-8"):
        read_text(p)


def test_parquet_and_jsonl_become_the_same_text(tmp_path):
    typed = pl.DataFrame({"event_id": ["A1"], "n": [1.5]})
    typed.write_parquet(tmp_path / "a.parquet")
    (tmp_path / "a.jsonl").write_text('{"event_id": "A1", "n": 1.5}\n')
    for name in ("a.parquet", "a.jsonl"):
        f = read_text(tmp_path / name)
        assert f.drop("_line").rows() == [("A1", "1.5")]
        assert f["_line"].to_list() == [1]


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("e.csv", b"", "the file is empty"),
        ("b.jsonl", b'{"a": 1}\n{"a": \n', "b.jsonl:2: malformed JSON line"),
        ("c.parquet", b"PAR1 not really", "unreadable Parquet"),
        ("d.xlsx", b"x", "unknown file type"),
    ],
)
def test_unreadable_files_are_rejected_with_a_clear_message(tmp_path, name, content, message):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(RejectedFile, match=message):
        read_text(p)


def test_listing_skips_partial_files_and_orders_by_mtime(tmp_path):
    import os

    for i, name in enumerate(["b.csv", "a.csv", ".hidden.csv", "c.csv.part"]):
        (tmp_path / "activities").mkdir(exist_ok=True)
        p = tmp_path / "activities" / name
        p.write_text(CSV)
        os.utime(p, (1000 + i, 1000 + i))
    assert [f.name for f in list_landed(tmp_path)] == ["activities/b.csv", "activities/a.csv"]


def test_rejected_file_is_moved_beside_its_reason(tmp_path):
    src = tmp_path / "landing" / "activities" / "x.csv"
    src.parent.mkdir(parents=True)
    src.write_text("junk")
    moved = move_rejected(src, tmp_path / "quarantine", "x.csv:1: bad")
    assert not src.exists() and moved.exists()
    assert moved.with_name("x.csv.reason").read_text().strip() == "x.csv:1: bad"
