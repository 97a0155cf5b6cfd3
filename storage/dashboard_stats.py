"""The dashboard's expert and calibration figures, aggregated in SQL.

Experts: the gate's choice per claim is ``claim_verdicts.experts`` (name -> weight), read
with ``json_each`` (SQLite) or ``jsonb_each_text`` (PostgreSQL) and grouped per run and
expert; agreement compares each chosen expert's reading of the deciding chunk
(``expert_scores``) with the claim's verdict. Calibration: labelled runs are runs whose items
carry a gold ``label`` in their metadata; ROC and selective accuracy come from per-bucket
counts of the item verdicts' ``p_supported`` against the gold label, the ECE and reliability
bins from the labelled items' verdicts, as the batch gate computes them.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage import rows as R
from storage.dashboard import RunFilter, dataset_of, run_where
from storage.models import claim_verdicts_t, item_verdicts_t, items_t, runs_t, scores_t
from verdictflow.contracts import (
    LABEL_NAMES,
    SUPPORTED,
    ClaimVerdict,
    ItemVerdict,
    VerdictLabel,
    deciding_claim,
)

# Gold label spellings that mean "supported" (names of LABEL_NAMES and the index itself).
SUPPORTED_NAMES: tuple[str, ...] = (
    *sorted(k for k, v in LABEL_NAMES.items() if v == SUPPORTED),
    str(SUPPORTED),
    "true",
)


def _expert_pairs(conn: Connection) -> Any:
    """``(key, value)`` rows of each claim verdict's experts mapping (a table function)."""
    if conn.dialect.name == "postgresql":
        fn = sa.func.jsonb_each_text(claim_verdicts_t.c.experts)
    else:
        fn = sa.func.json_each(claim_verdicts_t.c.experts)
    return fn.table_valued("key", "value").alias("e")


def expert_usage(conn: Connection, f: RunFilter, limit: int = 200) -> list[dict[str, Any]]:
    """Per run (the newest ``limit`` matching ``f``) and expert: how often the gate routed to
    it, with the run's claim count.

    A run the pipeline closed records its routing (``timings.routing``: pairs scored per
    expert), read from the run's row (``unit`` "pairs"); for any other run the claim
    verdicts' experts are counted (``unit`` "claims").
    """
    r, cv = runs_t.c, claim_verdicts_t.c
    page = (
        sa.select(r.run_id, r.started_at, r.timings["routing"].label("routing"))
        .where(*run_where(conn, f))
        .order_by(r.started_at.desc(), r.run_id.desc())
        .limit(limit)
        .subquery("page")
    )
    runs = {row.run_id: row for row in conn.execute(sa.select(page))}
    if not runs:
        return []
    iv = item_verdicts_t.c  # each item verdict counts its claims: fewer rows than claims
    totals = dict(
        conn.execute(
            sa.select(iv.run_id, sa.func.sum(iv.n_claims))
            .where(iv.run_id.in_(sa.select(page.c.run_id)))
            .group_by(iv.run_id)
        ).all()
    )
    out: list[dict[str, Any]] = []

    def row(run_id: str, expert: str, routed: float, unit: str) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "started_at": R.as_utc(runs[run_id].started_at),
            "expert": expert,
            "routed": float(routed),
            "unit": unit,
            "run_claims": int(totals.get(run_id, 0)),
        }

    counted = []
    for run_id, found in runs.items():
        routing = found.routing if isinstance(found.routing, dict) else {}
        if routing:
            out += [row(run_id, k, v, "pairs") for k, v in routing.items() if v]
        else:
            counted.append(run_id)
    if counted:
        pairs = _expert_pairs(conn)
        q = (
            sa.select(cv.run_id, pairs.c.key.label("expert"), sa.func.count().label("n"))
            .select_from(claim_verdicts_t.join(pairs, sa.true()))
            .where(cv.run_id.in_(counted))
            .group_by(cv.run_id, pairs.c.key)
        )
        out += [row(x.run_id, x.expert, x.n, "claims") for x in conn.execute(q)]
    return out


def utilisation(usage: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per run, each expert's share of the run's routings; overall, those shares averaged
    over the runs weighted by their claims (so pairs and claims never mix)."""
    routed: dict[str, dict[str, float]] = {}
    claims: dict[str, int] = {}
    for u in usage:
        routed.setdefault(u["run_id"], {})[u["expert"]] = u["routed"]
        claims[u["run_id"]] = u["run_claims"]
    per_run = {}
    for run_id, by_expert in routed.items():
        total = sum(by_expert.values())
        per_run[run_id] = {k: v / total for k, v in by_expert.items()} if total else {}
    weight = sum(claims[r] for r in per_run) or 1
    overall: dict[str, float] = {}
    for run_id, shares in per_run.items():
        for name, share in shares.items():
            overall[name] = overall.get(name, 0.0) + share * claims[run_id] / weight
    return {"overall": overall, **per_run}


def balance_score(weights: dict[str, float], n_experts: int) -> float | None:
    """How evenly the gate spreads its routing: the entropy of the experts' shares over
    ``n_experts`` experts, divided by its maximum (1: even, 0: one expert takes all)."""
    total = sum(w for w in weights.values() if w > 0)
    if total <= 0 or n_experts < 2:
        return None
    entropy = -sum((w / total) * math.log(w / total) for w in weights.values() if w > 0)
    return entropy / math.log(n_experts)


def _domain(long_source_chars: int) -> sa.ColumnElement[str]:
    """An item's routing domain as the scorer derives it: ``metadata.domain``, else qa (a
    question), else long_source (a long context), else general."""
    it = items_t.c
    return sa.func.coalesce(
        it.metadata["domain"].as_string(),
        sa.case(
            (it.question.is_not(None), sa.literal("qa")),
            (sa.func.length(it.context) > long_source_chars, sa.literal("long_source")),
            else_=sa.literal("general"),
        ),
    )


def routing_by_domain(
    conn: Connection, run_id: str, long_source_chars: int
) -> list[dict[str, Any]]:
    """Claims of one run routed to each expert, per item domain."""
    cv, it = claim_verdicts_t.c, items_t.c
    pairs = _expert_pairs(conn)
    domain = _domain(long_source_chars).label("domain")
    q = (
        sa.select(domain, pairs.c.key.label("expert"), sa.func.count().label("claims"))
        .select_from(
            claim_verdicts_t.join(pairs, sa.true()).outerjoin(
                items_t, sa.and_(it.run_id == cv.run_id, it.item_id == cv.item_id)
            )
        )
        .where(cv.run_id == run_id)
        .group_by(domain, pairs.c.key)
        .order_by(domain, pairs.c.key)
    )
    return [dict(row._mapping) for row in conn.execute(q)]


def expert_agreement(conn: Connection, run_id: str) -> list[dict[str, Any]]:
    """Per expert, over one run's decided claims (not abstained) it was routed: how often
    its own reading of the deciding chunk (argmax) matches the claim's verdict."""
    cv, es = claim_verdicts_t.c, scores_t.c
    own = sa.case(
        (sa.and_(es.p_supported >= es.p_contradicted, es.p_supported >= es.p_nei), "supported"),
        (es.p_contradicted >= es.p_nei, "contradicted"),
        else_="unsupported",
    )
    agree = sa.func.sum(sa.case((own == cv.label, 1), else_=0))
    q = (
        sa.select(es.expert, sa.func.count().label("claims"), agree.label("agree"))
        .select_from(
            scores_t.join(
                claim_verdicts_t,
                sa.and_(
                    cv.run_id == es.run_id,
                    cv.claim_id == es.claim_id,
                    cv.best_chunk_id == es.chunk_id,
                ),
            )
        )
        .where(es.run_id == run_id, es.gate_weight.is_not(None), cv.label != "uncertain")
        .group_by(es.expert)
        .order_by(es.expert)
    )
    return [
        {**dict(row._mapping), "agreement": row.agree / row.claims if row.claims else None}
        for row in conn.execute(q)
    ]


def _gold() -> sa.ColumnElement[str]:
    return sa.func.lower(sa.cast(items_t.c.metadata["label"].as_string(), sa.String))


def labelled_runs(conn: Connection, limit: int = 200) -> list[dict[str, Any]]:
    """The newest verify runs whose items carry gold labels (judged by the first item)."""
    r, it = runs_t.c, items_t.c
    q = (
        sa.select(r.run_id, r.started_at, r.status, dataset_of().label("dataset"))
        .select_from(runs_t.join(items_t, sa.and_(it.run_id == r.run_id, it.position == 0)))
        .where(r.kind == "verify", it.metadata["label"].as_string().is_not(None))
        .order_by(r.started_at.desc(), r.run_id.desc())
        .limit(limit)
    )
    return [
        {**dict(row._mapping), "started_at": R.as_utc(row.started_at)} for row in conn.execute(q)
    ]


def evaluations(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The newest evaluation runs with their stored report (figures per data set)."""
    r = runs_t.c
    q = (
        sa.select(r.run_id, r.started_at, r.status, r.counts)
        .where(r.kind == "evaluate")
        .order_by(r.started_at.desc(), r.run_id.desc())
        .limit(limit)
    )
    return [
        {**dict(row._mapping), "started_at": R.as_utc(row.started_at)} for row in conn.execute(q)
    ]


def labelled_verdicts(
    conn: Connection, run_ids: list[str]
) -> list[tuple[list[ItemVerdict], dict[str, Any]]]:
    """Per run, its labelled items' verdicts and their gold labels (item id -> label as
    stored): what the batch gate scored (``quality.gates.labelled_probs``).

    Claims come with their label and probabilities only (no evidence, spans or experts),
    built without validation: they were validated when they were stored."""
    cv, it = claim_verdicts_t.c, items_t.c
    join = claim_verdicts_t.join(items_t, sa.and_(it.run_id == cv.run_id, it.item_id == cv.item_id))
    q = (
        sa.select(
            cv.run_id,
            cv.item_id,
            cv.claim_id,
            cv.label,
            cv.p_supported,
            cv.p_contradicted,
            cv.p_nei,
            it.metadata["label"].label("gold"),
        )
        .select_from(join)
        .where(cv.run_id.in_(run_ids), it.metadata["label"].as_string().is_not(None))
        .order_by(cv.run_id, it.position, cv.idx)
    )
    claims: dict[str, dict[str, list[ClaimVerdict]]] = {r: {} for r in run_ids}
    labels: dict[str, dict[str, Any]] = {r: {} for r in run_ids}
    for row in conn.execute(q):
        probs = (row.p_supported, row.p_contradicted, row.p_nei)
        claim = ClaimVerdict.model_construct(
            item_id=row.item_id,
            claim_id=row.claim_id,
            label=VerdictLabel(row.label),
            probs=probs,
            p_supported=row.p_supported,
            # Given, not made: pydantic inspects a default factory on every construct.
            evidence=[],
            experts={},
            spans=[],
        )
        claims[row.run_id].setdefault(row.item_id, []).append(claim)
        labels[row.run_id][row.item_id] = row.gold
    out = []
    for run_id in run_ids:
        verdicts = [
            ItemVerdict.model_construct(
                item_id=item_id,
                label=deciding_claim(cs).label,
                p_supported=deciding_claim(cs).p_supported,
                claims=cs,
            )
            for item_id, cs in claims[run_id].items()
        ]
        out.append((verdicts, labels[run_id]))
    return out


def calibration_buckets(conn: Connection, run_ids: list[str]) -> list[dict[str, Any]]:
    """Counts of these runs' labelled item verdicts, one row per (p_supported in 0.01
    buckets, gold supported, verdict uncertain, verdict supported): items and the sum of p.

    The binary figures are derived from these rows (``roc_curve``, ``selective_curve``,
    ``operating_point``): one scan of the items. The ECE and reliability bins are the batch
    gate's, over ``labelled_verdicts``."""
    iv, it = item_verdicts_t.c, items_t.c
    join = item_verdicts_t.join(items_t, sa.and_(it.run_id == iv.run_id, it.item_id == iv.item_id))
    positive = sa.case((_gold().in_(SUPPORTED_NAMES), 1), else_=0)
    p = iv.p_supported
    bucket = sa.case((p >= 1.0, 99), else_=sa.cast(sa.func.floor(p * 100), sa.Integer))
    abstained = sa.case((iv.label == "uncertain", 1), else_=0)
    said = sa.case((iv.label == "supported", 1), else_=0)
    keys = (bucket, positive, abstained, said)
    q = (
        sa.select(
            bucket.label("bucket"),
            positive.label("positive"),
            abstained.label("abstained"),
            said.label("said_supported"),
            sa.func.count().label("n"),
            sa.func.sum(p).label("sum_p"),
        )
        .select_from(join)
        .where(iv.run_id.in_(run_ids), it.metadata["label"].as_string().is_not(None))
        .group_by(*keys)
    )
    return [
        {k: (float(v) if k == "sum_p" else int(v)) for k, v in r._mapping.items()}
        for r in conn.execute(q)
    ]


def roc_curve(rows: list[dict[str, Any]]) -> tuple[list[float], list[float], float | None]:
    """(false positive rates, true positive rates, AUROC) at the 0.01 thresholds of
    p_supported, highest first; ties inside a bucket count half (trapezoids)."""
    pos: dict[int, int] = {}
    neg: dict[int, int] = {}
    for r in rows:
        side = pos if r["positive"] else neg
        side[r["bucket"]] = side.get(r["bucket"], 0) + r["n"]
    n_pos, n_neg = sum(pos.values()), sum(neg.values())
    if not n_pos or not n_neg:
        return [], [], None
    fpr, tpr, tp, fp = [0.0], [0.0], 0, 0
    for b in sorted(set(pos) | set(neg), reverse=True):
        tp += pos.get(b, 0)
        fp += neg.get(b, 0)
        fpr.append(fp / n_neg)
        tpr.append(tp / n_pos)
    auc = sum((fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2 for i in range(1, len(fpr)))
    return fpr, tpr, auc


def selective_curve(
    rows: list[dict[str, Any]], support_threshold: float = 0.5
) -> list[dict[str, float]]:
    """Abstention rate against selective accuracy when the least confident items are left
    out (binary confidence max(p, 1 - p) at each bucket's middle, most confident kept
    first); an item is right when (p >= threshold) matches its gold label."""
    by: dict[float, list[int]] = {}
    for r in rows:
        middle = (r["bucket"] + 0.5) / 100
        conf = round(max(middle, 1 - middle), 3)
        right = int((middle >= support_threshold) == bool(r["positive"]))
        b = by.setdefault(conf, [0, 0])
        b[0] += r["n"]
        b[1] += r["n"] * right
    total = sum(n for n, _ in by.values())
    points, kept, correct = [], 0, 0
    for conf in sorted(by, reverse=True):
        kept += by[conf][0]
        correct += by[conf][1]
        points.append(
            {
                "min_confidence": conf,
                "abstention_rate": 1 - kept / total,
                "selective_accuracy": correct / kept,
            }
        )
    return points


def operating_point(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """The runs' own abstention (verdict uncertain) and the accuracy of the rest (a verdict
    of supported against a gold label of supported, anything else against the rest)."""
    total = sum(r["n"] for r in rows)
    abstained = sum(r["n"] for r in rows if r["abstained"])
    kept = [r for r in rows if not r["abstained"]]
    right = sum(r["n"] for r in kept if r["said_supported"] == r["positive"])
    n_kept = sum(r["n"] for r in kept)
    return {
        "items": total,
        "abstention_rate": abstained / total if total else None,
        "selective_accuracy": right / n_kept if n_kept else None,
    }
