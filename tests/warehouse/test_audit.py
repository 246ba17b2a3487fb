from warehouse.audit import append_audit, verify_audit
from warehouse.db import open_warehouse


def test_hash_chain_detects_tampering(tmp_path):
    with open_warehouse(tmp_path / "w.duckdb") as con:
        for i in range(3):
            append_audit(con, "export_bonus", period="2026-Q3", run_id=f"r{i}", output_sha256="x")
        assert verify_audit(con) == []
        con.execute("UPDATE audit_log SET run_id = 'forged' WHERE seq = 2")
        problems = verify_audit(con)
        assert problems and "row 2" in problems[0]


def test_a_deleted_row_breaks_the_chain_at_the_next_one(tmp_path):
    with open_warehouse(tmp_path / "w.duckdb") as con:
        for i in range(4):
            append_audit(con, "close_period", period="2026-Q3", run_id=f"r{i}")
        con.execute("DELETE FROM audit_log WHERE seq = 2")
        assert verify_audit(con) == ["audit row 3: chain broken (previous hash does not match)"]
