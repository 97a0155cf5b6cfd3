"""A small database for the dashboard tests, written through the project's own Repository.

Two verify runs of two datasets (one labelled, one whose batch gate failed, with a
quarantined record), a reprocessing of the first after its corpus document changed, and an
evaluation run; the corpus document's chunks are in a real LanceDB chunk store. Only the
runs' start times are set with plain SQL afterwards (``start_run`` stamps "now").
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from storage.models import runs_t
from storage.repository import Repository
from verdictflow.contracts import (
    Claim,
    ClaimScore,
    ClaimVerdict,
    DocumentRecord,
    Evidence,
    InputError,
    Item,
    QualityResult,
    Span,
)
from verdictflow.verdicts import item_verdict

PRODUCTS, POLICIES, REPROCESS, EVALUATION = "run-products", "run-policies", "reprocess-1", "eval-1"
STARTS = {
    PRODUCTS: datetime(2026, 11, 10, 9, 0, tzinfo=UTC),
    POLICIES: datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
    REPROCESS: datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
    EVALUATION: datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
}
FJELL_OLD = (
    "Fjell S1 portable speaker. The Fjell S1 is rated IP67 against dust and water. "
    "Its battery plays for 20 hours on a charge. It weighs 540 grams."
)
FJELL_NEW = FJELL_OLD.replace("20 hours", "12 hours")
IP67 = "The Fjell S1 is rated IP67 against dust and water."
WEIGHT, STRAP = (
    "The Aurora X2 weighs 254 grams and ships in black.",
    "Its strap is made of leather.",
)
AURORA = f"{WEIGHT} {STRAP}"
EXPERTS = ("nli-general", "numbers")
# The words of a claim the evidence does not back (a span of its verdict), by claim text.
SPAN_WORDS = {
    "The Aurora X2 weighs 310 grams.": ("310 grams", "contradicted"),
    "The Aurora X2 comes with a charger.": ("with a charger", "unsupported"),
}


def _probs(label: str) -> tuple[tuple[float, float, float], bool]:
    return {
        "supported": ((0.86, 0.04, 0.10), False),
        "weak_supported": ((0.62, 0.08, 0.30), False),
        "contradicted": ((0.05, 0.90, 0.05), False),
        "unsupported": ((0.30, 0.10, 0.60), False),
        "uncertain": ((0.55, 0.05, 0.40), True),
    }[label]


def _claim(item: Item, idx: int, text: str, kind: str, ev: list[Evidence]) -> tuple:
    start = item.text.index(text)
    claim_id = f"{item.id}:{idx}"
    probs, abstained = _probs(kind)
    claim = Claim(
        item_id=item.id, claim_id=claim_id, index=idx, text=text, start=start, end=start + len(text)
    )
    ev = [e.model_copy(update={"claim_id": claim_id}) for e in ev]
    best = ev[0].chunk_id
    weights = (
        {EXPERTS[0]: 0.7, EXPERTS[1]: 0.3} if any(c.isdigit() for c in text) else {EXPERTS[0]: 1.0}
    )
    spans = []
    if text in SPAN_WORDS:
        words, span_kind = SPAN_WORDS[text]
        at = text.index(words)
        spans = [Span(start=at, end=at + len(words), text=words, kind=span_kind, score=0.9)]
    verdict = ClaimVerdict(
        spans=spans,
        item_id=item.id,
        claim_id=claim_id,
        text=text,
        label=ClaimVerdict.label_for(probs, abstained),
        probs=probs,
        p_supported=probs[0],
        uncertainty=0.8 if abstained else 0.1,
        abstained=abstained,
        evidence=ev,
        best_evidence=best,
        experts=weights,
    )
    # Each routed expert's reading of each chunk; nli-general agrees with the verdict, the
    # numbers expert always says contradicted.
    expert_probs = {
        EXPERTS[0]: {e.chunk_id: probs for e in ev},
        **(
            {EXPERTS[1]: {e.chunk_id: (0.1, 0.8, 0.1) for e in ev}} if EXPERTS[1] in weights else {}
        ),
    }
    score = ClaimScore(
        claim_id=claim_id,
        probs=probs,
        best_chunk_id=best,
        experts=weights,
        expert_probs=expert_probs,
    )
    return claim, verdict, score


def _corpus(text: str, piece: str, rank: int = 1) -> Evidence:
    return Evidence(
        claim_id="-",
        doc_id="fjell.txt",
        chunk_id="fjell.txt#0",
        text=piece if piece in text else text,
        score=0.81,
        rank=rank,
        origin="corpus",
        similarity=0.64,
    )


def _context(item_id: str, text: str) -> Evidence:
    return Evidence(
        claim_id="-",
        doc_id=f"context:{item_id}",
        chunk_id=f"context:{item_id}#0",
        text=text,
        score=0.77,
        rank=1,
        origin="context",
    )


def _write_run(repo: Repository, run_id: str, params: dict, rows: list, parent: str | None = None):
    """rows: (item, [(claim text, kind, evidence list)])."""
    repo.start_run(run_id, "verify", params, "test", parent_run_id=parent)
    items = [item for item, _ in rows]
    repo.save_items(run_id, items)
    claims, scores, verdicts = [], [], []
    for item, specs in rows:
        built = [_claim(item, i, text, kind, ev) for i, (text, kind, ev) in enumerate(specs)]
        claims += [b[0] for b in built]
        scores += [b[2] for b in built]
        verdicts.append(item_verdict(item.id, [b[1] for b in built]))
    repo.save_claims(run_id, claims)
    repo.save_expert_scores(run_id, scores)
    repo.save_verdicts(run_id, verdicts)
    return verdicts


def _chunk_store(lancedb: Path, text: str) -> None:
    from retrieval.store import ChunkStore
    from verdictflow.contracts import Chunk

    chunks = [
        Chunk(
            doc_id="fjell.txt",
            chunk_id="fjell.txt#0",
            text=text,
            content_hash="h-" + str(len(text)),
            source="fjell.txt",
            start=0,
            end=len(text),
        )
    ]
    vectors = np.random.default_rng(0).random((1, 384), dtype=np.float32)
    ChunkStore(lancedb).upsert_documents(chunks, {"fjell.txt": chunks[0].content_hash}, vectors)


def build(url: str, lancedb: Path) -> None:
    """Fill the (empty) database at ``url`` and the chunk store at ``lancedb``."""
    repo = Repository(url)
    repo.upgrade()
    doc = DocumentRecord(doc_id="fjell.txt", source="fjell.txt", content_hash="old", n_chunks=1)
    repo.upsert_documents([doc])

    def item(i: str, text: str, label: str | None = None, context: str | None = None) -> Item:
        return Item(id=i, text=text, context=context, metadata={"label": label} if label else {})

    p1 = item("p1", "The Fjell S1 is rated IP67. It plays for 20 hours.", "supported")
    p2 = item("p2", "The Aurora X2 weighs 310 grams.", "contradicted", AURORA)
    p3 = item("p3", "The Aurora X2 comes with a charger.", "supported", AURORA)
    p4 = item("p4", "The Aurora X2 strap is leather.", "unsupported", AURORA)
    _write_run(
        repo,
        PRODUCTS,
        {"dataset": "products"},
        [
            (
                p1,
                [
                    (
                        "The Fjell S1 is rated IP67.",
                        "supported",
                        [_corpus(FJELL_OLD, IP67)],
                    ),
                    ("It plays for 20 hours.", "weak_supported", [_corpus(FJELL_OLD, FJELL_OLD)]),
                ],
            ),
            (p2, [("The Aurora X2 weighs 310 grams.", "contradicted", [_context("p2", WEIGHT)])]),
            (
                p3,
                [("The Aurora X2 comes with a charger.", "unsupported", [_context("p3", AURORA)])],
            ),
            (p4, [("The Aurora X2 strap is leather.", "uncertain", [_context("p4", STRAP)])]),
        ],
    )
    repo.save_input_errors(
        PRODUCTS, [InputError(line=5, item_id=None, rule="text", message="field 'text' is empty")]
    )
    repo.save_quality_results(
        PRODUCTS,
        [
            QualityResult(
                suite="batch",
                expectation="unsupported_share",
                success=True,
                details={"rule": "unsupported_share"},
            )
        ],
    )
    repo.finish_run(PRODUCTS, "completed", {"items": 4}, {"total_s": 2.0})

    policy = "Refunds are paid within 14 days of a return."
    q1 = item("q1", "Refunds are paid within 14 days.", context=policy)
    q2 = item("q2", "Refunds are paid in cash.", context=policy)
    q3 = item("q3", "Returns need a receipt.", context=policy)
    _write_run(
        repo,
        POLICIES,
        {"dataset": "policies"},
        [
            (q1, [("Refunds are paid within 14 days.", "supported", [_context("q1", policy)])]),
            (q2, [("Refunds are paid in cash.", "unsupported", [_context("q2", policy)])]),
            (q3, [("Returns need a receipt.", "unsupported", [_context("q3", policy)])]),
        ],
    )
    repo.save_quality_results(
        POLICIES,
        [
            QualityResult(
                suite="batch",
                expectation="unsupported_share",
                success=False,
                unexpected_count=2,
                details={"rule": "max_unsupported_share", "observed_value": 0.667},
            ),
            QualityResult(suite="outputs", expectation="one_verdict_per_item", success=True),
        ],
    )
    # The pipeline records the pairs each expert scored; the dashboard reads them from here.
    routing = {EXPERTS[0]: 3, EXPERTS[1]: 2}
    repo.finish_run(POLICIES, "quality_failed", {"items": 3}, {"total_s": 1.5, "routing": routing})

    # The document changed (20 -> 12 hours); reprocessing re-verified p1 into a new run.
    repo.upsert_documents([doc.model_copy(update={"content_hash": "new"})])
    _chunk_store(lancedb, FJELL_NEW)
    _write_run(
        repo,
        REPROCESS,
        {"parent_run_id": PRODUCTS},
        [
            (
                p1,
                [
                    (
                        "The Fjell S1 is rated IP67.",
                        "supported",
                        [_corpus(FJELL_NEW, IP67)],
                    ),
                    ("It plays for 20 hours.", "unsupported", [_corpus(FJELL_NEW, FJELL_NEW)]),
                ],
            )
        ],
        parent=PRODUCTS,
    )
    repo.finish_run(REPROCESS, "completed", {"items": 1}, {"total_s": 0.5})

    repo.start_run(EVALUATION, "evaluate", {"datasets": ["demo"]}, "test")
    report = {
        "datasets": {
            "demo": {
                "n": 4,
                "ece": 0.123,
                "auroc": 0.75,
                "abstention_rate": 0.25,
                "verify_run_id": PRODUCTS,
            }
        },
        "overall": {"n": 4, "ece": 0.123, "auroc": 0.75},
    }
    repo.finish_run(EVALUATION, "completed", report, {"total_s": 3.0})
    with repo.engine.begin() as conn:
        for run_id, at in STARTS.items():
            conn.execute(runs_t.update().where(runs_t.c.run_id == run_id).values(started_at=at))
    repo.dispose()
