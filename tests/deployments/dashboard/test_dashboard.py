"""The dashboard served for real and read in a real browser: every page shows the figures the
database holds (computed here with plain SQL on the SQLite file), an item opens to its
evidence highlighted in its source document, the filters change what is shown, a run id
that does not exist says so, and an empty database shows how to fill it."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.deployments.dashboard import data
from tests.deployments.dashboard.conftest import (
    click_row,
    fully_visible,
    metric,
    settle,
    table_cells,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SUPPORTED_GOLD = {"supported", "entailment", "0", "true"}


def sql(db, query: str, *args) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query, args).fetchall()


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %"


def no_exception(page) -> None:
    assert page.locator("[data-testid=stException]").count() == 0, page.locator(
        "[data-testid=stException]"
    ).first.inner_text()


def test_overview_shows_the_runs_figures_and_the_failed_batch_gate(filled, page, shots):
    from playwright.sync_api import expect

    db = filled["db"]
    [(runs,)] = sql(db, "SELECT count(*) FROM runs WHERE kind = 'verify'")
    labels = dict(
        sql(
            db,
            "SELECT iv.label, count(*) FROM item_verdicts iv JOIN runs r ON r.run_id = iv.run_id"
            " WHERE r.kind = 'verify' GROUP BY iv.label",
        )
    )
    items = sum(labels.values())
    failed = sql(
        db,
        "SELECT DISTINCT run_id FROM quality_results WHERE suite = 'batch' AND NOT success",
    )
    page.goto(filled["base"] + "/")
    expect(metric(page, "Runs")).to_have_text(str(runs))
    expect(metric(page, "Items")).to_have_text(str(items))
    expect(metric(page, "Batch gates failed")).to_have_text(str(len(failed)))
    for label in ("supported", "contradicted", "unsupported", "uncertain"):
        expect(metric(page, label.capitalize())).to_have_text(pct(labels.get(label, 0), items))
    alert = page.locator("[data-testid=stAlert]").filter(has_text="Batch quality gate failed")
    expect(alert).to_contain_text(failed[0][0])
    expect(page.locator(".js-plotly-plot")).to_have_count(2)
    grid = page.locator("[data-testid=stDataFrame]").first
    expect(grid).to_contain_text(data.POLICIES)
    cells = table_cells(page, data.POLICIES)
    [(policies_claims,)] = sql(
        db, "SELECT count(*) FROM claim_verdicts WHERE run_id = ?", data.POLICIES
    )
    row = cells[cells.index(data.POLICIES) - 2 : cells.index(data.POLICIES) + 12]
    assert "policies" in row and "quality_failed" in row and "❌ failed" in row, row
    assert str(policies_claims) in row
    settle(page)
    page.screenshot(path=str(shots / "overview.png"))
    no_exception(page)


def test_overview_filters_by_dataset_time_and_verdict(filled, page):
    from playwright.sync_api import expect

    db = filled["db"]
    page.goto(filled["base"] + "/")
    expect(metric(page, "Runs")).to_have_text("3")
    # Dataset: only the policies run.
    [(n_policies,)] = sql(db, "SELECT count(*) FROM item_verdicts WHERE run_id = ?", data.POLICIES)
    page.get_by_role("combobox", name="Dataset / deployment").click()
    page.get_by_role("option", name="policies").click()
    page.keyboard.press("Escape")
    expect(metric(page, "Runs")).to_have_text("1")
    expect(metric(page, "Items")).to_have_text(str(n_policies))
    page.get_by_role("button", name="Remove policies").click()
    expect(metric(page, "Runs")).to_have_text("3")
    # Time range: from 2026-11-15 the products run (2026-11-10) is out.
    day = page.get_by_role("spinbutton", name="day, From")
    day.click()
    page.keyboard.type("15")
    page.get_by_role("heading", name="Overview").click()  # the date commits on blur
    [(after,)] = sql(
        db, "SELECT count(*) FROM runs WHERE kind = 'verify' AND started_at >= '2026-11-15'"
    )
    expect(metric(page, "Runs")).to_have_text(str(after))
    assert data.PRODUCTS not in page.locator("[data-testid=stDataFrame]").first.inner_text()
    # Verdict: every chip of the four shows, whole, at a laptop's width (none scrolled away).
    page.set_viewport_size({"width": 1280, "height": 1400})
    verdicts = page.locator("[data-testid=stMultiSelect]").filter(
        has=page.get_by_text("Verdict", exact=True)
    )
    for label in ("supported", "contradicted", "unsupported", "uncertain"):
        chip = verdicts.locator("[data-tag]").filter(has=page.locator(f"span[title='{label}']"))
        expect(chip).to_have_count(1)
        assert fully_visible(chip), f"the {label} chip is cut off or hidden"
    # Only runs holding a contradicted item (from 2026-11-15: none).
    for label in ("supported", "unsupported", "uncertain"):
        page.get_by_role("button", name=f"Remove {label}").click()
    expect(page.get_by_text("No verify run matches these filters.")).to_be_visible()
    no_exception(page)


def test_a_run_lists_its_items_and_an_item_opens_to_its_highlighted_evidence(filled, page, shots):
    from playwright.sync_api import expect

    db = filled["db"]
    page.goto(f"{filled['base']}/run?run={data.PRODUCTS}")
    grid = page.locator("[data-testid=stDataFrame]").filter(has_text="p_supported").first
    expect(grid).to_contain_text("p2")
    counts = dict(
        sql(
            db,
            "SELECT label, count(*) FROM item_verdicts WHERE run_id = ? GROUP BY label",
            data.PRODUCTS,
        )
    )
    expect(metric(page, "Items")).to_have_text(str(sum(counts.values())))
    expect(metric(page, "Contradicted")).to_have_text(str(counts["contradicted"]))
    # The quarantined record and the rule it broke.
    [(line, rule, message)] = sql(
        db, "SELECT line, rule, message FROM input_errors WHERE run_id = ?", data.PRODUCTS
    )
    errors = page.locator("[data-testid=stDataFrame]").filter(has_text=message).first
    expect(errors).to_contain_text(rule)
    # Sorted in SQL by p_supported, highest first: the rows follow the database's order.
    order = [
        r[0]
        for r in sql(
            db,
            "SELECT item_id FROM item_verdicts WHERE run_id = ? ORDER BY p_supported DESC",
            data.PRODUCTS,
        )
    ]
    # The verdict and the gold label, each in a column of its own.
    headers = [h.strip() for h in grid.locator("table th").all_inner_texts()]
    assert {"verdict", "gold label"} <= set(headers) and "label" not in headers, headers
    gold = dict(
        sql(
            db,
            "SELECT item_id, json_extract(metadata, '$.label') FROM items WHERE run_id = ?",
            data.PRODUCTS,
        )
    )
    verdict = dict(
        sql(db, "SELECT item_id, label FROM item_verdicts WHERE run_id = ?", data.PRODUCTS)
    )
    cells = table_cells(page, "p_supported")
    for item_id in ("p2", "p3"):
        at = cells.index(item_id)
        assert cells[at + 1 : at + 3] == [verdict[item_id], gold[item_id]], cells
    page.get_by_text("Descending").click()
    page.get_by_role("combobox", name="Sort by").click()
    page.get_by_role("option", name="p_supported").click()
    grid = page.locator("[data-testid=stDataFrame]").filter(has_text="p_supported").first
    expect(grid.locator("table tr").nth(1)).to_contain_text(order[0])
    # Select the contradicted item's row: it opens with its claim and the deciding evidence.
    row = order.index("p2")
    click_row(page, grid, row)
    expect(page.get_by_role("heading", name="Item p2: contradicted")).to_be_visible()
    [(p_sup, best)] = sql(
        db,
        "SELECT p_supported, best_chunk_id FROM claim_verdicts WHERE run_id = ? AND item_id = 'p2'",
        data.PRODUCTS,
    )
    [(ev_text,)] = sql(
        db, "SELECT text FROM evidence WHERE run_id = ? AND chunk_id = ?", data.PRODUCTS, best
    )
    [(context,)] = sql(
        db, "SELECT context FROM items WHERE run_id = ? AND item_id = 'p2'", data.PRODUCTS
    )
    expect(page.get_by_text(f"p_supported {p_sup:.3f}")).to_be_visible()
    mark = page.locator("mark.vf-evidence").first
    expect(mark).to_have_text(ev_text)
    start = context.index(ev_text)
    expect(
        page.get_by_text(f"in item context, characters {start}-{start + len(ev_text)}")
    ).to_be_visible()
    source = page.locator(".vf-source").first
    expect(source).to_have_text(context)  # the whole context, the evidence marked inside it
    # In the item's text only the span is marked: the words the evidence contradicts.
    [(item_text,)] = sql(
        db, "SELECT text FROM items WHERE run_id = ? AND item_id = 'p2'", data.PRODUCTS
    )
    [(spans,)] = sql(
        db, "SELECT spans FROM claim_verdicts WHERE run_id = ? AND item_id = 'p2'", data.PRODUCTS
    )
    [span] = json.loads(spans)
    expect(page.locator(".vf-item")).to_have_text(item_text)
    marked = page.locator(".vf-item mark")
    expect(marked).to_have_count(1)
    expect(marked).to_have_text(span["text"])
    assert span["text"] != item_text
    expect(marked).to_have_attribute("data-kind", span["kind"])
    expect(page.get_by_text(f"Gold label: {gold['p2']}")).to_be_visible()
    settle(page)
    page.screenshot(path=str(shots / "run.png"))
    no_exception(page)


def test_corpus_evidence_is_marked_in_its_document_from_the_chunk_store(filled, page):
    from playwright.sync_api import expect

    page.goto(f"{filled['base']}/run?run={data.REPROCESS}&item=p1")
    expect(page.get_by_role("heading", name="Item p1: unsupported")).to_be_visible()
    marks = page.locator("mark.vf-evidence")
    expect(marks.first).to_have_text(data.IP67)
    start = data.FJELL_NEW.index(data.IP67)
    expect(
        page.get_by_text(f"in document fjell.txt, characters {start}-{start + len(data.IP67)}")
    ).to_be_visible()
    expect(page.locator(".vf-source").first).to_have_text(data.FJELL_NEW)
    expect(
        page.get_by_text("Experts (gate weight): nli-general 0.70, numbers 0.30").first
    ).to_be_visible()
    # The title shows the claim's similarity to the evidence, not the retrieval's score.
    expect(page.get_by_text("fjell.txt · similarity 0.64").first).to_be_visible()
    expect(page.get_by_text("score 0.810")).to_have_count(0)


def test_evidence_titles_show_similarity_only_where_it_was_measured() -> None:
    from deployments.dashboard import evidence as E

    assert E.similarity_note({"similarity": 0.6234, "score": 0.0164}) == " · similarity 0.62"
    assert E.similarity_note({"similarity": None, "score": 0.0164}) == ""  # an older run


def test_a_run_id_that_does_not_exist_says_so(filled, page):
    from playwright.sync_api import expect

    page.goto(f"{filled['base']}/run?run=no-such-run")
    expect(page.get_by_text("Run no-such-run does not exist in this database.")).to_be_visible()
    no_exception(page)


def test_what_changed_shows_old_and_new_verdicts_and_the_document_change(filled, page, shots):
    from playwright.sync_api import expect

    db = filled["db"]
    rows = sql(
        db,
        "SELECT n.item_id, o.label, n.label FROM item_verdicts n JOIN runs r ON r.run_id = n.run_id"
        " LEFT JOIN item_verdicts o ON o.run_id = r.parent_run_id AND o.item_id = n.item_id"
        " WHERE n.run_id = ?",
        data.REPROCESS,
    )
    changed = sum(1 for _, old, new in rows if old != new)
    page.goto(f"{filled['base']}/changes")
    expect(metric(page, "Items re-verified")).to_have_text(str(len(rows)))
    expect(metric(page, "Verdicts changed")).to_have_text(str(changed))
    grid = page.locator("[data-testid=stDataFrame]").first
    expect(grid).to_contain_text("p1")
    cells = table_cells(page, "p1")
    assert cells[cells.index("p1") + 1 : cells.index("p1") + 3] == [rows[0][1], rows[0][2]]
    click_row(page, grid, 0)
    expect(page.get_by_role("heading", name="Item p1: why it changed")).to_be_visible()
    expect(page.get_by_text("changed after the original run")).to_be_visible()
    expect(page.locator("del.vf-old").first).to_contain_text("20")
    expect(page.locator("mark.vf-new").first).to_contain_text("12")
    settle(page)
    page.screenshot(path=str(shots / "changes.png"))
    no_exception(page)


def _utilisation(db) -> tuple[int, dict[str, float]]:
    """Claims of the verify runs and each expert's utilisation, in plain SQL and Python: per
    run, its share of the run's routings (the pipeline's recorded pairs when the run has
    them, else the claims routed to it), averaged over the runs weighted by claims."""
    runs = sql(db, "SELECT run_id, timings FROM runs WHERE kind = 'verify'")
    claims = dict(sql(db, "SELECT run_id, count(*) FROM claim_verdicts GROUP BY run_id"))
    total = sum(claims.get(r, 0) for r, _ in runs)
    overall: dict[str, float] = {}
    for run_id, timings in runs:
        routed = json.loads(timings).get("routing") or {}
        if not routed:
            for (experts,) in sql(
                db, "SELECT experts FROM claim_verdicts WHERE run_id = ?", run_id
            ):
                for name in json.loads(experts):
                    routed[name] = routed.get(name, 0) + 1
        for name, n in routed.items():
            share = n / sum(routed.values()) * claims.get(run_id, 0) / total
            overall[name] = overall.get(name, 0.0) + share
    return total, overall


def test_experts_page_shows_utilisation_agreement_and_model_cards(filled, page, shots):
    from playwright.sync_api import expect

    db = filled["db"]
    claims, overall = _utilisation(db)
    page.goto(f"{filled['base']}/experts")
    expect(metric(page, "Claims")).to_have_text(str(claims))
    table = page.locator("[data-testid=stDataFrame]").filter(has_text="utilisation %").first
    expect(table).to_contain_text("numbers")
    cells = table_cells(page, "utilisation %")
    for name, share in overall.items():
        assert cells[cells.index(name) + 1] == f"{round(100 * share, 1):g}", cells
    # Agreement of the numbers expert on the products run: it always says contradicted.
    page.goto(f"{filled['base']}/experts?run={data.PRODUCTS}")
    [(n, agree)] = sql(
        db,
        "SELECT count(*), sum(cv.label = 'contradicted') FROM expert_scores es"
        " JOIN claim_verdicts cv ON cv.run_id = es.run_id AND cv.claim_id = es.claim_id"
        " AND cv.best_chunk_id = es.chunk_id WHERE es.run_id = ? AND es.expert = 'numbers'"
        " AND es.gate_weight IS NOT NULL AND cv.label != 'uncertain'",
        data.PRODUCTS,
    )
    agreement = page.locator("[data-testid=stDataFrame]").filter(has_text="agreement %").first
    expect(agreement).to_contain_text("numbers")
    cells = table_cells(page, "agreement %")
    i = cells.index("numbers")
    assert cells[i + 1 : i + 4] == [str(n), str(agree), f"{100 * agree / n:g}"], cells
    expect(page.get_by_text("nli-general (", exact=False).first).to_be_visible()
    settle(page)
    page.screenshot(path=str(shots / "experts.png"))
    no_exception(page)


def _calibration_figures(db, run_id: str) -> tuple[float, float]:
    """ECE as the batch gate computes it (the run's verdicts read back through the
    Repository) and AUROC (pairs, in Python) of a run's labelled items."""
    from quality.gates import calibration_error, labelled_probs
    from storage.repository import Repository
    from verdictflow.contracts import gold_labels

    repo = Repository(f"sqlite:///{db}")
    try:
        verdicts = repo.load_item_verdicts(run_id)
        labels = gold_labels(repo.load_items(run_id))
    finally:
        repo.dispose()
    ece, _ = calibration_error(*labelled_probs(verdicts, labels))
    rows = [
        (p, str(label).lower() in SUPPORTED_GOLD)
        for p, label in sql(
            db,
            "SELECT iv.p_supported, json_extract(i.metadata, '$.label') FROM item_verdicts iv"
            " JOIN items i ON i.run_id = iv.run_id AND i.item_id = iv.item_id WHERE iv.run_id = ?",
            run_id,
        )
    ]
    pos = [p for p, x in rows if x]
    neg = [p for p, x in rows if not x]
    auroc = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg))
    return ece, auroc


def test_calibration_page_shows_ece_and_auroc_of_a_labelled_run_and_an_evaluation(
    filled, page, shots
):
    from playwright.sync_api import expect

    ece, auroc = _calibration_figures(filled["db"], data.PRODUCTS)
    page.goto(f"{filled['base']}/calibration?run={data.PRODUCTS}")
    expect(metric(page, "ECE")).to_have_text(f"{ece:.3f}")
    expect(metric(page, "AUROC")).to_have_text(f"{auroc:.3f}")
    [(n,)] = sql(filled["db"], "SELECT count(*) FROM items WHERE run_id = ?", data.PRODUCTS)
    expect(metric(page, "Labelled items")).to_have_text(str(n))
    expect(page.locator(".js-plotly-plot")).to_have_count(3)
    settle(page)
    page.screenshot(path=str(shots / "calibration.png"))
    page.get_by_text("an evaluation").click()
    table = page.locator("[data-testid=stDataFrame]").filter(has_text="verify run").first
    expect(table).to_contain_text("0.123")
    expect(metric(page, "ECE")).to_have_text(f"{ece:.3f}")  # the evaluation's demo run
    no_exception(page)


def test_an_empty_database_shows_how_to_run_the_demo(empty, page, shots):
    from playwright.sync_api import expect

    for path in ("/", "/run", "/calibration"):
        page.goto(empty + path)
        expect(page.get_by_text("Nothing to show yet.")).to_be_visible()
        expect(page.get_by_text("make demo")).to_be_visible()
        expect(page.get_by_text("verdictflow demo").first).to_be_visible()
        no_exception(page)
    settle(page)
    page.screenshot(path=str(shots / "empty.png"))
