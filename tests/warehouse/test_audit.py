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
