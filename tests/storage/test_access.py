"""API keys and the audit log in storage: hashed, scoped, revocable; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from storage.access import AccessStore, hash_key, key_id_of
from storage.models import api_keys_t
from storage.repository import Repository


@pytest.fixture
def store(db_url: str):
    repo = Repository(db_url)
    repo.upgrade()
    try:
        yield AccessStore(repo)
    finally:
        repo.dispose()


def test_a_key_is_stored_as_its_hash_with_its_scopes(store: AccessStore) -> None:
    key, record = store.create_key("svc", ["verify", "read", "verify"])
    assert record.scopes == ["read", "verify"] and key_id_of(key) == record.key_id
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(api_keys_t).where(api_keys_t.c.key_id == record.key_id)).one()
    assert row.key_hash == hash_key(key) and key not in str(tuple(row))
    found = store.check_key(key)
    assert found is not None and found.allows("read") and not found.allows("ingest")
    assert store.check_key(key[:-1] + ("A" if key[-1] != "A" else "B")) is None  # wrong secret
    assert store.check_key("not-a-key") is None and store.check_key("") is None
    assert store.revoke_key(record.key_id) is True
    assert store.check_key(key) is None and store.revoke_key(record.key_id) is False
    assert store.get_key(record.key_id).revoked_at is not None
    assert record.key_id not in {k.key_id for k in store.list_keys(include_revoked=False)}


def test_admin_holds_every_scope_and_unknown_scopes_are_refused(store: AccessStore) -> None:
    _key, admin = store.create_key("root", ["admin"])
    assert all(admin.allows(s) for s in ("read", "verify", "ingest", "admin"))
    with pytest.raises(ValueError, match="unknown scopes"):
        store.create_key("x", ["read", "root"])
    with pytest.raises(ValueError, match="at least one scope"):
        store.create_key("x", [])


def test_the_audit_log_keeps_who_did_what(store: AccessStore) -> None:
    _key, record = store.create_key("svc", ["verify"])
    store.audit("verify", record.key_id, "run-1", 200, {"items": ["a", "b"]})
    store.audit("verify", record.key_id, "run-2", 422, {"items": []})
    mine = store.audit_entries(key_id=record.key_id)
    assert [(e["action"], e["target"], e["status"]) for e in mine] == [
        ("verify", "run-2", 422),
        ("verify", "run-1", 200),
    ]
    assert mine[1]["details"] == {"items": ["a", "b"]} and mine[0]["at"].tzinfo is not None
    actions = {e["action"] for e in store.audit_entries()}
    assert "api-key.create" in actions
