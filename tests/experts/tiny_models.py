"""Helpers that build small real artefacts for the expert tests (no downloads)."""

from __future__ import annotations

import json
from pathlib import Path

LABELS3 = {0: "supported", 1: "contradicted", 2: "not_enough_info"}


def make_tiny_cross_encoder(
    folder: Path, id2label: dict[int, str] | None = None, seed: int = 0, max_length: int = 64
) -> Path:
    """A random 1-layer BertForSequenceClassification with the MiniLM config and tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from retrieval.embedding import packaged_model_path

    id2label = id2label or LABELS3
    src = packaged_model_path()
    config = BertConfig.from_pretrained(
        src,
        num_hidden_layers=1,
        num_labels=len(id2label),
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(src).save_pretrained(folder)
    meta = {"input_order": "evidence_claim", "max_length": max_length, "domains": ["general"]}
    (folder / "verdictflow.json").write_text(json.dumps(meta))
    return folder


def write_registry(path: Path, entries: list[dict]) -> Path:
    """A registry YAML with ``entries``."""
    import yaml

    path.write_text(yaml.safe_dump({"experts": entries}, sort_keys=False))
    return path
