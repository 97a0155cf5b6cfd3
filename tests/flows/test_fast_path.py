"""The Prefect-free verify entry: a few records are checked in this process, and that path
imports none of the orchestration or batch-quality libraries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from verdictflow.config import REPO_ROOT

ITEM = {
    "id": "fjell",
    "text": "The Fjell S1 weighs 2 kilograms.",
    "context": "The Fjell S1 is a speaker rated IP67. It weighs 1.1 kilograms.",
}
HEAVY = ("prefect", "distributed", "dask", "great_expectations", "lancedb")
SCRIPT = """
import json, sys
from flows import fast_path
result = fast_path.verify_items(path=sys.argv[1])
print(json.dumps({
    "status": result.status,
    "labels": [v.label.value for v in result.verdicts],
    "p": [v.p_supported for v in result.verdicts],
    "imported": sorted(m for m in %r if m in sys.modules),
}))
"""
MODELS = ("torch", "sentence_transformers", "transformers", "sklearn")


def _verify_in_subprocess(items: Path, home: Path, modules: tuple[str, ...], **env: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT % (modules,), str(items)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "VERDICTFLOW_HOME": str(home), **env},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_one_record_is_verified_without_prefect_dask_or_great_expectations(
    tmp_path: Path,
) -> None:
    items = tmp_path / "one.jsonl"
    items.write_text(json.dumps(ITEM) + "\n")
    out = _verify_in_subprocess(items, tmp_path / "home", HEAVY)
    assert out["status"] == "completed" and out["labels"] == ["contradicted"]
    assert out["imported"] == []


@pytest.mark.slow
def test_with_the_models_exported_the_fast_path_loads_no_torch_and_agrees_with_it(
    tmp_path: Path,
) -> None:
    items = tmp_path / "one.jsonl"
    items.write_text(json.dumps(ITEM) + "\n")
    home = tmp_path / "home"
    torch = _verify_in_subprocess(
        items,
        home,
        MODELS,
        VERDICTFLOW_EXPERTS__BACKEND="torch",
        VERDICTFLOW_RETRIEVAL__EMBEDDING_BACKEND="torch",
    )
    assert torch["imported"] == sorted(MODELS)  # the torch path, for comparison
    export = subprocess.run(
        [sys.executable, "-m", "deployments.cli", "experts", "export-onnx", "--no-int8"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "VERDICTFLOW_HOME": str(home)},
        timeout=600,
    )
    assert export.returncode == 0, export.stderr[-2000:]
    assert "embedder onnx" in export.stdout and "nli-general onnx" in export.stdout
    light = _verify_in_subprocess(items, home, (*HEAVY, *MODELS))  # backends: auto
    assert light["imported"] == [] and light["labels"] == torch["labels"]
    assert abs(light["p"][0] - torch["p"][0]) < 1e-4


def test_the_fast_path_applies_to_few_records_outside_a_run(tmp_path: Path, home) -> None:
    from flows.fast_path import fast_path_applies, in_prefect_run

    few = tmp_path / "few.jsonl"
    few.write_text("\n".join(json.dumps({**ITEM, "id": str(i)}) for i in range(3)) + "\n\n")
    many = tmp_path / "many.jsonl"
    many.write_text("\n".join(json.dumps({**ITEM, "id": str(i)}) for i in range(17)))
    assert not in_prefect_run()
    assert fast_path_applies(path=str(few)) and not fast_path_applies(path=str(many))
    assert fast_path_applies(items=[ITEM]) and not fast_path_applies(items=[ITEM] * 17)
    assert not fast_path_applies(path=str(tmp_path / "missing.jsonl"))
