"""The evaluate flow end to end on a tiny labelled JSONL: real Prefect, experts and storage."""

from __future__ import annotations

import json

import pytest

from verdictflow.config import reset_settings

FJELL = (
    "The Fjell S1 is a portable Bluetooth speaker rated IP67. It weighs 1.1 kilograms and plays "
    "for up to 20 hours on a charge. It charges over USB-C in about 3 hours."
)
ROWS = [
    {
        "id": "t1",
        "text": "The Fjell S1 plays for up to 20 hours on a charge.",
        "label": "supported",
    },
    {
        "id": "f1",
        "text": "The Fjell S1 plays for up to 30 hours on a charge.",
        "label": "contradicted",
    },
    {"id": "t2", "text": "The Fjell S1 weighs 1.1 kilograms.", "label": "supported"},
    {"id": "f2", "text": "The Fjell S1 weighs 2.5 kilograms.", "label": "contradicted"},
    {"id": "t3", "text": "The Fjell S1 charges over USB-C.", "label": "supported"},
]


@pytest.fixture
def labelled(home, monkeypatch, tmp_path):
    """A fresh home, in-process expert batches, and a labelled JSONL with one bad line."""
    monkeypatch.setenv("VERDICTFLOW_DASK__USE_DASK", "false")
    reset_settings()
    path = tmp_path / "tiny.jsonl"
    lines = [json.dumps({**r, "context": FJELL}) for r in ROWS]
    lines.insert(2, json.dumps({"id": "bad", "text": "Something.", "label": "maybe"}))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_evaluate_scores_a_labelled_file_and_stores_the_report(prefect_harness, labelled):
    from flows.evaluate import evaluate
    from storage.repository import current_repository

    report = evaluate(datasets=[str(labelled)])
    tiny = report["datasets"]["tiny"]
    assert tiny["task"] == "3-class"
    assert tiny["n"] == len(ROWS) and tiny["rows"] == len(ROWS)
    assert tiny["refused"] == 1  # the line with an unknown label, named below
    assert tiny["gold_counts"] == {"0": 3, "1": 2}
    for key in ("balanced_accuracy", "macro_f1", "auroc", "ece", "abstention_rate"):
        assert 0.0 <= tiny[key] <= 1.0, key
    # the changed numbers are caught: better than chance at telling supported from not
    assert tiny["auroc"] > 0.5
    assert report["overall"]["n"] == len(ROWS)

    repo = current_repository()
    run = repo.get_run(report["run_id"])
    assert run["kind"] == "evaluate" and run["status"] == "completed"
    assert run["counts"]["datasets"]["tiny"]["n"] == len(ROWS)
    verify_run = repo.get_run(tiny["verify_run_id"])
    assert verify_run["parent_run_id"] == report["run_id"]
    for key in ("reliability", "roc"):
        with open(report["paths"][key], "rb") as handle:
            assert handle.read(4) == b"\x89PNG"

    before = repo.table_counts()
    again = evaluate(datasets=[str(labelled)])
    assert again["run_id"] == report["run_id"]
    assert repo.table_counts() == before  # idempotent: nothing written twice
    assert again["datasets"]["tiny"]["auroc"] == tiny["auroc"]


@pytest.mark.slow
@pytest.mark.downloads
def test_a_data_set_gone_from_the_index_is_skipped_and_the_rest_goes_on(
    prefect_harness, labelled, monkeypatch
):
    """As bigbench==1.0.0 (VitaminC) left the package index: evaluate says so and goes on."""
    from experts.training import data as vdata
    from flows.evaluate import evaluate

    monkeypatch.setattr(vdata, "BIGBENCH_SPEC", "bigbench==99.0.0")  # a release never made
    report = evaluate(datasets=["vitaminc", str(labelled)])
    assert list(report["datasets"]) == ["tiny"]
    assert "bigbench==99.0.0 is not on the package index" in report["skipped"]["vitaminc"]
    with pytest.raises(vdata.DataUnavailable, match="no data set could be read"):
        evaluate(datasets=["vitaminc"])


def test_unknown_dataset_is_a_clear_error(prefect_harness, labelled):
    from experts.evaluation.labelled import load_eval_rows

    with pytest.raises(FileNotFoundError, match="no-such-set"):
        load_eval_rows("no-such-set")
    rows, errors, _ = load_eval_rows(str(labelled))
    assert [e.rule for e in errors] == ["label"] and errors[0].line == 3
    assert "maybe" in errors[0].message


@pytest.mark.slow
def test_cli_evaluate_prints_the_table(prefect_harness, labelled, tmp_path):
    import typer
    from typer.testing import CliRunner

    from deployments.cli_eval import register

    app = typer.Typer()
    register(app)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["evaluate", "--dataset", str(labelled), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "tiny" in result.output and "overall" in result.output
    assert json.loads(out.read_text())["datasets"]["tiny"]["n"] == len(ROWS)
    missing = CliRunner().invoke(app, ["evaluate", "--dataset", "no-such-set"])
    assert missing.exit_code == 2 and "no-such-set" in missing.output
