"""Which stored items a changed document touches, and how their verdicts moved.

An item is affected when evidence of one of its claims came from the document. The new
verdicts go into a new run whose ``parent_run_id`` is the run the item was first verified in,
so the old verdicts stay and a user can compare the two.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable

from storage.repository import Repository
from verdictflow.contracts import ItemVerdict

RESOURCE_PREFIX = "verdictflow.document."


def doc_ids_from(document: str | Iterable[str]) -> list[str]:
    """Document ids from ids or event resource ids (``verdictflow.document.<doc_id>``)."""
    values = [document] if isinstance(document, str) else list(document)
    ids = []
    for value in values:
        for part in str(value).split(","):
            part = part.strip()
            if part.startswith(RESOURCE_PREFIX):
                part = part[len(RESOURCE_PREFIX) :]
            if part and part not in ids:
                ids.append(part)
    if not ids:
        raise ValueError(f"no document id in {document!r} (rule: document)")
    return ids


def affected_items(repo: Repository, doc_ids: list[str]) -> dict[str, list[str]]:
    """``{run_id: [item_id, ...]}`` of stored items whose evidence cites these documents.

    Items of reprocess runs count as well, so a second change of the same document
    re-verifies the newest verdicts; each item is reprocessed once, in the run where it was
    first stored (the root of its run chain).
    """
    by_run: dict[str, list[str]] = defaultdict(list)
    for run_id, item_id in repo.items_citing_documents(doc_ids):
        root = _root_run(repo, run_id)
        if item_id not in by_run[root]:
            by_run[root].append(item_id)
    return dict(by_run)


def _root_run(repo: Repository, run_id: str) -> str:
    seen = set()
    while run_id not in seen:
        seen.add(run_id)
        run = repo.get_run(run_id)
        parent = (run or {}).get("parent_run_id")
        if not parent:
            return run_id
        run_id = parent
    return run_id


def reprocess_run_id(parent_run_id: str, item_ids: list[str], doc_state: dict[str, str]) -> str:
    """The same change of the same documents for the same items: the same run (idempotent)."""
    digest = hashlib.sha256(
        json.dumps(
            {"parent": parent_run_id, "items": sorted(item_ids), "docs": doc_state},
            sort_keys=True,
        ).encode()
    )
    return f"reprocess-{digest.hexdigest()[:16]}"


def document_state(repo: Repository, doc_ids: list[str]) -> dict[str, str]:
    """``{doc_id: "<status>:<content hash>"}``: what the documents look like now."""
    docs = repo.get_documents()
    state = {}
    for doc_id in sorted(doc_ids):
        doc = docs.get(doc_id)
        state[doc_id] = "unknown" if doc is None else f"{doc.status}:{doc.content_hash}"
    return state


def latest_verdicts(
    repo: Repository, run_id: str, item_ids: list[str], exclude: str | None = None
) -> dict[str, ItemVerdict]:
    """The newest verdict per item along the run chain from ``run_id`` (``exclude`` left out)."""
    wanted = set(item_ids)
    runs = sorted(repo.list_runs(limit=10_000, kind="verify"), key=lambda r: r["started_at"])
    chain = [run_id]
    for run in runs:
        if run.get("parent_run_id") in chain and run["run_id"] != exclude:
            chain.append(run["run_id"])
    newest: dict[str, ItemVerdict] = {}
    for member in chain:
        for verdict in repo.load_item_verdicts(member):
            if verdict.item_id in wanted:
                newest[verdict.item_id] = verdict
    return newest


def changes(before: dict[str, ItemVerdict], after: list[ItemVerdict]) -> list[dict]:
    """One row per item: old and new label and p_supported."""
    rows = []
    for verdict in after:
        old = before.get(verdict.item_id)
        rows.append(
            {
                "item": verdict.item_id,
                "before": old.label.value if old else None,
                "after": verdict.label.value,
                "p_supported_before": round(old.p_supported, 3) if old else None,
                "p_supported_after": round(verdict.p_supported, 3),
                "changed": old is None or old.label != verdict.label,
            }
        )
    return rows


def items_retrieving_documents(
    repo: Repository, doc_ids: list[str], recent_runs: int
) -> dict[str, list[str]]:
    """Items of the newest ``recent_runs`` runs whose claims' corpus search now finds a document.

    A new document is cited by nothing yet; this finds the items it would change. Only items
    checked against the corpus count (items with their own context, unless
    ``retrieval.add_corpus_evidence`` is on, never search the corpus).
    """
    if recent_runs <= 0:
        return {}
    from retrieval.search import search_many
    from verdictflow.claims import split_claims
    from verdictflow.config import get_settings

    use_context_items = get_settings().retrieval.add_corpus_evidence
    wanted = set(doc_ids)
    by_run: dict[str, list[str]] = defaultdict(list)
    for run in repo.list_runs(limit=recent_runs, kind="verify"):
        if run["status"] != "completed":
            continue
        items = [i for i in repo.load_items(run["run_id"]) if use_context_items or not i.context]
        claims = [claim for item in items for claim in split_claims(item)]
        if not claims:
            continue
        hits = search_many([c.text for c in claims])
        root = _root_run(repo, run["run_id"])
        for claim, found in zip(claims, hits, strict=True):
            if any(hit.doc_id in wanted for hit in found) and claim.item_id not in by_run[root]:
                by_run[root].append(claim.item_id)
    return dict(by_run)


def merge(*groups: dict[str, list[str]]) -> dict[str, list[str]]:
    """Union of ``{run_id: [item_id]}`` maps, order kept."""
    out: dict[str, list[str]] = {}
    for group in groups:
        for run_id, item_ids in group.items():
            bucket = out.setdefault(run_id, [])
            bucket.extend(i for i in item_ids if i not in bucket)
    return out
