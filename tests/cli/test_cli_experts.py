"""The experts CLI commands on their own typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from deployments.cli_experts import register
from tests.experts.gate_data import labelled_rows
from tests.experts.tiny_models import write_registry

FAST = [
    {"name": "numbers", "kind": "numbers", "patterns": [r"\d"]},
    {"name": "negation", "kind": "negation", "keywords": ["not"]},
]


@pytest.fixture(autouse=True, scope="module")
def _prefect_logging() -> None:
    """Prefect binds its log handlers to the stderr of its first flow run; CliRunner closes
    that stream after each call, so set logging up outside it first (as tests/cli/test_cli.py
    does)."""
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_list_and_explain(home: Path, tmp_path: Path) -> None:
    reg = str(write_registry(tmp_path / "r.yaml", FAST))
    runner = CliRunner()
    table = runner.invoke(_app(), ["experts", "list", "--registry", reg])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert len(lines) < 12  # a table, one row per expert
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if "│" in line]
    assert [row[:2] for row in cells] == [["numbers", "numbers"], ["negation", "negation"]]
    assert "gate: prior" in table.output
    listed = runner.invoke(_app(), ["experts", "list", "--registry", reg, "--json"])
    assert listed.exit_code == 0, listed.output
    out = json.loads(listed.output)
    assert [e["name"] for e in out["experts"]] == ["numbers", "negation"]
    assert out["gate"] == "prior"
    explained = runner.invoke(
        _app(),
        [
            "experts",
            "explain",
            "The tower is 300 m tall.",
            "The tower is 330 m tall.",
            "--registry",
            reg,
        ],
    )
    assert explained.exit_code == 0, explained.output
    rows = json.loads(explained.output)
    assert rows["numbers"]["probs"]["contradicted"] > 0.5
    assert "differs" in rows["numbers"]["why"]


def test_an_unrouted_alignment_expert_is_listed_and_explains_its_spans(
    home: Path, tmp_path: Path
) -> None:
    alignment = {"name": "alignment", "kind": "alignment", "routed": False}
    reg = str(write_registry(tmp_path / "r.yaml", [*FAST, alignment]))
    runner = CliRunner()
    listed = json.loads(
        runner.invoke(_app(), ["experts", "list", "--registry", reg, "--json"]).output
    )
    assert [(e["name"], e["routed"]) for e in listed["experts"]][-1] == ("alignment", False)
    table = runner.invoke(_app(), ["experts", "list", "--registry", reg]).output
    assert "no (reads spans)" in table
    claim, evidence = "The red tower is 300 m tall.", "The tower is 330 m tall."
    explained = runner.invoke(_app(), ["experts", "explain", claim, evidence, "--registry", reg])
    assert explained.exit_code == 0, explained.output
    out = explained.output  # after the model's loading bar (stderr)
    row = json.loads(out[out.index("{") :])["alignment"]
    assert row["gate_weight"] == 0.0
    assert "contradicted '300'" in row["why"] and "unsupported 'red'" in row["why"]


def test_train_gate_command(prefect_harness, home: Path, tmp_path: Path) -> None:
    reg = str(write_registry(tmp_path / "r.yaml", FAST))
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in labelled_rows(3)))
    result = CliRunner().invoke(
        _app(), ["train-gate", "--source", str(data), "--registry", reg, "--epochs", "20"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{") :])
    assert summary["version"] == "v1" and (home / "models" / "gate.pt").exists()


def test_export_onnx_writes_each_cross_encoder_once_into_home(home: Path, tmp_path: Path) -> None:
    from tests.experts.tiny_models import make_tiny_cross_encoder

    tiny = make_tiny_cross_encoder(tmp_path / "tiny")
    entries = [*FAST, {"name": "tiny", "kind": "cross_encoder", "weights": str(tiny)}]
    reg = str(write_registry(tmp_path / "r.yaml", entries))
    runner = CliRunner()
    result = runner.invoke(_app(), ["experts", "export-onnx", "--registry", reg])
    assert result.exit_code == 0, result.output
    files = sorted((home / "models" / "onnx").rglob("*.onnx"))
    folders = sorted({f.parent.name.rsplit("-", 1)[0] for f in files})
    assert folders == ["embedding-model", "tiny"]  # the cross-encoder and the embedder
    assert sorted(f.name for f in files) == ["model.onnx", "model.onnx"] + ["model_int8.onnx"] * 2
    assert all(str(f) in result.output for f in files)
    stamps = [f.stat().st_mtime_ns for f in files]
    again = runner.invoke(_app(), ["experts", "export-onnx", "--registry", reg])
    assert again.exit_code == 0 and [f.stat().st_mtime_ns for f in files] == stamps


def test_train_domain_takes_the_paths_after_one_corpus_as_its_card_prints_them(
    prefect_harness, home: Path, tmp_path: Path, monkeypatch
) -> None:
    import shlex

    from tests.experts.domain_corpus import bank_home_setup

    bank = bank_home_setup(home, tmp_path, monkeypatch)
    files = sorted(str(p) for p in bank["corpus"].iterdir())
    args = ["experts", "train-domain", "banking", "--corpus", *files, "--force"]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert "training pairs from 3 documents" in result.output  # 3 of 5 train: all were read
    card = (home / "models" / "banking" / "model_card.md").read_text()
    (line,) = [x for x in card.splitlines() if x.startswith("Reproduce: `")]
    command = shlex.split(line.removeprefix("Reproduce: `").removesuffix("`."))
    assert command == ["verdictflow", "experts", "train-domain", "banking", "--corpus", *files]
    again = CliRunner().invoke(_app(), [*command[1:], "--force"])  # the card's own line
    assert again.exit_code == 0, again.output
    profile = json.loads((home / "models" / "banking" / "domain.json").read_text())
    assert profile["source"] == {"paths": files}
    # Paths without --corpus are refused, naming them.
    stray = ["experts", "train-domain", "x", "a.md", "b.md", "--from-store", "-f", "a=b"]
    refused = CliRunner().invoke(_app(), stray)
    assert refused.exit_code == 2
    assert "unexpected a.md b.md: corpus paths follow --corpus" in refused.output


def test_a_domain_expert_worse_than_the_generalist_is_refused_unless_forced(
    prefect_harness, home: Path, tmp_path: Path, monkeypatch
) -> None:
    from experts.registry import domain_registry_file
    from tests.experts.domain_corpus import bank_home_setup
    from verdictflow.config import REPO_ROOT, reset_settings

    bank = bank_home_setup(home, tmp_path, monkeypatch)
    # The shipped generalist as the base, and three steps at a learning rate that wrecks it:
    # the domain expert is far worse than the generalist on its test documents.
    strong = str(REPO_ROOT / "models" / "generalist")
    entries = [{"name": "nli-general", "kind": "cross_encoder", "weights": strong, "prior": 3.0}]
    write_registry(bank["registry"], entries)
    monkeypatch.setenv("VERDICTFLOW_DOMAINS__MAX_STEPS", "3")
    monkeypatch.setenv("VERDICTFLOW_DOMAINS__EVAL_EVERY", "3")
    monkeypatch.setenv("VERDICTFLOW_DOMAINS__LEARNING_RATE", "0.05")
    reset_settings()
    args = ["experts", "train-domain", "banking", "--corpus", str(bank["corpus"])]
    refused = CliRunner().invoke(_app(), args)
    assert refused.exit_code == 1, refused.output
    text = " ".join(refused.output.split())
    assert "banking: not registered: on its test documents AUROC" in text
    assert "is below the generalist's" in text and "--force" in text
    assert not domain_registry_file().exists() and not (home / "models" / "banking").exists()

    forced = CliRunner().invoke(_app(), [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    text = " ".join(forced.output.split())
    assert "banking: registered with force: on its test documents AUROC" in text
    assert "(the generalist: " in text and "registered in" in text
    assert "name: banking" in domain_registry_file().read_text()
    card = (home / "models" / "banking" / "model_card.md").read_text()
    assert "- warning: registered with force" in card
