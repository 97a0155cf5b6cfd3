"""`verdictflow ingest` and `verdictflow search` through typer's CliRunner."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from deployments.cli_retrieval import _parse_filters, register
from tests.retrieval.files import write_corpus


@pytest.fixture
def app() -> typer.Typer:
    from prefect.logging.configuration import ensure_logging_setup

    # Prefect sets its log handlers up lazily, on the first flow run, binding sys.stderr as it
    # is then; inside CliRunner that is a stream closed after the call. Set them up first.
    ensure_logging_setup()
    app = typer.Typer()
    register(app)
    return app


def test_ingest_then_search(prefect_harness, home, tmp_path, app):
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "bad.txt").write_bytes(b"\x00\x00")
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(corpus)])
    assert result.exit_code == 0, result.output
    assert "bad.txt" in result.output and "rule binary" in result.output
    for word in ("new", "changed", "unchanged", "deleted", "failed"):
        assert word in result.output
    again = runner.invoke(app, ["ingest", str(corpus), "--json"])
    assert again.exit_code == 0, again.output
    payload = json.loads(again.stdout)
    assert payload["counts"]["unchanged"] == 8 and payload["counts"]["failed"] == 1

    found = runner.invoke(
        app, ["search", "When did Apollo 11 land on the Moon?", "--k", "2", "--json"]
    )
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)
    assert len(hits) == 2 and hits[0]["doc_id"] == "moon.pdf" and hits[0]["rank"] == 1

    def fts(query: str, *filters: str) -> set[str]:
        args = ["search", query, "--json", "--mode", "fts"]
        for f in filters:
            args += ["--filter", f]
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.output
        return {h["doc_id"] for h in json.loads(done.stdout)}

    # The filter keeps what matches it and drops what does not, each seen happening.
    everest = fts("mountain")
    assert everest and not everest & {"r-einstein", "p-gold"}
    assert fts("mountain", "domain=science") == set()
    science = fts("Einstein relativity", "domain=science")
    assert "r-einstein" in science and science <= {"r-einstein", "p-gold"}
    table = runner.invoke(app, ["search", "Nile river"])
    assert table.exit_code == 0 and "c-nile" in table.output
    bad = runner.invoke(app, ["search", "x", "--mode", "magic"])
    assert bad.exit_code == 2 and "unknown search mode" in bad.output


def test_search_on_an_empty_corpus(home, app):
    result = CliRunner().invoke(app, ["search", "anything", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_parse_filters():
    assert _parse_filters(["domain=geo", "year=2020", "year=2021", "doc_id=12"]) == {
        "domain": "geo",
        "year": [2020, 2021],
        "doc_id": "12",
    }
    with pytest.raises(typer.BadParameter, match="KEY=VALUE"):
        _parse_filters(["nokey"])


def test_ingest_exit_codes_name_what_went_wrong(prefect_harness, home, tmp_path, app):
    runner = CliRunner()
    missing = runner.invoke(app, ["ingest", str(tmp_path / "no-such-folder")])
    assert missing.exit_code == 2
    assert "not found" in missing.output and "unsupported_type" not in missing.output
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"\x00\x00")
    (folder / "b.txt").write_bytes(b"\x00\x01")
    failed = runner.invoke(app, ["ingest", str(folder), "--json"])
    assert failed.exit_code == 1, failed.output  # every file failed
    assert json.loads(failed.stdout)["counts"]["failed"] == 2


def test_a_readme_in_each_of_two_folders_both_stay_searchable(prefect_harness, home, tmp_path, app):
    a, b = tmp_path / "docs" / "a", tmp_path / "docs" / "b"
    a.mkdir(parents=True)
    b.mkdir()
    (a / "README.md").write_text("The Aurora X2 headphones weigh 254 grams.\n")
    (b / "README.md").write_text("The Fjell S1 speaker is rated IP67 against dust and water.\n")
    runner = CliRunner()

    def ingest(*args: str) -> dict:
        done = runner.invoke(app, ["ingest", *args, "--json"])
        assert done.exit_code == 0, done.output
        return json.loads(done.stdout)["counts"]

    assert ingest(str(a / "README.md"))["new"] == 1
    second = ingest(str(b / "README.md"))
    assert (second["new"], second["changed"], second["deleted"]) == (1, 0, 0)
    assert ingest(str(b / "README.md"))["unchanged"] == 1  # idempotent

    def found(query: str) -> list[str]:
        done = runner.invoke(app, ["search", query, "--json", "--mode", "fts"])
        assert done.exit_code == 0, done.output
        return [h["doc_id"] for h in json.loads(done.stdout)]

    assert found("Aurora headphones") == ["README.md"]
    assert found("Fjell speaker") == [(b / "README.md").resolve().as_posix()]


def test_ingest_names_the_columns_it_found_and_the_files_it_skipped(
    prefect_harness, home, tmp_path, app
):
    import pandas as pd

    folder = tmp_path / "corpus"
    folder.mkdir()
    pd.DataFrame([{"id": "n1", "body": "The Nile is a river in Africa."}]).to_csv(
        folder / "rivers.csv", index=False
    )
    (folder / "weights.bin").write_bytes(b"\x00\x01\x02 binary")
    (folder / "ok.txt").write_text("The Po is a river in Italy.")
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(folder)])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "rivers.csv" in x)
    assert "rule missing_text_column" in line and "columns found: 'id', 'body'" in line
    assert "--text-column" in line
    skipped = next(x for x in result.output.splitlines() if "weights.bin" in x)
    assert skipped.startswith("skipped ") and "unsupported type: .bin" in skipped
    payload = json.loads(runner.invoke(app, ["ingest", str(folder), "--json"]).stdout)
    assert (payload["counts"]["skipped"], payload["counts"]["failed"]) == (1, 1)
    assert payload["skipped"][0]["source"] == str((folder / "weights.bin").resolve())
    fixed = runner.invoke(app, ["ingest", str(folder), "--text-column", "body", "--json"])
    assert fixed.exit_code == 0, fixed.output
    counts = json.loads(fixed.stdout)["counts"]
    assert (counts["new"], counts["failed"], counts["skipped"]) == (1, 0, 1)
