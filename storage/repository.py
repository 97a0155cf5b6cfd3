"""The repository: every read and write of runs, documents, items, claims and verdicts.

Writes are batched ``INSERT ... ON CONFLICT DO NOTHING`` (COPY for large PostgreSQL batches)
on each table's natural key, one transaction per call, retried as a whole with backoff when
the connection drops; so any call can be repeated and re-running a run writes nothing twice.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage import group_commit, queries, writes
from storage import rows as R
from storage.engine import WRITE_OPTION, make_engine, with_retries
from storage.migrate import upgrade as migrate_upgrade
from storage.models import (
    DOCUMENT_STATUSES,
    RUN_KINDS,
    RUN_STATUSES,
    claim_verdicts_t,
    claims_t,
    documents_t,
    evidence_t,
    input_errors_t,
    item_verdicts_t,
    items_t,
    quality_t,
    runs_t,
    scores_t,
)
from verdictflow.config import get_settings
from verdictflow.contracts import (
    Claim,
    ClaimScore,
    DocumentRecord,
    Evidence,
    InputError,
    Item,
    ItemVerdict,
    QualityResult,
)

T = TypeVar("T")


class Repository:
    """Reads and idempotent writes of everything verdictflow stores, on SQLite or PostgreSQL."""

    def __init__(self, url: str | None = None) -> None:
        """Open (lazily) the database at ``url``; None: the configured one."""
        self.url = url or get_settings().db_url
        self.engine = make_engine(self.url)

    def __repr__(self) -> str:
        return f"Repository({self.engine.url.render_as_string(hide_password=True)!r})"

    # ---- plumbing -------------------------------------------------------------------------

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent, safe on every run)."""
        with_retries(lambda: migrate_upgrade(self.engine), "upgrade")

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def _write(self, fn: Callable[[Connection], T], what: str) -> T:
        """Run ``fn`` in one write transaction, retried as a whole on a dropped connection
        (with the writes of other threads when group commit is on: ``storage.group_commit``)."""
        group = group_commit.group_of(self.engine)
        if group is not None:
            return group.write(fn, what)

        def attempt() -> T:
            with self.engine.connect() as conn:
                conn = conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    return fn(conn)

        return with_retries(attempt, what)

    def _read(self, fn: Callable[[Connection], T], what: str) -> T:
        def attempt() -> T:
            with self.engine.connect() as conn:
                return fn(conn)

        return with_retries(attempt, what)

    def _save(self, table: sa.Table, rows: Sequence[dict], what: str) -> int:
        return self._write(lambda conn: writes.insert_ignore(conn, table, rows), what)

    # ---- runs -----------------------------------------------------------------------------

    def start_run(
        self,
        run_id: str,
        kind: str,
        parameters: dict,
        code_version: str,
        parent_run_id: str | None = None,
        prefect_flow_run_id: str | None = None,
    ) -> bool:
        """Record a run as running; True if new, False if it existed (resumed: running again)."""
        write = _start_run_write(
            run_id, kind, parameters, code_version, parent_run_id, prefect_flow_run_id
        )
        return self._write(write, "start_run")

    def open_run(
        self,
        run_id: str,
        kind: str,
        parameters: dict,
        code_version: str,
        items: list[Item],
        errors: list[InputError],
        parent_run_id: str | None = None,
        prefect_flow_run_id: str | None = None,
    ) -> bool:
        """``start_run``, ``save_items`` and ``save_input_errors`` in one transaction (one
        commit where there were three); True if the run is new."""
        start = _start_run_write(
            run_id, kind, parameters, code_version, parent_run_id, prefect_flow_run_id
        )
        save_items = _items_write(run_id, items)
        error_rows = [R.input_error_row(run_id, e) for e in errors]

        def write(conn: Connection) -> bool:
            new = start(conn)
            save_items(conn)
            writes.insert_ignore(conn, input_errors_t, error_rows)
            return new

        return self._write(write, "open_run")

    def finish_run(self, run_id: str, status: str, counts: dict, timings: dict) -> None:
        """Record a run's outcome, counts and timings."""
        if status not in RUN_STATUSES:
            raise ValueError(f"run {run_id!r}: status {status!r} is not one of {RUN_STATUSES}")
        values = R.clean({"status": status, "counts": counts, "timings": timings})
        values["finished_at"] = R.utcnow()
        stmt = runs_t.update().where(runs_t.c.run_id == run_id).values(**values)

        def write(conn: Connection) -> None:
            if conn.execute(stmt).rowcount == 0:
                raise KeyError(f"run {run_id!r}: finish_run on a run that was never started")

        self._write(write, "finish_run")

    def get_run(self, run_id: str) -> dict | None:
        """A run as a dict of its columns (None if unknown)."""
        q = sa.select(runs_t).where(runs_t.c.run_id == run_id)
        found = self._read(lambda c: c.execute(q).first(), "get_run")
        return None if found is None else _run_dict(found)

    def list_runs(
        self, limit: int = 20, kind: str | None = None, prefect_flow_run_id: str | None = None
    ) -> list[dict]:
        """The newest runs first, optionally of one kind or of one Prefect flow run."""
        q = sa.select(runs_t).order_by(runs_t.c.started_at.desc(), runs_t.c.run_id.desc())
        if kind is not None:
            q = q.where(runs_t.c.kind == kind)
        if prefect_flow_run_id is not None:
            q = q.where(runs_t.c.prefect_flow_run_id == prefect_flow_run_id)
        return [
            _run_dict(r) for r in self._read(lambda c: c.execute(q.limit(limit)).all(), "list_runs")
        ]

    # ---- per-run records ------------------------------------------------------------------

    def save_items(self, run_id: str, items: list[Item]) -> int:
        """Store a run's items (their order is kept); returns rows actually inserted."""
        return self._write(_items_write(run_id, items), "save_items")

    def save_claims(self, run_id: str, claims: list[Claim]) -> int:
        """Store a run's claims; returns rows actually inserted."""
        return self._save(claims_t, [R.claim_row(run_id, c) for c in claims], "save_claims")

    def save_evidence(self, run_id: str, evidence: list[Evidence]) -> int:
        """Store claim -> chunk evidence links; returns rows actually inserted."""
        rows = [R.evidence_row(run_id, e) for e in evidence]
        return self._save(evidence_t, rows, "save_evidence")

    def save_expert_scores(self, run_id: str, scores: list[ClaimScore]) -> int:
        """Store every expert's probabilities per (claim, chunk) with its gate weight."""
        rows = [row for s in scores for row in R.expert_score_rows(run_id, s)]
        return self._save(scores_t, rows, "save_expert_scores")

    def save_verdicts(self, run_id: str, items: list[ItemVerdict]) -> int:
        """Store item verdicts, their claim verdicts and the claims' evidence, in one go.

        Returns the item-verdict plus claim-verdict rows actually inserted.
        """
        return self._write(_verdicts_write(run_id, items), "save_verdicts")

    def save_batch(
        self,
        run_id: str,
        claims: list[Claim],
        evidence: list[Evidence],
        scores: list[ClaimScore],
        verdicts: list[ItemVerdict],
    ) -> dict[str, int]:
        """``save_claims``, ``save_evidence``, ``save_expert_scores`` and ``save_verdicts`` of
        one batch in one transaction (one commit where there were four); rows actually
        inserted by each, under those names."""
        claim_rows = [R.claim_row(run_id, c) for c in claims]
        ev_rows = [R.evidence_row(run_id, e) for e in evidence]
        score_rows = [row for s in scores for row in R.expert_score_rows(run_id, s)]
        save_verdicts = _verdicts_write(run_id, verdicts)

        def write(conn: Connection) -> dict[str, int]:
            return {
                "claims": writes.insert_ignore(conn, claims_t, claim_rows),
                "evidence": writes.insert_ignore(conn, evidence_t, ev_rows),
                "expert_scores": writes.insert_ignore(conn, scores_t, score_rows),
                "verdicts": save_verdicts(conn),
            }

        return self._write(write, "save_batch")

    def save_input_errors(self, run_id: str, errors: list[InputError]) -> int:
        """Store quarantined input records with the rule each broke."""
        rows = [R.input_error_row(run_id, e) for e in errors]
        return self._save(input_errors_t, rows, "save_input_errors")

    def save_quality_results(self, run_id: str, results: list[QualityResult]) -> int:
        """Store Great Expectations outcomes, one row per (suite, expectation, column)."""
        rows = [R.quality_row(run_id, r) for r in results]
        return self._save(quality_t, rows, "save_quality_results")

    # ---- documents ------------------------------------------------------------------------

    def upsert_documents(self, docs: list[DocumentRecord]) -> None:
        """Insert new documents; update those whose hash, status, chunks or error changed."""
        for d in docs:
            if d.status not in DOCUMENT_STATUSES:
                raise ValueError(f"document {d.doc_id!r}: status {d.status!r} not allowed")
        now = R.utcnow()
        rows = list({d.doc_id: R.document_row(d, now) for d in docs}.values())  # last one wins
        if rows:
            self._write(lambda conn: writes.upsert_documents(conn, rows), "upsert_documents")

    def get_documents(self) -> dict[str, DocumentRecord]:
        """Every recorded document (deleted and failed ones included), by doc id."""
        found = self._read(lambda c: c.execute(sa.select(documents_t)).all(), "get_documents")
        return {r.doc_id: R.row_document(r) for r in found}

    def get_document_times(self, doc_id: str) -> dict | None:
        """When a document was (last) ingested and updated (None if unknown)."""
        d = documents_t.c
        q = sa.select(d.ingested_at, d.updated_at).where(d.doc_id == doc_id)
        row = self._read(lambda c: c.execute(q).first(), "get_document_times")
        if row is None:
            return None
        return {"ingested_at": R.as_utc(row.ingested_at), "updated_at": R.as_utc(row.updated_at)}

    def mark_documents_deleted(self, doc_ids: list[str]) -> int:
        """Mark documents deleted; returns how many were not deleted before."""
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            return 0
        d = documents_t.c
        stmt = (
            documents_t.update()
            .where(d.doc_id.in_(ids), d.status != "deleted")
            .values(status="deleted", n_chunks=0, updated_at=R.utcnow())
        )
        return self._write(lambda c: c.execute(stmt).rowcount, "mark_documents_deleted")

    # ---- reads for resume, reprocess and reports ------------------------------------------

    def claim_ids_done(self, run_id: str) -> set[str]:
        """Claims of a run that already have a verdict (a resumed run skips them)."""
        q = sa.select(claim_verdicts_t.c.claim_id).where(claim_verdicts_t.c.run_id == run_id)
        return set(self._read(lambda c: c.execute(q).scalars().all(), "claim_ids_done"))

    def load_items(self, run_id: str, item_ids: list[str] | None = None) -> list[Item]:
        """A run's items in the order they were saved (optionally only some of them)."""
        q = sa.select(items_t).where(items_t.c.run_id == run_id)
        if item_ids is not None:
            q = q.where(items_t.c.item_id.in_(list(item_ids)))
        q = q.order_by(items_t.c.position, items_t.c.item_id)
        return [R.row_item(r) for r in self._read(lambda c: c.execute(q).all(), "load_items")]

    def load_item_verdicts(self, run_id: str) -> list[ItemVerdict]:
        """A run's verdicts rebuilt from rows, claims in order, each with its ranked evidence."""
        return self._read(lambda c: queries.load_item_verdicts(c, run_id), "load_item_verdicts")

    def load_input_errors(self, run_id: str) -> list[InputError]:
        """A run's quarantined records, by line."""
        t = input_errors_t.c
        q = (
            sa.select(input_errors_t)
            .where(t.run_id == run_id)
            .order_by(t.line.is_(None), t.line, t.item_id.is_not(None), t.item_id, t.rule)
        )
        found = self._read(lambda c: c.execute(q).all(), "load_input_errors")
        return [
            InputError(line=r.line, item_id=r.item_id, rule=r.rule, message=r.message)
            for r in found
        ]

    def load_quality_results(self, run_id: str) -> list[QualityResult]:
        """A run's Great Expectations outcomes, by suite and expectation."""
        t = quality_t.c
        q = (
            sa.select(quality_t)
            .where(t.run_id == run_id)
            .order_by(t.suite, t.expectation, t.column.is_(None), t.column)
        )
        found = self._read(lambda c: c.execute(q).all(), "load_quality_results")
        return [R.row_quality(r) for r in found]

    def items_citing_documents(self, doc_ids: list[str]) -> list[tuple[str, str]]:
        """(run_id, item_id) of every stored item with evidence from any of these documents."""
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            return []
        return self._read(
            lambda c: queries.items_citing_documents(c, ids), "items_citing_documents"
        )

    def table_counts(self) -> dict[str, int]:
        """Rows per table."""
        return self._read(queries.table_counts, "table_counts")


def _items_write(run_id: str, items: list[Item]) -> Callable[[Connection], int]:
    """The write of ``save_items``: after the run's stored items, in order."""

    def write(conn: Connection) -> int:
        last = conn.execute(
            sa.select(sa.func.max(items_t.c.position)).where(items_t.c.run_id == run_id)
        ).scalar()
        start = 0 if last is None else last + 1
        rows = [R.item_row(run_id, it, start + i) for i, it in enumerate(items)]
        return writes.insert_ignore(conn, items_t, rows)

    return write


def _verdicts_write(run_id: str, items: list[ItemVerdict]) -> Callable[[Connection], int]:
    """The write of ``save_verdicts``: item-verdict plus claim-verdict rows inserted."""
    item_rows = [R.item_verdict_row(run_id, iv) for iv in items]
    claim_rows = [
        R.claim_verdict_row(run_id, cv, idx) for iv in items for idx, cv in enumerate(iv.claims)
    ]
    ev_rows = [R.evidence_row(run_id, e) for iv in items for cv in iv.claims for e in cv.evidence]

    def write(conn: Connection) -> int:
        writes.insert_ignore(conn, evidence_t, ev_rows)
        n = writes.insert_ignore(conn, claim_verdicts_t, claim_rows)
        return n + writes.insert_ignore(conn, item_verdicts_t, item_rows)

    return write


def _start_run_write(
    run_id: str,
    kind: str,
    parameters: dict,
    code_version: str,
    parent_run_id: str | None,
    prefect_flow_run_id: str | None,
) -> Callable[[Connection], bool]:
    """The write of ``start_run``: True if the run is new."""
    if kind not in RUN_KINDS:
        raise ValueError(f"run {run_id!r}: kind {kind!r} is not one of {RUN_KINDS}")
    row = R.clean(
        {
            "run_id": run_id,
            "kind": kind,
            "status": "running",
            "parameters": parameters,
            "counts": {},
            "timings": {},
            "code_version": code_version,
            "parent_run_id": parent_run_id,
            "prefect_flow_run_id": prefect_flow_run_id,
        }
    )
    row["started_at"] = R.utcnow()
    resume: dict[str, Any] = {"status": "running", "finished_at": None}
    if prefect_flow_run_id is not None:
        resume["prefect_flow_run_id"] = prefect_flow_run_id

    def write(conn: Connection) -> bool:
        if writes.insert_ignore(conn, runs_t, [row]):
            return True
        conn.execute(runs_t.update().where(runs_t.c.run_id == run_id).values(**resume))
        return False

    return write


def _run_dict(row: Any) -> dict:
    out = dict(row._mapping)
    out["started_at"] = R.as_utc(out["started_at"])
    out["finished_at"] = R.as_utc(out["finished_at"])
    return out


@functools.lru_cache(maxsize=4)
def repository_for(url: str) -> Repository:
    """The repository of one database URL: one per process, migrated."""
    repo = Repository(url)
    repo.upgrade()
    return repo


def current_repository() -> Repository:
    """The repository of the configured database: one per process and URL, migrated."""
    from verdictflow.config import get_settings

    return repository_for(get_settings().db_url)
