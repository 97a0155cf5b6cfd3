"""The CLI contract: verify, runs, db upgrade, demo."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from deployments.cli import app
from verdictflow.config import reset_settings

runner = CliRunner()
CONTEXT = (
    "Orders under 50 EUR pay a flat shipping fee of 4.90 EUR. We do not ship to post office boxes."
)


@pytest.fixture
def local_home(home, monkeypatch):
    from prefect.logging.configuration import ensure_logging_setup

    # Prefect binds its log handlers to the stderr of its first flow run; CliRunner closes
    # that stream after each call, so set logging up outside it first.
    ensure_logging_setup()
    monkeypatch.setenv("VERDICTFLOW_DASK__USE_DASK", "false")
    reset_settings()
    return home


def _write(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_verify_writes_the_output_contract(prefect_harness, local_home, tmp_path):
    source = _write(
        tmp_path / "in.jsonl",
        [
            {
                "id": "fee",
                "text": "Orders under 50 EUR pay a shipping fee of 6.90 EUR.",
                "context": CONTEXT,
            },
            {
                "id": "ok",
                "text": "Orders under 50 EUR pay a flat fee of 4.90 EUR.",
                "context": CONTEXT,
            },
            '{"id": "broken"',
        ],
    )
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["verify", str(source), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "line 3" in result.output and "rule json" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["fee", "ok"]
    allowed = {"supported", "contradicted", "unsupported", "uncertain"}
    for row in rows:
        assert set(row) == {"id", "verdict", "p_supported", "claims", "run_id"}
        assert row["verdict"] in allowed and 0.0 <= row["p_supported"] <= 1.0
        for claim in row["claims"]:
            assert {"text", "verdict", "p_supported", "evidence", "experts", "spans"} <= set(claim)
            assert claim["evidence"] and claim["evidence"][0]["text"]
    assert rows[0]["verdict"] == "contradicted"
    # The changed fee is highlighted; offsets point into the claim's text.
    (fee,) = [s for s in rows[0]["claims"][0]["spans"] if s["kind"] == "contradicted"]
    assert (
        fee["text"] == "6.90" and rows[0]["claims"][0]["text"][fee["start"] : fee["end"]] == "6.90"
    )
    assert len({r["run_id"] for r in rows}) == 1

    listed = runner.invoke(app, ["runs"])
    assert listed.exit_code == 0
    assert rows[0]["run_id"] in listed.output


def test_verify_exits_non_zero_when_nothing_could_be_checked(prefect_harness, local_home, tmp_path):
    source = _write(tmp_path / "bad.jsonl", ['{"id": 1', {"id": "x", "text": ""}])
    result = runner.invoke(app, ["verify", str(source)])
    assert result.exit_code == 1
    assert "rule text" in result.output


def test_db_upgrade_is_repeatable(local_home):
    for _ in range(2):
        result = runner.invoke(app, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "up to date" in result.output


def test_verify_without_output_prints_jsonl_when_piped(prefect_harness, local_home, tmp_path):
    source = _write(
        tmp_path / "one.jsonl",
        [{"id": "fee", "text": "Orders under 50 EUR pay a fee of 6.90 EUR.", "context": CONTEXT}],
    )
    result = runner.invoke(app, ["verify", str(source)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["id"] for r in rows] == ["fee"] and rows[0]["verdict"] == "contradicted"


def test_verify_names_an_empty_file_and_a_csv(local_home, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    result = runner.invoke(app, ["verify", str(empty)])
    assert result.exit_code == 1
    assert "no records: the file is empty" in result.output
    csv = tmp_path / "items.csv"
    csv.write_text("id,text\na,Paris is in France.\n")
    result = runner.invoke(app, ["verify", str(csv)])
    assert result.exit_code == 2
    assert "verify expects JSONL" in result.output and "verify-dataset" in result.output


def test_the_table_highlights_span_words_and_escapes_the_rest(home):
    from rich.console import Console

    from deployments.cli import _highlighted
    from verdictflow.contracts import ClaimVerdict, Span, VerdictLabel

    text = "The [red] X2\\ weigh 310 grams in Zürich, with a case."
    spans = [
        Span(
            start=text.index("310"),
            end=text.index("310") + 3,
            text="310",
            kind="contradicted",
            score=0.9,
        ),
        Span(
            start=text.index("case"), end=len(text) - 1, text="case", kind="unsupported", score=0.7
        ),
    ]
    claim = ClaimVerdict(
        item_id="a",
        claim_id="a:0",
        text=text,
        label=VerdictLabel.CONTRADICTED,
        probs=(0.05, 0.9, 0.05),
        p_supported=0.05,
        spans=spans,
    )
    markup = _highlighted(claim, 200)
    assert (
        "[bold red]310[/bold red]" in markup
        and "[underline yellow]case[/underline yellow]" in markup
    )
    console = Console(record=True, width=200, color_system="truecolor")
    console.print(markup)
    assert console.export_text().strip() == text  # "[red]" and the backslash are text, not markup
    cut = _highlighted(claim, 22)  # cut inside the contradicted span: the styled part ends there
    assert cut.endswith("[bold red]3[/bold red]…")


@pytest.fixture
def fast_home(local_home, tmp_path, monkeypatch):
    """A fresh home with the fast experts (no cross-encoder to load)."""
    from tests.experts.test_gate import FAST
    from tests.experts.tiny_models import write_registry

    registry = write_registry(tmp_path / "fast.yaml", FAST)
    monkeypatch.setenv("VERDICTFLOW_EXPERTS__REGISTRY", str(registry))
    reset_settings()
    return local_home


def _error_line(output: str, item_id: str) -> str:
    return next(line for line in output.splitlines() if f"item {item_id}:" in line)


def test_verify_names_an_unknown_field_with_its_line_and_item(fast_home, tmp_path):
    source = _write(
        tmp_path / "typo.jsonl",
        [
            {"id": "ok", "text": "Orders under 50 EUR pay a fee of 4.90 EUR.", "context": CONTEXT},
            {"id": "typo", "text": "Orders under 50 EUR pay 6.90 EUR.", "contxt": CONTEXT},
        ],
    )
    result = runner.invoke(app, ["verify", str(source), "--output", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    line = _error_line(result.output, "typo")
    assert line.startswith("line 2 item typo: rule unknown_field")
    assert "'contxt'" in line and "'metadata'" in line
    rows = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["ok"]  # the good item goes on


def test_verify_refuses_an_item_over_the_claim_limit(fast_home, tmp_path, monkeypatch):
    monkeypatch.setenv("VERDICTFLOW_VERIFY__MAX_CLAIMS_PER_ITEM", "2")
    reset_settings()
    source = _write(
        tmp_path / "long.jsonl",
        [
            {
                "id": "two",
                "text": "Orders pay 4.90 EUR. We do not ship to boxes.",
                "context": CONTEXT,
            },
            {"id": "three", "text": "Orders pay 4.90 EUR. We ship. We do not ship to boxes."},
        ],
    )
    result = runner.invoke(app, ["verify", str(source), "--output", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    line = _error_line(result.output, "three")
    assert line.startswith("line 2 item three: rule max_claims: text makes more than 2 claims")
    assert "verify.max_claims_per_item" in line


def test_verify_says_plainly_that_no_document_is_ingested(fast_home, tmp_path):
    source = _write(
        tmp_path / "bare.jsonl",
        [
            {"id": "bare", "text": "Orders under 50 EUR pay a fee of 4.90 EUR."},
            {"id": "own", "text": "Orders under 50 EUR pay 4.90 EUR.", "context": CONTEXT},
        ],
    )
    result = runner.invoke(app, ["verify", str(source), "--output", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    warning = next(x for x in result.output.splitlines() if x.startswith("warning:"))
    assert "no documents are ingested: 1 item(s) without their own context" in warning
    assert "verdictflow ingest" in warning
    assert "'warnings'" not in result.output  # said once, not again in the counts

    from flows.verify import verify_items

    bare = verify_items(items=[{"id": "bare-2", "text": "Orders under 50 EUR pay 4.90 EUR."}])
    assert bare.counts["warnings"][0].startswith("no documents are ingested")
    own = verify_items(items=[{"id": "own-2", "text": "Orders pay 4.90 EUR.", "context": CONTEXT}])
    assert "warnings" not in own.counts  # the item brought its own evidence

    from retrieval.ingest import ingest_paths

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "fees.txt").write_text(CONTEXT)
    ingest_paths([tmp_path / "docs"])
    again = runner.invoke(app, ["verify", str(source)])
    assert again.exit_code == 0, again.output
    assert "no documents are ingested" not in again.output


def test_verify_after_the_experts_change_is_a_new_run_and_rerun_forces_one(
    prefect_harness, local_home, tmp_path, monkeypatch
):
    from experts.training.domain import train_domain_expert
    from experts.training.domain_data import corpus_from_paths
    from retrieval.ingest import ingest_paths
    from tests.experts.domain_corpus import BANK, bank_home_setup

    bank = bank_home_setup(local_home, tmp_path, monkeypatch)
    ingest_paths([bank["corpus"]])
    source = _write(
        tmp_path / "in.jsonl",
        [
            {"id": "fee", "text": "The Fjordbank debit card costs 15 EUR a year."},
            {"id": "tower", "text": "Cards expire after four years.", "context": BANK["cards.md"]},
        ],
    )
    out = tmp_path / "out.jsonl"

    def verify(*options: str) -> dict:
        result = runner.invoke(app, ["verify", str(source), "--output", str(out), *options])
        assert result.exit_code == 0, result.output
        return {row["id"]: row for row in map(json.loads, out.read_text().splitlines())}

    first = verify()
    assert verify()["fee"]["run_id"] == first["fee"]["run_id"]  # nothing changed: that run
    docs = corpus_from_paths([bank["corpus"]])
    train_domain_expert("banking", docs, minutes=5, log=lambda _: None, force=True)
    second = verify()
    assert second["fee"]["run_id"] != first["fee"]["run_id"]
    assert "banking" in second["fee"]["claims"][0]["experts"]  # the new expert was asked
    assert "banking" not in first["fee"]["claims"][0]["experts"]
    assert verify()["fee"]["run_id"] == second["fee"]["run_id"]  # idempotent again
    third = verify("--rerun")
    assert third["fee"]["run_id"] not in (first["fee"]["run_id"], second["fee"]["run_id"])
    assert verify("--rerun")["fee"]["run_id"] != third["fee"]["run_id"]
