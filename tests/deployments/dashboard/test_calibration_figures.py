"""The calibration page's ECE is the batch gate's: one definition, one figure.

A labelled run is written through the Repository (SQLite and PostgreSQL); the batch gate
(``check_batch``) scores its verdicts as the pipeline does, and the page's figure is read back
from the database. No browser: ``labelled_calibration`` is what the page draws."""

from __future__ import annotations

import pytest

from deployments.dashboard.page_calibration import labelled_calibration
from quality.gates import check_batch
from storage.repository import Repository
from tests.quality.quality_data import claim_verdict
from verdictflow.contracts import Item, ItemVerdict, label_index
from verdictflow.verdicts import item_verdict

# Probabilities (supported, contradicted, not enough info) and gold labels, cycled: confident
# and right, confident and wrong, hesitant; every third item has a second, weaker claim.
PROBS = [(0.9, 0.05, 0.05), (0.7, 0.2, 0.1), (0.2, 0.7, 0.1), (0.3, 0.1, 0.6), (0.55, 0.4, 0.05)]
GOLD = ["supported", "contradicted", "contradicted", "supported", "not_enough_info", "refuted"]


def labelled_run(prefix: str, n: int) -> tuple[list[Item], list[ItemVerdict]]:
    """``n`` labelled items and their verdicts (some of two claims)."""
    items, verdicts = [], []
    for i in range(n):
        item_id = f"{prefix}-{i}"
        items.append(Item(id=item_id, text="Paris is a city.", metadata={"label": GOLD[i % 6]}))
        claims = [claim_verdict(item_id, PROBS[i % 5])]
        if i % 3 == 0:
            claims.append(claim_verdict(item_id, PROBS[(i + 2) % 5], claim_id=f"{item_id}:1"))
        verdicts.append(item_verdict(item_id, claims))
    return items, verdicts


def write_run(repo: Repository, run_id: str, items: list[Item], verdicts: list[ItemVerdict]):
    repo.start_run(run_id, "verify", {"dataset": "labelled"}, "test")
    repo.save_items(run_id, items)
    repo.save_verdicts(run_id, verdicts)
    repo.finish_run(run_id, "completed", {"items": len(items)}, {})


def gate_ece(items: list[Item], verdicts: list[ItemVerdict]) -> dict:
    """The stored details of the batch gate's ece expectation on these verdicts."""
    labels = {item.id: item.gold_label for item in items}
    [ece] = [r for r in check_batch(verdicts, labels).results if r.details["rule"] == "ece"]
    return ece.details


def binary_ece(items: list[Item], verdicts: list[ItemVerdict]) -> float:
    """The page's former figure: 10 equal-width bins of p_supported, supported or not."""
    gold = {item.id: label_index(item.gold_label) == 0 for item in items}
    bins: dict[int, list[tuple[float, bool]]] = {}
    for v in verdicts:
        bins.setdefault(min(int(v.p_supported * 10), 9), []).append(
            (v.p_supported, gold[v.item_id])
        )
    return sum(
        abs(sum(g for _, g in b) / len(b) - sum(p for p, _ in b) / len(b)) * len(b)
        for b in bins.values()
    ) / len(verdicts)


def test_the_calibration_page_shows_the_ece_the_batch_gate_checked(db_url: str, home) -> None:
    repo = Repository(db_url)
    repo.upgrade()
    first, second = labelled_run("a", 24), labelled_run("b", 30)
    write_run(repo, "cal-run-a", *first)
    write_run(repo, "cal-run-b", *second)
    try:
        with repo.engine.connect() as conn:
            ece, points = labelled_calibration(conn, ["cal-run-a"])
            both, _ = labelled_calibration(conn, ["cal-run-a", "cal-run-b"])
            none, no_points = labelled_calibration(conn, ["no-such-run"])
    finally:
        repo.dispose()
    gate = gate_ece(*first)
    assert gate["n_labelled"] == 24
    assert round(ece, 4) == gate["observed_value"]  # the figure the failed gate prints
    assert sum(p["n"] for p in points) == 24
    assert [p["confidence"] for p in points] == sorted(p["confidence"] for p in points)
    # The weighted mean over the bins drawn is the figure shown.
    drawn = sum(p["n"] * abs(p["accuracy"] - p["confidence"]) for p in points) / 24
    assert drawn == pytest.approx(ece)
    # The former definition gives another figure on this run: the test tells them apart.
    assert abs(binary_ece(*first) - ece) > 0.01
    # Two runs: the gate over their union.
    union = gate_ece(first[0] + second[0], first[1] + second[1])
    assert round(both, 4) == union["observed_value"]
    assert none is None and no_points == []
