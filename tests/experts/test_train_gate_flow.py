"""The train_gate flow end to end on a labelled JSONL file."""

from __future__ import annotations

import json
from pathlib import Path

from experts.mixture.gate import LearnedGate, load_gate
from experts.registry import load_registry
from flows.train_gate import train_gate_flow
from tests.experts.gate_data import labelled_rows
from tests.experts.tiny_models import write_registry


def test_train_gate_flow(prefect_harness, home: Path, tmp_path: Path) -> None:
    registry = write_registry(
        tmp_path / "reg.yaml",
        [
            {"name": "numbers", "kind": "numbers"},
            {"name": "entities", "kind": "entities"},
            {"name": "negation", "kind": "negation"},
        ],
    )
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in labelled_rows(4)))
    result = train_gate_flow(source=str(data), registry=str(registry), epochs=60, max_pairs=1000)
    assert result["version"] == "v1"
    assert result["final_loss"] < result["initial_loss"]
    assert Path(result["path"]) == home / "models" / "gate.pt"
    gate = load_gate(load_registry(registry))
    assert isinstance(gate, LearnedGate) and gate.version == "v1"
