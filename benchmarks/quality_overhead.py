"""Measure what the quality gates add to a verify run.

    python -m benchmarks.quality_overhead --items 1000

Runs the verify flow on ``--items`` generated items (each with its own context, so no corpus
is needed), then times the four gates on that run's real items, claims, evidence and
verdicts (after one warm-up call that imports Great Expectations and builds the suites,
which a long-lived worker pays once). Prints a JSON report.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

CITIES = [
    ("Paris", "France", 2.1),
    ("Madrid", "Spain", 3.3),
    ("Rome", "Italy", 2.8),
    ("Berlin", "Germany", 3.7),
    ("Lisbon", "Portugal", 0.5),
]


def make_items(n: int) -> list[dict[str, Any]]:
    """``n`` items with two claims each and a context that supports, contradicts or misses."""
    items = []
    for i in range(n):
        city, country, millions = CITIES[i % len(CITIES)]
        context = (
            f"{city} is the capital of {country}. About {millions} million people live in "
            f"{city}. Record {i} was written in {1990 + i % 30}."
        )
        said = millions if i % 3 else millions * 2
        items.append(
            {
                "id": f"overhead-{i}",
                "text": f"{city} is the capital of {country}. "
                f"{city} has about {said:g} million inhabitants.",
                "context": context,
            }
        )
    return items


def time_gates(items_raw: list[dict[str, Any]], verdicts: list[Any]) -> dict[str, float]:
    """Seconds each gate takes on the run's data (after a warm-up)."""
    from quality.gates import check_batch, check_evidence, check_outputs
    from verdictflow.claims import split_claims
    from verdictflow.contracts import Item

    items = [Item.model_validate(r) for r in items_raw]
    claims = [c for item in items for c in split_claims(item)]
    evidence = {c.claim_id: [] for c in claims}
    for verdict in verdicts:
        for claim in verdict.claims:
            evidence[claim.claim_id] = list(claim.evidence)
    started = time.perf_counter()
    check_outputs(verdicts[:2])
    warm_up = time.perf_counter() - started
    timings = {"gx_import_and_build_s": warm_up}
    for name, call in (
        ("evidence_s", lambda: check_evidence(claims, evidence)),
        ("outputs_s", lambda: check_outputs(verdicts, [i.id for i in items])),
        ("batch_s", lambda: check_batch(verdicts)),
    ):
        started = time.perf_counter()
        call()
        timings[name] = time.perf_counter() - started
    timings["gates_total_s"] = sum(v for k, v in timings.items() if k != "gx_import_and_build_s")
    timings["claims"] = float(len(claims))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()
    from flows.verify import verify_items

    raw = make_items(args.items)
    started = time.perf_counter()
    result = verify_items(items=raw)
    run_s = time.perf_counter() - started
    gates = time_gates(raw, result.verdicts)
    report = {
        "items": args.items,
        "verify_run_s": round(run_s, 3),
        **{k: round(v, 4) for k, v in gates.items()},
        "overhead_percent": round(100 * gates["gates_total_s"] / run_s, 3),
        "overhead_with_warm_up_percent": round(
            100 * (gates["gates_total_s"] + gates["gx_import_and_build_s"]) / run_s, 3
        ),
        "status": result.status,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
