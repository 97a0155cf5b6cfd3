"""API keys and the audit log: who may call the HTTP API, and what they did with it.

A key is ``vf_<key id>_<secret>``; the database keeps the key id (public, to find the row and
to name the key in the audit log), the key's sha256 and its scopes, never the key itself. A
key is shown once, when it is made.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel

from storage import rows as R
from storage.models import api_keys_t, audit_t
from storage.repository import Repository, current_repository

T = TypeVar("T")

SCOPES: tuple[str, ...] = ("read", "verify", "ingest", "admin")
KEY_PREFIX = "vf_"
_ID_HEX = 12  # characters of the key id


class ApiKey(BaseModel):
    """A stored API key (without its secret)."""

    key_id: str
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        """Whether the key holds ``scope`` (``admin`` holds every scope)."""
        return scope in self.scopes or "admin" in self.scopes


def hash_key(key: str) -> str:
    """The sha256 (hex) a key is stored as."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_id_of(key: str) -> str | None:
    """The key id inside a key, or None when it is not shaped like one of ours."""
    if not key.startswith(KEY_PREFIX) or len(key) < len(KEY_PREFIX) + _ID_HEX + 2:
        return None
    key_id = key[len(KEY_PREFIX) : len(KEY_PREFIX) + _ID_HEX]
    if key[len(KEY_PREFIX) + _ID_HEX] != "_" or not all(c in "0123456789abcdef" for c in key_id):
        return None
    return key_id


def check_scopes(scopes: Sequence[str]) -> list[str]:
    """The scopes, deduplicated in SCOPES order; ValueError naming an unknown one."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; expected some of {list(SCOPES)}")
    if not scopes:
        raise ValueError(f"a key needs at least one scope of {list(SCOPES)}")
    return [s for s in SCOPES if s in scopes]


def _key(row: Any) -> ApiKey:
    return ApiKey(
        key_id=row.key_id,
        name=row.name,
        scopes=list(row.scopes or []),
        created_at=R.as_utc(row.created_at),
        revoked_at=R.as_utc(row.revoked_at),
    )


class AccessStore:
    """API keys and audit entries in verdictflow's database.

    Args:
        repository: The database's repository (migrated); None: the configured one.
    """

    def __init__(self, repository: Repository | None = None) -> None:
        self.engine = (repository or current_repository()).engine

    # One transaction per write, retried as a whole on a dropped connection: the
    # repository's own helpers (they need only ``self.engine``).
    _write = Repository._write
    _read = Repository._read

    # ---- keys -----------------------------------------------------------------------------

    def create_key(self, name: str, scopes: Sequence[str]) -> tuple[str, ApiKey]:
        """Make a key; returns the key (shown this once) and its stored record."""
        scopes = check_scopes(scopes)
        key_id = secrets.token_hex(_ID_HEX // 2)
        key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        row = {
            "key_id": key_id,
            "name": R.clean(name),
            "key_hash": hash_key(key),
            "scopes": scopes,
            "created_at": R.utcnow(),
            "revoked_at": None,
        }
        self._write(lambda c: c.execute(api_keys_t.insert().values(**row)), "create_key")
        self.audit("api-key.create", None, key_id, details={"name": name, "scopes": scopes})
        record = ApiKey(**{k: v for k, v in row.items() if k != "key_hash"})
        return key, record

    def revoke_key(self, key_id: str) -> bool:
        """Revoke a key; False when no active key has this id."""
        t = api_keys_t.c
        stmt = (
            api_keys_t.update()
            .where(t.key_id == key_id, t.revoked_at.is_(None))
            .values(revoked_at=R.utcnow())
        )
        done = bool(self._write(lambda c: c.execute(stmt).rowcount, "revoke_key"))
        if done:
            self.audit("api-key.revoke", None, key_id)
        return done

    def list_keys(self, include_revoked: bool = True) -> list[ApiKey]:
        """Every key, oldest first (revoked ones too unless ``include_revoked`` is False)."""
        q = sa.select(api_keys_t).order_by(api_keys_t.c.created_at, api_keys_t.c.key_id)
        if not include_revoked:
            q = q.where(api_keys_t.c.revoked_at.is_(None))
        return [_key(r) for r in self._read(lambda c: c.execute(q).all(), "list_keys")]

    def get_key(self, key_id: str) -> ApiKey | None:
        """A key's record by id (revoked or not), or None."""
        q = sa.select(api_keys_t).where(api_keys_t.c.key_id == key_id)
        row = self._read(lambda c: c.execute(q).first(), "get_key")
        return None if row is None else _key(row)

    def check_key(self, key: str) -> ApiKey | None:
        """The active key this secret belongs to, or None (unknown, wrong or revoked)."""
        key_id = key_id_of(key)
        if key_id is None:
            return None
        q = sa.select(api_keys_t).where(api_keys_t.c.key_id == key_id)
        row = self._read(lambda c: c.execute(q).first(), "check_key")
        if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)):
            return None
        found = _key(row)
        return found if found.active else None

    # ---- audit ----------------------------------------------------------------------------

    def audit(
        self,
        action: str,
        key_id: str | None,
        target: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record that ``key_id`` (None: the command line) did ``action`` on ``target``."""
        row = R.clean(
            {
                "key_id": key_id,
                "action": action,
                "target": target,
                "status": status,
                "details": details or {},
            }
        )
        row["at"] = R.utcnow()
        self._write(lambda c: c.execute(audit_t.insert().values(**row)), "audit")

    def audit_entries(self, limit: int = 100, key_id: str | None = None) -> list[dict]:
        """The newest audit entries first (optionally of one key)."""
        t = audit_t.c
        q = sa.select(audit_t).order_by(t.at.desc(), t.id.desc()).limit(limit)
        if key_id is not None:
            q = q.where(t.key_id == key_id)
        found = self._read(lambda c: c.execute(q).all(), "audit_entries")
        return [{**dict(r._mapping), "at": R.as_utc(r.at)} for r in found]
